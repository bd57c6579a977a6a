/**
 * Recording session operations as a history, and checking it with the
 * linearizability checker against the session model.
 *
 * Every operation is stamped when it is invoked and when its promise
 * settles. A thrown store fault (timeout, connection lost, unexpected reply)
 * is an operation with unknown outcome, unless the fault says the command was
 * not applied (a read that failed, a refused script): such an entry is left
 * out of the check, which therefore also verifies that claim (had it been
 * applied, the rest of the history would not fit). An InvalidArgumentError or
 * any other error is a bug in the test and propagates.
 *
 * When a check fails, the history is written to `.test-artifacts/histories/`
 * (gitignored) and the path is printed and put in the failure message.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isInvalidArgument, isRedisFault, isSessionStoreError, type SessionStore } from '../../src/index.js';
import { type Operation, type Verdict, checkHistory } from './linearizability.js';
import { type ModelConfig, type SessionOp, type SessionOutput, sessionModel } from './model.js';
import { describeEntry } from './observations.js';

export interface HistoryEntry {
  /** Who issued it (a client number or a flow name). */
  readonly client: string;
  readonly id: string;
  readonly op: SessionOp;
  readonly call: number;
  ret: number;
  output?: SessionOutput;
  /** It threw a fault: it may or may not have applied. */
  unknown?: boolean;
  /** It threw a fault that says it was not applied: no effect, no output. */
  notApplied?: boolean;
  /** For an unknown outcome: the latest instant it can have taken effect, when something bounds it. */
  effectBy?: number;
  error?: string;
}

/**
 * Bounds unknown outcomes by connection order. Redis executes one
 * connection's commands in the order they were sent, and a client sends its
 * next command only after the previous one failed: so a command that timed
 * out took effect, if at all, before the next command on the same connection
 * that got a reply did. `client` must name the connection, and the
 * connection must not have reconnected (ioredis may re-send after a
 * reconnect); unknown entries with no later reply stay unbounded.
 */
export function boundByConnectionOrder(entries: readonly HistoryEntry[]): void {
  const byClient = new Map<string, HistoryEntry[]>();
  for (const e of entries) {
    const list = byClient.get(e.client);
    if (list) list.push(e);
    else byClient.set(e.client, [e]);
  }
  for (const list of byClient.values()) {
    list.sort((a, b) => a.call - b.call);
    let bound = Infinity;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (e.unknown) e.effectBy = bound;
      else if (!e.notApplied) bound = e.ret; // a timed-out read got no reply: it bounds nothing
    }
  }
}

/** A clock for histories: 1, 2, 3... for runs whose order is all that matters (scheduler tests). */
export function logicalClock(): () => number {
  let t = 0;
  return () => ++t;
}

/** Milliseconds since the process started, from the monotonic clock (sub-microsecond resolution). */
export const monotonicClock = (): number => performance.now();

export class History {
  readonly entries: HistoryEntry[] = [];

  constructor(readonly clock: () => number = monotonicClock) {}

  /**
   * Runs `run`, recording it as `op` on `id` by `client`. Returns its output,
   * or `failed: true` when it threw a store fault.
   */
  async record<T extends SessionOutput>(
    client: string,
    id: string,
    op: SessionOp,
    run: () => Promise<T>,
  ): Promise<{ failed: false; output: T } | { failed: true; output: undefined }> {
    const entry: HistoryEntry = { client, id, op, call: this.clock(), ret: NaN };
    this.entries.push(entry);
    try {
      const output = await run();
      entry.ret = this.clock();
      entry.output = output;
      return { failed: false, output };
    } catch (err) {
      entry.ret = this.clock();
      if (!isSessionStoreError(err) || isInvalidArgument(err)) throw err;
      if (isRedisFault(err) && err.outcome === 'not_applied') entry.notApplied = true;
      else entry.unknown = true;
      entry.error = `${err.code}: ${err.message}`;
      return { failed: true, output: undefined };
    }
  }
}

/** Hooks for operations that are not plain store calls. */
export interface ExecuteHooks {
  /** Runs inside mutate's fn, before it returns (a scheduler gate, to interleave other flows there). */
  beforeMutateReturns?: () => Promise<void>;
  /** Makes the id's record expire now (required for `expire` ops). */
  expire?: (id: string) => Promise<void>;
  /** mutate's maxAttempts (default 10). */
  maxAttempts?: number;
}

/** Calls the store method `op` describes, passing every TTL explicitly. */
export async function execute(
  store: SessionStore,
  id: string,
  op: SessionOp,
  hooks: ExecuteHooks = {},
): Promise<SessionOutput> {
  switch (op.f) {
    case 'create':
      return store.create(id, op.metadata, { ttlMs: op.ttlMs });
    case 'get':
      return store.get(id);
    case 'peek':
      return store.peek(id);
    case 'exists':
      return store.exists(id);
    case 'update':
      return store.update(id, op.expected, op.metadata, { ttlMs: op.ttlMs });
    case 'patch':
      return store.patch(
        id,
        { set: op.set, remove: [...op.remove] },
        {
          ttlMs: op.ttlMs,
          ...(op.expected === undefined ? {} : { expectedGeneration: op.expected }),
        },
      );
    case 'touch':
      return store.touch(id, {
        ttlMs: op.ttlMs,
        ...(op.expected === undefined ? {} : { expectedGeneration: op.expected }),
      });
    case 'terminate':
      return store.terminate(id, op.expected === undefined ? {} : { expectedGeneration: op.expected });
    case 'mutate':
      return store.mutate(
        id,
        async (s) => {
          await hooks.beforeMutateReturns?.();
          return { ...s.metadata, ...op.set };
        },
        { ttlMs: op.ttlMs, maxAttempts: hooks.maxAttempts ?? 10 },
      );
    case 'expire':
      if (!hooks.expire) throw new Error('execute: an expire op needs hooks.expire');
      await hooks.expire(id);
      return undefined;
  }
}

/** Histories and operations checked in this test process (each file prints its own figures). */
export const checkerStats = { histories: 0, operations: 0 };

export function checkerSummary(label: string): string {
  return `[linearizability] ${label}: checked ${checkerStats.histories} histories, ${checkerStats.operations} operations`;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACT_DIR = join(ROOT, '.test-artifacts', 'histories');

export interface SessionVerdict extends Verdict {
  /** Where the failing history was written (only when not ok). */
  readonly artifact?: string;
  /** One line per failing partition, for assertion messages. */
  readonly message: string;
}

/** Writes a history and its verdict as JSON; returns the path relative to the repository. */
export function writeHistoryArtifact(
  label: string,
  entries: readonly HistoryEntry[],
  cfg: ModelConfig,
  verdict: Verdict,
  extra: object = {},
): string {
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  const file = join(
    ARTIFACT_DIR,
    `${label.replace(/[^a-z0-9-]+/gi, '_')}-${Date.now()}-${randomBytes(3).toString('hex')}.json`,
  );
  const entryLine = (e: HistoryEntry, i: number) =>
    JSON.stringify({
      index: i,
      client: e.client,
      id: e.id,
      op: e.op,
      call: e.call,
      ret: e.unknown ? null : e.ret,
      ...(e.unknown
        ? { unknown: true, effectBy: e.effectBy ?? null, error: e.error }
        : e.notApplied
          ? { notApplied: true, error: e.error }
          : { output: e.output }),
    });
  const verdictLines = verdict.partitions.map((p) =>
    JSON.stringify(
      {
        ...p,
        ...('longest' in p ? { longest: p.longest.map((i) => `#${i} ${describeEntry(entries[i]!)}`) } : {}),
      },
      null,
      1,
    ).replace(/\n\s*/g, ' '),
  );
  // Small fields on one line each, the verdict per id, then one history entry per line in invocation order.
  const text = [
    '{',
    ` "label": ${JSON.stringify(label)},`,
    ` "config": ${JSON.stringify(cfg)},`,
    ...Object.entries(extra).map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)},`),
    ` "verdict": [\n  ${verdictLines.join(',\n  ')}\n ],`,
    ` "entries": [\n  ${entries.map(entryLine).join(',\n  ')}\n ]`,
    '}',
    '',
  ].join('\n');
  writeFileSync(file, text);
  return relative(process.cwd(), file) || file;
}

/**
 * Checks a recorded history against the session model, counts it, and on
 * failure writes it to `.test-artifacts/histories/` and prints the path.
 */
export function checkSessionHistory(
  label: string,
  entries: readonly HistoryEntry[],
  cfg: ModelConfig,
  options: { maxSteps?: number; quiet?: boolean; artifact?: boolean; extra?: object } = {},
): SessionVerdict {
  // Entries whose fault says "not applied" are left out: they had no effect.
  const kept = entries.flatMap((e, i) => (e.notApplied ? [] : [i]));
  const ops: Array<Operation<SessionOp, SessionOutput>> = kept.map((i) => {
    const e = entries[i]!;
    return {
      partition: e.id,
      call: e.call,
      ret: e.unknown ? (e.effectBy ?? Infinity) : e.ret,
      input: e.op,
      output: e.output,
      unknown: e.unknown === true,
    };
  });
  const raw = checkHistory(
    sessionModel(cfg),
    ops,
    options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps },
  );
  // Report history positions, not positions among the kept entries.
  const verdict: Verdict = {
    ...raw,
    partitions: raw.partitions.map((p) => ('longest' in p ? { ...p, longest: p.longest.map((j) => kept[j]!) } : p)),
  };
  checkerStats.histories++;
  checkerStats.operations += entries.length;
  if (verdict.ok) return { ...verdict, message: 'linearizable' };
  const artifact =
    options.artifact === false ? undefined : writeHistoryArtifact(label, entries, cfg, verdict, options.extra);
  const lines = verdict.partitions
    .filter((p) => !p.ok)
    .map((p) => {
      const placed = 'longest' in p ? p.longest.length : 0;
      return (
        `id ${JSON.stringify(p.partition)}: ${p.ok ? '' : p.reason === 'budget' ? 'search budget exhausted' : 'not linearizable'}` +
        ` (${p.operations} ops, longest legal order placed ${placed})`
      );
    });
  const message =
    `${label}: history is not linearizable: ${lines.join('; ')}` + (artifact ? `; history written to ${artifact}` : '');
  if (!options.quiet) console.error(`[linearizability] ${message}`);
  return { ...verdict, ...(artifact ? { artifact } : {}), message };
}
