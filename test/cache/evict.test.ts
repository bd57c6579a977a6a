/** onEvict is called exactly once per entry that leaves the cache, with the right reason. */
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, type Session, SessionCache, type SessionStore } from '../../src/index.js';
import { sleep } from '../infra/clients.js';
import { cluster, eventMessage, evictions, publishEvent, uid, waitFor } from './helpers.js';

async function created(
  store: SessionStore,
  id: string,
  m: Record<string, string> = {},
  ttlMs?: number,
): Promise<Session> {
  const r = await store.create(id, m, ttlMs === undefined ? undefined : { ttlMs });
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

function onceEach(list: Array<{ id: string }>): boolean {
  return new Set(list.map((e) => e.id)).size === list.length;
}

describe('onEvict exactly once (real Redis)', () => {
  it('capacity: least recently used first, hits count as use', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const ev = evictions();
    const cache = new SessionCache(B.store, { maxEntries: 3, onEvict: ev.onEvict });
    const s = await Promise.all(Array.from({ length: 10 }, (_, i) => created(A.store, uid(`cap${i}`))));
    for (const x of s.slice(0, 3)) await cache.get(x.id);
    await cache.get(s[0]!.id); // s0 is now the most recently used
    for (const x of s.slice(3)) await cache.get(x.id);
    expect(cache.size).toBe(3);
    expect(ev.list.map((e) => e.id)).toEqual([s[1], s[2], s[0], s[3], s[4], s[5], s[6]].map((x) => x!.id));
    expect(ev.list.every((e) => e.reason === 'capacity')).toBe(true);
    expect(onceEach(ev.list)).toBe(true);
    await cache.close();
    expect(ev.list.slice(7).map((e) => e.reason)).toEqual(['cleared', 'cleared', 'cleared']);
    expect(onceEach(ev.list)).toBe(true);
  });

  for (const mode of ['always', 'events'] as const) {
    it(`${mode}: terminate on the other node, raced by concurrent gets and duplicate events`, async () => {
      const c = cluster();
      const A = c.node('A');
      const B = c.node('B');
      const ev = evictions();
      const cache = new SessionCache(B.store, { validate: mode, maxStaleMs: 600_000, onEvict: ev.onEvict });
      await cache.ready;
      const sessions = await Promise.all(Array.from({ length: 5 }, (_, i) => created(A.store, uid(`term${i}`))));
      for (const s of sessions) await cache.get(s.id);
      for (const s of sessions) await A.store.terminate(s.id);
      // Gets race the events (events mode) and each other.
      const results = await Promise.all(sessions.flatMap((s) => Array.from({ length: 10 }, () => cache.get(s.id))));
      if (mode === 'always') expect(results.every((r) => r === null)).toBe(true);
      await waitFor(() => ev.list.length === 5);
      for (const s of sessions) {
        await publishEvent(A.client, c.channel, eventMessage('terminated', s.generation, s.id, c.prefix));
      }
      await sleep(30);
      for (const s of sessions) expect(await cache.get(s.id)).toBeNull();
      expect(ev.list).toHaveLength(5);
      expect(ev.list.every((e) => e.reason === 'terminated')).toBe(true);
      expect(onceEach(ev.list)).toBe(true);
      await cache.close();
      expect(ev.list).toHaveLength(5);
    });
  }

  it('terminate through the cache: once, reason terminated, even with its own event arriving', async () => {
    const c = cluster();
    const B = c.node('B');
    const ev = evictions();
    const cache = new SessionCache(B.store, { validate: 'events', onEvict: ev.onEvict });
    await cache.ready;
    const s = await created(B.store, uid('own'));
    await cache.get(s.id);
    const r = await cache.terminate(s.id);
    expect(r.ok).toBe(true);
    expect(ev.list).toEqual([{ id: s.id, generation: s.generation, reason: 'terminated' }]);
    await sleep(30); // its event arrives: nothing more
    expect(await cache.terminate(s.id)).toEqual({ ok: false, reason: 'terminated' });
    expect(ev.list).toHaveLength(1);
    await cache.close();
  });

  for (const mode of ['always', 'events'] as const) {
    it(`${mode}: expiry is found at the next validation: once, reason expired`, async () => {
      const c = cluster();
      // B's load slides the TTL (touchOnGet), so both nodes use a short store TTL.
      const A = c.node('A', { ttlMs: 200 });
      const B = c.node('B', { ttlMs: 200 });
      const ev = evictions();
      const cache = new SessionCache(B.store, { validate: mode, maxStaleMs: 100, onEvict: ev.onEvict });
      await cache.ready;
      const s = await created(A.store, uid('exp'));
      await cache.get(s.id);
      expect(await waitFor(async () => !(await A.store.exists(s.id)), 5_000)).toBe(true);
      await sleep(100); // past maxStaleMs too
      const results = await Promise.all(Array.from({ length: 10 }, () => cache.get(s.id)));
      expect(results.every((r) => r === null)).toBe(true);
      expect(await cache.get(s.id)).toBeNull();
      expect(ev.list).toEqual([{ id: s.id, generation: s.generation, reason: 'expired' }]);
      await cache.close();
      expect(ev.list).toHaveLength(1);
    });
  }

  it('clear, invalidate and close: once each, reason cleared; close refuses further calls', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const ev = evictions();
    const cache = new SessionCache(B.store, { onEvict: ev.onEvict });
    const s = await Promise.all(Array.from({ length: 6 }, (_, i) => created(A.store, uid(`clr${i}`))));
    for (const x of s) await cache.get(x.id);
    expect(cache.invalidate(s[0]!.id)).toBe(true);
    expect(cache.invalidate(s[0]!.id)).toBe(false);
    cache.clear();
    cache.clear();
    expect(ev.list).toHaveLength(6);
    expect(ev.list.every((e) => e.reason === 'cleared')).toBe(true);
    expect(onceEach(ev.list)).toBe(true);
    await cache.get(s[1]!.id);
    await cache.close();
    await cache.close();
    expect(ev.list).toHaveLength(7);
    await expect(cache.get(s[1]!.id)).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(cache.update(s[1]!.id, 1, {})).rejects.toMatchObject({ code: 'CLOSED' });
    expect(ev.list).toHaveLength(7);
  });
});

describe('onEvict errors', () => {
  it('an exception or rejection from onEvict goes to onError and the cache carries on', async () => {
    const store = new MemorySessionStore();
    const errors: unknown[] = [];
    let n = 0;
    const cache = new SessionCache(store, {
      maxEntries: 1,
      onEvict: () => {
        n++;
        if (n === 1) throw new Error('sync boom');
        return Promise.reject(new Error('async boom'));
      },
      onError: (e) => errors.push(e),
    });
    await created(store, 'a');
    await created(store, 'b');
    await created(store, 'c');
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');
    await sleep(0);
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync boom', 'async boom']);
    expect((await cache.get('c'))?.id).toBe('c');
    await cache.close();
  });
});
