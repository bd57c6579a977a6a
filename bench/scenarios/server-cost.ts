/**
 * Server-side cost per script call, from INFO commandstats. Every script is
 * called through EVALSHA, which commandstats counts under one name, so each
 * script gets its own window: reset (or snapshot) the stats, make N calls of
 * that script only, read the EVAL + EVALSHA totals. This figure leaves out
 * the client and the network, so it is the one to track for the Lua code.
 * @module
 */
import type { SessionStore } from '../../src/index.js';
import { createPlainRecord, fieldArgs, minimalCas } from '../baselines.js';
import {
  type BenchContext, BENCH_TTL_MS, type Scenario, type ServerCostData, type Slice, requireRedis, sharedClient,
} from '../harness.js';
import { openStatsWindow } from '../env.js';
import { type Operation, round, runLoad } from '../load.js';
import { PAYLOAD } from '../payload.js';
import { type OperationName, createSessions, prepareOperation, readPoolId } from './operations.js';

/** Every session-cas script, update also with events on, and the minimal CAS it is compared with. */
export const SERVER_COST_SCRIPTS = [
  'create', 'get', 'peek', 'exists', 'update', 'update+events', 'patch', 'touch', 'terminate', 'minimal-cas',
] as const;
export type ServerCostScript = (typeof SERVER_COST_SCRIPTS)[number];

const WINDOW_CONCURRENCY = 8;
const WARMUP_CALLS = 20;
const PIPELINING = 'on';
/** The commands a script call can show up as in commandstats. */
const SCRIPT_COMMANDS = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro'];

export function serverCostId(script: ServerCostScript): string {
  return `server-cost:${script}`;
}

export function serverCostScenarios(): Scenario[] {
  return SERVER_COST_SCRIPTS.map((script) => ({
    id: serverCostId(script),
    section: 'server-cost' as const,
    group: 'server-cost',
    redisOnly: 'INFO commandstats is a Redis figure',
    run: serverCostMeasurement(script),
  }));
}

/** One script's windows, one per round, summed. */
function serverCostMeasurement(script: ServerCostScript) {
  let call: Operation | undefined;
  let clientCalls = 0;
  let serverCalls = 0;
  let usec = 0;
  return async (ctx: BenchContext, slice: Slice): Promise<ServerCostData> => {
    const redis = requireRedis(ctx);
    const total = ctx.budgets.serverCostCalls;
    if (!call) {
      call = await prepareScript(ctx, script, total + WARMUP_CALLS);
      // Warm up outside the windows, so they hold EVALSHA calls of this script only.
      await runLoad(call, 1, { maxMs: 10_000, maxOps: WARMUP_CALLS, warmupMs: 0, warmupOps: 0 });
    }
    const calls = Math.ceil(total / slice.rounds);
    const closeWindow = await openStatsWindow(redis);
    const result = await runLoad(call, WINDOW_CONCURRENCY, { maxMs: 60_000, maxOps: calls, warmupMs: 0, warmupOps: 0 });
    const delta = await closeWindow();
    if (result.errors > 0) throw new Error(`server-cost ${script}: ${result.errors} failed calls (${result.firstError})`);
    clientCalls += result.ops;
    for (const name of SCRIPT_COMMANDS) {
      const d = delta.get(name);
      if (d) {
        serverCalls += d.calls;
        usec += d.usec;
      }
    }
    return {
      kind: 'server-cost',
      script,
      clientCalls,
      serverCalls,
      usecPerCall: serverCalls > 0 ? round(usec / serverCalls, 2) : 0,
      sharedServer: !redis.provided.owned,
    };
  };
}

async function prepareScript(ctx: BenchContext, script: ServerCostScript, total: number): Promise<Operation> {
  switch (script) {
    case 'minimal-cas': {
      const client = sharedClient(ctx, PIPELINING);
      const prefix = ctx.keyPrefix('cost-minimal');
      const fields = fieldArgs(PAYLOAD);
      const gens = new Array<number>(WINDOW_CONCURRENCY).fill(1);
      await Promise.all(gens.map((_, w) => createPlainRecord(client, `${prefix}{w${w}}`, BENCH_TTL_MS, fields)));
      return async (w) => {
        if ((await minimalCas(client, `${prefix}{w${w}}`, gens[w]!, BENCH_TTL_MS, fields)) !== 1) return false;
        gens[w]!++;
        return true;
      };
    }
    case 'exists': {
      const store = ctx.makeStore(PIPELINING, 'cost-exists');
      await createSessions(store, 'r', 256);
      return async (w, seq) => store.exists(readPoolId(w, seq));
    }
    case 'update+events': {
      const store = ctx.makeStore(PIPELINING, 'cost-update-events', { eventsChannel: `${ctx.keyPrefix('events')}channel` });
      return (await prepareOperation(store, 'update', WINDOW_CONCURRENCY, 0)).call;
    }
    default: {
      const store: SessionStore = ctx.makeStore(PIPELINING, `cost-${script}`);
      const op: OperationName = script;
      return (await prepareOperation(store, op, WINDOW_CONCURRENCY, total)).call;
    }
  }
}
