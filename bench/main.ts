/**
 * The bench's command line, run by `bench/run.ts` (`npm run bench`).
 *
 *   npm run bench -- [--quick] [--store redis|memory] [--only SECTION,...]
 *                    [--cluster [--cluster-replicas 0|1]] [--out-dir DIR] [--help]
 *
 * Flags are parsed with `node:util` parseArgs (strict: an unknown flag, a
 * missing value or a positional argument is a usage error).
 * Measures every session-cas operation and the baselines on one client and
 * one server, prints Markdown tables and writes every figure and ratio to
 * `bench/results/<timestamp>.json`. Redis comes from REDIS_URL, else a
 * throwaway redis-server, else Docker (the tests' order). `--cluster` also
 * starts a 3-primary Redis Cluster from the redis-server binary, runs every
 * scenario on it right after its single-node twin, reports cluster/single
 * ratios and the limits of that comparison, and kills the cluster at the end.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs as parseFlags } from 'node:util';
import { type RedisEnv, closeRedis, loadAverage, machineInfo, openRedis, openRedisCluster, runPrefix } from './env.js';
import { watchdog } from './load.js';
import {
  BUDGETS,
  type Budgets,
  SECTIONS,
  type Scenario,
  type Section,
  type StoreKind,
  createContext,
  onCluster,
  runScenarios,
} from './bench-harness.js';
import {
  type ClusterReport,
  type Report,
  clusterLimits,
  computeRatios,
  findProblems,
  redactUrl,
  renderTables,
  throughputScaling,
} from './report.js';
import { bareThroughputScenarios } from './scenarios/bare-throughput.js';
import { baselineScenarios } from './scenarios/baselines.js';
import { cacheScenarios } from './scenarios/cache.js';
import { contentionScenarios } from './scenarios/contention.js';
import { memoryScenarios } from './scenarios/memory.js';
import { principalScenarios } from './scenarios/principals.js';
import { operationScenarios } from './scenarios/operations.js';
import { serverCostScenarios } from './scenarios/server-cost.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

interface Args {
  quick: boolean;
  store: StoreKind;
  outDir: string;
  /** Sections to run; all when undefined. */
  only: Section[] | undefined;
  /** Replicas per primary of the `--cluster` cluster; undefined without `--cluster`. */
  clusterReplicas: number | undefined;
}

/** Sections left out of a run without `--only` (they take long and answer one issue's question). */
const OPT_IN: ReadonlySet<Section> = new Set<Section>(['principals']);

/** What each `--only` section measures, for the usage text. */
const SECTION_HELP: Record<Section, string> = {
  operations: 'every store operation at 1 and 64 in flight, auto-pipelining on and off',
  baselines: 'bare Lua CAS, HSET+PEXPIRE, WATCH/MULTI CAS and the naive store, same matrix',
  'bare-throughput': 'issue #11: update and get (one field, 64 in flight) vs the bare CAS and the bare get',
  cache: 'SessionCache hits vs store.get',
  contention: '16 writers on one session: mutate, WATCH/MULTI loop, naive store',
  'server-cost': 'issue #11: server usec per call of every script vs the bare scripts, 1, 10 and 100 fields',
  memory: 'MEMORY USAGE per session, 1, 10 and 100 fields',
  principals:
    'issue #13 (only with --only): create with a principal vs plain, sessionsOf of 1/10/100, terminateAll 100',
};

const USAGE =
  'usage: npm run bench -- [--quick] [--store redis|memory] [--only SECTION,...] ' +
  '[--cluster [--cluster-replicas 0|1]] [--out-dir DIR]\n  sections (default: all but principals, in this order):\n' +
  SECTIONS.map((s) => `    ${s.padEnd(16)} ${SECTION_HELP[s]}`).join('\n');

/** A bad command line: reported without a stack. */
class UsageError extends Error {}

/** Primaries of the `--cluster` cluster (the smallest Redis Cluster `redis-cli --cluster create` accepts). */
const CLUSTER_PRIMARIES = 3;

/** Longest a run may take before the watchdog ends it, ms. */
function runLimitMs(budgets: Budgets, cluster: boolean): number {
  const single = budgets.mode === 'quick' ? 180_000 : 1_200_000;
  return cluster ? 2 * single : single;
}

/** The flags of {@link USAGE}, for `node:util` parseArgs. */
const OPTIONS = {
  quick: { type: 'boolean' },
  store: { type: 'string' },
  only: { type: 'string' },
  cluster: { type: 'boolean' },
  'cluster-replicas': { type: 'string' },
  'out-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** The flags as parsed by `node:util`; its errors (unknown flag, missing value, stray positional) become usage errors. */
function flags(argv: readonly string[]) {
  try {
    return parseFlags({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
}

function parseArgs(argv: readonly string[]): Args {
  const values = flags(argv);
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const store = values.store ?? 'redis';
  if (store !== 'redis' && store !== 'memory')
    throw new UsageError(`--store must be redis or memory, got ${store}\n${USAGE}`);
  let only: Section[] | undefined;
  if (values.only !== undefined) {
    const names = values.only.split(',').filter((x) => x !== '');
    const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
    if (names.length === 0 || unknown.length > 0)
      throw new UsageError(
        `--only takes sections from ${SECTIONS.join(', ')}; got ${unknown.join(', ') || 'none'}\n${USAGE}`,
      );
    only = names as Section[];
  }
  const replicas = values['cluster-replicas'];
  if (replicas !== undefined && replicas !== '0' && replicas !== '1')
    throw new UsageError(`--cluster-replicas must be 0 or 1, got ${replicas}\n${USAGE}`);
  const cluster = values.cluster === true;
  if (replicas !== undefined && !cluster) throw new UsageError(`--cluster-replicas needs --cluster\n${USAGE}`);
  if (cluster && store !== 'redis')
    throw new UsageError(`--cluster runs on Redis; it cannot be combined with --store ${store}\n${USAGE}`);
  return {
    quick: values.quick === true,
    store,
    outDir: values['out-dir'] === undefined ? join(ROOT, 'bench', 'results') : resolve(values['out-dir']),
    only,
    clusterReplicas: cluster ? Number(replicas ?? '0') : undefined,
  };
}

/** The scenario list, in run order. Extend here. */
function scenarios(
  pipelining: Parameters<typeof operationScenarios>[0],
  only: readonly Section[] | undefined,
): Scenario[] {
  const all = [
    ...operationScenarios(pipelining),
    ...baselineScenarios(pipelining),
    ...bareThroughputScenarios(),
    ...cacheScenarios(pipelining),
    ...contentionScenarios(pipelining),
    ...serverCostScenarios(),
    ...memoryScenarios(),
    ...principalScenarios(pipelining),
  ];
  // Sections of OPT_IN run only when --only names them.
  return only === undefined ? all.filter((s) => !OPT_IN.has(s.section)) : all.filter((s) => only.includes(s.section));
}

/** Each scenario followed by its cluster twin, so the two are measured back to back in every round. */
function withClusterTwins(single: readonly Scenario[], twins: readonly Scenario[]): Scenario[] {
  return single.flatMap((s, i) => [s, twins[i]!]);
}

/** Runs the bench with `argv` (the arguments after `--`); resolves the exit code. */
export async function runBench(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const budgets = BUDGETS[args.quick ? 'quick' : 'full'];
  const withCluster = args.clusterReplicas !== undefined;
  watchdog(runLimitMs(budgets, withCluster), 'bench');
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const log = (line: string) => console.log(`[bench] ${line}`);
  const prefix = runPrefix();
  log(
    `${budgets.mode} run on the ${args.store} store (${budgets.load.maxMs} ms or ${budgets.load.maxOps} ops per measured run)` +
      (args.only ? `, sections: ${args.only.join(', ')}` : ''),
  );

  let redis: RedisEnv | undefined;
  let cluster: RedisEnv | undefined;
  try {
    if (args.store === 'redis') {
      redis = await openRedis();
      const how = redis.provided.owned
        ? 'started by the bench'
        : 'given; never reset or flushed, keys under a unique prefix';
      log(`Redis from ${redis.provided.source}: ${redactUrl(redis.provided.url)} (Redis ${redis.version}, ${how})`);
    } else {
      log('in-memory store: no Redis needed; Redis-only baselines are skipped');
    }
    if (withCluster) {
      const started = Date.now();
      cluster = await openRedisCluster({ primaries: CLUSTER_PRIMARIES, replicas: args.clusterReplicas! });
      log(
        `Redis Cluster started by the bench: ${CLUSTER_PRIMARIES} primaries, ${args.clusterReplicas} replica(s) each, ` +
          `on ${cluster.cluster!.nodes.join(' ')} (Redis ${cluster.version}, ${((Date.now() - started) / 1000).toFixed(1)} s to start); ` +
          'every scenario runs on the single node, then on the cluster',
      );
    }

    const ctx = createContext(args.store, budgets, redis, prefix);
    let list = scenarios(ctx.pipelining, args.only);
    let clusterTwins: string[] = [];
    if (cluster) {
      const clusterCtx = createContext('redis', budgets, cluster, prefix);
      list = withClusterTwins(
        list,
        scenarios(clusterCtx.pipelining, args.only).map((s) => onCluster(clusterCtx, s)),
      );
      clusterTwins = list.filter((s) => s.ctx === undefined).map((s) => s.id);
    }
    const { results, skipped } = await runScenarios(ctx, list, log);
    const notes = [
      'Client and server share this machine; throughput and client latency depend on its load (machine.loadAverage1m).',
      'Server-side usec per call comes from INFO commandstats and leaves out the client and the network.',
    ];
    if (redis && !redis.provided.owned) {
      notes.push(
        "Redis was given (REDIS_URL): commandstats were diffed, so other clients' scripts in a window count too.",
      );
    }
    const ratios = computeRatios(results, skipped, { pipelining: ctx.pipelining, clusterTwins });
    const machine = machineInfo(loadAtStart);
    let clusterReport: ClusterReport | null = null;
    if (cluster) {
      const shape = cluster.cluster!;
      clusterReport = {
        primaries: shape.primaries,
        replicasPerPrimary: shape.replicasPerPrimary,
        nodes: shape.nodes,
        version: cluster.version,
        startedByBench: true,
        throughputScaling: throughputScaling(ratios, results),
        limits: clusterLimits({
          cpus: machine.cpus,
          primaries: shape.primaries,
          replicasPerPrimary: shape.replicasPerPrimary,
          singleNodeGiven: !redis!.provided.owned,
          loadAverage1m: loadAtStart,
        }),
      };
      notes.push(
        'Cluster figures (ids cluster:*) come from a cluster started by the bench on this machine; see cluster.limits.',
      );
    }
    const report: Report = {
      schema: 2,
      command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: budgets.mode,
      store: args.store,
      redis: redis
        ? {
            source: redis.provided.source,
            url: redactUrl(redis.provided.url),
            version: redis.version,
            startedByBench: redis.provided.owned,
          }
        : null,
      cluster: clusterReport,
      machine,
      budgets,
      results,
      skipped,
      ratios,
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
    if (cluster) {
      await closeRedis(cluster, prefix);
      log(`Redis Cluster stopped (${cluster.cluster!.nodes.length} redis-server processes killed)`);
    }
    if (redis) {
      const deleted = await closeRedis(redis, prefix);
      if (!redis.provided.owned) log(`deleted ${deleted} keys under ${prefix}`);
    }
  }
}

/** Ends the process with the bench's exit code (1 and the stack on a crash). */
export function exitWith(run: Promise<number>): void {
  run.then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) console.error(err.message);
      else console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
