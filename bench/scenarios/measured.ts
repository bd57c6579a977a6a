/**
 * A throughput/latency scenario: prepare once (sessions, connections), then
 * measure a slice per round into one {@link LoadSeries}.
 * @module
 */
import type { Pipelining } from '../env.js';
import { type BenchContext, CONCURRENCIES, type LoadData, type Scenario, type Section } from '../bench-harness.js';
import { LoadSeries, type Operation, capBudget, sliceBudget } from '../load.js';

/** What a load scenario measures, set up once before its first slice. */
export interface Prepared {
  readonly call: Operation;
  /** Calls the setup allows in all rounds together, warm-ups included (e.g. sessions to terminate). */
  readonly maxCalls?: number;
  /** SessionCache counters so far, for cache scenarios (reported with the figures). */
  cacheCounters?(): NonNullable<LoadData['cache']>;
  /** Releases what the setup holds (connections, caches); runs after the last slice. */
  close?(): void | Promise<void>;
}

export function loadId(subject: string, concurrency: number, pipelining: Pipelining): string {
  return `${subject}:c${concurrency}:ap-${pipelining}`;
}

export function loadScenario(spec: {
  section: Section;
  subject: string;
  concurrency: number;
  pipelining: Pipelining;
  redisOnly?: string;
  prepare(ctx: BenchContext): Promise<Prepared>;
}): Scenario {
  let prepared: Prepared | undefined;
  const series = new LoadSeries();
  return {
    id: loadId(spec.subject, spec.concurrency, spec.pipelining),
    section: spec.section,
    group: `c${spec.concurrency}:ap-${spec.pipelining}`,
    ...(spec.redisOnly === undefined ? {} : { redisOnly: spec.redisOnly }),
    async run(ctx, slice): Promise<LoadData> {
      prepared ??= await spec.prepare(ctx);
      let budget = sliceBudget(ctx.budgets.load, slice.rounds);
      if (prepared.maxCalls !== undefined) budget = capBudget(budget, Math.floor(prepared.maxCalls / slice.rounds));
      try {
        const result = await series.slice(prepared.call, spec.concurrency, budget);
        const cache = prepared.cacheCounters?.();
        return {
          kind: 'load',
          subject: spec.subject,
          pipelining: spec.pipelining,
          ...result,
          ...(cache ? { cache } : {}),
        };
      } finally {
        if (slice.round === slice.rounds) await prepared.close?.();
      }
    },
  };
}

/** One load scenario per subject x concurrency (CONCURRENCIES) x pipelining mode, in that order. */
export function loadMatrix<S extends string>(
  section: Section,
  subjects: readonly S[],
  pipelining: readonly Pipelining[],
  spec: {
    redisOnly?: string;
    prepare(ctx: BenchContext, subject: S, concurrency: number, pipelining: Pipelining): Promise<Prepared>;
  },
): Scenario[] {
  return subjects.flatMap((subject) =>
    CONCURRENCIES.flatMap((concurrency) =>
      pipelining.map((p) =>
        loadScenario({
          section,
          subject,
          concurrency,
          pipelining: p,
          ...(spec.redisOnly === undefined ? {} : { redisOnly: spec.redisOnly }),
          prepare: (ctx) => spec.prepare(ctx, subject, concurrency, p),
        }),
      ),
    ),
  );
}
