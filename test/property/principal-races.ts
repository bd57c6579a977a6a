/**
 * Race properties of the sessions of a principal (issue #13), under
 * `fc.scheduler` schedules (see test/support/race.ts): `terminateAll`
 * interleaved with creates, updates, touches, reads and expiry of the same
 * principal's sessions, and capped creates racing each other.
 *
 * The oracle is a model of one principal: the sessions whose create was
 * acknowledged, each with the interval of its create and of the terminate or
 * expiry that ended it. Every operation is stamped with a logical clock
 * (flows take one step at a time), so "acknowledged before X started" is
 * `ret < call`. The same properties run on the real stores (they must hold)
 * and on the naive store (they must fail).
 * @module
 */
import fc from 'fast-check';
import type { Session, SessionStore, SessionStoreOptions } from '../../src/index.js';
import { fcParams } from '../infra/budget.js';
import { type Flow, type RaceTarget, type RaceWorld, runFlows } from '../oracles/race.js';

export class PrincipalViolation extends Error {
  override readonly name = 'PrincipalViolation';
}

const P = 'ada';
const TTL = 60_000;

/** One recorded call: logical call and return instants, and what it returned. */
interface Stamp<T> {
  readonly call: number;
  readonly ret: number;
  readonly out: T;
}

class PrincipalRun {
  private clock = 0;
  readonly world: RaceWorld;
  constructor(target: RaceTarget, options: SessionStoreOptions = {}) {
    this.world = target.open({ ttlMs: TTL, tombstoneTtlMs: TTL, ...options } as never);
  }
  store(flow?: Flow): SessionStore {
    return this.world.storeFor(flow);
  }
  async stamp<T>(fn: () => Promise<T>): Promise<Stamp<T>> {
    const call = ++this.clock;
    const out = await fn();
    return { call, ret: ++this.clock, out };
  }
}

type Writer = 'update' | 'touch' | 'patch' | 'get' | 'create' | 'expire';
const writer = fc.constantFrom<Writer>('update', 'touch', 'patch', 'get', 'create', 'expire');

function fail(property: string, message: string): never {
  throw new PrincipalViolation(`${property}: ${message}`);
}

/**
 * `terminate-all`: when terminateAll(P) resolves, no session of P whose create
 * was acknowledged before it started is live, and late writers get
 * `terminated` (or `not_found` once expired); a create racing with it ends
 * terminated or is seen live by a sessionsOf after both; sessionsOf after the
 * race returns exactly the live sessions of P.
 */
export function terminateAllRace(target: RaceTarget, numRuns: number, extra?: fc.Parameters<unknown>): Promise<void> {
  const property = 'terminate-all';
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 3 }),
      fc.array(writer, { minLength: 1, maxLength: 4 }),
      async (s, initial, kinds) => {
        const run = new PrincipalRun(target);
        try {
          const before: Session[] = [];
          for (let i = 0; i < initial; i++) {
            const r = await run.store().create(`s${i}`, { n: String(i) }, { principal: P });
            if (!r.ok) throw new Error(`setup create failed: ${JSON.stringify(r)}`);
            before.push(r.session);
          }
          let ended: Stamp<{ terminated: string[] }> | undefined;
          const raced: Array<Stamp<{ ok: boolean }> & { id: string }> = [];
          await runFlows(s, [
            [
              'terminateAll',
              async (flow) => {
                ended = await run.stamp(() => run.store(flow).terminateAll(P));
              },
            ],
            ...kinds.map(
              (kind, i) =>
                [
                  `${kind}${i}`,
                  async (flow: Flow) => {
                    const store = run.store(flow);
                    const target = before[i % before.length]!;
                    switch (kind) {
                      case 'update': {
                        const cur = await store.peek(target.id);
                        await flow.gate('update: between read and write');
                        if (cur) await store.update(target.id, cur.generation, { w: String(i) });
                        break;
                      }
                      case 'touch':
                        await store.touch(target.id);
                        break;
                      case 'patch':
                        await store.patch(target.id, { set: { w: String(i) } });
                        break;
                      case 'get':
                        await store.get(target.id);
                        break;
                      case 'expire':
                        await run.world.expire(target.id);
                        break;
                      case 'create': {
                        const id = `new${i}`;
                        const r = await run.stamp(() => store.create(id, {}, { principal: P }));
                        raced.push({ ...r, id });
                        break;
                      }
                    }
                  },
                ] as const,
            ),
          ]);
          if (!ended) throw new Error('terminateAll did not run');
          const store = run.store();
          // Every session of P acknowledged before terminateAll started is gone, for readers and late writers.
          for (const b of before) {
            const seen = await store.peek(b.id);
            if (seen) fail(property, `${b.id} is live after terminateAll resolved: ${JSON.stringify(seen)}`);
            const late = await store.patch(b.id, { set: { late: '1' } });
            if (late.ok) fail(property, `a late write to ${b.id} succeeded after terminateAll`);
          }
          const listed = await store.sessionsOf(P);
          const listedIds = new Set(listed.map((x) => x.id));
          // A racing create ends terminated, or is live and listed.
          for (const r of raced) {
            if (!r.out.ok) continue;
            const live = await store.peek(r.id);
            if (live && !listedIds.has(r.id)) fail(property, `${r.id} is live but sessionsOf(${P}) misses it`);
          }
          // sessionsOf lists exactly the live sessions of P.
          for (const x of listed) {
            const live = await store.peek(x.id);
            if (!live || live.principal !== P) fail(property, `sessionsOf lists ${x.id}, which is not live`);
          }
          for (const id of [...before.map((b) => b.id), ...raced.map((r) => r.id)]) {
            if ((await store.peek(id)) && !listedIds.has(id)) fail(property, `live ${id} missing from sessionsOf`);
          }
          // terminated names only sessions it ended: each now reads as terminated or gone.
          for (const id of ended.out.terminated) {
            if (await store.peek(id)) fail(property, `terminateAll reported ${id} ended, but it is live`);
          }
        } finally {
          await run.world.close();
        }
      },
    ),
    fcParams(numRuns, extra),
  );
}

/**
 * `principal-cap`: with maxSessionsPerPrincipal N, concurrent creates (and a
 * terminateAll) never leave more than N sessions of P live once they all
 * resolved; in 'refuse' mode a create that reported ok is live unless ended
 * since, one that reported limit left nothing live.
 */
export function capRace(
  target: RaceTarget,
  mode: 'evict-oldest' | 'refuse',
  numRuns: number,
  extra?: fc.Parameters<unknown>,
): Promise<void> {
  const property = `principal-cap (${mode})`;
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 2, max: 4 }),
      fc.boolean(),
      async (s, cap, creators, withTerminateAll) => {
        const run = new PrincipalRun(target, { maxSessionsPerPrincipal: cap, onPrincipalLimit: mode });
        try {
          const results: Array<{ id: string; ok: boolean; reason?: string }> = [];
          await runFlows(s, [
            ...Array.from(
              { length: creators },
              (_, i) =>
                [
                  `create${i}`,
                  async (flow: Flow) => {
                    const id = `c${i}`;
                    const r = await run.store(flow).create(id, {}, { principal: P });
                    results.push(r.ok ? { id, ok: true } : { id, ok: false, reason: r.reason });
                  },
                ] as const,
            ),
            ...(withTerminateAll
              ? [
                  [
                    'terminateAll',
                    async (flow: Flow) => {
                      await run.store(flow).terminateAll(P, { except: ['c0'] });
                    },
                  ] as const,
                ]
              : []),
          ]);
          const store = run.store();
          let live = 0;
          for (const r of results) {
            const seen = await store.peek(r.id);
            if (seen) live++;
            if (!r.ok && r.reason !== 'limit') fail(property, `create ${r.id} failed with ${r.reason}`);
            if (!r.ok && seen) fail(property, `${r.id} was refused but is live`);
          }
          if (live > cap) fail(property, `${live} sessions of ${P} are live, over the cap of ${cap}`);
          const listed = await store.sessionsOf(P);
          if (listed.length !== live) fail(property, `sessionsOf lists ${listed.length}, ${live} are live`);
        } finally {
          await run.world.close();
        }
      },
    ),
    fcParams(numRuns, extra),
  );
}
