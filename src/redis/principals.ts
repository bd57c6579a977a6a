/**
 * Sessions of a principal on Redis. Each principal has an index, a sorted set
 * of its session ids (scored by the time of the create's first step, on the
 * index's node), in a slot of its own: on a Cluster the index and each
 * session hash apart, so nothing here is one cross-slot script. Every step is
 * one function call on one key, in an order chosen so that a crash between
 * two steps leaves only index entries without a live session, which the next
 * read drops. The reasoning is in docs/principals.md.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { type PrincipalOptions, bySessionAge, limitDecision } from '../core/principals.js';
import type { CreateResult, Session, TerminateOptions, TerminateResult } from '../core/types.js';
import type { Reply } from './decode.js';
import { encodeId } from './keys.js';
import type { ArgsOf } from './scripts.js';
import type { ScriptName } from './generated/lua.js';

/**
 * The Redis key of a principal's index: `<prefix>{p:<encoded principal>}:i`.
 * Injective (encodeId is), and never a session key (those end in `}:s`).
 */
export function principalIndexKey(principal: string, prefix: string): string {
  return `${prefix}{p:${encodeId(principal)}}:i`;
}

/**
 * Timing of the index's lazy repair. `pendingGraceMs`: an index entry whose
 * session is not live is dropped only once it is this old (by the index's
 * clock, at the time it was read), because it may be a create between its
 * two steps; a create whose two steps take longer than half of it enters its
 * id again. `clockSkewMs`: with `maxLifetimeMs`, the index outlives every
 * member by the lifetime plus this, for the clocks of two nodes to differ.
 * @internal Tests shorten `pendingGraceMs`.
 */
export const INDEX_TIMING = { pendingGraceMs: 10_000, clockSkewMs: 60_000 };

/** Retries of one session's terminate when concurrent writes move its generation. */
const MAX_TERMINATE_ATTEMPTS = 16;

/** What the index logic needs of the store. */
export interface PrincipalBackend {
  readonly principalOptions: PrincipalOptions;
  /** Calls a function on the principal's index key. */
  runIndex<N extends ScriptName>(op: string, script: N, principal: string, args: ArgsOf<N>): Promise<Reply>;
  /** The live session or why there is none; never refreshes a TTL. */
  load(id: string): Promise<Session | 'not_found' | 'terminated'>;
  terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult>;
}

interface Entry {
  readonly id: string;
  /** The score as Redis wrote it (compared by principalDrop). */
  readonly score: string;
}

interface Listing {
  /** Server time of the index's node when it was read, µs. */
  readonly now: number;
  readonly entries: readonly Entry[];
}

/** A read of a principal's sessions: the live ones (index order) and the entries that are not. */
interface Members {
  readonly live: ReadonlyArray<{ readonly session: Session; readonly entry: Entry }>;
  /** Entries whose session is not a live session of the principal, and old enough to drop. */
  readonly stale: readonly Entry[];
}

/** TTL the index gets at a create: it must outlive the new session (see docs/principals.md). */
export function indexTtl(options: PrincipalOptions, ttlMs: number): number {
  const lifetime = options.maxLifetimeMs;
  return lifetime === null ? keepTtl(ttlMs).setMs : lifetime + INDEX_TIMING.clockSkewMs;
}

/**
 * After a member's TTL was reset to `ttlMs`: the index must have at least
 * twice that left, and gets three times when it has less. The margin of one
 * TTL covers one reset whose keep was lost (a crash between the two calls).
 */
export function keepTtl(ttlMs: number): { minMs: number; setMs: number } {
  return { minMs: 2 * ttlMs, setMs: 3 * ttlMs };
}

async function list(b: PrincipalBackend, principal: string): Promise<Listing> {
  const reply = await b.runIndex('sessionsOf', 'principalList', principal, undefined);
  const entries: Entry[] = [];
  for (let i = 0; i < reply.fields.length; i += 2) entries.push({ id: reply.fields[i]!, score: reply.fields[i + 1]! });
  return { now: reply.generation ?? 0, entries };
}

/** Reads every member (all at once: one round trip when pipelined) and sorts out the live ones. */
async function members(b: PrincipalBackend, principal: string, listing: Listing): Promise<Members> {
  const loaded = await Promise.all(listing.entries.map((e) => b.load(e.id)));
  const live: Array<{ session: Session; entry: Entry }> = [];
  const stale: Entry[] = [];
  const oldBefore = listing.now - INDEX_TIMING.pendingGraceMs * 1000;
  loaded.forEach((s, i) => {
    const entry = listing.entries[i]!;
    if (typeof s !== 'string' && s.principal === principal) live.push({ session: s, entry });
    else if (Number(entry.score) < oldBefore) stale.push(entry);
  });
  return { live, stale };
}

/** Second step of every read: drop entries that name no live session (errors are left to the next read). */
async function drop(b: PrincipalBackend, principal: string, entries: readonly Entry[]): Promise<void> {
  if (entries.length === 0) return;
  const flat: string[] = [];
  for (const e of entries) flat.push(e.id, e.score);
  await b.runIndex('sessionsOf', 'principalDrop', principal, { entries: flat }).catch(() => undefined);
}

/** The live sessions of `principal`, oldest createdAt first; drops stale entries. */
export async function sessionsOf(b: PrincipalBackend, principal: string): Promise<Session[]> {
  const m = await members(b, principal, await list(b, principal));
  await drop(b, principal, m.stale);
  return m.live.map((l) => l.session).sort(bySessionAge);
}

/**
 * Terminates one live session of `principal`, pinned by generation so that a
 * session another principal re-created under the same id is never hit; a
 * concurrent write only moves the generation, and the terminate follows it.
 * @returns whether this call terminated it.
 */
async function terminateMember(b: PrincipalBackend, principal: string, session: Session): Promise<boolean> {
  let generation = session.generation;
  for (let attempt = 0; attempt < MAX_TERMINATE_ATTEMPTS; attempt++) {
    const r = await b.terminate(session.id, { expectedGeneration: generation });
    if (r.ok) return true;
    if (r.reason !== 'conflict' || r.session.principal !== principal) return false;
    generation = r.session.generation;
  }
  return false;
}

/** `terminateAll`: ends every live member but `except`, then drops their entries and stale ones. */
export async function terminateAll(
  b: PrincipalBackend,
  principal: string,
  except: ReadonlySet<string>,
): Promise<{ terminated: string[] }> {
  const m = await members(b, principal, await list(b, principal));
  const targets = m.live.filter((l) => !except.has(l.session.id));
  const done = await Promise.all(targets.map((l) => terminateMember(b, principal, l.session)));
  const ended = targets.filter((_, i) => done[i]);
  await drop(b, principal, [...m.stale, ...ended.map((l) => l.entry)]);
  return {
    terminated: ended
      .map((l) => l.session)
      .sort(bySessionAge)
      .map((s) => s.id),
  };
}

/**
 * A create with a principal: (refuse mode: a check first, so that over the
 * cap nothing is written), enter the id in the index, create the session,
 * then with a cap look at the principal's live sessions again and evict (or
 * take back the new one, when racing creates got ahead of it).
 */
export async function createForPrincipal(
  b: PrincipalBackend,
  id: string,
  principal: string,
  ttlMs: number,
  create: () => Promise<CreateResult>,
): Promise<CreateResult> {
  const { maxSessionsPerPrincipal: cap, onPrincipalLimit: mode } = b.principalOptions;
  if (cap !== null && mode === 'refuse') {
    const before = await members(b, principal, await list(b, principal));
    if (before.live.filter((l) => l.session.id !== id).length >= cap) return { ok: false, reason: 'limit' };
  }
  const started = performance.now();
  const add = () => b.runIndex('create', 'principalAdd', principal, { id, ttlMs: indexTtl(b.principalOptions, ttlMs) });
  await add();
  const created = await create();
  // A create that failed leaves its entry: the id may be a live session of this principal, whose entry it is.
  if (!created.ok) return created;
  // A create this slow may have had its entry dropped as stale meanwhile: enter it again.
  if (performance.now() - started > INDEX_TIMING.pendingGraceMs / 2) await add();
  if (cap === null) return created;
  const after = await members(b, principal, await list(b, principal));
  const ordered = after.live.map((l) => ({ id: l.session.id, terminable: l.session.id !== id, l }));
  if (!ordered.some((o) => o.id === id)) ordered.push({ id, terminable: false, l: undefined! });
  const decision = limitDecision(ordered, id, cap, mode);
  const ended = await Promise.all(decision.evict.map((o) => terminateMember(b, principal, o.l.session)));
  const dropped = decision.evict.filter((_, i) => ended[i]).map((o) => o.l.entry);
  if (decision.refused) {
    const own = after.live.find((l) => l.session.id === id);
    const r = await b.terminate(id, { expectedGeneration: created.session.generation });
    if (r.ok && own) dropped.push(own.entry);
  }
  await drop(b, principal, [...after.stale, ...dropped]);
  return decision.refused ? { ok: false, reason: 'limit' } : created;
}
