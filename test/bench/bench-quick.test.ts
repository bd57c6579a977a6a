/**
 * `npm run bench -- --quick` end to end, so the harness cannot rot. Asserts
 * that the output is complete (every scenario, every ratio, the machine),
 * never how fast anything is.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runNpm } from './run-npm.js';

const OPERATIONS = ['create', 'get', 'peek', 'update', 'patch', 'touch', 'terminate', 'mutate'];
const BASELINES = ['bare-lua-cas', 'hset-pexpire', 'watch-multi-cas', 'naive'];
const SCRIPTS = ['create', 'get', 'peek', 'exists', 'update', 'update+events', 'patch', 'touch', 'terminate', 'minimal-cas'];
const CONCURRENCIES = [1, 64];

const loadIds = (subjects: string[], modes: string[]) =>
  subjects.flatMap((s) => CONCURRENCIES.flatMap((c) => modes.map((p) => `${s}:c${c}:ap-${p}`)));

/** The ratios the issue names, plus the informative ones, by id. */
const RATIOS = [
  ...['on', 'off'].flatMap((p) => [
    `throughput:update@64/bare-lua-cas@64:ap-${p}`,
    `throughput:update@64/watch-multi-cas@64:ap-${p}`,
    `throughput:update@64/hset-pexpire@64:ap-${p}`,
    `throughput:update@64/naive@64:ap-${p}`,
    `contention:mutate/watch-multi-cas:ap-${p}`,
  ]),
  ...SCRIPTS.filter((s) => s !== 'minimal-cas').map((s) => `server-usec:${s}/minimal-cas`),
  ...[1, 10, 100].flatMap((n) => [`memory:${n}-fields:session-cas/json`, `memory:${n}-fields:session-cas-ring-full/json`]),
];
const TARGETED = [
  'throughput:update@64/bare-lua-cas@64:ap-on', 'throughput:update@64/watch-multi-cas@64:ap-on',
  'contention:mutate/watch-multi-cas:ap-on', 'server-usec:update/minimal-cas', 'server-usec:update+events/minimal-cas',
];

interface Result { id: string; kind: string; [k: string]: unknown }
interface Report {
  command: string;
  mode: string;
  store: string;
  redis: { source: string; version: string } | null;
  machine: Record<string, unknown>;
  results: Result[];
  skipped: Array<{ id: string; reason: string }>;
  ratios: Array<{ id: string; value: number | null; target?: unknown; meetsTarget?: unknown; note?: string }>;
  problems: string[];
}

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function quickRun(extra: string[]): Promise<{ stdout: string; report: Report }> {
  const dir = mkdtempSync(join(tmpdir(), 'scas-bench-'));
  dirs.push(dir);
  const run = await runNpm('bench', ['--quick', ...extra, '--out-dir', dir], 150_000);
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
    expect(report).toMatchObject({ mode: 'quick', store: 'redis', problems: [], skipped: [] });
    expect(report.command).toBe(`npm run bench -- --quick --out-dir ${report.command.split('--out-dir ')[1]}`);
    expect(report.redis?.source).toBe('REDIS_URL');
    expect(report.redis?.version).toMatch(/^\d+\.\d+/);
    expect(report.machine).toMatchObject({ node: process.version });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.ioredis).toMatch(/^5\./);
    expect(report.machine.loadAverage1m).toEqual({ start: expect.any(Number), end: expect.any(Number) });

    const contention = ['mutate', 'watch-multi-cas', 'naive'].flatMap((s) => ['on', 'off'].map((p) => `contention:${s}:ap-${p}`));
    const expected = [
      ...loadIds(OPERATIONS, ['on', 'off']),
      ...loadIds(BASELINES, ['on', 'off']),
      ...contention,
      ...SCRIPTS.map((s) => `server-cost:${s}`),
      ...[1, 10, 100].map((n) => `memory:${n}-fields`),
    ];
    expect(report.results.map((r) => r.id)).toEqual(expected);
    expectProgressLines(stdout, expected);

    const byId = new Map(report.results.map((r) => [r.id, r]));
    for (const id of [...loadIds(OPERATIONS, ['on', 'off']), ...loadIds(BASELINES, ['on', 'off'])]) {
      expectLoadFigures(byId.get(id)!);
      expect(byId.get(id)!.concurrency).toBe(Number(/:c(\d+):/.exec(id)![1]));
    }
    for (const id of contention) {
      const c = byId.get(id)!;
      expect(c).toMatchObject({ kind: 'contention', writers: 16 });
      for (const k of ['successesPerSec', 'conflictsPerSuccess', 'lostUpdates', 'acknowledgedIncrements', 'finalCounter']) {
        expect(typeof c[k], `${id}.${k}`).toBe('number');
      }
      // lostUpdates is counted exactly: acknowledged increments minus the final counter.
      expect(c.lostUpdates).toBe((c.acknowledgedIncrements as number) - (c.finalCounter as number));
      if (!id.includes(':naive:')) expect(c.lostUpdates, id).toBe(0);
    }
    for (const s of SCRIPTS) {
      const c = byId.get(`server-cost:${s}`)!;
      expect(c.kind).toBe('server-cost');
      expect(c.serverCalls as number).toBeGreaterThanOrEqual(c.clientCalls as number);
      expect(typeof c.usecPerCall).toBe('number');
      expect(c.sharedServer).toBe(true);
    }
    for (const n of [1, 10, 100]) {
      const bytes = byId.get(`memory:${n}-fields`)!.bytes as Record<string, number>;
      for (const k of ['sessionCasFresh', 'sessionCasRingFull', 'jsonString']) expect(bytes[k]).toBeGreaterThan(0);
    }

    expect(report.ratios.map((r) => r.id)).toEqual(RATIOS);
    for (const r of report.ratios) expect(typeof r.value, `${r.id}: ${r.note}`).toBe('number');
    for (const id of TARGETED) {
      const r = report.ratios.find((x) => x.id === id)!;
      expect(r.target, id).toBeDefined();
      expect(typeof r.meetsTarget, id).toBe('boolean');
    }

    for (const heading of ['### Throughput and latency', '### Contention', '### Server-side cost', '### Memory per session', '### Ratios']) {
      expect(stdout).toContain(heading);
    }
    for (const id of RATIOS) expect(stdout).toContain(`| ${id} `);
  }, 180_000);

  it('on the in-memory store: runs the same operations and contention, skips Redis-only baselines with a note', async () => {
    const { stdout, report } = await quickRun(['--store', 'memory']);
    expect(stdout).toContain('in-memory store: no Redis needed');
    expect(report).toMatchObject({ mode: 'quick', store: 'memory', redis: null, problems: [] });
    const ops = loadIds(OPERATIONS, ['n/a']);
    expect(report.results.map((r) => r.id)).toEqual([...ops, 'contention:mutate:ap-n/a']);
    for (const id of ops) expectLoadFigures(report.results.find((r) => r.id === id)!);
    expect(report.results.at(-1)).toMatchObject({ kind: 'contention', lostUpdates: 0 });

    const skipped = report.skipped.map((s) => s.id);
    expect(skipped).toEqual(expect.arrayContaining([
      ...loadIds(BASELINES, ['on', 'off']), 'contention:watch-multi-cas:ap-on', 'contention:naive:ap-off',
      ...SCRIPTS.map((s) => `server-cost:${s}`), 'memory:100-fields',
    ]));
    for (const s of report.skipped) expect(s.reason.length).toBeGreaterThan(0);
    expect(stdout).toMatch(/Skipped \d+ scenarios on the memory store: /);
    expect(report.ratios.map((r) => r.id)).toEqual(RATIOS);
    for (const r of report.ratios) {
      expect(r.value).toBeNull();
      expect(r.note).toMatch(/ (skipped: .+|not run on this store)$/);
    }
  }, 120_000);
});
