/**
 * The bench's moving parts: budgets, the context a scenario runs in (which
 * store, which clients), the scenario and result shapes, and the runner that
 * prints one progress line per scenario. Add a scenario by adding it to a
 * list in bench/scenarios/; a topology is a context with another
 * {@link RedisEnv} (one node, or a cluster: `--cluster` runs every scenario
 * on both, each cluster run right after its single-node twin).
 * @module
 */
import {
  MemorySessionStore,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type SessionCacheStats,
  type SessionStore,
} from '../src/index.js';
import type { BenchClient, Pipelining, RedisEnv, Topology } from './env.js';
import type { LoadBudget, LoadResult } from './load.js';

export type StoreKind = 'redis' | 'memory';
export type RunMode = 'quick' | 'full';

export interface Budgets {
  readonly mode: RunMode;
  /**
   * Grouped scenarios are measured in this many slices, every group once per
   * round, and the slices merged; each budget below is the total over all rounds.
   */
  readonly rounds: number;
  /** One operation or baseline at one concurrency and pipelining mode. */
  readonly load: LoadBudget;
  /** Sessions created before a terminate run (each terminate needs a live session). */
  readonly terminatePool: number;
  /** One contention run (16 writers, one session). */
  readonly contention: LoadBudget;
  /** Script calls in one server-cost window. */
  readonly serverCostCalls: number;
}

export const BUDGETS: Record<RunMode, Budgets> = {
  quick: {
    mode: 'quick',
    rounds: 2,
    load: { maxMs: 120, maxOps: 3_000, warmupMs: 40, warmupOps: 200 },
    terminatePool: 1_000,
    contention: { maxMs: 300, maxOps: 3_000, warmupMs: 40, warmupOps: 50 },
    serverCostCalls: 300,
  },
  full: {
    mode: 'full',
    rounds: 4,
    load: { maxMs: 2_000, maxOps: 200_000, warmupMs: 300, warmupOps: 5_000 },
    terminatePool: 30_000,
    contention: { maxMs: 3_000, maxOps: 100_000, warmupMs: 200, warmupOps: 500 },
    serverCostCalls: 5_000,
  },
};

export const CONCURRENCIES = [1, 64] as const;
export const CONTENTION_WRITERS = 16;
/** TTL of every session and key the bench writes: long enough for a run, short enough to clean itself. */
export const BENCH_TTL_MS = 600_000;

/** What a scenario gets: the store under test and, for Redis, the clients and the admin connection. */
export interface BenchContext {
  readonly store: StoreKind;
  readonly topology: Topology;
  readonly budgets: Budgets;
  /** Pipelining modes the matrix runs: on and off for Redis, 'n/a' for memory. */
  readonly pipelining: readonly Pipelining[];
  /** Redis of the run; undefined for the in-memory store. */
  readonly redis: RedisEnv | undefined;
  /** The prefix of every key and channel this run uses. */
  readonly runPrefix: string;
  /** Key prefix for one scenario, under the run's prefix. */
  keyPrefix(label: string): string;
  /** A fresh, empty store of the kind under test. */
  makeStore(pipelining: Pipelining, label: string, options?: Omit<RedisSessionStoreOptions, 'prefix'>): SessionStore;
}

export function createContext(
  store: StoreKind,
  budgets: Budgets,
  redis: RedisEnv | undefined,
  runPrefix: string,
): BenchContext {
  let scenarioCount = 0;
  const keyPrefix = (label: string) => `${runPrefix}${label}:${(scenarioCount++).toString(36)}:`;
  return {
    store,
    topology: redis?.topology ?? 'in-memory',
    budgets,
    pipelining: store === 'redis' ? ['on', 'off'] : ['n/a'],
    redis,
    runPrefix,
    keyPrefix,
    makeStore(pipelining, label, options = {}) {
      const opts = { ttlMs: BENCH_TTL_MS, ...options };
      if (store === 'memory') return new MemorySessionStore(opts);
      return new RedisSessionStore(requireRedis({ redis }).clients.shared(pipelining), {
        ...opts,
        prefix: keyPrefix(label),
      });
    },
  };
}

export function requireRedis(ctx: { redis: RedisEnv | undefined }): RedisEnv {
  if (!ctx.redis) throw new Error('this scenario needs Redis');
  return ctx.redis;
}

/** The measured client of a pipelining mode (Redis only). */
export function sharedClient(ctx: BenchContext, pipelining: Pipelining): BenchClient {
  return requireRedis(ctx).clients.shared(pipelining);
}

export const SECTIONS = [
  'operations',
  'baselines',
  'bare-throughput',
  'cache',
  'contention',
  'server-cost',
  'memory',
  'principals',
] as const;
export type Section = (typeof SECTIONS)[number];

/** Throughput and latency of one subject (an operation or a baseline). */
export interface LoadData extends LoadResult {
  readonly kind: 'load';
  readonly subject: string;
  readonly pipelining: Pipelining;
  /** SessionCache counters over the measured slices and their warm-ups (cache scenarios only). */
  readonly cache?: Omit<SessionCacheStats, 'staleServed'>;
}

/** 16 writers doing read-modify-CAS (or read-modify-write) on one session. */
export interface ContentionData {
  readonly kind: 'contention';
  readonly subject: string;
  readonly pipelining: Pipelining;
  readonly writers: number;
  readonly durationMs: number;
  /** Updates acknowledged as applied in the measured phase. */
  readonly successes: number;
  readonly successesPerSec: number;
  /** CAS attempts that found another writer's generation (0 for the naive store: it cannot tell). */
  readonly conflicts: number;
  readonly conflictsPerSuccess: number;
  /** Updates given up after the attempt limit (told to the caller, so not lost). */
  readonly gaveUp: number;
  /** Acknowledged increments (warm-up included) minus the final counter: updates silently lost. */
  readonly lostUpdates: number;
  readonly acknowledgedIncrements: number;
  readonly finalCounter: number;
  readonly latencyUs: LoadResult['latencyUs'];
}

/** Server-side time per call of one subject, from INFO commandstats over its windows (summed over the rounds). */
export interface ServerCostData {
  readonly kind: 'server-cost';
  /** A session-cas operation (`update`, `update+events`, ...) or a bare script (`bare-cas`, `bare-get`). */
  readonly script: string;
  /** Metadata entries of the sessions (or plain records) it works on. */
  readonly fields: number;
  /** Calls the bench made in the windows. */
  readonly clientCalls: number;
  /** Calls of the counted commands the server saw in the windows (at least `clientCalls` on a good run). */
  readonly serverCalls: number;
  /** Microseconds of the counted commands per call the bench made: what one call costs the server. */
  readonly usecPerCall: number;
  /** The counted commands that ran in the windows, by commandstats name. */
  readonly commands: Readonly<Record<string, { readonly calls: number; readonly usec: number }>>;
  readonly calibration: ServerCostCalibration;
  /** True when the server was given (REDIS_URL): other clients' commands in the window count too. */
  readonly sharedServer: boolean;
}

/** What a short MONITOR run showed the subject's calls become on the server, and so what its windows count. */
export interface ServerCostCalibration {
  /** Calls made under MONITOR. */
  readonly calls: number;
  /** Commands the client sent for the subject's keys, per call (`{ evalsha: 1 }`); null when MONITOR was refused. */
  readonly topLevelPerCall: Readonly<Record<string, number>> | null;
  /** Commands scripts or functions ran on those keys; null when MONITOR was refused. */
  readonly nestedCommands: readonly string[] | null;
  /** Commands whose commandstats the windows sum: every script command, plus others the client sent that no script ran. */
  readonly counted: readonly string[];
  /** Set when the figure leaves something out (reported under `problems`). */
  readonly problem?: string;
  readonly note?: string;
}

/** MEMORY USAGE of one session, by layout. */
export interface MemoryData {
  readonly kind: 'memory';
  readonly fields: number;
  /** Bytes per layout: session-cas after create, session-cas with a full op-id ring, one JSON string. */
  readonly bytes: {
    readonly sessionCasFresh: number;
    readonly sessionCasRingFull: number;
    readonly jsonString: number;
  };
}

export type ScenarioData = LoadData | ContentionData | ServerCostData | MemoryData;

export type ScenarioResult = ScenarioData & {
  readonly id: string;
  readonly section: Section;
  readonly topology: Topology;
};

/** Which slice of a scenario's budget a run is: round `round` of `rounds`. */
export interface Slice {
  readonly round: number;
  readonly rounds: number;
}

export interface Scenario {
  readonly id: string;
  readonly section: Section;
  /** Set when the scenario needs Redis: why it is skipped on the in-memory store. */
  readonly redisOnly?: string;
  /** The context it runs in, when not the run's (its cluster twin's). */
  readonly ctx?: BenchContext;
  /**
   * Scenarios of one group run back to back in every round, so the subjects a
   * ratio compares are measured at the same moment of a busy machine.
   * Scenarios without a group run once, after the rounds.
   */
  readonly group?: string;
  /**
   * Measures one slice (its share of the budget) and returns the figures of
   * all slices so far. A scenario object keeps its state between slices:
   * build a fresh list for every run.
   */
  run(ctx: BenchContext, slice: Slice): Promise<ScenarioData>;
}

export interface Skipped {
  readonly id: string;
  readonly section: Section;
  readonly reason: string;
}

/** The twin of `scenario` that runs on `clusterCtx`: id `cluster:<id>`, same group, so it runs right after it. */
export function onCluster(clusterCtx: BenchContext, scenario: Scenario): Scenario {
  return { ...scenario, id: `cluster:${scenario.id}`, ctx: clusterCtx };
}

/** Why `s` does not run in `ctx`, or undefined. */
function skipReason(s: Scenario, ctx: BenchContext): string | undefined {
  return s.redisOnly !== undefined && ctx.store !== 'redis' ? s.redisOnly : undefined;
}

/**
 * Runs the grouped scenarios in `budgets.rounds` rounds (group by group,
 * in list order), then the ungrouped ones once; one progress line per run.
 * A scenario runs in its own `ctx` if it has one, else in `ctx`. Redis-only
 * scenarios are skipped on the in-memory store with a note. (Every scenario
 * runs on a cluster: admin steps go to each primary or to the key's node.)
 * Results come back in list order.
 */
export async function runScenarios(
  ctx: BenchContext,
  scenarios: readonly Scenario[],
  log: (line: string) => void,
): Promise<{ results: ScenarioResult[]; skipped: Skipped[] }> {
  const skipped: Skipped[] = [];
  const width = String(scenarios.length).length;
  const label = (s: Scenario) => `[${String(scenarios.indexOf(s) + 1).padStart(width)}/${scenarios.length}] ${s.id}`;
  const contextOf = (s: Scenario) => s.ctx ?? ctx;
  const runnable = scenarios.filter((s) => {
    const reason = skipReason(s, contextOf(s));
    if (reason === undefined) return true;
    skipped.push({ id: s.id, section: s.section, reason });
    log(`${label(s)}: skipped (${reason})`);
    return false;
  });
  const latest = new Map<Scenario, ScenarioData>();
  const runOne = async (s: Scenario, slice: Slice) => {
    const started = Date.now();
    const data = await s.run(contextOf(s), slice);
    latest.set(s, data);
    const round = slice.rounds > 1 ? `round ${slice.round}/${slice.rounds}, ` : '';
    log(`${label(s)}: ${summarize(data)} (${round}${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
  const grouped = runnable.filter((s) => s.group !== undefined);
  const groups = [...new Set(grouped.map((s) => s.group))];
  const rounds = ctx.budgets.rounds;
  for (let round = 1; round <= rounds; round++) {
    for (const g of groups) {
      for (const s of grouped.filter((x) => x.group === g)) await runOne(s, { round, rounds });
    }
  }
  for (const s of runnable.filter((x) => x.group === undefined)) await runOne(s, { round: 1, rounds: 1 });
  const results = runnable.map((s) => ({
    ...latest.get(s)!,
    id: s.id,
    section: s.section,
    topology: contextOf(s).topology,
  }));
  return { results, skipped };
}

function summarize(d: ScenarioData): string {
  switch (d.kind) {
    case 'load':
      return (
        `${d.opsPerSec} ops/s, p50 ${d.latencyUs.p50} us, p99 ${d.latencyUs.p99} us` +
        (d.cache ? `, cache ${d.cache.hits} hits / ${d.cache.validations} validations / ${d.cache.loads} loads` : '') +
        (d.errors ? `, ${d.errors} ERRORS: ${d.firstError}` : '')
      );
    case 'contention':
      return `${d.successesPerSec} updates/s, ${d.conflictsPerSuccess} conflicts/success, ${d.lostUpdates} lost`;
    case 'server-cost':
      return (
        `${d.usecPerCall} usec/call over ${d.clientCalls} calls (server counted ${d.serverCalls}: ` +
        `${Object.keys(d.commands).join(', ') || 'none'})`
      );
    case 'memory':
      return `session-cas ${d.bytes.sessionCasFresh} B (${d.bytes.sessionCasRingFull} B ring full), JSON ${d.bytes.jsonString} B`;
  }
}
