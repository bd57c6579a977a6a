/**
 * Singleflight (concurrent gets of one id share one store call) and the
 * ordering rules around it: a get never joins a call sent before it started,
 * and a load that returns after a newer write never overwrites the newer entry.
 */
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, type Session, SessionCache, type SessionStore } from '../../src/index.js';
import { sleep } from '../infra/clients.js';
import { cluster, counting, evictions, gated, uid, waitFor } from './helpers.js';

async function created(store: SessionStore, id: string, m: Record<string, string> = {}): Promise<Session> {
  const r = await store.create(id, m);
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

describe('singleflight (real Redis)', () => {
  for (const mode of ['always', 'events'] as const) {
    it(`${mode}: 100 concurrent gets of a cold id cause one store read`, async () => {
      const c = cluster();
      const A = c.node('A');
      const B = c.node('B');
      const { store, calls } = counting(B.store);
      const cache = new SessionCache(store, { validate: mode });
      await cache.ready;
      const s = await created(A.store, uid('cold'), { v: '1' });
      const results = await Promise.all(Array.from({ length: 100 }, () => cache.get(s.id)));
      expect(calls.get).toBe(1);
      expect(calls.generationOf ?? 0).toBe(0);
      expect(calls.peek ?? 0).toBe(0);
      expect(results.every((r) => r === results[0])).toBe(true);
      expect(results[0]).toEqual(s);
      await cache.close();
    });
  }

  it('always: 100 concurrent gets of a cached id cause one generation check and no read', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const { store, calls } = counting(B.store);
    const cache = new SessionCache(store, { validate: 'always' });
    const s = await created(A.store, uid('warm'));
    await cache.get(s.id);
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.get(s.id)));
    expect(calls.get).toBe(1);
    expect(calls.generationOf).toBe(1);
    expect(results.every((r) => r?.generation === s.generation)).toBe(true);
    await cache.close();
  });

  it('a miss on a missing id is not cached, and concurrent misses still share one read', async () => {
    const c = cluster();
    const B = c.node('B');
    const { store, calls } = counting(B.store);
    const cache = new SessionCache(store);
    const id = uid('absent');
    expect(await Promise.all(Array.from({ length: 50 }, () => cache.get(id)))).toEqual(Array(50).fill(null));
    expect(calls.get).toBe(1);
    expect(cache.size).toBe(0);
    expect(await cache.get(id)).toBeNull();
    expect(calls.get).toBe(2);
    await cache.close();
  });
});

describe('ordering around in-flight calls (memory store, staged with a gate)', () => {
  it('a get that starts while a validation is in flight waits for the next one, which sees the newer write', async () => {
    const mem = new MemorySessionStore();
    const g = gated(mem, ['generationOf', 'get']);
    const { store, calls } = counting(g.store as SessionStore);
    const cache = new SessionCache(store, { validate: 'always' });
    const s = await created(mem, 'x', { v: '0' });
    await cache.get('x');
    g.state.holding = true;
    const first = cache.get('x'); // its validation reads generation s.generation, held
    await waitFor(() => g.state.held === 1);
    g.state.holding = false;
    const w = await mem.update('x', s.generation, { v: '1' }); // acknowledged before the second get starts
    expect(w.ok).toBe(true);
    const second = cache.get('x');
    const alsoSecond = cache.get('x');
    await sleep(5);
    g.state.release();
    expect((await first)?.generation).toBe(s.generation); // started before the write: may return the old one
    const [r2, r3] = await Promise.all([second, alsoSecond]);
    expect(r2?.generation).toBe(s.generation + 1);
    expect(r3).toBe(r2);
    // The first get's check, then one check + reload shared by the two later gets (after the warm-up load).
    expect(calls.generationOf).toBe(2);
    expect(calls.get).toBe(2);
    await cache.close();
  });

  it('a load that returns after a newer write through the cache does not overwrite the newer entry', async () => {
    const mem = new MemorySessionStore();
    const g = gated(mem, ['get']);
    const ev = evictions();
    const cache = new SessionCache(g.store as SessionStore, { onEvict: ev.onEvict });
    const s = await created(mem, 'y', { v: '0' });
    g.state.holding = true;
    const load = cache.get('y'); // reads generation s.generation, held
    await waitFor(() => g.state.held === 1);
    g.state.holding = false;
    const w = await cache.update('y', s.generation, { v: '1' });
    expect(w.ok).toBe(true);
    g.state.release();
    const got = await load;
    expect(got?.generation).toBe(s.generation + 1); // the newest known, not the late snapshot
    expect(cache.has('y')).toBe(true);
    expect(await cache.peek('y')).toEqual(got);
    const again = await cache.get('y');
    expect(again?.metadata).toEqual({ v: '1' });
    expect(ev.list).toEqual([]); // the entry moved forward in place; nothing was evicted
    await cache.close();
  });

  it('a load that returns after a terminate through the cache does not bring the session back', async () => {
    const mem = new MemorySessionStore();
    const g = gated(mem, ['get']);
    const ev = evictions();
    const cache = new SessionCache(g.store as SessionStore, { onEvict: ev.onEvict });
    await created(mem, 'z');
    g.state.holding = true;
    const load = cache.get('z');
    await waitFor(() => g.state.held === 1);
    g.state.holding = false;
    expect((await cache.terminate('z')).ok).toBe(true);
    g.state.release();
    expect(await load).toBeNull();
    expect(cache.has('z')).toBe(false);
    expect(ev.list).toEqual([]); // it was never cached, so nothing to evict
    await cache.close();
  });

  it("'events': a load that returns after the event of a newer write on another node is not cached", async () => {
    const mem = new MemorySessionStore();
    const g = gated(mem, ['get']);
    const cache = new SessionCache(g.store as SessionStore, { validate: 'events', maxStaleMs: 600_000 });
    await cache.ready;
    const s = await created(mem, 'w', { v: '0' });
    g.state.holding = true;
    const load = cache.get('w');
    await waitFor(() => g.state.held === 1);
    g.state.holding = false;
    await mem.update('w', s.generation, { v: '1' }); // "another node": straight to the store; its event reaches the cache
    await sleep(0);
    g.state.release();
    expect((await load)?.generation).toBe(s.generation);
    expect(cache.has('w')).toBe(false);
    expect((await cache.get('w'))?.metadata).toEqual({ v: '1' });
    await cache.close();
  });

  it('invalidate and clear during a load keep its result out of the cache', async () => {
    const mem = new MemorySessionStore();
    const g = gated(mem, ['get']);
    const cache = new SessionCache(g.store as SessionStore);
    await created(mem, 'p');
    await created(mem, 'q');
    g.state.holding = true;
    const lp = cache.get('p');
    const lq = cache.get('q');
    await waitFor(() => g.state.held === 2);
    g.state.holding = false;
    expect(cache.invalidate('p')).toBe(false);
    cache.clear();
    g.state.release();
    expect(await lp).not.toBeNull();
    expect(await lq).not.toBeNull();
    expect(cache.size).toBe(0);
    await cache.close();
  });
});
