/**
 * Writes through the cache keep it coherent with their own results, never
 * evict their own entry (own events included), and store failures during a
 * validation reach the caller unless staleIfErrorMs allows the cached copy.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  MemorySessionStore,
  type Session,
  SessionCache,
  type SessionStore,
  isRedisFault,
} from '../../src/index.js';
import { RedisSessionStore } from '../../src/index.js';
import { createClient, sleep } from '../infra/clients.js';
import { startRedisServer } from '../../harness/redis-server.js';
import { cluster, counting, evictions, uid } from './helpers.js';

async function created(store: SessionStore, id: string, m: Record<string, string> = {}): Promise<Session> {
  const r = await store.create(id, m);
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

describe('pass-through writes (real Redis)', () => {
  for (const mode of ['always', 'events'] as const) {
    it(`${mode}: success caches the new session, conflict the current one, terminate drops it`, async () => {
      const c = cluster();
      const A = c.node('A');
      const B = c.node('B');
      const { store, calls } = counting(B.store);
      const ev = evictions();
      const cache = new SessionCache(store, { validate: mode, maxStaleMs: 600_000, onEvict: ev.onEvict });
      await cache.ready;
      const id = uid('pt');
      const cr = await cache.create(id, { v: '0' });
      if (!cr.ok) throw new Error('create');
      expect(cache.has(id)).toBe(true);
      const up = await cache.update(id, cr.session.generation, { v: '1' });
      const pa = await cache.patch(id, { set: { w: '1' } });
      const mu = await cache.mutate(id, (s) => ({ ...s.metadata, m: '1' }));
      if (!up.ok || !pa.ok || !mu.ok) throw new Error('write failed');
      const to = await cache.touch(id);
      expect(to).toEqual({ ok: true, generation: mu.session.generation });
      await sleep(30); // our own events arrive: they must not evict our entry
      expect(await cache.get(id)).toEqual(mu.session);
      expect(calls.get ?? 0).toBe(0); // never loaded: every write result was cached
      expect(ev.list).toEqual([]);
      // A conflict: another node moved on; the cache takes the current session from the reply.
      const other = await A.store.patch(id, { set: { by: 'A' } });
      if (!other.ok) throw new Error('A patch');
      const conflict = await cache.update(id, mu.session.generation, { lost: 'yes' });
      expect(conflict).toMatchObject({ ok: false, reason: 'conflict' });
      expect(await cache.get(id)).toEqual(other.session);
      expect(calls.get ?? 0).toBe(0);
      expect(ev.list).toEqual([{ id, generation: mu.session.generation, reason: 'stale' }]);
      const te = await cache.terminate(id);
      expect(te).toMatchObject({ ok: true, generation: other.session.generation });
      expect(cache.has(id)).toBe(false);
      expect(ev.list.at(-1)).toEqual({ id, generation: other.session.generation, reason: 'terminated' });
      expect(await cache.patch(id, { set: { x: '1' } })).toEqual({ ok: false, reason: 'terminated' });
      expect(await cache.get(id)).toBeNull();
      expect(ev.list).toHaveLength(2);
      await cache.close();
    });
  }

  it('a write that finds the session gone drops the entry (reason terminated or expired)', async () => {
    const store = new MemorySessionStore();
    const ev = evictions();
    const cache = new SessionCache(store, { onEvict: ev.onEvict });
    const s = await created(store, 'gone');
    await cache.get('gone');
    await store.terminate('gone'); // behind the cache's back
    expect(await cache.patch('gone', { set: { a: '1' } })).toEqual({ ok: false, reason: 'terminated' });
    expect(ev.list).toEqual([{ id: 'gone', generation: s.generation, reason: 'terminated' }]);
    let now = 0;
    const store2 = new MemorySessionStore({ now: () => now, ttlMs: 100 });
    const ev2 = evictions();
    const cache2 = new SessionCache(store2, { onEvict: ev2.onEvict });
    const s2 = await created(store2, 'exp');
    await cache2.get('exp');
    now = 1_000;
    expect(await cache2.touch('exp')).toEqual({ ok: false, reason: 'not_found' });
    expect(ev2.list).toEqual([{ id: 'exp', generation: s2.generation, reason: 'expired' }]);
  });

  it('set() caches a session the caller holds, keeping the newest generation', async () => {
    const store = new MemorySessionStore();
    const { store: counted, calls } = counting(store);
    const cache = new SessionCache(counted, { validate: 'events' });
    await cache.ready;
    const s = await created(store, 's', { v: '0' });
    const u = await store.update('s', s.generation, { v: '1' });
    if (!u.ok) throw new Error('update');
    cache.set(u.session);
    cache.set(s); // older: ignored
    expect(await cache.get('s')).toEqual(u.session);
    expect(calls.get ?? 0).toBe(0);
    expect(() => cache.set({ id: '', generation: 1, metadata: {}, createdAt: 0 })).toThrow(InvalidArgumentError);
    expect(() => cache.set({ id: 'x', generation: 0, metadata: {}, createdAt: 0 })).toThrow(InvalidArgumentError);
    await cache.close();
  });

  it("'events' with maxStaleMs 0 validates every hit and still evicts on events", async () => {
    const store = new MemorySessionStore();
    const { store: counted, calls } = counting(store);
    const ev = evictions();
    const cache = new SessionCache(counted, { validate: 'events', maxStaleMs: 0, onEvict: ev.onEvict });
    await cache.ready;
    const s = await created(store, 'z0');
    for (let i = 0; i < 3; i++) await cache.get('z0');
    expect(calls.get).toBe(1);
    expect(calls.generationOf).toBe(2);
    await store.terminate('z0');
    await sleep(0);
    expect(ev.list).toEqual([{ id: 'z0', generation: s.generation, reason: 'terminated' }]); // by the event, before any get
    await cache.close();
  });

  it('bad options and an events cache without a feed are refused up front', () => {
    const store = new MemorySessionStore();
    expect(() => new SessionCache(store, { maxEntries: 0 })).toThrow(InvalidArgumentError);
    expect(() => new SessionCache(store, { validate: 'never' as 'always' })).toThrow(InvalidArgumentError);
    expect(() => new SessionCache(store, { maxStaleMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new SessionCache(store, { staleIfErrorMs: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new SessionCache({} as SessionStore)).toThrow(InvalidArgumentError);
    const { subscribe: _omit, ...noFeed } = Object.fromEntries(
      ['create', 'get', 'peek', 'exists', 'update', 'patch', 'touch', 'terminate', 'mutate'].map((m) => [
        m,
        (store as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(store),
      ]),
    ) as Record<string, unknown>;
    expect(() => new SessionCache(noFeed as unknown as SessionStore, { validate: 'events' })).toThrow(/subscribe/);
    const client = createClient(5);
    try {
      expect(() => new SessionCache(new RedisSessionStore(client), { validate: 'events' })).toThrow(/eventsChannel/);
    } finally {
      client.disconnect();
    }
  });

  it('works over a store without generationOf (validates with get)', async () => {
    const mem = new MemorySessionStore();
    const plain: SessionStore = {
      create: (...a) => mem.create(...a),
      get: (id) => mem.get(id),
      peek: (id) => mem.peek(id),
      exists: (id) => mem.exists(id),
      update: (...a) => mem.update(...a),
      patch: (...a) => mem.patch(...a),
      touch: (...a) => mem.touch(...a),
      terminate: (...a) => mem.terminate(...a),
      mutate: (...a) => mem.mutate(...a),
      sessionsOf: (p) => mem.sessionsOf(p),
      terminateAll: (...a) => mem.terminateAll(...a),
    };
    const ev = evictions();
    const cache = new SessionCache(plain, { onEvict: ev.onEvict });
    const s = await created(mem, 'p', { v: '0' });
    const first = await cache.get('p');
    expect(await cache.get('p')).toBe(first); // same generation: the cached object
    await mem.update('p', s.generation, { v: '1' });
    expect((await cache.get('p'))?.metadata).toEqual({ v: '1' });
    await mem.terminate('p');
    expect(await cache.get('p')).toBeNull();
    expect(ev.list.map((e) => e.reason)).toEqual(['stale', 'expired']); // without generationOf, gone reads as expired
  });
});

describe('store failure during validation', () => {
  it('reaches the caller by default; staleIfErrorMs serves the cached copy for a bounded time', async () => {
    const server = await startRedisServer();
    const client = createClient(5, server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const store = new RedisSessionStore(client, { prefix: 'sie:' });
      let now = 0;
      const strict = new SessionCache(store);
      const lenient = new SessionCache(store, { staleIfErrorMs: 10_000, now: () => now });
      const s = await created(store, 'sess');
      await strict.get('sess');
      await lenient.get('sess'); // validated at now = 0
      await server.kill();
      await sleep(50);
      await expect(strict.get('sess')).rejects.toSatisfy(isRedisFault);
      now = 10_000;
      expect(await lenient.get('sess')).toEqual(s);
      expect(lenient.stats().staleServed).toBe(1);
      now = 10_001; // past the bound: the error again
      await expect(lenient.get('sess')).rejects.toSatisfy(isRedisFault);
      // A miss has nothing to serve.
      await expect(lenient.get('other')).rejects.toSatisfy(isRedisFault);
      await strict.close();
      await lenient.close();
    } finally {
      client.disconnect();
      await server.kill();
    }
  });
});

describe('close while Redis is unreachable', () => {
  it("an 'events' cache whose feed is still waiting for Redis closes at once and leaves nothing running", async () => {
    const server = await startRedisServer();
    const port = server.port;
    await server.kill();
    const client = createClient(5, `redis://127.0.0.1:${port}`, { retryStrategy: () => 100 });
    try {
      const errors: unknown[] = [];
      const cache = new SessionCache(new RedisSessionStore(client, { eventsChannel: 'down' }), {
        validate: 'events',
        onError: (e) => errors.push(e),
      });
      await sleep(50);
      const closed = await Promise.race([cache.close().then(() => 'closed'), sleep(3_000).then(() => 'timeout')]);
      expect(closed).toBe('closed');
      await expect(cache.ready).rejects.toMatchObject({ code: 'CLOSED' });
      expect(errors).toEqual([]);
      // An aborted store-level subscribe rejects the same way.
      const ac = new AbortController();
      const store = new RedisSessionStore(client, { eventsChannel: 'down2' });
      const pending = store.subscribe(() => undefined, { signal: ac.signal });
      ac.abort(new Error('gave up'));
      await expect(pending).rejects.toThrow('gave up');
    } finally {
      client.disconnect();
    }
  });
});
