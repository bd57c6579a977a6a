/**
 * `npm run bench [-- --quick] [-- --store memory] [-- --out-dir DIR]`
 *
 * Measures every session-cas operation and the baselines on one client and
 * one server, prints Markdown tables and writes every figure and ratio to
 * `bench/results/<timestamp>.json`. Redis comes from REDIS_URL, else a
 * throwaway redis-server, else Docker (the tests' order).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisEnv, closeRedis, loadAverage, machineInfo, openRedis, runPrefix } from './env.js';
import { watchdog } from './load.js';
import { BUDGETS, type Scenario, type StoreKind, createContext, runScenarios } from './harness.js';
import { type Report, computeRatios, findProblems, redactUrl, renderTables } from './report.js';
import { baselineScenarios } from './scenarios/baselines.js';
import { contentionScenarios } from './scenarios/contention.js';
import { memoryScenarios } from './scenarios/memory.js';
import { operationScenarios } from './scenarios/operations.js';
import { serverCostScenarios } from './scenarios/server-cost.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

interface Args { quick: boolean; store: StoreKind; outDir: string }

const USAGE = 'usage: npm run bench -- [--quick] [--store redis|memory] [--out-dir DIR]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, store: 'redis', outDir: join(ROOT, 'bench', 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--store') {
      const s = value();
      if (s !== 'redis' && s !== 'memory') throw new Error(`--store must be redis or memory, got ${s}\n${USAGE}`);
      args.store = s;
    } else if (a === '--out-dir') args.outDir = resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return args;
}

/** The scenario list, in run order. Extend here. */
function scenarios(pipelining: Parameters<typeof operationScenarios>[0]): Scenario[] {
  return [
    ...operationScenarios(pipelining),
    ...baselineScenarios(pipelining),
    ...contentionScenarios(pipelining),
    ...serverCostScenarios(),
    ...memoryScenarios(),
  ];
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const budgets = BUDGETS[args.quick ? 'quick' : 'full'];
  watchdog(args.quick ? 180_000 : 1_200_000, 'bench');
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const log = (line: string) => console.log(`[bench] ${line}`);
  const prefix = runPrefix();
  log(`${budgets.mode} run on the ${args.store} store (${budgets.load.maxMs} ms or ${budgets.load.maxOps} ops per measured run)`);

  let redis: RedisEnv | undefined;
  if (args.store === 'redis') {
    redis = await openRedis();
    const how = redis.provided.owned ? 'started by the bench' : 'given; never reset or flushed, keys under a unique prefix';
    log(`Redis from ${redis.provided.source}: ${redactUrl(redis.provided.url)} (Redis ${redis.version}, ${how})`);
  } else {
    log('in-memory store: no Redis needed; Redis-only baselines are skipped');
  }

  try {
    const ctx = createContext(args.store, budgets, redis, prefix);
    const list = scenarios(ctx.pipelining);
    const { results, skipped } = await runScenarios(ctx, list, log);
    const notes = [
      'Client and server share this machine; throughput and client latency depend on its load (machine.loadAverage1m).',
      'Server-side usec per call comes from INFO commandstats and leaves out the client and the network.',
    ];
    if (redis && !redis.provided.owned) {
      notes.push('Redis was given (REDIS_URL): commandstats were diffed, so other clients\' scripts in a window count too.');
    }
    const report: Report = {
      schema: 1,
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: budgets.mode,
      store: args.store,
      redis: redis
        ? { source: redis.provided.source, url: redactUrl(redis.provided.url), version: redis.version, startedByBench: redis.provided.owned }
        : null,
      machine: machineInfo(loadAtStart),
      budgets,
      results,
      skipped,
      ratios: computeRatios(results, skipped),
      problems: findProblems(results),
      notes,
    };
    console.log(`\n${renderTables(report)}\n`);
    mkdirSync(args.outDir, { recursive: true });
    const file = join(args.outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    const shown = relative(process.cwd(), file);
    log(`results written to ${shown.startsWith('..') ? file : shown}`);
    for (const p of report.problems) log(`PROBLEM: ${p}`);
    return report.problems.length === 0 ? 0 : 1;
  } finally {
    if (redis) {
      const deleted = await closeRedis(redis, prefix);
      if (!redis.provided.owned) log(`deleted ${deleted} keys under ${prefix}`);
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[bench] failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
