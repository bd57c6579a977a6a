/**
 * Facts read off recorded replies, and the history-wide checks built on
 * them (used by the race properties and the stress runs alike).
 * @module
 */
import type { Metadata, Session } from '../../src/index.js';
import type { HistoryEntry } from './session-history.js';
import type { SessionOutput } from './model.js';

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The session in a reply (a read's session, a write's or a conflict's), if it carries one. */
export function sessionIn(out: SessionOutput): Session | undefined {
  if (!isObj(out)) return undefined;
  if (typeof out.generation === 'number' && isObj(out.metadata)) return out as unknown as Session;
  return isObj(out.session) ? (out.session as unknown as Session) : undefined;
}

/** Whether the entry has a reply to read (it did not throw). */
export function replied(e: HistoryEntry): boolean {
  return !e.unknown && !e.notApplied;
}

/** One line for a failure message. */
export function describeEntry(e: HistoryEntry): string {
  const { f, ...args } = e.op;
  const t = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(3));
  return (
    `${e.client} ${f}(${Object.keys(args).length ? JSON.stringify(args) : ''}) [${t(e.call)}..${t(e.ret)}] -> ` +
    `${e.unknown ? 'unknown outcome' : e.notApplied ? `failed, not applied (${e.error})` : JSON.stringify(e.output)}`
  );
}

/** The generation a reply reports, if any. */
export function generationOf(out: SessionOutput): number | undefined {
  const s = sessionIn(out);
  if (s) return s.generation;
  return isObj(out) && out.ok === true && typeof out.generation === 'number' ? out.generation : undefined;
}

/**
 * `generation-monotonic` on a history: when a returns before b is invoked
 * (same id), b never reports a lower generation, a create reports a higher
 * one, and one generation always comes with one metadata. Returns the first
 * breach, or undefined.
 */
export function generationBreach(entries: readonly HistoryEntry[]): string | undefined {
  const seen = entries
    .filter(replied)
    .map((e) => ({ e, gen: generationOf(e.output), meta: sessionIn(e.output)?.metadata }))
    .filter((o): o is { e: HistoryEntry; gen: number; meta: Readonly<Metadata> | undefined } => o.gen !== undefined);
  const metaAt = new Map<string, string>();
  for (const a of seen) {
    if (a.meta) {
      const m = JSON.stringify(Object.entries(a.meta).sort());
      const k = `${a.e.id}@${a.gen}`;
      const before = metaAt.get(k);
      if (before !== undefined && before !== m)
        return `id ${a.e.id}: generation ${a.gen} came with two metadata: ${before} and ${m}`;
      metaAt.set(k, m);
    }
    for (const b of seen) {
      if (b.e.id !== a.e.id || !(a.e.ret < b.e.call)) continue;
      if (b.gen < a.gen || (b.e.op.f === 'create' && b.gen === a.gen)) {
        return `id ${a.e.id}: ${describeEntry(b.e)} reports generation ${b.gen} after ${describeEntry(a.e)}`;
      }
    }
  }
  return undefined;
}

/** Whether the reply shows a live session (a read that found it, or a write that applied or saw it). */
export function seesLive(e: HistoryEntry): boolean {
  if (!replied(e)) return false;
  if (e.op.f === 'get' || e.op.f === 'peek') return e.output !== null;
  if (e.op.f === 'exists') return e.output === true;
  if (e.op.f === 'expire') return false;
  return isObj(e.output) && (e.output.ok === true || e.output.reason === 'conflict' || e.output.reason === 'exists');
}

/** Whether the reply shows the id without a live session. */
export function seesGone(e: HistoryEntry): boolean {
  if (!replied(e)) return false;
  if (e.op.f === 'get' || e.op.f === 'peek') return e.output === null;
  if (e.op.f === 'exists') return e.output === false;
  return isObj(e.output) && (e.output.reason === 'not_found' || e.output.reason === 'terminated');
}

/**
 * In a history whose creates all come first: once an op that saw the id gone (or a
 * successful terminate) has returned, no op invoked later sees it live.
 * Returns the first breach, or undefined.
 */
export function resurrectionBreach(entries: readonly HistoryEntry[]): string | undefined {
  for (const id of new Set(entries.map((e) => e.id))) {
    const mine = entries.filter((e) => e.id === id);
    const gone = mine.filter((e) => seesGone(e) || (e.op.f === 'terminate' && isObj(e.output) && e.output.ok === true));
    if (gone.length === 0) continue;
    const first = gone.reduce((a, b) => (b.ret < a.ret ? b : a));
    if (mine.some((e) => e.op.f === 'create' && e.ret >= first.call)) {
      throw new Error('resurrectionBreach: only for histories whose creates all come first');
    }
    const back = mine.find((e) => e.call > first.ret && seesLive(e));
    if (back) {
      return `id ${id}: resurrection: ${describeEntry(back)} after ${describeEntry(first)}`;
    }
  }
  return undefined;
}
