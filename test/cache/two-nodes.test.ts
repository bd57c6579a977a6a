/**
 * Two nodes on separate connections: A writes through its store, B reads
 * through a SessionCache. B must stop serving its copy: at once in 'always'
 * mode, when the event arrives in 'events' mode, within maxStaleMs when the
 * event is lost, and at once when its event connection drops.
 */
import { describe, expect, it } from 'vitest';
import { type ChangeEvent, type FeedStatus, type Session, SessionCache } from '../../src/index.js';
import { createClient } from '../infra/clients.js';
import { cluster, eventMessage, evictions, killConnection, publishEvent, uid, waitFor } from './helpers.js';

async function created(
  store: { create(id: string, m?: Record<string, string>): Promise<{ ok: boolean; session?: Session }> },
  id: string,
  m: Record<string, string> = {},
): Promise<Session> {
  const r = await store.create(id, m);
  if (!r.ok || !r.session) throw new Error(`create ${id} failed`);
  return r.session;
}

const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

describe("'always' mode", () => {
  it('an update or terminate on node A is seen by node B at its next get', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const ev = evictions();
    const cacheB = new SessionCache(B.store, { validate: 'always', onEvict: ev.onEvict });
    const id = uid('always');
    const s0 = await created(A.store, id, { v: '0' });
    expect(await cacheB.get(id)).toEqual(s0);
    expect(await cacheB.get(id)).toEqual(s0);
    let g = s0.generation;
    for (let i = 1; i <= 5; i++) {
      const r = await A.store.update(id, g, { v: String(i) });
      if (!r.ok) throw new Error('update failed');
      g = r.session.generation;
      const seen = await cacheB.get(id);
      expect(seen?.generation).toBe(g);
      expect(seen?.metadata).toEqual({ v: String(i) });
    }
    expect(ev.list.map((e) => e.reason)).toEqual(['stale', 'stale', 'stale', 'stale', 'stale']);
    await A.store.terminate(id);
    expect(await cacheB.get(id)).toBeNull();
    expect(await cacheB.get(id)).toBeNull();
    expect(ev.list.at(-1)).toEqual({ id, generation: g, reason: 'terminated' });
    expect(ev.count(id)).toBe(6);
    expect(cacheB.has(id)).toBe(false);
    await cacheB.close();
  });
});

describe("'events' mode", () => {
  it('an update or terminate on node A reaches node B through its event (delay measured)', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    let onEvicted: (() => void) | undefined;
    const ev = evictions();
    const cacheB = new SessionCache(B.store, {
      validate: 'events',
      maxStaleMs: 600_000, // only the event can tell B
      onEvict: (s, r) => {
        ev.onEvict(s, r);
        onEvicted?.();
      },
    });
    await cacheB.ready;
    const delays: number[] = [];
    const id = uid('events');
    let current = await created(A.store, id, { v: '0' });
    expect(await cacheB.get(id)).toEqual(current);
    const rounds = 30;
    for (let i = 1; i <= rounds; i++) {
      const evicted = new Promise<void>((resolve) => {
        onEvicted = resolve;
      });
      const t0 = performance.now();
      const r =
        i < rounds ? await A.store.update(id, current.generation, { v: String(i) }) : await A.store.terminate(id);
      expect(r.ok).toBe(true);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000));
      expect(await Promise.race([evicted, timeout])).not.toBe('timeout');
      delays.push(performance.now() - t0);
      if (i < rounds) {
        const loadsBefore = cacheB.stats().loads;
        const seen = await cacheB.get(id);
        expect(seen?.metadata).toEqual({ v: String(i) });
        expect(cacheB.stats().loads).toBe(loadsBefore + 1);
        current = seen!;
        expect(await cacheB.get(id)).toBe(seen); // served from memory again
      }
    }
    expect(ev.list.slice(0, -1).every((e) => e.reason === 'stale')).toBe(true);
    expect(ev.list.at(-1)?.reason).toBe('terminated');
    expect(await cacheB.get(id)).toBeNull();
    console.log(
      `[cache] events-mode propagation A write -> B eviction over ${rounds} writes: ` +
        `median ${quantile(delays, 0.5).toFixed(2)} ms, p90 ${quantile(delays, 0.9).toFixed(2)} ms, max ${Math.max(...delays).toFixed(2)} ms`,
    );
    await cacheB.close();
  });

  it('a lost event (a writer that publishes nothing) is caught up within maxStaleMs', async () => {
    const c = cluster();
    const A = c.node('A');
    const silent = c.node('silent', { eventsChannel: undefined });
    const B = c.node('B');
    let now = 0;
    const maxStaleMs = 1_000;
    const ev = evictions();
    const cacheB = new SessionCache(B.store, { validate: 'events', maxStaleMs, now: () => now, onEvict: ev.onEvict });
    await cacheB.ready;
    const id = uid('lost');
    const s0 = await created(A.store, id, { v: '0' });
    expect(await cacheB.get(id)).toEqual(s0); // validated at now = 0
    const updated = await silent.store.update(id, s0.generation, { v: '1' });
    expect(updated.ok).toBe(true);
    now = maxStaleMs - 1;
    const before = cacheB.stats();
    expect(await cacheB.get(id)).toEqual(s0); // still inside the bound: served stale, no I/O
    expect(cacheB.stats().validations).toBe(before.validations);
    now = maxStaleMs;
    expect((await cacheB.get(id))?.metadata).toEqual({ v: '1' }); // bound reached: re-validated
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'stale' }]);
    // The same for a terminate that publishes nothing.
    await silent.store.terminate(id);
    now += maxStaleMs - 1;
    expect(await cacheB.get(id)).not.toBeNull();
    now += 1;
    expect(await cacheB.get(id)).toBeNull();
    expect(ev.list.at(-1)).toEqual({ id, generation: expect.any(Number), reason: 'terminated' });
    expect(ev.list.at(-1)!.generation).toBeGreaterThan(s0.generation);
    await cacheB.close();
  });

  for (const major of [5, 6] as const) {
    it(`ioredis ${major}: dropping the event connection makes B re-validate everything it holds (the event published meanwhile is lost)`, async () => {
      const c = cluster(major);
      const A = c.node('A');
      // Slow reconnects (also for the store's subscriber, a duplicate of this
      // client) so A's write lands while B's event connection is down.
      const B = c.node('B', {}, { retryStrategy: () => 400 });
      const admin = createClient(5);
      try {
        const cacheB = new SessionCache(B.store, { validate: 'events', maxStaleMs: 600_000 });
        await cacheB.ready;
        const spyEvents: ChangeEvent[] = [];
        const spyStatus: FeedStatus[] = [];
        const spy = await B.store.subscribe((e) => spyEvents.push(e), { onStatus: (s) => spyStatus.push(s) });
        const ids = [uid('drop'), uid('drop'), uid('drop')];
        const sessions = await Promise.all(ids.map((id) => created(A.store, id, { v: '0' })));
        for (const s of sessions) expect(await cacheB.get(s.id)).toEqual(s);
        await waitFor(() => spyEvents.length === 3);
        const hitsBefore = cacheB.stats().hits;
        expect(await cacheB.get(ids[0]!)).toEqual(sessions[0]);
        expect(cacheB.stats().hits).toBe(hitsBefore + 1); // served from memory while the feed is up

        expect(await killConnection(admin, `${B.name}:events`)).toBeGreaterThanOrEqual(1); // one per primary on a cluster
        const r = await A.store.update(ids[0]!, sessions[0]!.generation, { v: '1' }); // published to nobody on B
        expect(r.ok).toBe(true);
        expect(await waitFor(() => spyStatus.includes('interrupted'))).toBe(true);
        // While interrupted every hit is validated.
        const v0 = cacheB.stats().validations;
        expect(await cacheB.get(ids[1]!)).toEqual(sessions[1]);
        expect(cacheB.stats().validations).toBe(v0 + 1);

        expect(await waitFor(() => spyStatus.filter((s) => s === 'subscribed').length === 2, 10_000)).toBe(true);
        expect(spyStatus.slice(0, 3)).toEqual(['subscribed', 'interrupted', 'subscribed']);
        expect(spyEvents.some((e) => e.kind === 'updated')).toBe(false); // the event really was lost
        // Resubscribed, maxStaleMs far away: only the gap handling can make B see the update.
        expect((await cacheB.get(ids[0]!))?.metadata).toEqual({ v: '1' });
        const v1 = cacheB.stats().validations;
        for (const id of ids.slice(1)) await cacheB.get(id);
        // Each once more: ids[1] too, as its validation during the gap may predate the resubscription.
        expect(cacheB.stats().validations).toBe(v1 + 2);
        // ...after which hits are served from memory again, and events flow.
        const h = cacheB.stats().hits;
        for (const id of ids) await cacheB.get(id);
        expect(cacheB.stats().hits).toBe(h + 3);
        await spy.unsubscribe();
        await cacheB.close();
      } finally {
        admin.disconnect();
      }
    });
  }
});

describe('no eviction storm', () => {
  for (const mode of ['always', 'events'] as const) {
    it(`${mode}: A's reads, touches, writes to other sessions and duplicate events evict nothing on B; a generation change evicts once`, async () => {
      const c = cluster();
      const A = c.node('A');
      const B = c.node('B');
      const ev = evictions();
      const cacheB = new SessionCache(B.store, { validate: mode, maxStaleMs: 600_000, onEvict: ev.onEvict });
      await cacheB.ready;
      const shared = await Promise.all(
        Array.from({ length: 20 }, (_, i) => created(A.store, uid(`shared${i}`), { owner: 'app' })),
      );
      for (const s of shared) await cacheB.get(s.id);
      const loads0 = cacheB.stats().loads;
      // A's node-local traffic: reads, TTL slides, and writes of node-specific fields on its own sessions.
      for (const s of shared) {
        await A.store.get(s.id);
        await A.store.touch(s.id);
        await A.store.generationOf(s.id);
        await A.store.peek(s.id);
      }
      for (let i = 0; i < 30; i++) {
        const own = await created(A.store, uid('nodeA'), { 'node.A.conn': String(i) });
        await A.store.patch(own.id, { set: { 'node.A.lastSeen': String(i) } });
        await A.store.terminate(own.id);
      }
      // Duplicated and out-of-date events for B's sessions.
      for (const s of shared) {
        await publishEvent(A.client, c.channel, eventMessage('created', s.generation, s.id, c.prefix));
        await publishEvent(A.client, c.channel, eventMessage('updated', s.generation, s.id, c.prefix));
        await publishEvent(A.client, c.channel, eventMessage('terminated', s.generation - 1, s.id, c.prefix));
      }
      for (const s of shared) expect(await cacheB.get(s.id)).toEqual(s);
      expect(ev.list).toEqual([]);
      expect(cacheB.stats().loads).toBe(loads0);
      // One node-specific write on one shared session changes its generation: exactly that entry goes, once.
      const target = shared[7]!;
      const patched = await A.store.patch(target.id, { set: { 'node.A.lastSeen': 'now' } });
      expect(patched.ok).toBe(true);
      if (!patched.ok) throw new Error('patch failed');
      // and a duplicate of its event
      await publishEvent(A.client, c.channel, eventMessage('updated', patched.session.generation, target.id, c.prefix));
      if (mode === 'events') expect(await waitFor(() => ev.list.length === 1)).toBe(true);
      for (const s of shared) await cacheB.get(s.id);
      expect(ev.list).toEqual([{ id: target.id, generation: target.generation, reason: 'stale' }]);
      expect(cacheB.stats().loads).toBe(loads0 + 1);
      await cacheB.close();
    });
  }
});
