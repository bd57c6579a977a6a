/**
 * The load generator: `concurrency` workers call one operation in a loop until
 * a time budget or an operation count runs out (whichever comes first), and
 * every call's latency goes into an HDR histogram.
 * @module
 */
import { build } from 'hdr-histogram-js';

/** Budget of one measured run. Both bounds always apply. */
export interface LoadBudget {
  /** Measured phase length, ms. */
  readonly maxMs: number;
  /** Measured operations, all workers together. */
  readonly maxOps: number;
  /** Unmeasured warm-up (connections, script cache, JIT), ms; at most `warmupOps` calls. */
  readonly warmupMs: number;
  readonly warmupOps: number;
}

/** Latency percentiles in microseconds. */
export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadResult {
  readonly concurrency: number;
  /** Calls that did what they should. */
  readonly ops: number;
  /** Calls that threw or returned an unexpected outcome (a correct run has 0). */
  readonly errors: number;
  /** First error message, to see what went wrong. */
  readonly firstError?: string;
  readonly durationMs: number;
  readonly opsPerSec: number;
  readonly latencyUs: Latency;
}

/**
 * One call of the measured operation. `worker` is 0..concurrency-1 and `seq`
 * counts that worker's calls; return false (or throw) when the call did not
 * do what it should.
 */
export type Operation = (worker: number, seq: number) => Promise<boolean | void>;

const NS_PER_US = 1000;

function newHistogram() {
  // Nanoseconds, 3 significant digits, up to 100 s: covers an in-memory call and a stalled one.
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/**
 * Measurements of one subject taken in slices (rounds), merged: counts and
 * durations add up, latencies go into one histogram. Slices of the subjects
 * being compared are taken back to back, so a machine whose load changes
 * over the run affects both sides of a ratio alike.
 */
export class LoadSeries {
  private readonly histogram = newHistogram();
  private ops = 0;
  private errors = 0;
  private durationNs = 0;
  private firstError: string | undefined;
  private concurrency = 0;

  /**
   * Runs `op` from `concurrency` workers under `budget` (warm-up not
   * recorded; `onMeasureStart` runs between warm-up and measurement) and
   * returns the figures of every slice so far.
   */
  async slice(
    op: Operation,
    concurrency: number,
    budget: LoadBudget,
    hooks: { onMeasureStart?: () => void } = {},
  ): Promise<LoadResult> {
    this.concurrency = concurrency;
    const seqs = new Array<number>(concurrency).fill(0);
    await phase(op, concurrency, budget.warmupMs, budget.warmupOps, seqs, undefined);
    hooks.onMeasureStart?.();
    const started = process.hrtime.bigint();
    const counts = await phase(op, concurrency, budget.maxMs, budget.maxOps, seqs, this.histogram);
    this.durationNs += Number(process.hrtime.bigint() - started);
    this.ops += counts.ok;
    this.errors += counts.errors;
    this.firstError ??= counts.firstError;
    return this.result();
  }

  result(): LoadResult {
    const h = this.histogram;
    const at = (p: number) => (this.ops === 0 ? 0 : round(h.getValueAtPercentile(p) / NS_PER_US));
    const durationMs = this.durationNs / 1e6;
    return {
      concurrency: this.concurrency,
      ops: this.ops,
      errors: this.errors,
      ...(this.firstError === undefined ? {} : { firstError: this.firstError }),
      durationMs: round(durationMs),
      opsPerSec: durationMs > 0 ? Math.round((this.ops / durationMs) * 1000) : 0,
      latencyUs: {
        p50: at(50),
        p99: at(99),
        p999: at(99.9),
        max: round(h.maxValue / NS_PER_US),
        mean: this.ops === 0 ? 0 : round(h.mean / NS_PER_US),
      },
    };
  }
}

/** One measurement in one slice. */
export function runLoad(op: Operation, concurrency: number, budget: LoadBudget): Promise<LoadResult> {
  return new LoadSeries().slice(op, concurrency, budget);
}

/** The part of `budget` one of `rounds` slices gets. */
export function sliceBudget(budget: LoadBudget, rounds: number): LoadBudget {
  return {
    maxMs: budget.maxMs / rounds,
    maxOps: Math.ceil(budget.maxOps / rounds),
    warmupMs: budget.warmupMs / rounds,
    warmupOps: Math.ceil(budget.warmupOps / rounds),
  };
}

/** Caps a slice at `ops` calls in all, warm-up included (for subjects that consume prepared state). */
export function capBudget(budget: LoadBudget, ops: number): LoadBudget {
  const warmupOps = Math.min(budget.warmupOps, Math.floor(ops / 10));
  return { ...budget, warmupOps, maxOps: Math.max(0, Math.min(budget.maxOps, ops - warmupOps)) };
}

interface Counts {
  ok: number;
  errors: number;
  firstError: string | undefined;
}

async function phase(
  op: Operation,
  concurrency: number,
  maxMs: number,
  maxOps: number,
  seqs: number[],
  histogram: ReturnType<typeof newHistogram> | undefined,
): Promise<Counts> {
  const counts: Counts = { ok: 0, errors: 0, firstError: undefined };
  if (maxMs <= 0 || maxOps <= 0) return counts;
  const deadline = performance.now() + maxMs;
  let issued = 0;
  const worker = async (w: number): Promise<void> => {
    while (issued < maxOps && performance.now() < deadline) {
      issued++;
      const t0 = process.hrtime.bigint();
      let ok: boolean;
      try {
        ok = (await op(w, seqs[w]!++)) !== false;
        if (!ok) counts.firstError ??= 'operation returned an unexpected outcome';
      } catch (err) {
        ok = false;
        counts.firstError ??= err instanceof Error ? err.message : String(err);
      }
      const ns = Number(process.hrtime.bigint() - t0);
      if (ok) {
        counts.ok++;
        histogram?.recordValue(Math.max(1, ns));
      } else {
        counts.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return counts;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Runs `fn(i)` for i in [0, count) with at most `concurrency` in flight
 * (setup work, unmeasured); throws if it is not done within `maxMs`.
 */
export async function forEachLimited(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
  maxMs = 120_000,
): Promise<void> {
  const deadline = performance.now() + maxMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error(`setup did not finish ${count} calls within ${maxMs} ms`);
      await fn(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Ends the process if it is still running after `ms` (a last bound on every loop and wait). */
export function watchdog(ms: number, what: string): void {
  setTimeout(() => {
    console.error(`[${what}] still running after ${Math.round(ms / 1000)} s: giving up`);
    process.exit(2);
  }, ms).unref();
}
