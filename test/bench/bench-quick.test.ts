/**
 * `npm run bench -- --quick` end to end, so the harness cannot rot. Asserts
 * that the output is complete (every scenario, every ratio, the machine),
 * never how fast anything is. The `--cluster` run leaves out the operations
 * section (`--only`) to stay short; see the test.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runNpm } from './run-npm.js';

const OPERATIONS = ['create', 'get', 'peek', 'update', 'patch', 'touch', 'terminate', 'mutate'];
const BASELINES = ['bare-lua-cas', 'hset-pexpire', 'watch-multi-cas', 'naive'];
const CACHE = ['uncached-get', 'cache-hit-always', 'cache-hit-events'];
/** Issue #11's throughput subjects (64 in flight, one field) and ratios. */
const BARE_THROUGHPUT = ['update-1-field', 'bare-cas-1-field', 'get-1-field', 'bare-get-1-field'];
const bareThroughputIds = () => BARE_THROUGHPUT.flatMap((s) => ['on', 'off'].map((p) => `${s}:c64:ap-${p}`));
const BARE_THROUGHPUT_RATIOS = ['on', 'off'].flatMap((p) => [
  `throughput:update-1-field@64/bare-cas-1-field@64:ap-${p}`,
  `throughput:get-1-field@64/bare-get-1-field@64:ap-${p}`,
]);
/** Server-cost windows, in run order per payload; the targets issue #11 sets on their ratio to the bare CAS. */
const FIELDS = [1, 10, 100];
const COST_SUBJECTS = [
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
const COST_TARGETS: Record<string, number> = { update: 1.5, patch: 1.5, touch: 1.5, get: 1.5, terminate: 2 };
const SCRIPTS = ['update', 'patch', 'touch', 'get', 'terminate', 'create', 'peek', 'exists', 'update+events'];
const SCRIPT_COMMANDS = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro'];
const serverCostIds = () => FIELDS.flatMap((n) => COST_SUBJECTS.map((s) => `server-cost:${n}-fields:${s}`));
const SERVER_USEC_RATIOS = SCRIPTS.flatMap((s) =>
  (s === 'get' ? ['bare-cas', 'bare-get'] : ['bare-cas']).flatMap((bare) =>
    FIELDS.map((n) => `server-usec:${n}-fields:${s}/${bare}`),
  ),
);
const CONCURRENCIES = [1, 64];
/** Server-cost calls per subject in a quick run (bench/bench-harness.ts BUDGETS.quick.serverCostCalls, over 2 rounds). */
const QUICK_SERVER_COST_CALLS = 300;
const CONTENTION = ['mutate', 'watch-multi-cas', 'naive'].flatMap((s) =>
  ['on', 'off'].map((p) => `contention:${s}:ap-${p}`),
);

const loadIds = (subjects: string[], modes: string[]) =>
  subjects.flatMap((s) => CONCURRENCIES.flatMap((c) => modes.map((p) => `${s}:c${c}:ap-${p}`)));

/** Every operation on node-redis next to ioredis (auto-pipelining on: node-redis always writes a tick together). */
const NODE_REDIS_OPERATIONS = OPERATIONS.map((op) => `node-redis:${op}`);
const NODE_REDIS_RATIOS = OPERATIONS.flatMap((op) =>
  CONCURRENCIES.map((c) => `node-redis:${op}@${c}/${op}@${c}:ap-on`),
);

/** The ratios the issue names, plus the informative ones, by id (`withNodeRedis`: a run on Redis). */
const ratioIds = (withNodeRedis: boolean) => [
  ...['on', 'off'].flatMap((p) => [
    `throughput:update@64/bare-lua-cas@64:ap-${p}`,
    `throughput:update@64/watch-multi-cas@64:ap-${p}`,
    `throughput:update@64/hset-pexpire@64:ap-${p}`,
    `throughput:update@64/naive@64:ap-${p}`,
    `contention:mutate/watch-multi-cas:ap-${p}`,
  ]),
  ...BARE_THROUGHPUT_RATIOS,
  ...SERVER_USEC_RATIOS,
  ...(withNodeRedis ? NODE_REDIS_RATIOS : []),
  ...[1, 10, 100].flatMap((n) => [
    `memory:${n}-fields:session-cas/json`,
    `memory:${n}-fields:session-cas-ring-full/json`,
  ]),
];
const RATIOS = ratioIds(false);
/** SessionCache hits vs store.get, per pipelining mode of the run. */
const cacheRatios = (modes: string[]) =>
  modes.flatMap((p) =>
    CONCURRENCIES.flatMap((c) => [
      `cache:cache-hit-always@${c}/uncached-get@${c}:ap-${p}`,
      `cache:cache-hit-events@${c}/uncached-get@${c}:ap-${p}`,
    ]),
  );
const TARGETED = [
  'throughput:update@64/watch-multi-cas@64:ap-on',
  'contention:mutate/watch-multi-cas:ap-on',
  ...BARE_THROUGHPUT_RATIOS,
  ...SERVER_USEC_RATIOS.filter(
    (id) => id.endsWith('/bare-cas') && COST_TARGETS[/:([^:/]+)\/bare-cas$/.exec(id)![1]!] !== undefined,
  ),
];

interface Result {
  id: string;
  kind: string;
  [k: string]: unknown;
}
interface Report {
  command: string;
  mode: string;
  store: string;
  redis: { source: string; version: string } | null;
  cluster: {
    primaries: number;
    replicasPerPrimary: number;
    nodes: string[];
    version: string;
    throughputScaling: { c1: number | null; c64: number | null };
    limits: string[];
  } | null;
  machine: Record<string, unknown>;
  results: Result[];
  skipped: Array<{ id: string; reason: string }>;
  ratios: Ratio[];
  problems: string[];
}

interface Ratio {
  id: string;
  value: number | null;
  target?: { op: '>=' | '<='; value: number };
  meetsTarget?: boolean | null;
  note?: string;
  numerator: { scenario: string; value: number | null };
  denominator: { scenario: string; value: number | null };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function quickRun(extra: string[], timeoutMs = 150_000): Promise<{ stdout: string; report: Report }> {
  const dir = mkdtempSync(join(tmpdir(), 'scas-bench-'));
  dirs.push(dir);
  const run = await runNpm('bench', ['--quick', ...extra, '--out-dir', dir], timeoutMs);
  expect(run.code, `bench failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  expect(files).toHaveLength(1);
  expect(run.stdout).toContain(`results written to ${join(dir, files[0]!)}`);
  return { stdout: run.stdout, report: JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as Report };
}

function expectLoadFigures(r: Result): void {
  expect(r).toMatchObject({ kind: 'load', errors: 0 });
  for (const k of ['ops', 'opsPerSec', 'durationMs']) expect(typeof r[k], `${r.id}.${k}`).toBe('number');
  expect(Object.keys(r.latencyUs as object).sort()).toEqual(['max', 'mean', 'p50', 'p99', 'p999']);
  for (const v of Object.values(r.latencyUs as object)) expect(typeof v).toBe('number');
}

/**
 * Cache scenarios measured hits only: no reloads; 'events' hits never asked
 * the store, 'always' hits validated (some gets share a validation).
 */
function expectCacheCounters(r: Result): void {
  const c = r.cache as { hits: number; validations: number; loads: number } | undefined;
  if (r.id.includes('uncached-get')) {
    expect(c, r.id).toBeUndefined();
    return;
  }
  expect(c, r.id).toBeDefined();
  expect(c!.loads, r.id).toBe(0);
  if (r.id.includes('cache-hit-events')) {
    expect(c!.validations, r.id).toBe(0);
    expect(c!.hits, r.id).toBeGreaterThanOrEqual(r.ops as number);
  } else {
    expect(c!.hits, r.id).toBe(0);
    expect(c!.validations, r.id).toBeGreaterThan(0);
  }
}

interface Calibration {
  calls: number;
  topLevelPerCall: Record<string, number> | null;
  note?: string;
  nestedCommands: string[] | null;
  counted: string[];
  problem?: string;
}

/**
 * A server-cost result that measured what it says: every call seen by the
 * server, a positive usec figure that is the sum of the counted commands per
 * call, and a MONITOR calibration that found the calls and counts every
 * command the client sent (the bare scripts exactly as bench/baseline-stores.ts
 * writes them). Not how fast: only that the figure is made of the right parts.
 */
function expectServerCost(r: Result, calls: number): void {
  const [, n, subject] = /^(?:cluster:)?server-cost:(\d+)-fields:(.+)$/.exec(r.id)!;
  expect(r, r.id).toMatchObject({ kind: 'server-cost', script: subject, fields: Number(n), clientCalls: calls });
  expect(r.serverCalls as number, r.id).toBeGreaterThanOrEqual(calls);
  const usec = r.usecPerCall as number;
  expect(Number.isFinite(usec) && usec > 0 && usec < 100_000, `${r.id}: ${usec} usec/call`).toBe(true);
  const cal = r.calibration as Calibration;
  expect(cal.problem, r.id).toBeUndefined();
  expect(cal.counted, r.id).toEqual(expect.arrayContaining(SCRIPT_COMMANDS));
  expect(cal.topLevelPerCall, `${r.id}: MONITOR calibration missing: ${String(cal.note)}`).not.toBeNull();
  const topLevel = cal.topLevelPerCall!;
  expect(
    Object.values(topLevel).reduce((a, v) => a + v, 0),
    `${r.id}: commands per call`,
  ).toBeGreaterThanOrEqual(1);
  for (const name of Object.keys(topLevel)) expect(cal.counted, `${r.id} counts ${name}`).toContain(name);
  expect(cal.nestedCommands!.length, r.id).toBeGreaterThan(0);
  const commands = Object.entries(r.commands as Record<string, { calls: number; usec: number }>);
  expect(commands.length, r.id).toBeGreaterThan(0);
  for (const [name] of commands) expect(cal.counted, r.id).toContain(name);
  const usecSum = commands.reduce((a, [, c]) => a + c.usec, 0);
  expect(Math.abs(usecSum / calls - usec), `${r.id}: usecPerCall is the counted usec per call`).toBeLessThanOrEqual(
    0.0051,
  );
  if (subject === 'bare-cas') expect(cal.nestedCommands, r.id).toEqual(['hget', 'hset', 'pexpire']);
  if (subject === 'bare-get') expect(cal.nestedCommands, r.id).toEqual(['hgetall', 'pexpire']);
  if (subject!.startsWith('bare-'))
    for (const name of Object.keys(topLevel)) expect(SCRIPT_COMMANDS, r.id).toContain(name);
}

/** A ratio with a value that is its two sides divided, and a verdict that matches its target. */
function expectRatio(report: Report, id: string): void {
  const r = report.ratios.find((x) => x.id === id);
  expect(r, id).toBeDefined();
  const { value, numerator: num, denominator: den } = r!;
  expect(typeof value === 'number' && value > 0, `${id}: ${value} (${r!.note})`).toBe(true);
  expect(Math.abs(value! - num.value! / den.value!), id).toBeLessThanOrEqual(0.0051);
  const pick = (scenario: string) => {
    const res = report.results.find((x) => x.id === scenario)!;
    return (res.kind === 'server-cost' ? res.usecPerCall : res.opsPerSec) as number;
  };
  expect([num.value, den.value], id).toEqual([pick(num.scenario), pick(den.scenario)]);
  if (r!.target)
    expect(r!.meetsTarget, id).toBe(r!.target.op === '>=' ? value! >= r!.target.value : value! <= r!.target.value);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Issue #11's two tables: a row per script x payload (and get vs the bare get), a row per throughput ratio. */
function expectIssue11Tables(stdout: string, label = ''): void {
  expect(stdout).toContain('### Server-side cost per call vs the bare scripts');
  expect(stdout).toContain('### Throughput vs the bare scripts (one-field metadata, 64 in flight, one client)');
  for (const id of SERVER_USEC_RATIOS) {
    const [, n, script, bare] = /^server-usec:(\d+)-fields:(.+)\/(bare-\w+)$/.exec(id)!;
    const target =
      bare === 'bare-cas' && COST_TARGETS[script!] !== undefined
        ? `<= ${COST_TARGETS[script!]}x \\| +(yes|NO)`
        : '\\| +';
    const row = `^\\| ${escape(label + script!)} +\\| +${n} \\| +[\\d,]+ \\| +[\\d.]+ \\| ${bare} \\| +[\\d.]+ \\| +[\\d.]+x \\| +${target} *\\|$`;
    expect(stdout, id).toMatch(new RegExp(row, 'm'));
  }
  for (const id of BARE_THROUGHPUT_RATIOS) {
    const [, subject, bare, p] = /^throughput:(.+)@64\/(.+)@64:ap-(on|off)$/.exec(id)!;
    const row = `^\\| ${escape(label + subject!)} +\\| +${p} \\| +[\\d,]+ \\| ${bare} \\| +[\\d,]+ \\| +[\\d.]+x \\| >= 0\\.[89]x \\| +(yes|NO) \\|$`;
    expect(stdout, id).toMatch(new RegExp(row, 'm'));
  }
}

/** Whether something accepts TCP connections on `host:port` now. */
function listening(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host: host!, port: Number(port) });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** One progress line per scenario: [1/N] .. [N/N], each naming its scenario. */
function expectProgressLines(stdout: string, ids: string[]): void {
  const total = ids.length;
  const width = String(total).length;
  ids.forEach((id, i) => {
    expect(stdout).toContain(`[bench] [${String(i + 1).padStart(width)}/${total}] ${id}: `);
  });
}

describe('npm run bench -- --quick', () => {
  it('on Redis: measures every operation, baseline, contention loop, script and layout, and gives every ratio', async () => {
    const { stdout, report } = await quickRun([]);
    expect(stdout).toContain('[bench] Redis from REDIS_URL: ');
    expect(report).toMatchObject({ mode: 'quick', store: 'redis', cluster: null, problems: [], skipped: [] });
    expect(report.command).toBe(`npm run bench -- --quick --out-dir ${report.command.split('--out-dir ')[1]}`);
    expect(report.redis?.source).toBe('REDIS_URL');
    expect(report.redis?.version).toMatch(/^\d+\.\d+/);
    expect(report.machine).toMatchObject({ node: process.version });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.ioredis).toMatch(/^5\./);
    expect(report.machine.redis).toMatch(/^[56]\./);
    expect(report.machine.loadAverage1m).toEqual({ start: expect.any(Number), end: expect.any(Number) });

    const contention = CONTENTION;
    const expected = [
      ...loadIds(OPERATIONS, ['on', 'off']),
      ...loadIds(NODE_REDIS_OPERATIONS, ['on']),
      ...loadIds(BASELINES, ['on', 'off']),
      ...bareThroughputIds(),
      ...loadIds(CACHE, ['on', 'off']),
      ...contention,
      ...serverCostIds(),
      ...[1, 10, 100].map((n) => `memory:${n}-fields`),
    ];
    expect(report.results.map((r) => r.id)).toEqual(expected);
    expectProgressLines(stdout, expected);

    const byId = new Map(report.results.map((r) => [r.id, r]));
    for (const id of [
      ...loadIds([...OPERATIONS, ...BASELINES, ...CACHE], ['on', 'off']),
      ...loadIds(NODE_REDIS_OPERATIONS, ['on']),
      ...bareThroughputIds(),
    ]) {
      expectLoadFigures(byId.get(id)!);
      expect(byId.get(id)!.concurrency).toBe(Number(/:c(\d+):/.exec(id)![1]));
    }
    for (const id of loadIds(CACHE, ['on', 'off'])) expectCacheCounters(byId.get(id)!);
    for (const r of report.results) expect(r.topology, r.id).toBe('standalone');
    for (const id of contention) {
      const c = byId.get(id)!;
      expect(c).toMatchObject({ kind: 'contention', writers: 16 });
      for (const k of [
        'successesPerSec',
        'conflictsPerSuccess',
        'lostUpdates',
        'acknowledgedIncrements',
        'finalCounter',
      ]) {
        expect(typeof c[k], `${id}.${k}`).toBe('number');
      }
      // lostUpdates is counted exactly: acknowledged increments minus the final counter.
      expect(c.lostUpdates).toBe((c.acknowledgedIncrements as number) - (c.finalCounter as number));
      if (!id.includes(':naive:')) expect(c.lostUpdates, id).toBe(0);
    }
    for (const id of serverCostIds()) {
      expectServerCost(byId.get(id)!, QUICK_SERVER_COST_CALLS);
      expect(byId.get(id)!.sharedServer, id).toBe(true);
    }
    for (const n of [1, 10, 100]) {
      const bytes = byId.get(`memory:${n}-fields`)!.bytes as Record<string, number>;
      for (const k of ['sessionCasFresh', 'sessionCasRingFull', 'jsonString']) expect(bytes[k]).toBeGreaterThan(0);
    }

    expect(report.ratios.map((r) => r.id)).toEqual([...ratioIds(true), ...cacheRatios(['on', 'off'])]);
    for (const r of report.ratios) expect(typeof r.value, `${r.id}: ${r.note}`).toBe('number');
    for (const id of [...BARE_THROUGHPUT_RATIOS, ...SERVER_USEC_RATIOS, ...NODE_REDIS_RATIOS]) expectRatio(report, id);
    for (const id of TARGETED) {
      const r = report.ratios.find((x) => x.id === id)!;
      expect(r.target, id).toBeDefined();
      expect(typeof r.meetsTarget, id).toBe('boolean');
    }

    for (const heading of [
      '### Throughput and latency',
      '### Contention',
      '### Server-side cost',
      '### Memory per session',
      '### Ratios',
    ]) {
      expect(stdout).toContain(heading);
    }
    for (const id of [...ratioIds(true), ...cacheRatios(['on', 'off'])]) expect(stdout).toContain(`| ${id} `);
    expectIssue11Tables(stdout);
    expect(stdout).not.toContain('### Redis Cluster');
  }, 180_000);

  it('on the in-memory store: runs the same operations, cache hits and contention, skips Redis-only baselines with a note', async () => {
    const { stdout, report } = await quickRun(['--store', 'memory']);
    expect(stdout).toContain('in-memory store: no Redis needed');
    expect(report).toMatchObject({ mode: 'quick', store: 'memory', redis: null, problems: [] });
    const ops = loadIds(OPERATIONS, ['n/a']);
    const cache = loadIds(CACHE, ['n/a']);
    expect(report.results.map((r) => r.id)).toEqual([...ops, ...cache, 'contention:mutate:ap-n/a']);
    for (const id of [...ops, ...cache]) expectLoadFigures(report.results.find((r) => r.id === id)!);
    for (const id of cache) expectCacheCounters(report.results.find((r) => r.id === id)!);
    for (const r of report.results) expect(r.topology, r.id).toBe('in-memory');
    expect(report.results.at(-1)).toMatchObject({ kind: 'contention', lostUpdates: 0 });

    const skipped = report.skipped.map((s) => s.id);
    expect(skipped).toEqual(
      expect.arrayContaining([
        ...loadIds(BASELINES, ['on', 'off']),
        ...bareThroughputIds(),
        'contention:watch-multi-cas:ap-on',
        'contention:naive:ap-off',
        ...serverCostIds(),
        'memory:100-fields',
      ]),
    );
    for (const s of report.skipped) expect(s.reason.length).toBeGreaterThan(0);
    expect(stdout).toMatch(/Skipped \d+ scenarios on the memory store: /);
    expect(report.ratios.map((r) => r.id)).toEqual([...RATIOS, ...cacheRatios(['n/a'])]);
    for (const r of report.ratios.filter((x) => RATIOS.includes(x.id))) {
      expect(r.value).toBeNull();
      expect(r.note).toMatch(/ (skipped: .+|not run \(not on this store, or left out by --only\))$/);
    }
    for (const r of report.ratios.filter((x) => x.id.startsWith('cache:'))) expect(typeof r.value, r.id).toBe('number');
  }, 120_000);

  // `--quick --cluster` in full takes about 40 s on this 2-core machine when it is quiet, and more when it is
  // busy, so this run leaves out the operations section (about 30 s): every cluster-specific path (a store on a
  // Cluster client, statistics summed over the primaries, MEMORY USAGE on the key's node, WATCH connections to
  // the key's node, the change feed on a Cluster) is in the sections it keeps. The full command is
  // `npm run bench -- --quick --cluster`.
  it('with --cluster: runs each scenario on a 3-primary cluster it starts and kills, and compares it with the single node', async () => {
    const sections = ['baselines', 'bare-throughput', 'cache', 'contention', 'server-cost', 'memory'];
    const { stdout, report } = await quickRun(['--cluster', '--only', sections.join(',')], 170_000);
    expect(stdout).toMatch(
      /\[bench\] Redis Cluster started by the bench: 3 primaries, 0 replica\(s\) each, on 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ /,
    );
    expect(report).toMatchObject({ mode: 'quick', store: 'redis', problems: [], skipped: [] });
    expect(report.cluster).toMatchObject({ primaries: 3, replicasPerPrimary: 0, version: report.redis!.version });
    expect(report.cluster!.nodes).toHaveLength(3);

    const single = [
      ...loadIds(BASELINES, ['on', 'off']),
      ...bareThroughputIds(),
      ...loadIds(CACHE, ['on', 'off']),
      ...CONTENTION,
      ...serverCostIds(),
      ...[1, 10, 100].map((n) => `memory:${n}-fields`),
    ];
    const expected = single.flatMap((id) => [id, `cluster:${id}`]);
    expect(report.results.map((r) => r.id)).toEqual(expected);
    expectProgressLines(stdout, expected);
    for (const r of report.results) {
      expect(r.topology, r.id).toBe(r.id.startsWith('cluster:') ? 'cluster' : 'standalone');
      if (r.kind === 'load') {
        expectLoadFigures(r);
        if (r.section === 'cache') expectCacheCounters(r);
      }
      if (r.kind === 'contention' && !r.id.includes(':naive:')) expect(r.lostUpdates, r.id).toBe(0);
      if (r.kind === 'server-cost') {
        expectServerCost(r, QUICK_SERVER_COST_CALLS);
        expect(r.sharedServer, r.id).toBe(!r.id.startsWith('cluster:'));
      }
      if (r.kind === 'memory') expect((r.bytes as Record<string, number>).sessionCasFresh, r.id).toBeGreaterThan(0);
    }

    // A scaling ratio per scenario, and every ratio whose two sides ran has a value.
    const scaling = report.ratios.filter((r) => r.id.startsWith('cluster-scaling:'));
    expect(scaling.map((r) => r.id)).toEqual(single.map((id) => `cluster-scaling:${id}`));
    for (const r of scaling) {
      expect(r.numerator.scenario).toBe(`cluster:${r.denominator.scenario}`);
      expect(stdout).toContain(`| ${r.denominator.scenario} `);
    }
    const ran = new Set(report.results.map((r) => r.id));
    for (const r of report.ratios.filter((x) => ran.has(x.numerator.scenario) && ran.has(x.denominator.scenario))) {
      expect(typeof r.value, r.id).toBe('number');
    }
    expect(report.ratios.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        'cluster:contention:mutate/watch-multi-cas:ap-on',
        ...[...BARE_THROUGHPUT_RATIOS, ...SERVER_USEC_RATIOS, ...cacheRatios(['on', 'off'])].map(
          (id) => `cluster:${id}`,
        ),
      ]),
    );
    for (const id of [...BARE_THROUGHPUT_RATIOS, ...SERVER_USEC_RATIOS]) expectRatio(report, `cluster:${id}`);
    expectIssue11Tables(stdout, 'cluster: ');
    expect(report.cluster!.throughputScaling).toEqual({ c1: expect.any(Number), c64: expect.any(Number) });

    expect(stdout).toContain('### Redis Cluster (3 primaries, 0 replica(s) each) vs the single node');
    expect(stdout).toMatch(
      /Throughput, cluster \/ single node \(geometric mean .+\): [\d.]+x at concurrency 1, [\d.]+x at concurrency 64\./,
    );
    expect(report.cluster!.limits.length).toBeGreaterThan(0);
    for (const limit of report.cluster!.limits) expect(stdout).toContain(`- ${limit}`);

    // Torn down: every node's port refuses connections (while the tests' Redis, the control, accepts them).
    expect(stdout).toContain('[bench] Redis Cluster stopped (3 redis-server processes killed)');
    expect(await listening(new URL(inject('redisUrl')).host)).toBe(true);
    for (const node of report.cluster!.nodes) expect(await listening(node), node).toBe(false);
  }, 180_000);
});
