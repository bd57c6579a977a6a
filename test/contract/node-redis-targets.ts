/**
 * Contract targets on node-redis (the `redis` package): a single-node client
 * or a Cluster client, RESP2 or RESP3, with or without a node-redis
 * `keyPrefix`. Same contract as the ioredis targets in targets.ts.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { RedisSessionStore, type SessionStore } from '../../src/index.js';
import type { HostPort } from '../../harness/cluster.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import {
  type NodeRedis,
  type NodeRedisOptions,
  nodeRedisCluster,
  nodeRedisForRun,
} from '../infra/node-redis-clients.js';
import type { ContractTarget } from './contract-targets.js';

function label(o: NodeRedisOptions, cluster: boolean): string {
  const name = o.module ? `node-redis ${o.module.label}` : 'node-redis';
  const parts = [cluster ? `Cluster, ${name}` : name, `RESP${o.RESP ?? 3}`];
  if (o.keyPrefix) parts.push('keyPrefix');
  return `RedisSessionStore (${parts.join(', ')})`;
}

/** A target over one node-redis client made in `beforeAll`, whose sent commands are counted. */
function nodeRedisTarget(name: string, make: () => NodeRedis, keyPrefix = ''): ContractTarget {
  let nr: NodeRedis | undefined;
  let sent = 0;
  beforeAll(async () => {
    nr = make();
    await nr.ready();
    const c = nr.client as unknown as { sendCommand: (...a: unknown[]) => unknown };
    const original = c.sendCommand;
    c.sendCommand = function (this: unknown, ...args: unknown[]) {
      sent++;
      return original.apply(this, args);
    };
  });
  afterAll(() => nr?.close());
  const get = (): NodeRedis => {
    if (!nr) throw new Error('node-redis client not made yet (stores are made inside tests)');
    return nr;
  };
  return {
    name,
    realTime: true,
    makeStore: (options) => new RedisSessionStore(get().client, { ...options, prefix: uniquePrefix('contract') }),
    advance: (ms) => sleep(ms + 30),
    async pttl(store: SessionStore, id: string) {
      // Raw commands get no node-redis keyPrefix: add it as Redis sees the key.
      const key = keyPrefix + (store as RedisSessionStore).keyFor(id);
      return Number(await get().send(['PTTL', key], key));
    },
    commandsSent: () => sent,
    keyOf: (store, id) => keyPrefix + (store as RedisSessionStore).keyFor(id),
  };
}

/** node-redis on the run's target (a Cluster client under SESSION_CAS_TARGET=cluster). */
export function nodeRedisRunTarget(o: NodeRedisOptions = {}): ContractTarget {
  const cluster = inject('redisCluster').length > 0;
  return nodeRedisTarget(label(o, cluster), () => nodeRedisForRun(o), o.keyPrefix);
}

/** node-redis Cluster client on a cluster the test file starts (`getNodes` read in `beforeAll`). */
export function nodeRedisClusterTarget(getNodes: () => HostPort[], o: NodeRedisOptions = {}): ContractTarget {
  return nodeRedisTarget(label(o, true), () => nodeRedisCluster(getNodes(), o), o.keyPrefix);
}
