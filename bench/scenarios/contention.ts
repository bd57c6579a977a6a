/**
 * Contention: 16 writers increment one counter in one session by
 * read-modify-write, as fast as they can. session-cas (`mutate`) and the
 * WATCH/MULTI loop retry on conflict, so every acknowledged increment must be
 * in the final counter; the naive store does not, and its lost updates are
 * counted exactly: acknowledged increments minus the final counter.
 * @module
 */
import type { Redis } from 'ioredis';
import { NaiveSessionStore, createPlainRecord, fieldArgs, watchIncrement } from '../baseline-stores.js';
import {
  type BenchContext,
  BENCH_TTL_MS,
  CONTENTION_WRITERS,
  type ContentionData,
  type Scenario,
  type Slice,
  requireRedis,
  sharedClient,
} from '../bench-harness.js';
import type { Pipelining } from '../env.js';
import { LoadSeries, type Operation, round, sliceBudget } from '../load.js';
import { PAYLOAD, incremented } from '../payload.js';
import { REDIS_ONLY } from './baselines.js';

export const CONTENTION_SUBJECTS = ['mutate', 'watch-multi-cas', 'naive'] as const;
export type ContentionSubject = (typeof CONTENTION_SUBJECTS)[number];

/** Attempts per increment before a CAS writer gives up (and says so). */
const MAX_ATTEMPTS = 100;

export function contentionId(subject: ContentionSubject, pipelining: Pipelining): string {
  return `contention:${subject}:ap-${pipelining}`;
}

export function contentionScenarios(pipelining: readonly Pipelining[]): Scenario[] {
  const out: Scenario[] = [];
  for (const subject of CONTENTION_SUBJECTS) {
    const redisOnly = subject !== 'mutate';
    const modes = redisOnly && pipelining.includes('n/a') ? (['on', 'off'] as const) : pipelining;
    for (const p of modes) {
      const measure = contentionMeasurement(subject, p);
      out.push({
        id: contentionId(subject, p),
        section: 'contention',
        group: `contention:ap-${p}`,
        ...(redisOnly ? { redisOnly: REDIS_ONLY } : {}),
        run: measure,
      });
    }
  }
  return out;
}

interface Tally {
  acknowledged: number;
  conflicts: number;
  gaveUp: number;
}

interface Contender {
  op: Operation;
  finalCounter(): Promise<number>;
  close(): void;
}

/** One contention subject measured in slices: the contender and the tallies live across them. */
function contentionMeasurement(subject: ContentionSubject, pipelining: Pipelining) {
  const tally: Tally = { acknowledged: 0, conflicts: 0, gaveUp: 0 };
  const measured = { conflicts: 0, gaveUp: 0 };
  const series = new LoadSeries();
  let contender: Contender | undefined;
  return async (ctx: BenchContext, slice: Slice): Promise<ContentionData> => {
    contender ??= await makeContender(ctx, subject, pipelining, tally);
    let from: Tally = { ...tally };
    const budget = sliceBudget(ctx.budgets.contention, slice.rounds);
    let result;
    try {
      result = await series.slice(contender.op, CONTENTION_WRITERS, budget, {
        onMeasureStart: () => {
          from = { ...tally };
        },
      });
    } finally {
      if (slice.round === slice.rounds) contender.close();
    }
    measured.conflicts += tally.conflicts - from.conflicts;
    measured.gaveUp += tally.gaveUp - from.gaveUp;
    const finalCounter = await contender.finalCounter();
    return {
      kind: 'contention',
      subject,
      pipelining,
      writers: CONTENTION_WRITERS,
      durationMs: result.durationMs,
      successes: result.ops,
      successesPerSec: result.opsPerSec,
      conflicts: measured.conflicts,
      conflictsPerSuccess: result.ops > 0 ? round(measured.conflicts / result.ops, 2) : 0,
      gaveUp: measured.gaveUp,
      lostUpdates: tally.acknowledged - finalCounter,
      acknowledgedIncrements: tally.acknowledged,
      finalCounter,
      latencyUs: result.latencyUs,
    };
  };
}

async function makeContender(
  ctx: BenchContext,
  subject: ContentionSubject,
  pipelining: Pipelining,
  tally: Tally,
): Promise<Contender> {
  switch (subject) {
    case 'mutate': {
      const store = ctx.makeStore(pipelining, 'contention-mutate');
      const created = await store.create('hot', PAYLOAD);
      if (!created.ok) throw new Error(`bench setup: create returned ${created.reason}`);
      return {
        async op() {
          const r = await store.mutate('hot', (s) => incremented(s.metadata), { maxAttempts: MAX_ATTEMPTS });
          if (r.ok) {
            tally.acknowledged++;
            tally.conflicts += r.attempts - 1;
            return true;
          }
          if (r.reason === 'conflict') {
            tally.gaveUp++;
            tally.conflicts += r.attempts;
          }
          return false;
        },
        async finalCounter() {
          return Number((await store.peek('hot'))?.metadata.counter);
        },
        close: () => undefined,
      };
    }
    case 'watch-multi-cas': {
      const key = `${ctx.keyPrefix('contention-watch')}{hot}`;
      const client = sharedClient(ctx, pipelining);
      await createPlainRecord(client, key, BENCH_TTL_MS, fieldArgs(PAYLOAD));
      const pool: Redis[] = [];
      for (let i = 0; i < CONTENTION_WRITERS; i++)
        pool.push(await requireRedis(ctx).clients.connectionFor(key, pipelining));
      await Promise.all(pool.map((c) => c.ping()));
      return {
        async op(w) {
          for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            if ((await watchIncrement(pool[w]!, key, 'mcounter', BENCH_TTL_MS)) === 'ok') {
              tally.acknowledged++;
              return true;
            }
            tally.conflicts++;
          }
          tally.gaveUp++;
          return false;
        },
        async finalCounter() {
          return Number(await client.hget(key, 'mcounter'));
        },
        close() {
          for (const c of pool) c.disconnect();
        },
      };
    }
    case 'naive': {
      const client = sharedClient(ctx, pipelining);
      const naive = new NaiveSessionStore(client, ctx.keyPrefix('contention-naive'), BENCH_TTL_MS);
      await naive.create('{hot}', PAYLOAD);
      return {
        async op() {
          const loaded = await naive.load('{hot}');
          if (loaded === null || !(await naive.save('{hot}', incremented(loaded)))) return false;
          tally.acknowledged++;
          return true;
        },
        async finalCounter() {
          return Number((await naive.load('{hot}'))?.counter);
        },
        close: () => undefined,
      };
    }
  }
}
