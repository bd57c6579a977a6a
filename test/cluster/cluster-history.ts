/**
 * A recorded history of store operations and the checks the cluster tests run
 * on it. Self-contained and deliberately simple (not a linearizability
 * checker): each check names one promise of the store and reports every
 * operation that breaks it.
 *
 * Times are `performance.now()` in one process, so "A ended before B started"
 * is a real-time order. An operation that failed with an error may or may not
 * have been applied: the checks count its possible effects (a generation it
 * might have produced, a terminate it might have done) and never rely on it.
 * `durable === false` marks an acknowledged write that may be lost by a
 * failover (not confirmed by WAIT): the checks treat it like an error.
 */
import { performance } from 'node:perf_hooks';
import { isSessionStoreError, type SessionStore } from '../../src/index.js';

export type OpKind = 'create' | 'update' | 'terminate' | 'peek';

export interface Op {
  readonly worker: string;
  readonly id: string;
  readonly kind: OpKind;
  readonly start: number;
  end: number;
  /** update: the generation it expected. */
  expected?: number;
  /** `ok`: acknowledged success; `refused`: an expected outcome (conflict, exists, terminated...); `error`: a fault. */
  status?: 'ok' | 'refused' | 'error';
  /** Why it was refused, or the error's code. */
  reason?: string;
  /**
   * ok create/update: the generation written; ok terminate: the last live generation;
   * conflict: the current generation it was shown; peek: what it read (null: no live session).
   */
  generation?: number | null;
  /** Set by the workload: false when an acknowledged write was not confirmed replicated. */
  durable?: boolean;
}

export class History {
  readonly ops: Op[] = [];

  /** Runs `fn`, recording its start, end and outcome; faults are recorded, not thrown. */
  async run<T>(
    worker: string,
    id: string,
    kind: OpKind,
    fn: () => Promise<T>,
    expected?: number,
  ): Promise<{ value: T | undefined; op: Op }> {
    const op: Op = { worker, id, kind, start: performance.now(), end: 0 };
    if (expected !== undefined) op.expected = expected;
    this.ops.push(op);
    try {
      const result = await fn();
      op.end = performance.now();
      describeResult(op, result);
      return { value: result, op };
    } catch (err) {
      op.end = performance.now();
      if (!isSessionStoreError(err)) throw err;
      op.status = 'error';
      op.reason = err.code;
      return { value: undefined, op };
    }
  }

  errors(): Op[] {
    return this.ops.filter((o) => o.status === 'error');
  }

  count(kind: OpKind, status: Op['status']): number {
    return this.ops.filter((o) => o.kind === kind && o.status === status).length;
  }
}

function describeResult(op: Op, result: unknown): void {
  if (op.kind === 'peek') {
    op.status = 'ok';
    op.generation = result === null ? null : (result as { generation: number }).generation;
    return;
  }
  const r = result as { ok: boolean; reason?: string; session?: { generation: number }; generation?: number };
  if (r.ok) {
    op.status = 'ok';
    op.generation = op.kind === 'terminate' ? r.generation! : r.session!.generation;
  } else {
    op.status = 'refused';
    op.reason = r.reason!;
    if (r.reason === 'conflict') op.generation = r.session!.generation;
  }
}

/** Acknowledged and not marked as possibly lost. */
const acked = (o: Op): boolean => o.status === 'ok' && o.durable !== false;
/** Might have taken effect: acknowledged (durable or not) or failed with a fault. */
const mayHaveApplied = (o: Op): boolean => o.status === 'ok' || o.status === 'error';
const isWrite = (o: Op): boolean => o.kind === 'create' || o.kind === 'update';

/**
 * Checks the history and returns one line per violation (empty: all hold).
 *
 * 1. Every generation anyone saw was written by an acknowledged create or
 *    update, or may have been written by one that failed with a fault (any
 *    generation above the one it expected; no phantom state otherwise).
 * 2. An acknowledged update wrote a generation above the one it expected,
 *    and that one was written (as in 1).
 * 3. No two acknowledged writes of an id wrote the same generation (the
 *    second would have overwritten the first: a lost update). A write not
 *    confirmed replicated may be lost by a failover, and its generation
 *    written again.
 * 4. No resurrection: after an acknowledged terminate of generation g ends,
 *    no operation that starts later sees or writes a generation <= g, and a
 *    create that succeeds later writes a generation > g.
 * 5. No lost acknowledged write: a read that starts after an acknowledged
 *    write of generation h ended sees >= h, or nothing if a terminate
 *    may have run in between (reads are `peek`, which never refreshes TTLs;
 *    tests use TTLs far longer than their run).
 */
export function checkHistory(history: History): string[] {
  const violations: string[] = [];
  const byId = new Map<string, Op[]>();
  for (const op of history.ops) {
    let list = byId.get(op.id);
    if (!list) byId.set(op.id, (list = []));
    list.push(op);
  }
  for (const [id, ops] of byId) {
    const show = (o: Op) =>
      `${o.kind}@${o.worker}[${o.start.toFixed(1)}-${o.end.toFixed(1)}] ${o.status}${o.reason ? `:${o.reason}` : ''} g=${o.generation}${o.expected !== undefined ? ` exp=${o.expected}` : ''}`;
    const produced = new Set(
      ops
        .filter((o) => isWrite(o) && mayHaveApplied(o) && typeof o.generation === 'number')
        .map((o) => o.generation as number),
    );
    // A write that failed with a fault may have written a generation nobody
    // saw: any above its expected one (generations are max(previous + 1, clock)).
    const unseenAbove = ops.filter((o) => isWrite(o) && o.status === 'error').map((o) => o.expected ?? 0);
    const explained = (g: number) => produced.has(g) || unseenAbove.some((e) => g > e);

    // 1. No phantom state.
    for (const o of ops) {
      const seen = o.kind === 'peek' || o.reason === 'conflict' ? o.generation : undefined;
      if (typeof seen === 'number' && !explained(seen))
        violations.push(`${id}: saw generation ${seen} that no write produced: ${show(o)}`);
    }
    // 2. Updates raise the generation they matched, which existed.
    for (const o of ops.filter((x) => x.kind === 'update' && x.status === 'ok')) {
      if (!((o.generation as number) > o.expected!))
        violations.push(`${id}: update wrote ${o.generation}, not above expected ${o.expected}: ${show(o)}`);
      if (!explained(o.expected!))
        violations.push(`${id}: update from generation ${o.expected} that no write produced: ${show(o)}`);
    }
    // 3. No two acknowledged writes of one generation.
    const writers = new Map<number, Op>();
    for (const o of ops.filter((x) => isWrite(x) && acked(x))) {
      const other = writers.get(o.generation as number);
      if (other)
        violations.push(`${id}: two acknowledged writes of generation ${o.generation}: ${show(other)} and ${show(o)}`);
      else writers.set(o.generation as number, o);
    }
    // 4. No resurrection after an acknowledged terminate.
    for (const t of ops.filter((x) => x.kind === 'terminate' && acked(x))) {
      const g = t.generation as number;
      for (const o of ops) {
        if (o.start <= t.end || typeof o.generation !== 'number') continue;
        if (o.kind === 'peek' && o.generation <= g)
          violations.push(
            `${id}: read generation ${o.generation} after terminate of ${g}: ${show(o)} after ${show(t)}`,
          );
        if (o.kind === 'update' && o.status === 'ok' && o.expected! <= g)
          violations.push(`${id}: update after terminate of ${g}: ${show(o)} after ${show(t)}`);
        if (o.kind === 'create' && o.status === 'ok' && o.generation <= g)
          violations.push(`${id}: re-create at ${o.generation} <= terminated ${g}: ${show(o)}`);
      }
    }
    // 5. No lost acknowledged write.
    const terminates = ops.filter((x) => x.kind === 'terminate' && mayHaveApplied(x));
    for (const w of ops.filter((x) => isWrite(x) && acked(x))) {
      const h = w.generation as number;
      for (const r of ops) {
        if (r.kind !== 'peek' || r.status !== 'ok' || r.start <= w.end) continue;
        const terminatedBetween = terminates.some((t) => t.end > w.start && t.start < r.end);
        if (r.generation === null) {
          if (!terminatedBetween)
            violations.push(`${id}: acknowledged write of ${h} vanished: ${show(r)} after ${show(w)}`);
        } else if ((r.generation as number) < h && !terminatedBetween) {
          violations.push(`${id}: read ${r.generation} after acknowledged write of ${h}: ${show(r)} after ${show(w)}`);
        }
      }
    }
  }
  return violations;
}

/** What the workload does, per worker, until `until()` says stop. */
export interface WorkloadOptions {
  /** Stores to spread the workers over (one per client). */
  stores: SessionStore[];
  ids: string[];
  workersPerStore: number;
  /** Keep going while this returns true (checked before every step). */
  running: () => boolean;
  /** Hard cap on steps per worker, so every loop is bounded. */
  maxSteps?: number;
  /**
   * Called after every acknowledged write; returns whether it is confirmed
   * replicated (e.g. by WAIT). Default: no check (all acknowledged writes count as durable).
   */
  confirm?: (store: SessionStore, op: Op) => Promise<boolean>;
  history: History;
}

/** Bounded random create / update / terminate / peek traffic on a few ids. */
export async function runWorkload(o: WorkloadOptions): Promise<void> {
  const maxSteps = o.maxSteps ?? 100_000;
  const workers: Array<Promise<void>> = [];
  o.stores.forEach((store, s) => {
    for (let w = 0; w < o.workersPerStore; w++) {
      const name = `s${s}w${w}`;
      workers.push(
        (async () => {
          let n = 0;
          const confirmed = async ({ op }: { op: Op }) => {
            if (op.status !== 'ok' || !o.confirm) return;
            op.durable = await o.confirm(store, op);
          };
          for (let step = 0; step < maxSteps && o.running(); step++) {
            const id = o.ids[Math.floor(Math.random() * o.ids.length)]!;
            const read = (await o.history.run(name, id, 'peek', () => store.peek(id))).value;
            if (read === undefined) continue; // the read failed: try again
            if (read === null) {
              await confirmed(
                await o.history.run(name, id, 'create', () => store.create(id, { by: name, n: String(n++) })),
              );
            } else if (Math.random() < 0.85) {
              const g = read.generation;
              await confirmed(
                await o.history.run(name, id, 'update', () => store.update(id, g, { by: name, n: String(n++) }), g),
              );
            } else {
              await confirmed(await o.history.run(name, id, 'terminate', () => store.terminate(id)));
            }
          }
        })(),
      );
    }
  });
  await Promise.all(workers);
}
