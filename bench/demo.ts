/**
 * `npm run demo [-- --sessions N] [-- --writer-sessions N] [-- --removals N] [-- --max-io-ms N] [-- --json]`
 *
 * The race session-cas exists for, run for real against Redis: the naive
 * store and session-cas side by side, same races, same timing.
 * Exits 1 if session-cas resurrects a session or loses an update.
 * @module
 */
import { type ParseArgsConfig, parseArgs as parseFlags } from 'node:util';
import { closeRedis, openRedis, runPrefix } from './env.js';
import { watchdog } from './load.js';
import { type RaceOptions, type RaceTally, casDemoStore, naiveDemoStore, runRaces } from './races.js';
import { redactUrl } from './report.js';

const USAGE = 'usage: npm run demo -- [--sessions N] [--writer-sessions N] [--removals N] [--max-io-ms N] [--json]';
const TTL_MS = 600_000;
const LIMITS = { sessions: 20_000, writerSessions: 2_000, removals: 200, maxIoMs: 1_000 };

/** A bad command line: reported without a stack. */
class UsageError extends Error {}

/** Every flag, strict: an unknown flag, a missing value or a positional argument is a usage error. */
const OPTIONS = {
  sessions: { type: 'string' },
  'writer-sessions': { type: 'string' },
  removals: { type: 'string' },
  'max-io-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** `--name N`: a safe integer in [min, max], else `fallback` when the flag is absent. */
function count(values: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} takes an integer from ${min} to ${max}, got ${String(raw)}\n${USAGE}`);
  }
  return n;
}

function parseArgs(argv: readonly string[]): RaceOptions & { json: boolean } {
  let values;
  try {
    values = parseFlags({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    sessions: count(values, 'sessions', 500, 1, LIMITS.sessions),
    writerSessions: count(values, 'writer-sessions', 50, 1, LIMITS.writerSessions),
    removalsPerWriter: count(values, 'removals', 20, 1, LIMITS.removals),
    maxIoMs: count(values, 'max-io-ms', 8, 2, LIMITS.maxIoMs),
    json: values.json === true,
  };
}

function row(label: string, naive: string | number, cas: string | number): string {
  return `${label.padEnd(44)}${String(naive).padStart(14)}${String(cas).padStart(14)}`;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  watchdog(600_000, 'demo');
  const redis = await openRedis();
  const prefix = runPrefix().replace(/^bench:/, 'demo:');
  console.log(`[demo] Redis from ${redis.provided.source}: ${redactUrl(redis.provided.url)} (Redis ${redis.version})`);
  let naive: RaceTally;
  let cas: RaceTally;
  try {
    const [a, b] = [redis.clients.create('off'), redis.clients.create('off')];
    naive = await runRaces(
      naiveDemoStore(a, `${prefix}naive:`, TTL_MS),
      naiveDemoStore(b, `${prefix}naive:`, TTL_MS),
      o,
    );
    cas = await runRaces(casDemoStore(a, `${prefix}cas:`, TTL_MS), casDemoStore(b, `${prefix}cas:`, TTL_MS), o);
  } finally {
    await closeRedis(redis, prefix);
  }
  const removals = 2 * o.removalsPerWriter * o.writerSessions;
  console.log(`
Race 1: ${o.sessions} sessions. On each, node A handles "backend beta expired" (toolhive vMCP): it loads
the session, talks to the backend for 1-${o.maxIoMs} ms, removes "beta" from vmcp.backend.ids, deletes
vmcp.backend.session.beta and stores the session. Node B terminates the session at a random moment
in the first ${o.maxIoMs + 2} ms.
Race 2: ${o.writerSessions} sessions with ${2 * o.removalsPerWriter} backends each. Nodes A and B each remove ${o.removalsPerWriter} of them, one at a
time, the same way (load, 1-${o.maxIoMs} ms of I/O, store).

${row('', 'naive store', 'session-cas')}
${row(`sessions resurrected (of ${o.sessions} terminated)`, naive.resurrected, cas.resurrected)}
${row(`updates lost (of ${removals} acknowledged)`, naive.updatesLost, cas.updatesLost)}
${row('conflicts retried', `${naive.conflictsRetried} (blind)`, cas.conflictsRetried)}
${row('handlers told "terminated" (race 1)', naive.handlersRefused, cas.handlersRefused)}
${row('removals given up, reported (race 2)', naive.gaveUp, cas.gaveUp)}
`);
  if (naive.resurrected === 0 || naive.updatesLost === 0) {
    console.log('[demo] the naive store got lucky this run; try more --sessions or a larger --max-io-ms');
  }
  const casClean = cas.resurrected === 0 && cas.updatesLost === 0;
  if (!casClean) console.log('[demo] BUG: session-cas resurrected a session or lost an update');
  if (o.json) console.log(`DEMO_RESULT ${JSON.stringify({ options: o, naive, sessionCas: cas })}`);
  return casClean ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`[demo] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
