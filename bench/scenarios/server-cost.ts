/**
 * Server-side cost per call, from INFO commandstats, for every session-cas
 * operation and the two bare scripts of issue #11, with 1, 10 and 100
 * metadata entries. Each subject gets its own window: reset (or snapshot)
 * the stats, make N calls of that subject only, read the totals. This figure
 * leaves out the client and the network, so it is the one to track for the
 * Lua code.
 *
 * The store is driven through its public methods only. Which commands its
 * calls become on the server is found out, not assumed: before the first
 * window, a short calibration runs the subject under MONITOR and records the
 * commands the client sent (EVALSHA, FCALL, anything else) and the ones
 * scripts ran. A window counts every script or function call command
 * ({@link SCRIPT_COMMANDS}) plus any other command the client sent, since
 * commandstats also counts the commands a script runs, inside the script's
 * own time, and those must not be counted twice.
 * @module
 */
import type { Metadata, SessionStore } from '../../src/index.js';
import { bareCas, bareGet, createPlainRecord, fieldArgs } from '../baseline-stores.js';
import {
  type BenchContext,
  BENCH_TTL_MS,
  type Scenario,
  type ServerCostCalibration,
  type ServerCostData,
  type Slice,
  requireRedis,
  sharedClient,
} from '../bench-harness.js';
import { type CommandMonitor, type MonitoredCommand, type RedisEnv, openStatsWindow } from '../env.js';
import { type Operation, forEachLimited, round, runLoad } from '../load.js';
import { type FieldCount, PAYLOAD_FIELD_COUNTS, metadataOf } from '../payload.js';
import { READ_POOL, createSessions, readPoolId, readPoolIndex } from './operations.js';

/** Every session-cas operation with a script of its own, update also with events on. */
export const SERVER_COST_SCRIPTS = [
  'update',
  'patch',
  'touch',
  'get',
  'terminate',
  'create',
  'peek',
  'exists',
  'update+events',
] as const;
export type ServerCostScript = (typeof SERVER_COST_SCRIPTS)[number];

/** The bare scripts of bench/baseline-stores.ts: the CAS every write is compared with, and the read `get` is compared with. */
export const BARE_SCRIPTS = ['bare-cas', 'bare-get'] as const;
export type BareScript = (typeof BARE_SCRIPTS)[number];
export type ServerCostSubject = ServerCostScript | BareScript;

/** Issue #11: server usec per call at most this many times the bare CAS with the same payload. */
export const SERVER_COST_TARGETS: Readonly<Partial<Record<ServerCostScript, number>>> = {
  update: 1.5,
  patch: 1.5,
  touch: 1.5,
  get: 1.5,
  terminate: 2,
};

/** Window order within a payload's group (each round): the bare CAS first, the targeted scripts next to it. */
const WINDOW_ORDER: readonly ServerCostSubject[] = [
  'bare-cas',
  'update',
  'patch',
  'touch',
  'get',
  'bare-get',
  'terminate',
  'create',
  'peek',
  'exists',
  'update+events',
];

/** The commands a script or function call shows up as in commandstats (EVAL* today, FCALL* with Redis Functions). */
export const SCRIPT_COMMANDS: readonly string[] = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro'];

const WINDOW_CONCURRENCY = 8;
const WARMUP_CALLS = 20;
const CALIBRATION_CALLS = 20;
const PIPELINING = 'on';

export function serverCostId(fields: number, subject: ServerCostSubject): string {
  return `server-cost:${fields}-fields:${subject}`;
}

export function serverCostScenarios(): Scenario[] {
  return PAYLOAD_FIELD_COUNTS.flatMap((fields) =>
    WINDOW_ORDER.map((subject) => ({
      id: serverCostId(fields, subject),
      section: 'server-cost' as const,
      group: `server-cost:${fields}-fields`,
      redisOnly: 'INFO commandstats is a Redis figure',
      run: serverCostMeasurement(subject, fields),
    })),
  );
}

/** One subject's windows, one per round, summed. */
function serverCostMeasurement(subject: ServerCostSubject, fields: FieldCount) {
  let call: Operation | undefined;
  let calibration: ServerCostCalibration | undefined;
  let clientCalls = 0;
  let serverCalls = 0;
  let usec = 0;
  const byCommand: Record<string, { calls: number; usec: number }> = {};
  return async (ctx: BenchContext, slice: Slice): Promise<ServerCostData> => {
    const redis = requireRedis(ctx);
    const calls = Math.ceil(ctx.budgets.serverCostCalls / slice.rounds);
    if (!call) {
      call = await prepareSubject(
        ctx,
        subject,
        metadataOf(fields),
        calls * slice.rounds + WARMUP_CALLS + CALIBRATION_CALLS,
      );
      await callsOrThrow(subject, call, WARMUP_CALLS);
      calibration = await calibrate(redis, ctx.runPrefix, subject, call);
    }
    const closeWindow = await openStatsWindow(redis);
    const result = await runLoad(call, WINDOW_CONCURRENCY, { maxMs: 60_000, maxOps: calls, warmupMs: 0, warmupOps: 0 });
    const delta = await closeWindow();
    if (result.errors > 0)
      throw new Error(`server-cost ${subject}: ${result.errors} failed calls (${result.firstError})`);
    clientCalls += result.ops;
    for (const name of calibration!.counted) {
      const d = delta.get(name);
      if (!d) continue;
      serverCalls += d.calls;
      usec += d.usec;
      const sum = (byCommand[name] ??= { calls: 0, usec: 0 });
      sum.calls += d.calls;
      sum.usec += d.usec;
    }
    return {
      kind: 'server-cost',
      script: subject,
      fields,
      clientCalls,
      serverCalls,
      usecPerCall: clientCalls > 0 ? round(usec / clientCalls, 2) : 0,
      commands: structuredClone(byCommand),
      calibration: calibration!,
      sharedServer: !redis.provided.owned,
    };
  };
}

async function callsOrThrow(subject: ServerCostSubject, call: Operation, n: number): Promise<void> {
  const r = await runLoad(call, WINDOW_CONCURRENCY, { maxMs: 30_000, maxOps: n, warmupMs: 0, warmupOps: 0 });
  if (r.errors > 0 || r.ops < n)
    throw new Error(`server-cost ${subject}: ${r.ops} of ${n} setup calls worked (${r.firstError ?? 'out of time'})`);
}

/**
 * Starts MONITOR, trying up to three times: on a loaded machine a monitor connection can fail to
 * start once (seen in a full test run on 2 cores) while the server itself is fine.
 */
async function monitorWithRetry(redis: RedisEnv): Promise<CommandMonitor> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await redis.admin.monitor();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw last;
}

/**
 * Runs CALIBRATION_CALLS calls under MONITOR and derives what a window
 * counts: the script commands, plus every other command the client sent
 * that no script ran (only commands naming this run's keys or channels count:
 * nothing else of the run is in flight, but a given server has other clients) (a command both sent and run by scripts
 * cannot be told apart in commandstats: that is reported as a problem).
 */
async function calibrate(
  redis: RedisEnv,
  runPrefix: string,
  subject: ServerCostSubject,
  call: Operation,
): Promise<ServerCostCalibration> {
  let monitor: CommandMonitor;
  try {
    monitor = await monitorWithRetry(redis);
  } catch (err) {
    await callsOrThrow(subject, call, CALIBRATION_CALLS);
    return {
      calls: CALIBRATION_CALLS,
      topLevelPerCall: null,
      nestedCommands: null,
      counted: [...SCRIPT_COMMANDS],
      note: `MONITOR refused (${err instanceof Error ? err.message : String(err)}): only script commands are counted`,
    };
  }
  let seen: MonitoredCommand[];
  try {
    await callsOrThrow(subject, call, CALIBRATION_CALLS);
  } finally {
    seen = await monitor.stop();
  }
  const ours = seen.filter((c) => c.args.some((a) => a.includes(runPrefix)));
  const topLevel = new Map<string, number>();
  const nested = new Set<string>();
  for (const c of ours) {
    if (c.nested) nested.add(c.name);
    else topLevel.set(c.name, (topLevel.get(c.name) ?? 0) + 1);
  }
  const others = [...topLevel.keys()].filter((n) => !SCRIPT_COMMANDS.includes(n));
  const mixed = others.filter((n) => nested.has(n));
  const problems: string[] = [];
  if (topLevel.size === 0)
    problems.push(`MONITOR showed no command on keys under ${runPrefix} in ${CALIBRATION_CALLS} calls`);
  if (mixed.length > 0) {
    problems.push(
      `the client sends ${mixed.join(', ')} and scripts run ${mixed.length === 1 ? 'it' : 'them'} too; ` +
        'commandstats cannot tell the two apart, so their time is left out',
    );
  }
  return {
    calls: CALIBRATION_CALLS,
    topLevelPerCall: Object.fromEntries([...topLevel].map(([n, count]) => [n, round(count / CALIBRATION_CALLS, 2)])),
    nestedCommands: [...nested].sort(),
    counted: [...SCRIPT_COMMANDS, ...others.filter((n) => !nested.has(n))],
    ...(problems.length > 0 ? { problem: problems.join('; ') } : {}),
  };
}

async function prepareSubject(
  ctx: BenchContext,
  subject: ServerCostSubject,
  metadata: Metadata,
  total: number,
): Promise<Operation> {
  if (subject === 'bare-cas' || subject === 'bare-get') return prepareBare(ctx, subject, metadata);
  const store = ctx.makeStore(
    PIPELINING,
    `cost-${subject}`,
    subject === 'update+events' ? { eventsChannel: `${ctx.keyPrefix('events')}channel` } : {},
  );
  return storeCall(store, subject, metadata, total);
}

async function prepareBare(ctx: BenchContext, subject: BareScript, metadata: Metadata): Promise<Operation> {
  const client = sharedClient(ctx, PIPELINING);
  const keyPrefix = ctx.keyPrefix(`cost-${subject}`);
  const fields = fieldArgs(metadata);
  const keys = Array.from(
    { length: subject === 'bare-cas' ? WINDOW_CONCURRENCY : READ_POOL },
    (_, i) => `${keyPrefix}{r${i}}`,
  );
  await forEachLimited(keys.length, 64, (i) => createPlainRecord(client, keys[i]!, BENCH_TTL_MS, fields));
  if (subject === 'bare-get') {
    const expected = 2 * (Object.keys(metadata).length + 1);
    return async (w, seq) => (await bareGet(client, keys[readPoolIndex(w, seq)]!, BENCH_TTL_MS)).length === expected;
  }
  const gens = keys.map(() => 1);
  return async (w) => {
    if ((await bareCas(client, keys[w]!, gens[w]!, BENCH_TTL_MS, fields)) !== 1) return false;
    gens[w]!++;
    return true;
  };
}

/**
 * The store call of `script`, through its public methods. Writes that can
 * take an expected generation take one (the CAS form, as the bare CAS), so
 * each worker keeps its own session and its generation.
 */
async function storeCall(
  store: SessionStore,
  script: ServerCostScript,
  metadata: Metadata,
  total: number,
): Promise<Operation> {
  const n = Object.keys(metadata).length;
  switch (script) {
    case 'create': {
      let next = 0;
      return async () => (await store.create(`c${next++}`, metadata)).ok;
    }
    case 'terminate': {
      const generations = await createSessions(store, 't', total, metadata);
      let next = 0;
      return async () => {
        const i = next++;
        return (await store.terminate(`t${i}`, { expectedGeneration: generations[i]! })).ok;
      };
    }
    case 'get':
    case 'peek': {
      await createSessions(store, 'r', READ_POOL, metadata);
      const read = script === 'get' ? store.get.bind(store) : store.peek.bind(store);
      return async (w, seq) => Object.keys((await read(readPoolId(w, seq)))?.metadata ?? {}).length === n;
    }
    case 'exists':
      await createSessions(store, 'r', READ_POOL, metadata);
      return (w, seq) => store.exists(readPoolId(w, seq));
    case 'touch': {
      const generations = await createSessions(store, 'w', WINDOW_CONCURRENCY, metadata);
      return async (w) => (await store.touch(`w${w}`, { expectedGeneration: generations[w]! })).ok;
    }
    case 'update':
    case 'update+events':
    case 'patch': {
      const generations = await createSessions(store, 'w', WINDOW_CONCURRENCY, metadata);
      return async (w) => {
        const r =
          script === 'patch'
            ? await store.patch(`w${w}`, { set: metadata }, { expectedGeneration: generations[w]! })
            : await store.update(`w${w}`, generations[w]!, metadata);
        if (!r.ok) return false;
        generations[w] = r.session.generation;
        return true;
      };
    }
  }
}
