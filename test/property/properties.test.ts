/**
 * The six named properties, each its own test, on the memory store (injected
 * clock) and on Redis. On each store a property is a race schedule
 * (fc.scheduler over read -> modify -> CAS, mutate, terminate, expiry...,
 * every run's history checked for linearizability); on Redis most also get
 * a real-concurrency run: separate connections, no scheduler, real TTLs.
 * test/property/naive-store.test.ts runs the same properties against a naive
 * store and expects them to fail.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type CreateResult, RedisSessionStore } from '../../src/index.js';
import { PROPERTY_TIMEOUT_MS, fcParams } from '../infra/budget.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import {
  History,
  type HistoryEntry,
  checkSessionHistory,
  checkerSummary,
  execute,
  writeHistoryArtifact,
} from '../oracles/session-history.js';
import { REDIS_TIMING, type ModelConfig, type SessionOp } from '../oracles/model.js';
import { describeEntry, generationBreach, isObj, resurrectionBreach } from '../oracles/observations.js';
import { memoryRaceTarget, redisRaceTarget, scanKeys } from '../oracles/race.js';
import {
  casExclusive,
  generationMonotonic,
  noLostUpdate,
  noResurrectionAfterExpiry,
  noResurrectionAfterTerminate,
  ttlInvariantRace,
} from '../oracles/race-properties.js';
import { type KindWeights, runStress, stressPlan } from '../oracles/stress.js';

const T = PROPERTY_TIMEOUT_MS;
/** The store defaults (30 min TTLs): nothing expires during these runs. */
const LONG_TTL_CFG: ModelConfig = { ttlMs: 1_800_000, tombstoneTtlMs: 1_800_000, touchOnGet: true, ...REDIS_TIMING };

afterAll(() => {
  console.log(checkerSummary('test/property/properties.test.ts'));
});

describe('properties: MemorySessionStore', () => {
  const target = memoryRaceTarget();
  it('no-resurrection-after-terminate', () => noResurrectionAfterTerminate(target, 200), T);
  it('no-resurrection-after-expiry', () => noResurrectionAfterExpiry(target, 200), T);
  it('cas-exclusive', () => casExclusive(target, 200), T);
  it('no-lost-update', () => noLostUpdate(target, 200), T);
  it('generation-monotonic', () => generationMonotonic(target, 200), T);
  it('ttl-invariant', () => ttlInvariantRace(target, 150), T);
});

describe('properties: RedisSessionStore', () => {
  /** Connection 0 serves the race schedules; all of them serve the real-concurrency runs. */
  const pool: Redis[] = [];
  const conn = (i: number): Redis => (pool[i] ??= createClient(5) as Redis);
  const connections = (n: number): Redis[] => Array.from({ length: n }, (_, i) => conn(i));
  afterAll(() => {
    for (const c of pool) c.disconnect();
  });
  const target = redisRaceTarget(() => conn(0));

  /** Real concurrency: `clients` connections run plans of `kinds` on one id, TTLs `ttls`. */
  async function concurrentRun(
    label: string,
    kinds: KindWeights,
    opts: {
      runs: number;
      clients: number;
      ttls: number[];
      cfg: Omit<ModelConfig, 'granularityMs' | 'slackMs'>;
      check: (entries: readonly HistoryEntry[]) => string | undefined;
      createTtl: number;
    },
  ): Promise<void> {
    const cfg: ModelConfig = { ...opts.cfg, ...REDIS_TIMING };
    await fc.assert(
      fc.asyncProperty(stressPlan(kinds, opts.clients, 1, opts.ttls.length, 5, 25), async (plan) => {
        const prefix = uniquePrefix(label);
        const clients = connections(opts.clients);
        const makeStore = (c: Redis, p: string) => new RedisSessionStore(c, { prefix: p, ...opts.cfg });
        const setup = new History();
        const created = await setup.record('setup', 's', { f: 'create', metadata: {}, ttlMs: opts.createTtl }, () =>
          makeStore(clients[0]!, prefix).create('s', {}, { ttlMs: opts.createTtl }),
        );
        expect(created.failed ? undefined : isObj(created.output) && created.output.ok).toBe(true);
        const run = await runStress(
          { clients, makeStore, prefix, ids: ['s'], ttls: opts.ttls, cfg, monitor: conn(opts.clients) },
          plan,
        );
        const entries = [...setup.entries, ...run.history.entries];
        const breach =
          opts.check(entries) ??
          (run.ttlViolations.length ? `ttl-invariant breached (PTTL monitor): ${run.ttlViolations[0]}` : undefined);
        const verdict = checkSessionHistory(label, entries, cfg, { extra: { plan } });
        const keys = await scanKeys(clients[0]!, prefix);
        if (keys.length) await clients[0]!.del(...keys);
        if (breach) {
          const file = verdict.artifact ?? writeHistoryArtifact(label, entries, cfg, verdict, { plan, breach });
          throw new Error(`${label}: ${breach}; history written to ${file}`);
        }
        if (!verdict.ok) throw new Error(verdict.message);
      }),
      fcParams(opts.runs, { endOnFailure: true }),
    );
  }

  it(
    'no-resurrection-after-terminate',
    async () => {
      await noResurrectionAfterTerminate(target, 100);
      // Real concurrency: writers on their own connections while others terminate.
      await concurrentRun(
        'no-resurrection-after-terminate',
        {
          get: 2,
          peek: 2,
          exists: 1,
          update: 3,
          patch: 2,
          touch: 1,
          mutate: 2,
          terminate: 1,
        },
        {
          runs: 25,
          clients: 4,
          ttls: [60_000],
          createTtl: 60_000,
          cfg: { ttlMs: 60_000, tombstoneTtlMs: 60_000, touchOnGet: true },
          check: resurrectionBreach,
        },
      );
    },
    T,
  );

  it(
    'no-resurrection-after-expiry',
    async () => {
      await noResurrectionAfterExpiry(target, 100);
      // Real expiry: TTLs of a few ms, writers racing it on their own connections (no create, no terminate).
      await concurrentRun(
        'no-resurrection-after-expiry',
        {
          get: 2,
          peek: 2,
          exists: 1,
          update: 3,
          patch: 2,
          touch: 2,
          mutate: 2,
          pause: 2,
        },
        {
          runs: 25,
          clients: 4,
          ttls: [3, 8, 15],
          createTtl: 15,
          cfg: { ttlMs: 15, tombstoneTtlMs: 15, touchOnGet: true },
          check: resurrectionBreach,
        },
      );
    },
    T,
  );

  it(
    'cas-exclusive',
    async () => {
      await casExclusive(target, 100);
      // Real concurrency: N connections send a CAS on the same generation at once.
      const writers = fc.integer({ min: 2, max: 6 });
      await fc.assert(
        fc.asyncProperty(writers, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), async (n, usePatch) => {
          const prefix = uniquePrefix('cas-exclusive');
          const stores = connections(n).map((c) => new RedisSessionStore(c, { prefix }));
          const history = new History();
          const createOp: SessionOp = { f: 'create', metadata: { owner: 'ada' }, ttlMs: 60_000 };
          const base = (await history.record('setup', 's', createOp, () => execute(stores[0]!, 's', createOp)))
            .output as CreateResult;
          if (!base.ok) throw new Error('create failed');
          const g = base.session.generation;
          await Promise.all(
            stores.map((st, i) => {
              const op: SessionOp = usePatch[i]
                ? { f: 'patch', set: { winner: String(i) }, remove: [], expected: g, ttlMs: 60_000 }
                : { f: 'update', expected: g, metadata: { winner: String(i) }, ttlMs: 60_000 };
              return history.record(`c${i}`, 's', op, () => execute(st, 's', op));
            }),
          );
          const writes = history.entries.slice(1);
          const wins = writes.filter((e) => isObj(e.output) && e.output.ok === true);
          expect(wins.length, writes.map(describeEntry).join('\n')).toBe(1);
          for (const e of writes) {
            if (e !== wins[0]) expect(isObj(e.output) && e.output.reason, describeEntry(e)).toBe('conflict');
          }
          const verdict = checkSessionHistory('cas-exclusive', history.entries, LONG_TTL_CFG);
          expect(verdict.ok, verdict.message).toBe(true);
          const keys = await scanKeys(conn(0), prefix);
          await conn(0).del(...keys);
        }),
        fcParams(40),
      );
    },
    T,
  );

  it(
    'no-lost-update',
    async () => {
      await noLostUpdate(target, 100);
      // Real concurrency: K connections mutate (and patch) their own entry M times each.
      const sizes = [fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 6 })] as const;
      await fc.assert(
        fc.asyncProperty(...sizes, fc.boolean(), async (k, m, patches) => {
          const prefix = uniquePrefix('no-lost-update');
          const stores = connections(k).map((c) => new RedisSessionStore(c, { prefix }));
          const history = new History();
          const createOp: SessionOp = { f: 'create', metadata: {}, ttlMs: 60_000 };
          const base = (
            await history.record('setup', 's', createOp, () => stores[0]!.create('s', {}, { ttlMs: 60_000 }))
          ).output;
          if (!base?.ok) throw new Error('create failed');
          const last = new Map<string, string>();
          await Promise.all(
            stores.map(async (st, i) => {
              for (let j = 1; j <= m; j++) {
                const op: SessionOp =
                  patches && j % 2 === 0
                    ? { f: 'patch', set: { [`w${i}`]: String(j) }, remove: [], ttlMs: 60_000 }
                    : { f: 'mutate', set: { [`w${i}`]: String(j) }, ttlMs: 60_000 };
                const r = await history.record(`c${i}`, 's', op, () => execute(st, 's', op, { maxAttempts: 100 }));
                if (!r.failed && isObj(r.output) && r.output.ok === true) last.set(`w${i}`, String(j));
              }
            }),
          );
          const final = await stores[0]!.peek('s');
          const gens = history.entries
            .filter((e) => e.op.f !== 'create' && isObj(e.output) && e.output.ok === true)
            .map((e) => (e.output as { session: { generation: number } }).session.generation);
          for (const [tag, v] of last) expect(final?.metadata[tag], `lost update of ${tag}`).toBe(v);
          // Every acknowledged write has its own generation, above the base; the session ends at the newest.
          expect(new Set(gens).size).toBe(gens.length);
          expect(gens.every((g) => g > base.session.generation)).toBe(true);
          expect(final?.generation).toBe(Math.max(base.session.generation, ...gens));
          const verdict = checkSessionHistory('no-lost-update', history.entries, LONG_TTL_CFG);
          expect(verdict.ok, verdict.message).toBe(true);
          await conn(0).del(...(await scanKeys(conn(0), prefix)));
        }),
        fcParams(20),
      );
    },
    T,
  );

  it(
    'generation-monotonic',
    async () => {
      await generationMonotonic(target, 100);
      // Real concurrency with re-creates after tombstones and sessions expire within ms.
      await concurrentRun(
        'generation-monotonic',
        {
          create: 3,
          get: 2,
          peek: 2,
          update: 3,
          patch: 2,
          touch: 1,
          terminate: 2,
          mutate: 2,
          pause: 2,
        },
        {
          runs: 25,
          clients: 4,
          ttls: [3, 10],
          createTtl: 10,
          cfg: { ttlMs: 10, tombstoneTtlMs: 4, touchOnGet: true },
          check: generationBreach,
        },
      );
    },
    T,
  );

  it(
    'ttl-invariant',
    async () => {
      await ttlInvariantRace(target, 60);
      // Real concurrency: a monitor polls PTTL of the key throughout (checked by concurrentRun).
      await concurrentRun(
        'ttl-invariant',
        {
          create: 3,
          get: 2,
          peek: 1,
          update: 3,
          patch: 2,
          touch: 2,
          terminate: 2,
          mutate: 2,
          pause: 1,
        },
        {
          runs: 25,
          clients: 4,
          ttls: [2, 6, 12],
          createTtl: 12,
          cfg: { ttlMs: 12, tombstoneTtlMs: 5, touchOnGet: true },
          check: () => undefined,
        },
      );
    },
    T,
  );
});
