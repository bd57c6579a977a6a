/**
 * A linearizability checker: Wing & Gong's search with memoisation (Lowe's
 * improvement, as in Porcupine), run separately per partition (per session
 * id: operations on different ids never interact, and linearizability is
 * local, so a history is linearizable iff every partition is).
 *
 * A history is a set of operations, each with an invocation time `call`, a
 * completion time `ret`, an input and an output. It is linearizable if the
 * operations can be put in one order that (1) respects real time: when
 * `a.ret < b.call`, a comes before b; and (2) is a legal run of the model,
 * every output being what the model allows at that point.
 *
 * The search builds the order from the front. An operation may come next iff
 * no pending operation returned before it was invoked. Each choice moves the
 * model; a dead end backtracks. A cache of (set of placed operations, model
 * state) pairs already explored keeps the search from trying the same
 * situation twice: that is what makes it practical.
 *
 * Unknown outcomes (a timeout, a dropped connection): the operation may take
 * effect at any point after its invocation, or never. Its `ret` is the latest
 * instant it can take effect: Infinity when nothing bounds it (the caller may
 * know better, e.g. that a connection executes commands in order). It never
 * constrains which operation comes next, accepts any output, and the search
 * succeeds once every operation with a known outcome is placed (the rest
 * "never happened"). It is only placed when that changes the model state
 * (otherwise leaving it out is at least as permissive).
 *
 * Time is whatever clock the caller stamps with; only comparisons between
 * stamps matter, plus whatever the model reads from them (the session model
 * uses them for expiry windows). Ties count as overlapping.
 * @module
 */

/** One recorded operation. */
export interface Operation<I, O> {
  /** Operations in different partitions never interact (the session id). */
  readonly partition: string;
  readonly call: number;
  /** Completion time; when `unknown`, the latest instant it can take effect (Infinity: unbounded). */
  readonly ret: number;
  readonly input: I;
  /** The reply; ignored when `unknown`. */
  readonly output?: O;
  /** The outcome is unknown (it threw): it may apply at any point after `call`, or never. */
  readonly unknown?: boolean;
}

/** A nondeterministic sequential specification. */
export interface Model<S, I, O, U> {
  readonly init: S;
  /**
   * Every state the object can be in after `input` returned `output` (or
   * `unknown`), placed in [call, ret]; [] if impossible. The model must refuse
   * a placement later than `ret`: that is how an unknown operation's bound is
   * kept (the session model tracks a lower bound of the current time).
   */
  step(state: S, input: I, output: O | U, call: number, ret: number): readonly S[];
  /** Equal keys mean equal states (the cache key). */
  key(state: S): string;
  /** Whether `after` is no more permissive than `before` (an unknown op that changed nothing but the clock). */
  unchanged(before: S, after: S): boolean;
  /** The value `step` receives as output for an unknown outcome. */
  readonly unknown: U;
}

export type PartitionVerdict =
  | { readonly ok: true; readonly steps: number }
  | {
      readonly ok: false;
      /** `illegal`: no order works; `budget`: the search gave up (treat as a failure). */
      readonly reason: 'illegal' | 'budget';
      readonly steps: number;
      /** Indices (into the history) of the longest order found that was legal, in that order. */
      readonly longest: readonly number[];
    };

export interface Verdict {
  readonly ok: boolean;
  readonly operations: number;
  readonly partitions: ReadonlyArray<{ readonly partition: string; readonly operations: number } & PartitionVerdict>;
}

export interface CheckOptions {
  /** Search nodes per partition before giving up with `budget`. */
  readonly maxSteps?: number;
}

const BUDGET = Symbol('budget');

/** Checks one partition. `indices[i]` is the history index of `ops[i]` (for reporting). */
export function checkPartition<S, I, O, U>(
  model: Model<S, I, O, U>,
  ops: ReadonlyArray<Operation<I, O>>,
  indices: readonly number[] = ops.map((_, i) => i),
  options: CheckOptions = {},
): PartitionVerdict {
  const maxSteps = options.maxSteps ?? 2_000_000;
  const entries = ops
    .map((op, i) => ({ op, index: indices[i]!, call: op.call, ret: op.ret, known: !op.unknown }))
    .sort((a, b) => a.call - b.call || a.index - b.index);
  const n = entries.length;
  const placed = new Uint32Array((n + 31) >>> 5);
  const isPlaced = (j: number): boolean => ((placed[j >>> 5]! >>> (j & 31)) & 1) === 1;
  const flip = (j: number): void => {
    placed[j >>> 5]! ^= 1 << (j & 31);
  };
  let knownLeft = entries.filter((e) => !e.op.unknown).length;
  const explored = new Set<string>();
  const path: number[] = [];
  let longest: number[] = [];
  let steps = 0;

  /**
   * The earliest completion among pending known operations: nothing invoked
   * after it can come next. (An unknown one may never happen, so it does not
   * count; the model refuses to place it later than its bound.)
   */
  const horizon = (): number => {
    let min = Infinity;
    for (let j = 0; j < n; j++) if (entries[j]!.known && !isPlaced(j) && entries[j]!.ret < min) min = entries[j]!.ret;
    return min;
  };

  const search = (state: S): boolean => {
    if (knownLeft === 0) return true;
    if (++steps > maxSteps) throw BUDGET;
    const limit = horizon();
    // Known operations first: unknown ones are optional and usually not needed.
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < n && entries[j]!.call <= limit; j++) {
        if (isPlaced(j) || entries[j]!.known !== (pass === 0)) continue;
        if (tryPlace(state, j)) return true;
      }
    }
    return false;
  };

  /** Places entry j next in every way the model allows; true if one of them completes the order. */
  const tryPlace = (state: S, j: number): boolean => {
    const e = entries[j]!;
    const output = e.known ? (e.op.output as O) : model.unknown;
    for (const next of model.step(state, e.op.input, output, e.call, e.ret)) {
      if (!e.known && model.unchanged(state, next)) continue;
      flip(j);
      const cacheKey = `${placed.join(',')}|${model.key(next)}`;
      if (!explored.has(cacheKey)) {
        explored.add(cacheKey);
        if (e.known) knownLeft--;
        path.push(e.index);
        if (path.length > longest.length) longest = path.slice();
        if (search(next)) return true;
        path.pop();
        if (e.known) knownLeft++;
      }
      flip(j);
    }
    return false;
  };

  try {
    return search(model.init) ? { ok: true, steps } : { ok: false, reason: 'illegal', steps, longest };
  } catch (err) {
    if (err === BUDGET) return { ok: false, reason: 'budget', steps, longest };
    throw err;
  }
}

/** Checks a whole history, partition by partition. */
export function checkHistory<S, I, O, U>(
  model: Model<S, I, O, U>,
  history: ReadonlyArray<Operation<I, O>>,
  options: CheckOptions = {},
): Verdict {
  const groups = new Map<string, number[]>();
  history.forEach((op, i) => {
    const g = groups.get(op.partition);
    if (g) g.push(i);
    else groups.set(op.partition, [i]);
  });
  const partitions = [...groups].map(([partition, indices]) => ({
    partition,
    operations: indices.length,
    ...checkPartition(
      model,
      indices.map((i) => history[i]!),
      indices,
      options,
    ),
  }));
  return { ok: partitions.every((p) => p.ok), operations: history.length, partitions };
}
