/**
 * `npm run demo [-- --sessions N] [-- --writer-sessions N] [-- --removals N] [-- --max-io-ms N] [-- --json]`
 *
 * The race session-cas exists for, run for real against Redis: the naive
 * store and session-cas side by side, same races, same timing.
 * Exits 1 if session-cas resurrects a session or loses an update.
 * @module
 */
import { closeRedis, openRedis, runPrefix } from './env.js';
import { watchdog } from './load.js';
import { type RaceOptions, type RaceTally, casDemoStore, naiveDemoStore, runRaces } from './races.js';
import { redactUrl } from './report.js';

const USAGE = 'usage: npm run demo -- [--sessions N] [--writer-sessions N] [--removals N] [--max-io-ms N] [--json]';
const TTL_MS = 600_000;
const LIMITS = { sessions: 20_000, writerSessions: 2_000, removals: 200, maxIoMs: 1_000 };

function parseArgs(argv: readonly string[]): RaceOptions & { json: boolean } {
  const o = { sessions: 500, writerSessions: 50, removals: 20, maxIoMs: 8, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') {
      o.json = true;
      continue;
    }
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const key = (
      {
        '--sessions': 'sessions',
        '--writer-sessions': 'writerSessions',
        '--removals': 'removals',
        '--max-io-ms': 'maxIoMs',
      } as const
    )[a];
    const n = Number(argv[++i]);
    if (key === undefined || !Number.isSafeInteger(n) || n < (key === 'maxIoMs' ? 2 : 1) || n > LIMITS[key]) {
      throw new Error(`bad argument ${a} ${argv[i] ?? ''}\n${USAGE}`);
    }
    o[key] = n;
  }
  return {
    sessions: o.sessions,
    writerSessions: o.writerSessions,
    removalsPerWriter: o.removals,
    maxIoMs: o.maxIoMs,
    json: o.json,
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
    console.error(`[demo] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
