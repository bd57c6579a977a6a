/**
 * restart: the server is SIGKILLed and started again on the same port. With
 * persistence the function library comes back with the data (FUNCTION LOAD is
 * in the AOF); without it the store loads it again on first use ("Function
 * not found" ran nothing, so the call is sent again), and every operation after
 * the restart behaves per the contract on whatever data survived: all of it
 * with `appendfsync always` (an acknowledged write is on disk), none of it
 * without persistence (then tombstones are lost too: see the README).
 */
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type Session, isSessionStoreError } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, libraryLoaded } from '../infra/server-faults.js';
import { expectAppliedOnce, expectFault, plan, rejection, settled, type Plan, WRITE_OPS } from './fault-harness.js';

const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always'];
const clients: Client[] = [];
const servers: RedisServer[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) await s.kill();
});

async function server(args: string[] = []): Promise<RedisServer> {
  const s = await startRedisServer({ args });
  servers.push(s);
  return s;
}

/** A client that keeps retrying through a restart instead of failing queued commands. */
function storeOn(s: RedisServer, prefix: string): RedisSessionStore {
  const c = createClient(5, s.url, { maxRetriesPerRequest: 100, retryStrategy: () => 50 });
  clients.push(c);
  return new RedisSessionStore(c, { prefix });
}

async function withAdmin<T>(s: RedisServer, fn: (a: Redis) => Promise<T>): Promise<T> {
  const a = await adminClient(s.url);
  try {
    return await fn(a);
  } finally {
    a.disconnect();
  }
}

describe('restart', () => {
  it('restart: after SIGKILL and restart (appendfsync always) every write behaves per the contract and the library is back', async () => {
    const s = await server(PERSISTENT);
    const prefix = uniquePrefix('restart');
    const store = storeOn(s, prefix);
    const plans: Plan[] = [];
    for (const op of WRITE_OPS) plans.push(await plan(op, store));
    const tomb = (await store.create('tomb')) as { ok: true; session: Session };
    expect(await store.terminate('tomb')).toEqual({ ok: true, generation: tomb.session.generation });
    const pid = s.pid();
    await s.kill();
    await s.start();
    expect(s.pid()).not.toBe(pid);
    // The library was in the AOF: it is back before any call.
    expect(await withAdmin(s, (a) => libraryLoaded(a))).toBe(true);
    for (const p of plans) {
      await expectAppliedOnce(p, await settled(p.run(store)));
      await withAdmin(s, async (a) => expect(await p.applied(a)).toBe('once'));
    }
    // The tombstone survived: the id stays terminated.
    expect(await store.create('tomb')).toEqual({ ok: false, reason: 'terminated' });
    expect(await withAdmin(s, (a) => libraryLoaded(a))).toBe(true);
  });

  it('restart: SIGKILL mid-run with writers in flight: every call returns its exact outcome, nothing applies twice', async () => {
    const s = await server(PERSISTENT);
    const prefix = uniquePrefix('restart-mid');
    const raw = storeOn(s, prefix);
    let completed = 0;
    let killedAt = -1;
    let inFlight = 0;
    let inFlightAtKill = 0;
    const track = async <T>(call: Promise<T>): Promise<T> => {
      inFlight++;
      try {
        return await call;
      } finally {
        inFlight--;
      }
    };
    let restarted = false;
    const afterRestart: number[] = [];
    const tracked = {
      create: (...a: Parameters<typeof raw.create>) => track(raw.create(...a)),
      update: (...a: Parameters<typeof raw.update>) => track(raw.update(...a)),
      patch: (...a: Parameters<typeof raw.patch>) => track(raw.patch(...a)),
      touch: (...a: Parameters<typeof raw.touch>) => track(raw.touch(...a)),
      mutate: (...a: Parameters<typeof raw.mutate>) => track(raw.mutate(...a)),
      terminate: (...a: Parameters<typeof raw.terminate>) => track(raw.terminate(...a)),
    };
    const worker = async (w: number): Promise<void> => {
      afterRestart[w] = 0;
      for (let cycle = 0; cycle < 200 && afterRestart[w]! < 3; cycle++) {
        const id = `w${w}:${cycle}`;
        const store = tracked;
        const c = await store.create(id, { n: '0' });
        if (!c.ok) throw new Error(`create ${id}: ${JSON.stringify(c)}`);
        let g = c.session.generation;
        /** A write's exact outcome: its metadata at a generation above the last one; returns that generation. */
        const wrote = (r: unknown, metadata: Record<string, string>, extra: object = {}): number => {
          expect(r).toEqual({
            ok: true,
            session: { id, generation: expect.any(Number), createdAt: expect.any(Number), metadata },
            ...extra,
          });
          const next = (r as { session: { generation: number } }).session.generation;
          expect(next).toBeGreaterThan(g);
          return next;
        };
        g = wrote(await store.update(id, g, { n: '1' }), { n: '1' });
        g = wrote(await store.patch(id, { set: { m: 'x' } }, { expectedGeneration: g }), { n: '1', m: 'x' });
        expect(await store.touch(id, { expectedGeneration: g })).toEqual({ ok: true, generation: g });
        g = wrote(
          await store.mutate(id, (cur) => ({ ...cur.metadata, n: String(Number(cur.metadata.n) + 1) })),
          { n: '2', m: 'x' },
          { attempts: 1 },
        );
        expect(await store.terminate(id, { expectedGeneration: g })).toEqual({ ok: true, generation: g });
        expect(await store.create(id)).toEqual({ ok: false, reason: 'terminated' });
        completed += 7;
        if (restarted) afterRestart[w]!++;
      }
    };
    const killer = (async () => {
      const deadline = Date.now() + 20_000;
      while (completed < 150 && Date.now() < deadline) await sleep(5);
      killedAt = completed;
      inFlightAtKill = inFlight;
      await s.kill();
      await sleep(200); // writers keep sending into the outage
      await s.start();
      restarted = true;
    })();
    const r = await settled(Promise.all([killer, ...Array.from({ length: 6 }, (_, w) => worker(w))]), 60_000);
    if ('error' in r) {
      expect(isSessionStoreError(r.error) ? `typed ${String(r.error)}` : r.error).toBe('no error');
    }
    expect(killedAt).toBeGreaterThanOrEqual(150);
    expect(inFlightAtKill).toBeGreaterThan(0); // calls were on the wire or queued when the server died
    expect(afterRestart.every((n) => n >= 3)).toBe(true);
    expect(completed).toBeGreaterThan(killedAt);
  });

  it('restart: an outage longer than maxRetriesPerRequest: every call rejects typed, none stays pending, and works after the restart', async () => {
    const s = await server(PERSISTENT);
    const c = createClient(5, s.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    clients.push(c);
    const store = new RedisSessionStore(c, { prefix: uniquePrefix('restart-outage') });
    const plans: Plan[] = [];
    for (const op of WRITE_OPS) plans.push(await plan(op, store));
    await s.kill();
    for (const p of plans) {
      const err = await rejection(p.run(store));
      // mutate fails at its read: nothing written, so CONNECTION; writes cannot know.
      if (p.op === 'mutate') expectFault(err, 'CONNECTION', 'not_applied', p);
      else expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    }
    expectFault(await rejection(store.peek('x')), 'CONNECTION', 'not_applied');
    await s.start();
    for (const p of plans) {
      await withAdmin(s, async (a) => expect(await p.applied(a)).toBe('not')); // nothing reached Redis
      await expectAppliedOnce(p, await settled(p.run(store)));
    }
  });

  it('restart: without persistence records and tombstones are gone; writes say not_found and create works with a higher generation', async () => {
    const s = await server();
    const store = storeOn(s, uniquePrefix('restart-volatile'));
    const live = (await store.create('live', { a: '1' })) as { ok: true; session: Session };
    const g = live.session.generation;
    const tomb = (await store.create('tomb')) as { ok: true; session: Session };
    expect((await store.terminate('tomb')).ok).toBe(true);
    await s.restart();
    expect(await store.update('live', g, {})).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.patch('live', {})).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.touch('live')).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.terminate('live')).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.mutate('live', () => ({}))).toEqual({ ok: false, reason: 'not_found', attempts: 1 });
    const again = await store.create('live');
    expect(again.ok && again.session.generation > g).toBe(true);
    // The lost tombstone no longer protects the id: the documented limit of running without persistence.
    const reborn = await store.create('tomb');
    expect(reborn.ok && reborn.session.generation > tomb.session.generation).toBe(true);
  });
});
