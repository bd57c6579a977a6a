/**
 * A small pure model of one session id, the oracle of every property test
 * and of the linearizability checker.
 *
 * The model is nondeterministic on purpose, in three places where the stores
 * legitimately differ or the observer cannot know:
 *
 * - Generations are compared by order, never by value. The memory store takes
 *   a create's generation from a store-wide high-water mark, Redis from its
 *   clock in microseconds, and Redis's writes take max(previous + 1, clock).
 *   So a create or write may return any generation above every generation the
 *   id ever had (`floor`); touch, terminate and an empty patch (which writes
 *   nothing) keep it.
 * - Expiry happens at an instant E known only to lie in [eLo, eHi]. A write
 *   that sets a TTL of `ttl` at an instant p in [a, u] (a: the earliest the op
 *   can be placed, u: when its reply arrived) makes E lie in
 *   [a + ttl - slack, u + ttl + granularity + slack]. Before each op the model
 *   branches: the record is still there (possible while a < eHi) or it expired
 *   first (possible once eLo <= u, and then the op sits at or after eLo).
 *   The memory store has an exact clock (granularity and slack 0, a = u), so
 *   exactly one branch survives; see `REDIS_TIMING` for Redis.
 * - An operation with an unknown outcome (a thrown fault) may have applied:
 *   the model applies it and accepts any reply. The checker also lets it
 *   never apply, by leaving it out.
 * @module
 */
import type { Metadata, Session } from '../../src/index.js';
import type { Model } from './linearizability.js';

/** One operation on one id, with every argument that decides its effect. */
export type SessionOp =
  | { readonly f: 'create'; readonly metadata: Metadata; readonly ttlMs: number }
  | { readonly f: 'get' }
  | { readonly f: 'peek' }
  | { readonly f: 'exists' }
  | { readonly f: 'update'; readonly expected: number; readonly metadata: Metadata; readonly ttlMs: number }
  | {
      readonly f: 'patch';
      readonly set: Metadata;
      readonly remove: readonly string[];
      readonly expected?: number;
      readonly ttlMs: number;
    }
  | { readonly f: 'touch'; readonly expected?: number; readonly ttlMs: number }
  | { readonly f: 'terminate'; readonly expected?: number }
  /** `mutate` with `fn = (s) => ({ ...s.metadata, ...set })`. */
  | { readonly f: 'mutate'; readonly set: Metadata; readonly ttlMs: number }
  /** The record's TTL runs out now (tests force it with PEXPIREAT in the past, or the memory clock). */
  | { readonly f: 'expire' };

/** What a store call returned: a result union, a session, null or a boolean. */
export type SessionOutput = unknown;

/** Marks an operation whose outcome is unknown (it threw a fault). */
export const UNKNOWN: unique symbol = Symbol('unknown outcome');
export type Unknown = typeof UNKNOWN;

/** The store options the model needs, and how precisely the store's expiry time is known. */
export interface ModelConfig {
  readonly ttlMs: number;
  readonly tombstoneTtlMs: number;
  readonly touchOnGet: boolean;
  /** Resolution of the store's expiry clock: 0 for the memory store, 1 (ms) for Redis. */
  readonly granularityMs: number;
  /** Allowed disagreement between the test's clock and the store's clock when they differ. */
  readonly slackMs: number;
}

/**
 * Redis keeps expiry times in whole milliseconds of its own clock: a PEXPIRE
 * of `ttl` at real instant p makes the key vanish at some E in
 * (p + ttl, p + ttl + 1]. The tests stamp operations with
 * `performance.now()` (a monotonic clock with sub-microsecond resolution),
 * Redis uses the wall clock: both tick at the same rate, so only the ms
 * rounding and Redis's per-command time snapshot (taken inside [call, ret])
 * separate them. 2 ms of slack covers that with room to spare.
 */
export const REDIS_TIMING = { granularityMs: 1, slackMs: 2 } as const;
export const EXACT_TIMING = { granularityMs: 0, slackMs: 0 } as const;

/** The model state of one id. */
export interface IdState {
  readonly kind: 'absent' | 'live' | 'tomb';
  /** Generation of the live record or tombstone; null: not observed yet (after a create of unknown outcome), above `floor`. */
  readonly gen: number | null;
  /** Every generation the id has had so far is at most this; a new create must exceed it. */
  readonly floor: number;
  readonly meta: Readonly<Metadata>;
  /** The record vanishes at an instant in [eLo, eHi] (Infinity: not before the end of the history). */
  readonly eLo: number;
  readonly eHi: number;
  /** Lower bound of the instant of the last operation placed (placements only move forward in time). */
  readonly at: number;
}

export const INITIAL: IdState = Object.freeze({
  kind: 'absent',
  gen: null,
  floor: 0,
  meta: Object.freeze({}),
  eLo: Infinity,
  eHi: Infinity,
  at: -Infinity,
});

export function metaKey(m: Readonly<Metadata>): string {
  return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Identity of a state without its clock bound `at`. */
export function effectKey(s: IdState): string {
  return `${s.kind}|${s.gen}|${s.floor}|${s.kind === 'live' ? metaKey(s.meta) : ''}|${s.eLo}|${s.eHi}`;
}

export function stateKey(s: IdState): string {
  return `${effectKey(s)}|${s.at}`;
}

/** Drops duplicate states. */
export function dedupe(states: IdState[]): IdState[] {
  const seen = new Map<string, IdState>();
  for (const s of states) seen.set(stateKey(s), s);
  return [...seen.values()];
}

/**
 * All states the id can be in after `op`, placed no earlier than `call` and
 * no later than `ret` (Infinity when the outcome is unknown), given that it
 * returned `out`. Empty: the reply is impossible here (not linearizable).
 */
export function step(
  cfg: ModelConfig,
  s0: IdState,
  op: SessionOp,
  out: SessionOutput | Unknown,
  call: number,
  ret: number,
): IdState[] {
  const a = Math.max(s0.at, call);
  if (a > ret) return [];
  const next: IdState[] = [];
  for (const s of expiryBranches(s0, a, ret)) {
    for (const s1 of resolveGeneration(s, op, out)) {
      const s2 = apply(cfg, s1, op, out, ret);
      if (s2) next.push(s2);
    }
  }
  return dedupe(next);
}

function absent(s: IdState, at: number): IdState {
  return { kind: 'absent', gen: null, floor: s.floor, meta: INITIAL.meta, eLo: Infinity, eHi: Infinity, at };
}

/** Still there (if it can outlive `a`) and/or expired first (if it can expire by `u`). */
function expiryBranches(s: IdState, a: number, u: number): IdState[] {
  if (s.kind === 'absent') return [{ ...s, at: a }];
  const out: IdState[] = [];
  if (a < s.eHi) out.push({ ...s, at: a });
  if (s.eLo <= u) out.push(absent(s, Math.max(a, s.eLo)));
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function asSession(v: unknown): Session | undefined {
  return isObject(v) && typeof v.generation === 'number' && isObject(v.metadata)
    ? (v as unknown as Session)
    : undefined;
}

/** The generation the id had just before `op`, if `out` reveals it. */
function revealedGeneration(op: SessionOp, out: SessionOutput): number | undefined {
  if (!isObject(out)) return undefined;
  if (op.f === 'get' || op.f === 'peek') return asSession(out)?.generation;
  if (out.reason === 'conflict') return asSession(out.session)?.generation;
  if (out.ok !== true) return undefined;
  // A successful update matched its expected generation; an empty patch
  // wrote nothing, so it shows the current one. A write's new generation says
  // nothing exact about the one before (only that it was lower).
  if (op.f === 'update') return op.expected;
  if (isEmptyPatch(op)) return asSession(out.session)?.generation;
  if ((op.f === 'touch' || op.f === 'terminate') && typeof out.generation === 'number') return out.generation;
  return undefined;
}

function expectedOf(op: SessionOp): number | undefined {
  return op.f === 'update' || op.f === 'patch' || op.f === 'touch' || op.f === 'terminate' ? op.expected : undefined;
}

/** Fixes an unobserved generation from the reply, or branches on an unknown CAS. */
function resolveGeneration(s: IdState, op: SessionOp, out: SessionOutput | Unknown): IdState[] {
  if (s.kind !== 'live' || s.gen !== null) return [s];
  if (out !== UNKNOWN) {
    const g = revealedGeneration(op, out);
    if (g === undefined) return [s];
    return g > s.floor ? [{ ...s, gen: g, floor: g }] : [];
  }
  const e = expectedOf(op);
  return e !== undefined && e > s.floor ? [s, { ...s, gen: e, floor: e }] : [s];
}

function metaEq(a: unknown, b: Readonly<Metadata>): boolean {
  return isObject(a) && metaKey(a as Metadata) === metaKey(b);
}

function sessionIs(v: unknown, s: IdState): boolean {
  const got = asSession(v);
  return got !== undefined && s.gen !== null && got.generation === s.gen && metaEq(got.metadata, s.meta);
}

/** The state with a TTL of `ttl` set by an op placed in [s.at, u]. */
function withTtl(cfg: ModelConfig, s: IdState, ttl: number, u: number): IdState {
  return { ...s, eLo: s.at + ttl - cfg.slackMs, eHi: u + ttl + cfg.granularityMs + cfg.slackMs };
}

/** A patch with nothing to set or remove: a read that returns the current session (no generation, TTL or event). */
function isEmptyPatch(op: SessionOp): boolean {
  return op.f === 'patch' && Object.keys(op.set).length === 0 && op.remove.length === 0;
}

function patched(meta: Readonly<Metadata>, set: Metadata, remove: readonly string[]): Metadata {
  const m = new Map(Object.entries(meta));
  for (const k of remove) m.delete(k);
  for (const [k, v] of Object.entries(set)) m.set(k, v);
  return Object.fromEntries(m);
}

/** `s` if `out` is unknown or passes `ok`, else null. */
function expectOut(s: IdState, out: SessionOutput | Unknown, ok: (out: SessionOutput) => boolean): IdState | null {
  return out === UNKNOWN || ok(out) ? s : null;
}

/** Whether `out` is `{ ok: false, reason }` (extra fields such as mutate's `attempts` allowed). */
function failedWith(reason: string): (out: SessionOutput) => boolean {
  return (out) => isObject(out) && out.ok === false && out.reason === reason;
}

function conflict(s: IdState, out: SessionOutput | Unknown): IdState | null {
  if (out === UNKNOWN) return s;
  return isObject(out) && out.ok === false && out.reason === 'conflict' && sessionIs(out.session, s) ? s : null;
}

/**
 * A successful write: metadata `meta`, TTL `ttl`, and a generation strictly
 * above every generation the id had (any such value: Redis takes
 * max(previous + 1, server time in microseconds)). Of unknown outcome, the new
 * generation is unobserved: null, above the old one.
 */
function written(
  cfg: ModelConfig,
  s: IdState,
  meta: Metadata,
  ttl: number,
  out: SessionOutput | Unknown,
  u: number,
): IdState | null {
  const floor = Math.max(s.floor, s.gen ?? 0);
  let gen: number | null = null;
  if (out !== UNKNOWN) {
    const got = isObject(out) && out.ok === true ? asSession(out.session) : undefined;
    if (!got || !(got.generation > floor) || !metaEq(got.metadata, meta)) return null;
    gen = got.generation;
  }
  return withTtl(cfg, { ...s, gen, floor: gen ?? floor, meta }, ttl, u);
}

/** The failure reason of a write on an id with no live record. */
function missingReason(s: IdState): 'not_found' | 'terminated' | undefined {
  if (s.kind === 'absent') return 'not_found';
  if (s.kind === 'tomb') return 'terminated';
  return undefined;
}

function apply(cfg: ModelConfig, s: IdState, op: SessionOp, out: SessionOutput | Unknown, u: number): IdState | null {
  const known = out !== UNKNOWN;
  switch (op.f) {
    case 'expire':
      return absent(s, s.at);
    case 'create': {
      if (s.kind === 'live') return expectOut(s, out, failedWith('exists'));
      if (s.kind === 'tomb') return expectOut(s, out, failedWith('terminated'));
      let gen: number | null = null;
      if (known) {
        const got = isObject(out) && out.ok === true ? asSession(out.session) : undefined;
        if (!got || !(got.generation > s.floor) || !metaEq(got.metadata, op.metadata)) return null;
        gen = got.generation;
      }
      return withTtl(cfg, { ...s, kind: 'live', gen, floor: gen ?? s.floor, meta: op.metadata }, op.ttlMs, u);
    }
    case 'get':
    case 'peek': {
      if (s.kind !== 'live') return expectOut(s, out, (o) => o === null);
      if (known && !sessionIs(out, s)) return null;
      return op.f === 'get' && cfg.touchOnGet ? withTtl(cfg, s, cfg.ttlMs, u) : s;
    }
    case 'exists':
      return expectOut(s, out, (o) => o === (s.kind === 'live'));
    case 'update':
    case 'patch':
    case 'touch':
    case 'terminate':
    case 'mutate': {
      const missing = missingReason(s);
      if (missing) return expectOut(s, out, failedWith(missing));
      const expected = expectedOf(op);
      if (expected !== undefined && s.gen !== expected) return conflict(s, out);
      return applyLive(cfg, s, op, out, u);
    }
  }
}

/** A write on a live record whose generation matched (or was not asked for). */
function applyLive(
  cfg: ModelConfig,
  s: IdState,
  op: SessionOp,
  out: SessionOutput | Unknown,
  u: number,
): IdState | null {
  const known = out !== UNKNOWN;
  switch (op.f) {
    case 'update':
      return written(cfg, s, op.metadata, op.ttlMs, out, u);
    case 'patch':
      if (isEmptyPatch(op)) return known && !(isObject(out) && out.ok === true && sessionIs(out.session, s)) ? null : s;
      return written(cfg, s, patched(s.meta, op.set, op.remove), op.ttlMs, out, u);
    case 'mutate':
      // After maxAttempts conflicts, mutate reports the last conflict: the record it saw then.
      if (known && isObject(out) && out.reason === 'conflict') return conflict(s, out);
      return written(cfg, s, { ...s.meta, ...op.set }, op.ttlMs, out, u);
    case 'touch':
      if (known && !(isObject(out) && out.ok === true && out.generation === s.gen)) return null;
      return withTtl(cfg, s, op.ttlMs, u);
    case 'terminate':
      if (known && !(isObject(out) && out.ok === true && out.generation === s.gen)) return null;
      return withTtl(cfg, { ...s, kind: 'tomb', meta: INITIAL.meta }, cfg.tombstoneTtlMs, u);
    default:
      return null;
  }
}

/** The generation of the id's live record if every state agrees on it. */
export function knownGeneration(states: readonly IdState[]): number | undefined {
  const gens = new Set(states.map((s) => (s.kind === 'live' ? s.gen : null)));
  if (gens.size !== 1) return undefined;
  const [g] = gens;
  return g ?? undefined;
}

/** A short description of an op, for failure messages and history files. */
export function describeOp(op: SessionOp): string {
  const { f, ...args } = op;
  return `${f}(${Object.keys(args).length ? JSON.stringify(args) : ''})`;
}

/** The model in the shape the linearizability checker takes. */
export function sessionModel(cfg: ModelConfig): Model<IdState, SessionOp, SessionOutput, Unknown> {
  return {
    init: INITIAL,
    step: (s, op, out, call, ret) => step(cfg, s, op, out, call, ret),
    key: stateKey,
    unchanged: (before, after) => effectKey(before) === effectKey(after),
    unknown: UNKNOWN,
  };
}
