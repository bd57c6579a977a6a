/**
 * Issue #12, finding 1: while this node's write on X is in flight, events of
 * other writers on X apply at once; only an event this node's own write may
 * have published is held (so its own change never evicts its entry), and the
 * entry is re-checked, not served, while one is held.
 *
 * Node A: a SessionCache in 'events' mode. Node B: another store on its own
 * connection. A spy subscription on A's store says when an event reached A.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  MemorySessionStore,
  type Session,
  SessionCache,
  type SessionStore,
} from '../../src/index.js';
import { cluster, counting, evictions, gated, uid, waitFor } from './helpers.js';

async function created(store: SessionStore, id: string, m: Record<string, string> = {}): Promise<Session> {
  const r = await store.create(id, m);
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

/** A promise and its resolver: `fn` of a mutate waits on it. */
function latch(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function setup() {
  const c = cluster();
  const A = c.node('A');
  const B = c.node('B');
  const ev = evictions();
  const { store, calls } = counting(A.store);
  const cache = new SessionCache(store, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
  await cache.ready;
  const seen: ChangeEvent[] = [];
  const spy = await A.store.subscribe((e) => seen.push(e));
  const arrived = (kind: string, id: string, generation: number) =>
    waitFor(() => seen.some((e) => e.kind === kind && e.id === id && e.generation === generation));
  return {
    A,
    B,
    cache,
    ev,
    calls,
    arrived,
    close: async () => {
      await spy.unsubscribe();
      await cache.close();
    },
  };
}

describe("'events' cache: other writers' events during this node's write", () => {
  it('B terminates X while A runs mutate(X) with a slow fn: A stops serving X as soon as the event arrives', async () => {
    const t = await setup();
    const id = uid('mut-term');
    const s0 = await created(t.B.store, id, { v: '0' });
    expect(await t.cache.get(id)).toEqual(s0);
    const inFn = latch();
    const release = latch();
    const pending = t.cache.mutate(id, async (s) => {
      inFn.open();
      await release.promise;
      return { ...s.metadata, v: 'A' };
    });
    await inFn.promise;
    expect(await t.B.store.terminate(id)).toMatchObject({ ok: true });
    expect(await t.arrived('terminated', id, s0.generation)).toBe(true);
    expect(await t.cache.get(id)).toBeNull();
    expect(t.cache.has(id)).toBe(false);
    expect(t.ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
    release.open();
    expect(await pending).toMatchObject({ ok: false, reason: 'terminated' });
    expect(await t.cache.get(id)).toBeNull();
    expect(t.ev.list).toHaveLength(1);
    await t.close();
  });

  it("B updates X while A runs mutate(X) with a slow fn: A serves B's version once the event arrives; A's retry lands on top", async () => {
    const t = await setup();
    const id = uid('mut-upd');
    const s0 = await created(t.B.store, id, { v: '0' });
    expect(await t.cache.get(id)).toEqual(s0);
    const inFn = latch();
    const release = latch();
    let calls = 0;
    const pending = t.cache.mutate(id, async (s) => {
      calls++;
      if (calls === 1) {
        inFn.open();
        await release.promise;
      }
      return { ...s.metadata, a: String(calls) };
    });
    await inFn.promise;
    const byB = await t.B.store.update(id, s0.generation, { v: 'B' });
    if (!byB.ok) throw new Error('B update');
    expect(await t.arrived('updated', id, byB.session.generation)).toBe(true);
    expect(await t.cache.get(id)).toEqual(byB.session);
    expect(t.ev.list).toEqual([{ id, generation: s0.generation, reason: 'stale' }]);
    release.open();
    const r = await pending;
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(r.ok && r.session.metadata).toEqual({ v: 'B', a: '2' });
    expect(await t.cache.get(id)).toEqual(r.ok ? r.session : undefined);
    expect(t.ev.list).toHaveLength(1); // A's own write moved the entry in place
    await t.close();
  });

  it("while A's update(X, g) is in flight, B's newer write is served once its event arrives (re-checked: its generation is above g too), and evicts when A's update returns", async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const ev = evictions();
    const g = gated(A.store, ['update']);
    const cache = new SessionCache(g.store as SessionStore, {
      validate: 'events',
      maxStaleMs: 600_000,
      onEvict: ev.onEvict,
    });
    await cache.ready;
    const seen: ChangeEvent[] = [];
    const spy = await A.store.subscribe((e) => seen.push(e));
    const id = uid('upd');
    const s0 = await created(B.store, id, { v: '0' });
    expect(await cache.get(id)).toEqual(s0);
    g.state.holding = true;
    const pending = cache.update(id, s0.generation, { v: 'A' }); // applies at g + 1; its reply is held
    expect(await waitFor(() => g.state.held === 1)).toBe(true);
    const byB = await B.store.patch(id, { set: { b: '1' } }); // g + 2
    if (!byB.ok) throw new Error('B patch');
    expect(await waitFor(() => seen.some((e) => e.generation === byB.session.generation))).toBe(true);
    expect(await cache.get(id)).toEqual(byB.session);
    g.state.holding = false;
    g.state.release();
    expect(await pending).toMatchObject({ ok: true });
    expect(await cache.get(id)).toEqual(byB.session);
    await spy.unsubscribe();
    await cache.close();
  });

  it("A's own event, ahead of its reply, is held: no eviction, and a get meanwhile re-checks instead of serving", async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const ev = evictions();
    const g = gated(A.store, ['patch']);
    const { store, calls } = counting(g.store as SessionStore);
    const cache = new SessionCache(store, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const seen: ChangeEvent[] = [];
    const spy = await A.store.subscribe((e) => seen.push(e));
    const id = uid('own');
    const s0 = await created(B.store, id, { v: '0' });
    expect(await cache.get(id)).toEqual(s0);
    g.state.holding = true;
    const pending = cache.patch(id, { set: { v: '1' } });
    expect(await waitFor(() => seen.some((e) => e.kind === 'updated' && e.generation > s0.generation))).toBe(true);
    const validations = calls.generationOf ?? 0;
    const during = await cache.get(id); // the event may be B's: not served from memory
    expect(during?.generation).toBeGreaterThan(s0.generation);
    expect(calls.generationOf ?? 0).toBe(validations + 1);
    expect(ev.list).toEqual([]);
    g.state.holding = false;
    g.state.release();
    const r = await pending;
    if (!r.ok) throw new Error('patch');
    expect(ev.list).toEqual([]); // its own change: moved in place
    expect(await cache.get(id)).toEqual(r.session);
    await spy.unsubscribe();
    await cache.close();
  });
});

describe("property (fast-check scheduler, memory store): 'events' cache with own writes in flight", () => {
  type Op =
    | { kind: 'own-patch' }
    | { kind: 'own-mutate' }
    | { kind: 'own-update' }
    | { kind: 'foreign-patch' }
    | { kind: 'foreign-terminate' }
    | { kind: 'get' };
  it("a get that starts after another writer's event reached the cache never returns an older session", async () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 2, arbitrary: fc.constant<Op>({ kind: 'own-patch' }) },
      { weight: 2, arbitrary: fc.constant<Op>({ kind: 'own-mutate' }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'own-update' }) },
      { weight: 3, arbitrary: fc.constant<Op>({ kind: 'foreign-patch' }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'foreign-terminate' }) },
      { weight: 6, arbitrary: fc.constant<Op>({ kind: 'get' }) },
    );
    let checkedGets = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(op, { minLength: 2, maxLength: 12 }), async (s, ops) => {
        const store = new MemorySessionStore();
        const created = await store.create('x', { n: '0' });
        if (!created.ok) throw new Error('create');
        // The cache's calls reach the store at once; their replies come back in the scheduler's order.
        const scheduledStore = new Proxy(store, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (typeof value !== 'function') return value;
            const bound = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
            return ['get', 'generationOf', 'patch', 'update', 'mutate'].includes(String(prop))
              ? s.scheduleFunction(bound)
              : bound;
          },
        });
        const cache = new SessionCache(scheduledStore as SessionStore, { validate: 'events', maxStaleMs: 600_000 });
        await cache.ready;
        await s.waitFor(cache.get('x'));
        // Events delivered (the cache's listener runs before this one), and the generations other writers wrote.
        const delivered: ChangeEvent[] = [];
        await store.subscribe((e) => {
          delivered.push(e);
        });
        const foreignGens = new Set<number>();
        /** What the cache has been told of other writers: the newest generation, and whether one terminated. */
        const known = () => {
          let floor = created.session.generation;
          let dead = false;
          for (const e of delivered) {
            if (e.kind === 'terminated')
              dead = true; // only other writers terminate here
            else if (foreignGens.has(e.generation)) floor = Math.max(floor, e.generation);
          }
          return { floor, dead };
        };
        const violations: string[] = [];
        const tasks = ops.map((o, i) =>
          s.schedule(Promise.resolve(), `${o.kind} #${i}`).then(async () => {
            switch (o.kind) {
              case 'own-patch':
                await cache.patch('x', { set: { own: String(i) } });
                break;
              case 'own-update': {
                const cur = await store.peek('x');
                if (cur) await cache.update('x', cur.generation, { own: String(i) });
                break;
              }
              case 'own-mutate':
                await cache.mutate('x', (sess) => ({ ...sess.metadata, m: String(i) }), { maxAttempts: 3 });
                break;
              case 'foreign-patch': {
                const r = await store.patch('x', { set: { f: String(i) } });
                if (r.ok) foreignGens.add(r.session.generation);
                break;
              }
              case 'foreign-terminate': {
                await store.terminate('x');
                break;
              }
              case 'get': {
                const { floor, dead } = known();
                const got = await cache.get('x');
                checkedGets++;
                if (dead && got !== null)
                  violations.push(
                    `#${i}: generation ${got.generation} after another writer's terminate reached the cache`,
                  );
                if (got !== null && got.generation < floor)
                  violations.push(
                    `#${i}: generation ${got.generation} < ${floor}, another writer's, already delivered`,
                  );
              }
            }
          }),
        );
        await s.waitFor(Promise.all(tasks));
        await cache.close();
        if (violations.length > 0)
          throw new Error(
            `${violations.join('; ')}\n${s
              .report()
              .map((r) => r.label)
              .join(' | ')}`,
          );
      }),
      { numRuns: 150 },
    );
    expect(checkedGets).toBeGreaterThan(200);
  });
});
