/**
 * Turns scenario results into ratios, Markdown tables and the JSON report.
 * @module
 */
import type { MachineInfo, Pipelining } from './env.js';
import type { Budgets, ContentionData, LoadData, MemoryData, ScenarioResult, ServerCostData, Skipped, StoreKind } from './harness.js';
import { round } from './load.js';
import { contentionId } from './scenarios/contention.js';
import { MEMORY_FIELD_COUNTS, memoryId } from './scenarios/memory.js';
import { loadId } from './scenarios/operations.js';
import { SERVER_COST_SCRIPTS, serverCostId } from './scenarios/server-cost.js';

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

export interface Report {
  readonly schema: 1;
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: Budgets['mode'];
  readonly store: StoreKind;
  readonly redis: { source: string; url: string; version: string; startedByBench: boolean } | null;
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

/** Every ratio the report gives; ids are stable (the JSON and the bench test use them). */
export function ratioSpecs(): RatioSpec[] {
  const specs: RatioSpec[] = [];
  for (const p of ['on', 'off'] as const satisfies readonly Pipelining[]) {
    specs.push(
      {
        id: `throughput:update@64/bare-lua-cas@64:ap-${p}`,
        description: `update at concurrency 64 vs the bare minimal Lua CAS (auto-pipelining ${p})`,
        num: loadId('update', 64, p), den: loadId('bare-lua-cas', 64, p), pick: throughput,
        target: { op: '>=', value: 0.9 },
      },
      {
        id: `throughput:update@64/watch-multi-cas@64:ap-${p}`,
        description: `update at concurrency 64 vs WATCH/MULTI CAS on 64 connections (auto-pipelining ${p})`,
        num: loadId('update', 64, p), den: loadId('watch-multi-cas', 64, p), pick: throughput,
        target: { op: '>=', value: 5 },
      },
      {
        id: `throughput:update@64/hset-pexpire@64:ap-${p}`,
        description: `update at concurrency 64 vs a blind HSET+PEXPIRE pipeline (auto-pipelining ${p})`,
        num: loadId('update', 64, p), den: loadId('hset-pexpire', 64, p), pick: throughput,
      },
      {
        id: `throughput:update@64/naive@64:ap-${p}`,
        description: `update at concurrency 64 vs the naive HGETALL-then-HSET store (auto-pipelining ${p})`,
        num: loadId('update', 64, p), den: loadId('naive', 64, p), pick: throughput,
      },
      {
        id: `contention:mutate/watch-multi-cas:ap-${p}`,
        description: `successful updates/s, 16 writers on one session: mutate vs the WATCH/MULTI loop (auto-pipelining ${p})`,
        num: contentionId('mutate', p), den: contentionId('watch-multi-cas', p), pick: successesPerSec,
        target: { op: '>=', value: 3 },
      },
    );
  }
  for (const script of SERVER_COST_SCRIPTS) {
    if (script === 'minimal-cas') continue;
    const targeted = script === 'update' || script === 'update+events';
    specs.push({
      id: `server-usec:${script}/minimal-cas`,
      description: `server usec per call: ${script} script vs the minimal CAS script`,
      num: serverCostId(script), den: serverCostId('minimal-cas'), pick: usecPerCall,
      ...(targeted ? { target: { op: '<=' as const, value: 2 } } : {}),
    });
  }
  for (const n of MEMORY_FIELD_COUNTS) {
    specs.push(
      {
        id: `memory:${n}-fields:session-cas/json`,
        description: `bytes per session with ${n} metadata entries: session-cas (after create) vs one JSON string`,
        num: memoryId(n), den: memoryId(n),
        pick: (r) => (r as MemoryData).bytes.sessionCasFresh, pickDen: (r) => (r as MemoryData).bytes.jsonString,
      },
      {
        id: `memory:${n}-fields:session-cas-ring-full/json`,
        description: `bytes per session with ${n} metadata entries: session-cas (op-id ring full) vs one JSON string`,
        num: memoryId(n), den: memoryId(n),
        pick: (r) => (r as MemoryData).bytes.sessionCasRingFull, pickDen: (r) => (r as MemoryData).bytes.jsonString,
      },
    );
  }
  return specs;
}

export function computeRatios(results: readonly ScenarioResult[], skipped: readonly Skipped[]): Ratio[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const skipReason = new Map(skipped.map((s) => [s.id, s.reason]));
  return ratioSpecs().map((spec) => {
    const n = byId.get(spec.num);
    const d = byId.get(spec.den);
    const nv = n ? spec.pick(n) : null;
    const dv = d ? (spec.pickDen ?? spec.pick)(d) : null;
    const value = nv !== null && dv !== null && dv > 0 ? round(nv / dv, 2) : null;
    const missing = [spec.num, spec.den].find((id) => !byId.has(id));
    const note = missing === undefined
      ? (value === null ? 'denominator is zero' : undefined)
      : skipReason.has(missing) ? `${missing} skipped: ${skipReason.get(missing)}` : `${missing} not run on this store`;
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
    if (r.kind === 'contention' && r.subject !== 'naive' && r.lostUpdates !== 0) {
      problems.push(`${r.id}: ${r.lostUpdates} lost updates under compare-and-set`);
    }
    if (r.kind === 'server-cost' && r.serverCalls < r.clientCalls) {
      problems.push(`${r.id}: the server counted ${r.serverCalls} script calls, the bench made ${r.clientCalls}`);
    }
  }
  return problems;
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.slice(1).map(line)].join('\n');
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The human-readable report: Markdown tables, ready to paste. */
export function renderTables(report: Report): string {
  const out: string[] = [];
  const loads = report.results.filter((r): r is LoadData & ScenarioResult => r.kind === 'load');
  out.push('### Throughput and latency (latency in microseconds, from an HDR histogram)\n');
  out.push(table(
    ['scenario', 'conc.', 'auto-pipelining', 'ops/s', 'p50', 'p99', 'p99.9', 'ops', 'errors'],
    loads.map((r) => [
      `${r.section === 'baselines' ? 'baseline: ' : ''}${r.subject}`, r.concurrency, r.pipelining, fmt(r.opsPerSec),
      r.latencyUs.p50, r.latencyUs.p99, r.latencyUs.p999, fmt(r.ops), r.errors,
    ]),
  ));
  const cont = report.results.filter((r): r is ContentionData & ScenarioResult => r.kind === 'contention');
  if (cont.length > 0) {
    out.push('\n### Contention: 16 writers incrementing one counter in one session\n');
    out.push(table(
      ['writer loop', 'auto-pipelining', 'successful updates/s', 'conflicts/success', 'gave up', 'lost updates'],
      cont.map((r) => [r.subject, r.pipelining, fmt(r.successesPerSec), r.conflictsPerSuccess, r.gaveUp,
        `${fmt(r.lostUpdates)} of ${fmt(r.acknowledgedIncrements)}`]),
    ));
  }
  const costs = report.results.filter((r): r is ServerCostData & ScenarioResult => r.kind === 'server-cost');
  if (costs.length > 0) {
    const base = costs.find((c) => c.script === 'minimal-cas')?.usecPerCall ?? 0;
    out.push('\n### Server-side cost per script call (INFO commandstats)\n');
    out.push(table(
      ['script', 'calls', 'usec/call', 'vs minimal CAS'],
      costs.map((r) => [r.script, fmt(r.serverCalls), r.usecPerCall, base > 0 ? `${round(r.usecPerCall / base, 2)}x` : '-']),
    ));
  }
  const mem = report.results.filter((r): r is MemoryData & ScenarioResult => r.kind === 'memory');
  if (mem.length > 0) {
    out.push('\n### Memory per session (MEMORY USAGE, bytes)\n');
    out.push(table(
      ['metadata entries', 'session-cas after create', 'session-cas, op-id ring full', 'one JSON string'],
      mem.map((r) => [r.fields, fmt(r.bytes.sessionCasFresh), fmt(r.bytes.sessionCasRingFull), fmt(r.bytes.jsonString)]),
    ));
  }
  out.push('\n### Ratios\n');
  out.push(table(
    ['ratio', 'measured', 'target', 'meets'],
    report.ratios.map((r) => [
      r.id, r.value === null ? `- (${r.note ?? 'n/a'})` : `${r.value}x`,
      r.target ? `${r.target.op} ${r.target.value}x` : '',
      r.target ? (r.meetsTarget === null ? '-' : r.meetsTarget ? 'yes' : 'NO') : '',
    ]),
  ));
  if (report.skipped.length > 0) {
    const reasons = [...new Set(report.skipped.map((s) => s.reason))];
    out.push(`\nSkipped ${report.skipped.length} scenarios on the ${report.store} store: ${reasons.join('; ')}.`);
  }
  return out.join('\n');
}

/** Removes credentials from a Redis URL before it goes into a report. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
