/**
 * writeWait and a call's `wait`: WAIT after every write (create, update,
 * patch, terminate, mutate), reported in `replication` the way terminateWait
 * reports it, against a real replica. A write whose replicas do not answer
 * in time is still applied and reported, never thrown or undone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemorySessionStore,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  SessionCache,
  isInvalidArgument,
} from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, startReplica } from '../infra/server-faults.js';

let primary: RedisServer;
let replica: RedisServer;
const clients: Client[] = [];
const prefix = uniquePrefix('write-wait');

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startReplica(primary);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await replica?.kill();
  await primary?.kill();
});

function store(options: RedisSessionStoreOptions = {}): RedisSessionStore {
  const c = createClient(5, primary.url);
  clients.push(c);
  return new RedisSessionStore(c, { prefix, ...options });
}

const ACKED = { acknowledged: 1, requested: 1, durable: true };

describe('writeWait', () => {
  it('every write waits for the replica and says so; the replica has each write when the call returns', async () => {
    const s = store({ writeWait: { replicas: 1, timeoutMs: 5_000 } });
    const onReplica = await adminClient(replica.url);
    try {
      const c = await s.create('all', { a: '1' });
      expect(c).toMatchObject({ ok: true, replication: ACKED });
      if (!c.ok) throw new Error('create failed');
      expect(await onReplica.hget(s.keyFor('all'), 'ma')).toBe('1');
      const u = await s.update('all', c.session.generation, { a: '2' });
      expect(u).toMatchObject({ ok: true, session: { metadata: { a: '2' } }, replication: ACKED });
      expect(await onReplica.hget(s.keyFor('all'), 'ma')).toBe('2');
      const p = await s.patch('all', { set: { b: '3' } });
      expect(p).toMatchObject({ ok: true, session: { metadata: { a: '2', b: '3' } }, replication: ACKED });
      expect(await onReplica.hget(s.keyFor('all'), 'mb')).toBe('3');
      const m = await s.mutate('all', (cur) => ({ ...cur.metadata, c: '4' }));
      expect(m).toMatchObject({ ok: true, attempts: 1, replication: ACKED });
      expect(await onReplica.hget(s.keyFor('all'), 'mc')).toBe('4');
      const t = await s.terminate('all');
      expect(t).toMatchObject({ ok: true, replication: ACKED });
      expect(await onReplica.hget(s.keyFor('all'), 't')).toBe('1');
    } finally {
      onReplica.disconnect();
    }
  });

  it('outcomes that wrote nothing (conflict, not_found, exists, an empty patch) do not wait or report replication', async () => {
    const s = store({ writeWait: { replicas: 1, timeoutMs: 5_000 } });
    const c = await s.create('quiet', { a: '1' });
    if (!c.ok) throw new Error('create failed');
    expect(await s.create('quiet')).toEqual({ ok: false, reason: 'exists' });
    expect(await s.update('quiet', c.session.generation + 7, {})).toEqual({
      ok: false,
      reason: 'conflict',
      session: c.session,
    });
    expect(await s.update('none', 1, {})).toEqual({ ok: false, reason: 'not_found' });
    expect(await s.patch('quiet', {})).toEqual({ ok: true, session: c.session });
  });

  it('asking for more replicas than exist: applied, reported not durable after the timeout', async () => {
    const s = store({ writeWait: { replicas: 2, timeoutMs: 150 } });
    const c = await s.create('short', { a: '1' });
    expect(c).toMatchObject({ ok: true, replication: { acknowledged: 1, requested: 2, durable: false } });
    expect((await s.peek('short'))?.metadata).toEqual({ a: '1' });
  });

  it("a call's wait overrides the store's: false turns it off, an object turns it on or changes it", async () => {
    const waiting = store({ writeWait: { replicas: 1, timeoutMs: 5_000 } });
    const plain = store();
    const off = await waiting.create('o1', {}, { wait: false });
    expect(off.ok && 'replication' in off).toBe(false);
    const on = await plain.create('o2', {}, { wait: { replicas: 1, timeoutMs: 5_000 } });
    expect(on).toMatchObject({ ok: true, replication: ACKED });
    const more = await waiting.patch('o1', { set: { x: '1' } }, { wait: { replicas: 2, timeoutMs: 100 } });
    expect(more).toMatchObject({ ok: true, replication: { acknowledged: 1, requested: 2, durable: false } });
    expect(await plain.terminate('o2', { wait: false })).toEqual({ ok: true, generation: expect.any(Number) });
    // terminateWait still decides for terminate when it is set, over writeWait.
    const both = store({
      writeWait: { replicas: 2, timeoutMs: 100 },
      terminateWait: { replicas: 1, timeoutMs: 5_000 },
    });
    expect(await both.terminate('o1')).toMatchObject({ ok: true, replication: ACKED });
  });

  it("a SessionCache's writes take wait too and return the store's replication report", async () => {
    const cache = new SessionCache(store());
    const on = { wait: { replicas: 1, timeoutMs: 5_000 } };
    const c = await cache.create('cached', { a: '1' }, on);
    expect(c).toMatchObject({ ok: true, replication: ACKED });
    if (!c.ok) throw new Error('create failed');
    expect(await cache.update('cached', c.session.generation, { a: '2' }, on)).toMatchObject({ replication: ACKED });
    expect(await cache.patch('cached', { set: { b: '3' } }, on)).toMatchObject({ replication: ACKED });
    expect(await cache.mutate('cached', (s) => ({ ...s.metadata, c: '4' }), on)).toMatchObject({
      replication: ACKED,
    });
    expect(await cache.terminate('cached', on)).toMatchObject({ ok: true, replication: ACKED });
    await cache.close();
  });

  it('bad wait options are INVALID_ARGUMENT before any I/O, on both stores', async () => {
    expect(() => store({ writeWait: { replicas: 0, timeoutMs: 10 } })).toThrow(/options\.writeWait\.replicas/);
    expect(() => store({ writeWait: { replicas: 1 } as never })).toThrow(/options\.writeWait\.timeoutMs/);
    const s = store();
    const mem = new MemorySessionStore();
    for (const target of [s, mem]) {
      for (const bad of [true, null, { replicas: 1, timeoutMs: 1.5 }, { replicas: 1, timeoutMs: 10, extra: 1 }]) {
        const err = await target.create('bad', {}, { wait: bad as never }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(isInvalidArgument(err), String(bad)).toBe(true);
      }
      const e2 = await target
        .mutate('bad', () => ({}), { wait: 'yes' as never })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(isInvalidArgument(e2)).toBe(true);
    }
    expect(await s.exists('bad')).toBe(false);
    // The memory store has no replicas: a valid wait is accepted and nothing is reported.
    const m = await mem.create('m', {}, { wait: { replicas: 1, timeoutMs: 10 } });
    expect(m.ok && 'replication' in m).toBe(false);
  });
});
