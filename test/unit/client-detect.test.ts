/**
 * The client adapter without Redis: which client a value is (by its shape,
 * never by importing the other package), and how node-redis's error classes
 * map to faults (they set no `name`; ioredis's are tested in faults.test.ts).
 */
import { Cluster, Redis } from 'ioredis';
import {
  ClientClosedError,
  ClientOfflineError,
  DisconnectsClientError,
  MaxCommandRedirectionsError,
  SimpleError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  createClient,
  createCluster,
} from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { CasSessionStore } from '../../src/express/index.js';
import { adapt, isSupportedClient } from '../../src/redis/client/detect.js';
import { toFault } from '../../src/redis/faults.js';

const ioredis = new Redis({ lazyConnect: true });
const ioCluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
const nodeRedis = createClient({ url: 'redis://127.0.0.1:1', keyPrefix: 'kp:' });
const nodeCluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }], keyPrefix: 'ckp:' });
afterAll(() => {
  ioredis.disconnect();
  ioCluster.disconnect();
});

describe('client detection', () => {
  it('tells ioredis and node-redis, single node and Cluster, apart by shape; one adapter per client', () => {
    expect(adapt(ioredis)).toMatchObject({ kind: 'ioredis', cluster: false, keyPrefix: '' });
    expect(adapt(ioCluster)).toMatchObject({ kind: 'ioredis', cluster: true });
    expect(adapt(nodeRedis)).toMatchObject({ kind: 'node-redis', cluster: false, keyPrefix: 'kp:' });
    expect(adapt(nodeCluster)).toMatchObject({ kind: 'node-redis', cluster: true, keyPrefix: 'ckp:' });
    expect(adapt(nodeRedis)).toBe(adapt(nodeRedis));
    const a = adapt(nodeRedis)!;
    expect(adapt(a)).toBe(a);
  });

  it('refuses anything else, in the store constructors too, naming the argument', () => {
    for (const x of [null, undefined, 42, 'redis://', {}, { sendCommand() {} }, new Map()]) {
      expect(isSupportedClient(x), String(x)).toBe(false);
      expect(adapt(x)).toBeUndefined();
      expect(() => new RedisSessionStore(x as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'client' }),
      );
    }
    expect(() => new CasSessionStore({} as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'storeOrClient' }),
    );
  });

  it('the store and the express store take a node-redis client without I/O; client keeps its type', () => {
    const store = new RedisSessionStore(nodeRedis, { prefix: 'p:' });
    const same: typeof nodeRedis = store.client; // RedisSessionStore<C>: the client's own type
    expect(same).toBe(nodeRedis);
    expect(new CasSessionStore(nodeCluster).sessions).toBeInstanceOf(RedisSessionStore);
  });
});

describe('toFault on node-redis errors', () => {
  it('error replies map to their codes, not_applied', () => {
    const cases: Array<[string, string]> = [
      ['OOM command not allowed', 'OOM'],
      ['NOPERM this user has no permissions', 'NOPERM'],
      ["READONLY You can't write against a read only replica.", 'READONLY'],
      ['BUSY Redis is busy running a script', 'BUSY'],
      ['LOADING Redis is loading the dataset in memory', 'LOADING'],
      ['CLUSTERDOWN The cluster is down', 'CLUSTER'],
      ['ERR something else', 'REDIS_ERROR'],
    ];
    for (const [message, code] of cases) {
      expect(toFault(new SimpleError(message), 'update', 's', true), message).toMatchObject({
        code,
        outcome: 'not_applied',
      });
    }
  });

  it('errors raised before the command was written are CONNECTION, not_applied, also on a write', () => {
    for (const err of [new ClientOfflineError(), new ClientClosedError(), new TimeoutError('queued too long')]) {
      expect(toFault(err, 'update', 's', true), err.constructor.name).toMatchObject({
        code: 'CONNECTION',
        outcome: 'not_applied',
      });
    }
  });

  it('errors of a command that may have been written are OUTCOME_UNKNOWN on a write, CONNECTION on a read', () => {
    for (const err of [
      new SocketClosedUnexpectedlyError(),
      new SocketTimeoutError(300),
      new DisconnectsClientError(),
      new MaxCommandRedirectionsError(),
    ]) {
      expect(toFault(err, 'update', 's', true), err.constructor.name).toMatchObject({
        code: 'OUTCOME_UNKNOWN',
        outcome: 'unknown',
      });
      expect(toFault(err, 'peek', 's', false), err.constructor.name).toMatchObject({
        code: 'CONNECTION',
        outcome: 'not_applied',
      });
    }
  });
});
