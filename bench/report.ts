/**
 * Turns scenario results into ratios, Markdown tables and the JSON report.
 * @module
 */
import type { MachineInfo, Pipelining } from './env.js';
import type {
  Budgets,
  ContentionData,
  LoadData,
  MemoryData,
  ScenarioResult,
  ServerCostData,
  Skipped,
  StoreKind,
} from './bench-harness.js';
import { round } from './load.js';
import { CACHE_SUBJECTS, cacheProblem } from './scenarios/cache.js';
import { contentionId } from './scenarios/contention.js';
import { MEMORY_FIELD_COUNTS, memoryId } from './scenarios/memory.js';
import { loadId } from './scenarios/operations.js';
import { BARE_THROUGHPUT_CONCURRENCY } from './scenarios/bare-throughput.js';
import {
  type BareScript,
  SERVER_COST_SCRIPTS,
  SERVER_COST_TARGETS,
  type ServerCostScript,
  serverCostId,
} from './scenarios/server-cost.js';
import { PAYLOAD_FIELD_COUNTS } from './payload.js';

export interface Ratio {
  readonly id: string;
  readonly description: string;
  /** null when a side was skipped or is zero. */
  readonly value: number | null;
  /** The issue's target, when it sets one. */
  readonly target?: { readonly op: '>=' | '<='; readonly value: number };
  readonly meetsTarget?: boolean | null;
  readonly numerator: { readonly scenario: string; readonly value: number | null };
  readonly denominator: { readonly scenario: string; readonly value: number | null };
  readonly note?: string;
}

/** The cluster of a `--cluster` run and how its throughput compares with the single node. */
export interface ClusterReport {
  readonly primaries: number;
  readonly replicasPerPrimary: number;
  /** `host:port` of every node, primaries first. */
  readonly nodes: readonly string[];
  readonly version: string;
  readonly startedByBench: true;
  /**
   * Geometric mean of cluster/single-node throughput over the load scenarios
   * that reach Redis (all but 'events' cache hits), per concurrency; null if none ran.
   */
  readonly throughputScaling: { readonly c1: number | null; readonly c64: number | null };
  /** What this measurement cannot show, for this machine and run. */
  readonly limits: readonly string[];
}

export interface Report {
  readonly schema: 2;
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: Budgets['mode'];
  readonly store: StoreKind;
  readonly redis: { source: string; url: string; version: string; startedByBench: boolean } | null;
  /** Set by `--cluster`: every scenario also ran on this cluster (ids `cluster:<id>`). */
  readonly cluster: ClusterReport | null;
  readonly machine: MachineInfo;
  readonly budgets: Budgets;
  readonly results: readonly ScenarioResult[];
  readonly skipped: readonly Skipped[];
  readonly ratios: readonly Ratio[];
  /** Things that make figures wrong (failed calls, lost updates where there must be none). Empty on a good run. */
  readonly problems: readonly string[];
  readonly notes: readonly string[];
}

type Pick = (r: ScenarioResult) => number;
const throughput: Pick = (r) => (r as LoadData).opsPerSec;
const successesPerSec: Pick = (r) => (r as ContentionData).successesPerSec;
const usecPerCall: Pick = (r) => (r as ServerCostData).usecPerCall;

interface RatioSpec {
  id: string;
  description: string;
  num: string;
  den: string;
  pick: Pick;
  pickDen?: Pick;
  target?: Ratio['target'];
}

/** What the ratios of a run depend on. */
export interface RatioOptions {
  /** Pipelining modes the run measured (the cache ratios follow them). */
  readonly pipelining: readonly Pipelining[];
  /** Ids of the scenarios that also ran on a cluster as `cluster:<id>` (empty without `--cluster`). */
  readonly clusterTwins: readonly string[];
}

/** Every ratio the report gives; ids are stable (the JSON and the bench test use them). */
export function ratioSpecs(opts: RatioOptions): RatioSpec[] {
  const base = singleTopologySpecs(opts.pipelining);
  if (opts.clusterTwins.length === 0) return base;
  const twinned = new Set(opts.clusterTwins);
  const onCluster = base
    .filter((s) => twinned.has(s.num) && twinned.has(s.den))
    .map((s) => ({
      ...s,
      id: `cluster:${s.id}`,
      description: `on the cluster: ${s.description}`,
      num: `cluster:${s.num}`,
      den: `cluster:${s.den}`,
    }));
  return [...base, ...onCluster, ...opts.clusterTwins.map(scalingSpec)];
}

export const SCALING_PREFIX = 'cluster-scaling:';

/** `cluster-scaling:<id>`: the cluster figure of a scenario over its single-node figure. */
function scalingSpec(id: string): RatioSpec {
  return {
    id: `${SCALING_PREFIX}${id}`,
    description: `${id}: the cluster vs the single node (throughput: higher is better; server usec per call and bytes: lower is better)`,
    num: `cluster:${id}`,
    den: id,
    pick: headline,
  };
}

/** The figure a scaling ratio compares, by kind. */
function headline(r: ScenarioResult): number {
  switch (r.kind) {
    case 'load':
      return r.opsPerSec;
    case 'contention':
      return r.successesPerSec;
    case 'server-cost':
      return r.usecPerCall;
    case 'memory':
      return r.bytes.sessionCasFresh;
  }
}

const HEADLINE_UNIT = {
  load: 'ops/s',
  contention: 'successful updates/s',
  'server-cost': 'server usec/call',
  memory: 'bytes/session',
} as const;

function singleTopologySpecs(pipelining: readonly Pipelining[]): RatioSpec[] {
  const specs: RatioSpec[] = [];
  for (const p of ['on', 'off'] as const satisfies readonly Pipelining[]) {
    specs.push(
      {
        // Issue #11's targets are on the one-field figures (bareThroughputSpecs); this one uses the vMCP payload.
        id: `throughput:update@64/bare-lua-cas@64:ap-${p}`,
        description: `update at concurrency 64 vs the bare Lua CAS, vMCP payload (auto-pipelining ${p})`,
        num: loadId('update', 64, p),
        den: loadId('bare-lua-cas', 64, p),
        pick: throughput,
      },
      {
        id: `throughput:update@64/watch-multi-cas@64:ap-${p}`,
        description: `update at concurrency 64 vs WATCH/MULTI CAS on 64 connections (auto-pipelining ${p})`,
        num: loadId('update', 64, p),
        den: loadId('watch-multi-cas', 64, p),
        pick: throughput,
        target: { op: '>=', value: 5 },
      },
      {
        id: `throughput:update@64/hset-pexpire@64:ap-${p}`,
        description: `update at concurrency 64 vs a blind HSET+PEXPIRE pipeline (auto-pipelining ${p})`,
        num: loadId('update', 64, p),
        den: loadId('hset-pexpire', 64, p),
        pick: throughput,
      },
      {
        id: `throughput:update@64/naive@64:ap-${p}`,
        description: `update at concurrency 64 vs the naive HGETALL-then-HSET store (auto-pipelining ${p})`,
        num: loadId('update', 64, p),
        den: loadId('naive', 64, p),
        pick: throughput,
      },
      {
        id: `contention:mutate/watch-multi-cas:ap-${p}`,
        description: `successful updates/s, 16 writers on one session: mutate vs the WATCH/MULTI loop (auto-pipelining ${p})`,
        num: contentionId('mutate', p),
        den: contentionId('watch-multi-cas', p),
        pick: successesPerSec,
        target: { op: '>=', value: 3 },
      },
    );
  }
  specs.push(...bareThroughputSpecs(), ...serverCostSpecs());
  for (const n of MEMORY_FIELD_COUNTS) {
    specs.push(
      {
        id: `memory:${n}-fields:session-cas/json`,
        description: `bytes per session with ${n} metadata entries: session-cas (after create) vs one JSON string`,
        num: memoryId(n),
        den: memoryId(n),
        pick: (r) => (r as MemoryData).bytes.sessionCasFresh,
        pickDen: (r) => (r as MemoryData).bytes.jsonString,
      },
      {
        id: `memory:${n}-fields:session-cas-ring-full/json`,
        description: `bytes per session with ${n} metadata entries: session-cas (op-id ring full) vs one JSON string`,
        num: memoryId(n),
        den: memoryId(n),
        pick: (r) => (r as MemoryData).bytes.sessionCasRingFull,
        pickDen: (r) => (r as MemoryData).bytes.jsonString,
      },
    );
  }
  for (const p of pipelining) {
    for (const c of [1, 64]) {
      for (const hit of CACHE_SUBJECTS.filter((x) => x !== 'uncached-get')) {
        specs.push({
          id: `cache:${hit}@${c}/uncached-get@${c}:ap-${p}`,
          description: `gets/s at concurrency ${c}: SessionCache ${hit === 'cache-hit-always' ? "'always'" : "'events'"} hits vs store.get (auto-pipelining ${p})`,
          num: loadId(hit, c, p),
          den: loadId('uncached-get', c, p),
          pick: throughput,
        });
      }
    }
  }
  return specs;
}

/** Issue #11: update and get at 64 in flight, one-field metadata, vs the bare scripts. */
function bareThroughputSpecs(): RatioSpec[] {
  const c = BARE_THROUGHPUT_CONCURRENCY;
  return (['on', 'off'] as const).flatMap((p) => [
    {
      id: `throughput:update-1-field@${c}/bare-cas-1-field@${c}:ap-${p}`,
      description: `update, one-field metadata, ${c} in flight on one client, vs the bare Lua CAS (auto-pipelining ${p})`,
      num: loadId('update-1-field', c, p),
      den: loadId('bare-cas-1-field', c, p),
      pick: throughput,
      target: { op: '>=' as const, value: p === 'on' ? 0.8 : 0.9 },
    },
    {
      id: `throughput:get-1-field@${c}/bare-get-1-field@${c}:ap-${p}`,
      description: `get, one-field metadata, ${c} in flight on one client, vs a bare HGETALL + PEXPIRE script (auto-pipelining ${p})`,
      num: loadId('get-1-field', c, p),
      den: loadId('bare-get-1-field', c, p),
      pick: throughput,
      target: { op: '>=' as const, value: 0.9 },
    },
  ]);
}

export const SERVER_USEC_PREFIX = 'server-usec:';

/**
 * Issue #11: every script vs the bare CAS with the same payload (targets
 * where the issue sets them), get also vs the bare get; by script, then payload.
 */
function serverCostSpecs(): RatioSpec[] {
  const pairs = SERVER_COST_SCRIPTS.flatMap((s): Array<[ServerCostScript, BareScript]> =>
    s === 'get'
      ? [
          [s, 'bare-cas'],
          [s, 'bare-get'],
        ]
      : [[s, 'bare-cas']],
  );
  return pairs.flatMap(([script, bare]) =>
    PAYLOAD_FIELD_COUNTS.map((n): RatioSpec => {
      const target = bare === 'bare-cas' ? SERVER_COST_TARGETS[script] : undefined;
      return {
        id: `${SERVER_USEC_PREFIX}${n}-fields:${script}/${bare}`,
        description: `server usec per call, ${n} metadata entries: ${script} vs ${bare === 'bare-cas' ? 'the bare Lua CAS' : 'a bare HGETALL + PEXPIRE script'}`,
        num: serverCostId(n, script),
        den: serverCostId(n, bare),
        pick: usecPerCall,
        ...(target === undefined ? {} : { target: { op: '<=' as const, value: target } }),
      };
    }),
  );
}

export function computeRatios(
  results: readonly ScenarioResult[],
  skipped: readonly Skipped[],
  opts: RatioOptions,
): Ratio[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const skipReason = new Map(skipped.map((s) => [s.id, s.reason]));
  return ratioSpecs(opts).map((spec) => {
    const n = byId.get(spec.num);
    const d = byId.get(spec.den);
    const nv = n ? spec.pick(n) : null;
    const dv = d ? (spec.pickDen ?? spec.pick)(d) : null;
    const value = nv !== null && dv !== null && dv > 0 ? round(nv / dv, 2) : null;
    const missing = [spec.num, spec.den].find((id) => !byId.has(id));
    const note =
      missing === undefined
        ? value === null
          ? 'denominator is zero'
          : undefined
        : skipReason.has(missing)
          ? `${missing} skipped: ${skipReason.get(missing)}`
          : `${missing} not run (not on this store, or left out by --only)`;
    return {
      id: spec.id,
      description: spec.description,
      value,
      ...(spec.target ? { target: spec.target, meetsTarget: value === null ? null : meets(value, spec.target) } : {}),
      numerator: { scenario: spec.num, value: nv },
      denominator: { scenario: spec.den, value: dv },
      ...(note === undefined ? {} : { note }),
    };
  });
}

function meets(value: number, target: NonNullable<Ratio['target']>): boolean {
  return target.op === '>=' ? value >= target.value : value <= target.value;
}

/** Failed calls, and lost updates where a CAS must have none: figures built on them are wrong. */
export function findProblems(results: readonly ScenarioResult[]): string[] {
  const problems: string[] = [];
  for (const r of results) {
    if (r.kind === 'load' && r.errors > 0) problems.push(`${r.id}: ${r.errors} failed calls (${r.firstError})`);
    const cache = r.kind === 'load' ? cacheProblem(r) : undefined;
    if (cache !== undefined) problems.push(`${r.id}: ${cache}`);
    if (r.kind === 'contention' && r.subject !== 'naive' && r.lostUpdates !== 0) {
      problems.push(`${r.id}: ${r.lostUpdates} lost updates under compare-and-set`);
    }
    if (r.kind === 'server-cost' && r.serverCalls < r.clientCalls) {
      problems.push(
        `${r.id}: the server counted ${r.serverCalls} calls of ${r.calibration.counted.join(', ')}, the bench made ${r.clientCalls}`,
      );
    }
    if (r.kind === 'server-cost' && r.calibration.problem !== undefined)
      problems.push(`${r.id}: ${r.calibration.problem}`);
  }
  return problems;
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.slice(1).map(line)].join('\n');
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The ids of issue #11's throughput ratios (also their cluster twins). */
const BARE_THROUGHPUT_RATIO = /^(cluster:)?throughput:[a-z]+-1-field@\d+\/bare-/;

/** measured, target, meets: the last three cells of every ratio row. */
function ratioCells(r: Ratio): [string, string, string] {
  return [
    r.value === null ? `- (${r.note ?? 'n/a'})` : `${r.value}x`,
    r.target ? `${r.target.op} ${r.target.value}x` : '',
    r.target ? (r.meetsTarget === null ? '-' : r.meetsTarget ? 'yes' : 'NO') : '',
  ];
}

/** Row label: `cluster: ` for cluster twins, `baseline: ` for baselines. */
function label(r: ScenarioResult, subject: string): string {
  return `${r.topology === 'cluster' ? 'cluster: ' : ''}${r.section === 'baselines' ? 'baseline: ' : ''}${subject}`;
}

/** The human-readable report: Markdown tables, ready to paste. */
export function renderTables(report: Report): string {
  const out: string[] = [];
  const loads = report.results.filter((r): r is LoadData & ScenarioResult => r.kind === 'load');
  out.push('### Throughput and latency (latency in microseconds, from an HDR histogram)\n');
  out.push(
    table(
      ['scenario', 'conc.', 'auto-pipelining', 'ops/s', 'p50', 'p99', 'p99.9', 'ops', 'errors'],
      loads.map((r) => [
        label(r, r.subject),
        r.concurrency,
        r.pipelining,
        fmt(r.opsPerSec),
        r.latencyUs.p50,
        r.latencyUs.p99,
        r.latencyUs.p999,
        fmt(r.ops),
        r.errors,
      ]),
    ),
  );
  const cont = report.results.filter((r): r is ContentionData & ScenarioResult => r.kind === 'contention');
  if (cont.length > 0) {
    out.push('\n### Contention: 16 writers incrementing one counter in one session\n');
    out.push(
      table(
        ['writer loop', 'auto-pipelining', 'successful updates/s', 'conflicts/success', 'gave up', 'lost updates'],
        cont.map((r) => [
          label(r, r.subject),
          r.pipelining,
          fmt(r.successesPerSec),
          r.conflictsPerSuccess,
          r.gaveUp,
          `${fmt(r.lostUpdates)} of ${fmt(r.acknowledgedIncrements)}`,
        ]),
      ),
    );
  }
  const costs = report.ratios.filter((r) => r.id.replace(/^cluster:/, '').startsWith(SERVER_USEC_PREFIX));
  if (costs.length > 0) {
    const byId = new Map(report.results.map((r) => [r.id, r]));
    out.push('\n### Server-side cost per call vs the bare scripts (INFO commandstats, usec per call)\n');
    out.push(
      table(
        ['script', 'fields', 'calls', 'session-cas', 'vs', 'bare', 'ratio', 'target', 'met'],
        costs.map((r) => {
          const num = byId.get(r.numerator.scenario) as (ServerCostData & ScenarioResult) | undefined;
          const den = byId.get(r.denominator.scenario) as (ServerCostData & ScenarioResult) | undefined;
          return [
            `${r.id.startsWith('cluster:') ? 'cluster: ' : ''}${num?.script ?? r.numerator.scenario}`,
            num?.fields ?? '-',
            num ? fmt(num.clientCalls) : '-',
            r.numerator.value ?? '-',
            den?.script ?? r.denominator.scenario,
            r.denominator.value ?? '-',
            ...ratioCells(r),
          ];
        }),
      ),
    );
  }
  const mem = report.results.filter((r): r is MemoryData & ScenarioResult => r.kind === 'memory');
  if (mem.length > 0) {
    out.push('\n### Memory per session (MEMORY USAGE, bytes)\n');
    out.push(
      table(
        ['metadata entries', 'session-cas after create', 'session-cas, op-id ring full', 'one JSON string'],
        mem.map((r) => [
          label(r, String(r.fields)),
          fmt(r.bytes.sessionCasFresh),
          fmt(r.bytes.sessionCasRingFull),
          fmt(r.bytes.jsonString),
        ]),
      ),
    );
  }
  const bare = report.ratios.filter((r) => BARE_THROUGHPUT_RATIO.test(r.id));
  if (bare.some((r) => r.value !== null)) {
    out.push(
      `\n### Throughput vs the bare scripts (one-field metadata, ${BARE_THROUGHPUT_CONCURRENCY} in flight, one client)\n`,
    );
    out.push(
      table(
        ['subject', 'auto-pipelining', 'session-cas ops/s', 'vs', 'bare ops/s', 'ratio', 'target', 'met'],
        bare.map((r) => [
          `${r.id.startsWith('cluster:') ? 'cluster: ' : ''}${r.numerator.scenario.replace(/^cluster:/, '').split(':')[0]}`,
          r.numerator.scenario.split(':ap-')[1] ?? '',
          r.numerator.value === null ? '-' : fmt(r.numerator.value),
          r.denominator.scenario.replace(/^cluster:/, '').split(':')[0]!,
          r.denominator.value === null ? '-' : fmt(r.denominator.value),
          ...ratioCells(r),
        ]),
      ),
    );
  }
  out.push('\n### Ratios\n');
  out.push(
    table(
      ['ratio', 'measured', 'target', 'meets'],
      report.ratios.filter((r) => !r.id.startsWith(SCALING_PREFIX)).map((r) => [r.id, ...ratioCells(r)]),
    ),
  );
  if (report.cluster) out.push(renderCluster(report, report.cluster));
  if (report.skipped.length > 0) {
    const reasons = [...new Set(report.skipped.map((s) => s.reason))];
    out.push(`\nSkipped ${report.skipped.length} scenarios on the ${report.store} store: ${reasons.join('; ')}.`);
  }
  return out.join('\n');
}

function renderCluster(report: Report, cluster: ClusterReport): string {
  const byId = new Map(report.results.map((r) => [r.id, r]));
  const rows = report.ratios
    .filter((r) => r.id.startsWith(SCALING_PREFIX))
    .map((r) => {
      const id = r.id.slice(SCALING_PREFIX.length);
      const kind = byId.get(id)?.kind;
      return [
        id,
        kind ? HEADLINE_UNIT[kind] : '',
        r.denominator.value === null ? '-' : fmt(r.denominator.value),
        r.numerator.value === null ? '-' : fmt(r.numerator.value),
        r.value === null ? `- (${r.note ?? 'n/a'})` : `${r.value}x`,
      ];
    });
  const s = cluster.throughputScaling;
  const shape = `${cluster.primaries} primaries, ${cluster.replicasPerPrimary} replica(s) each`;
  return [
    `\n### Redis Cluster (${shape}) vs the single node\n`,
    table(['scenario', 'figure', 'single node', 'cluster', 'cluster / single'], rows),
    `\nThroughput, cluster / single node (geometric mean over the load scenarios that reach Redis): ` +
      `${s.c1 === null ? '-' : `${s.c1}x`} at concurrency 1, ${s.c64 === null ? '-' : `${s.c64}x`} at concurrency 64.`,
    '\nLimits of this measurement:\n',
    ...cluster.limits.map((l) => `- ${l}`),
  ].join('\n');
}

/**
 * Geometric mean of cluster/single-node throughput over the load scenarios
 * that reach Redis, per concurrency ('events' cache hits are memory reads).
 */
export function throughputScaling(
  ratios: readonly Ratio[],
  results: readonly ScenarioResult[],
): ClusterReport['throughputScaling'] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const at = (c: number): number | null => {
    const values = ratios
      .filter((r) => {
        if (!r.id.startsWith(SCALING_PREFIX) || r.value === null || r.value <= 0) return false;
        const single = byId.get(r.id.slice(SCALING_PREFIX.length));
        return single?.kind === 'load' && single.concurrency === c && single.subject !== 'cache-hit-events';
      })
      .map((r) => r.value!);
    return values.length === 0 ? null : round(Math.exp(values.reduce((a, v) => a + Math.log(v), 0) / values.length), 2);
  };
  return { c1: at(1), c64: at(64) };
}

/** What a cluster-vs-single-node figure from this run cannot show, said for this machine. */
export function clusterLimits(opts: {
  cpus: number;
  primaries: number;
  replicasPerPrimary: number;
  singleNodeGiven: boolean;
  loadAverage1m: number;
}): string[] {
  const servers = opts.primaries * (1 + opts.replicasPerPrimary);
  const limits = [
    `Everything shares this machine's ${opts.cpus} core(s): one Node.js client process and ${servers} cluster ` +
      `redis-server processes (plus the single node). ${
        opts.cpus <= opts.primaries
          ? `With ${opts.cpus} cores the ${opts.primaries} primaries cannot all run in parallel with each other and the client, so a ratio near or below 1x says this box is saturated, not that Redis Cluster does not scale.`
          : 'Client and servers still compete for the same cores.'
      }`,
    `The 1-minute load average was ${opts.loadAverage1m} when the run started: other work took CPU from both sides.`,
    'A Cluster client does more per command than a single-node client (slot lookup, one connection and one auto-pipeline per node, so batches are smaller), and the client is one Node.js process: at high throughput the client, not Redis, can be the limit.',
    'WATCH/MULTI baselines use one single-node connection per transaction, to the primary of its key (WATCH state is per connection), not a Cluster client.',
    'Contention runs on one hot session, which lives on one primary: a cluster cannot spread it.',
    'Server usec per call is time spent inside a node, and a node descheduled in the middle of a call (more processes than cores) counts the wait: ' +
      "on a saturated box the cluster's usec per call grows with CPU contention, not only with cluster-mode work (slot checks, the per-slot key index). " +
      'The per-slot key index is also why MEMORY USAGE reports a few more bytes per key in cluster mode.',
    'How a cluster scales across machines needs servers and clients on separate cores or hosts; this run cannot show it.',
  ];
  if (opts.replicasPerPrimary > 0) {
    limits.push(
      `Each primary streams its writes to ${opts.replicasPerPrimary} replica(s) on the same cores; the single node has none (--cluster-replicas 0 compares primaries only).`,
    );
  }
  if (opts.singleNodeGiven) {
    limits.push(
      'The single node was given (REDIS_URL); its configuration and other load may differ from the cluster nodes the bench started.',
    );
  }
  return limits;
}

/** Removes credentials from a Redis URL before it goes into a report. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
