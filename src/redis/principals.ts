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
import type { PrincipalLimitMode } from '../core/types.js';
import type { CreateResult, Session, TerminateOptions, TerminateResult } from '../core/types.js';
import { Code, type Reply, identityFromFields } from './decode.js';
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
  /** The score as Redis wrote it (compared by principalDrop): negative while the create is pending. */
  readonly score: string;
  /** The entry's place in the principal's order of creates: the score's absolute value (µs). */
  readonly order: number;
}

interface Listing {
  /** Server time of the index's node when it was read, µs. */
  readonly now: number;
  /** In the order of creates. */
  readonly entries: readonly Entry[];
}

/** A read of a principal's sessions, each entry sorted into one of three. */
interface Members {
  /** Live sessions of the principal, in the order of creates. */
  readonly live: ReadonlyArray<{ readonly session: Session; readonly entry: Entry }>;
  /** Entries of creates in flight (pending, no live session yet, younger than the grace). */
  readonly pending: readonly Entry[];
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
  for (let i = 0; i < reply.fields.length; i += 2) {
    const score = reply.fields[i + 1]!;
    entries.push({ id: reply.fields[i]!, score, order: Math.abs(Number(score)) });
  }
  entries.sort((x, y) => x.order - y.order);
  return { now: reply.generation ?? 0, entries };
}

/** Reads every member (all at once: one round trip when pipelined) and sorts the entries out. */
async function members(b: PrincipalBackend, principal: string, listing: Listing): Promise<Members> {
  const loaded = await Promise.all(listing.entries.map((e) => b.load(e.id)));
  const live: Array<{ session: Session; entry: Entry }> = [];
  const pending: Entry[] = [];
  const stale: Entry[] = [];
  const oldBefore = listing.now - INDEX_TIMING.pendingGraceMs * 1000;
  loaded.forEach((s, i) => {
    const entry = listing.entries[i]!;
    if (typeof s !== 'string' && s.principal === principal) live.push({ session: s, entry });
    else if (entry.order < oldBefore) stale.push(entry);
    else if (Number(entry.score) < 0) pending.push(entry);
  });
  return { live, pending, stale };
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
 * A create with a principal. Uncapped: enter the id in the index, then create
 * the session. Capped: in refuse mode check first (over the cap nothing is
 * written), enter the id as pending, create the session, confirm the entry,
 * then look at the principal's sessions again, as they are after this
 * create, and evict the oldest (or take back the new one, when racing
 * creates got ahead of it). See docs/principals.md for why this order.
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
    if (before.live.filter((l) => l.session.id !== id).length + before.pending.length >= cap) {
      return { ok: false, reason: 'limit' };
    }
  }
  const started = performance.now();
  const ttl = indexTtl(b.principalOptions, ttlMs);
  const add = async (pending: boolean) => {
    const reply = await b.runIndex('create', 'principalAdd', principal, { id, ttlMs: ttl, pending });
    return String(reply.generation);
  };
  const score = await add(cap !== null);
  const created = await create();
  if (cap !== null) await b.runIndex('create', 'principalConfirm', principal, { id, score });
  // A create that failed leaves its entry: the id may be a live session of this principal, whose entry it is.
  if (!created.ok) return created;
  // A create this slow may have had its entry dropped as stale meanwhile: enter it again.
  if (performance.now() - started > INDEX_TIMING.pendingGraceMs / 2) await add(false);
  if (cap === null) return created;
  return enforceCap(b, id, principal, cap, mode, created);
}

/** The last step of a capped create: the principal's sessions as they are now, against the cap. */
async function enforceCap(
  b: PrincipalBackend,
  id: string,
  principal: string,
  cap: number,
  mode: PrincipalLimitMode,
  created: CreateResult & { ok: true },
): Promise<CreateResult> {
  const after = await members(b, principal, await list(b, principal));
  type Place = { id: string; terminable: boolean; order: number; live?: { session: Session; entry: Entry } };
  const places: Place[] = [
    ...after.live.map((l) => ({ id: l.session.id, terminable: l.session.id !== id, order: l.entry.order, live: l })),
    ...after.pending.map((e) => ({ id: e.id, terminable: false, order: e.order })),
  ];
  if (!places.some((p) => p.id === id)) places.push({ id, terminable: false, order: Infinity });
  places.sort((x, y) => x.order - y.order);
  // Refuse counts only those before the new session: the creates that got there first keep their places.
  const ahead = mode === 'refuse' ? places.slice(0, places.findIndex((p) => p.id === id) + 1) : places;
  const decision = limitDecision(ahead, id, cap, mode);
  const ended = await Promise.all(decision.evict.map((p) => terminateMember(b, principal, p.live!.session)));
  const dropped = decision.evict.filter((_, i) => ended[i]).map((p) => p.live!.entry);
  if (decision.refused) {
    const own = after.live.find((l) => l.session.id === id);
    const r = await b.terminate(id, { expectedGeneration: created.session.generation });
    if (r.ok && own) dropped.push(own.entry);
  }
  await drop(b, principal, [...after.stale, ...dropped]);
  return decision.refused ? { ok: false, reason: 'limit' } : created;
}

/** The arguments of create.lua that principals add. */
export interface CreatePrincipalArgs {
  readonly principal: string;
  readonly lifetimeMs: number | undefined;
}

/** What the {@link RedisPrincipalIndex} needs of its store. */
export interface PrincipalStore {
  readonly prefix: string;
  readonly principalOptions: PrincipalOptions;
  load(id: string): Promise<Session | 'not_found' | 'terminated'>;
  terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult>;
}

/** The store's function runner (its private `run`). */
export type RunFunction = <N extends ScriptName>(
  op: string,
  script: N,
  id: string,
  args: ArgsOf<N>,
  writes: boolean,
  key: string,
) => Promise<Reply>;

/** The store's side of principals: the index calls, bound to one store. */
export class RedisPrincipalIndex {
  private readonly backend: PrincipalBackend;
  constructor(
    private readonly store: PrincipalStore,
    private readonly run: RunFunction,
  ) {
    this.backend = {
      principalOptions: store.principalOptions,
      runIndex: (op, script, principal, args) =>
        run(op, script, principal, args, script !== 'principalList', this.key(principal)),
      load: (id) => store.load(id),
      terminate: (id, opts) => store.terminate(id, opts),
    };
  }

  /** The principal's index key (without the client's `keyPrefix`). */
  key(principal: string): string {
    return principalIndexKey(principal, this.store.prefix);
  }

  /** create.lua's arguments: `base` with the two this module decides, the principal ('' for none) and lifetime. */
  createArgs<T extends object>(base: T, principal: string | undefined): T & CreatePrincipalArgs {
    return { ...base, principal: principal ?? '', lifetimeMs: this.store.principalOptions.maxLifetimeMs ?? undefined };
  }

  create(id: string, principal: string, ttlMs: number, create: () => Promise<CreateResult>): Promise<CreateResult> {
    return createForPrincipal(this.backend, id, principal, ttlMs, create);
  }

  sessionsOf(principal: string): Promise<Session[]> {
    return sessionsOf(this.backend, principal);
  }

  terminateAll(principal: string, except: ReadonlySet<string>): Promise<{ terminated: string[] }> {
    return terminateAll(this.backend, principal, except);
  }

  /**
   * A member's TTL was just reset to `ttlMs` (the reply of get, touch,
   * generationOf, update or patch names its principal): keep the index alive
   * at least as long. Not needed with maxLifetimeMs (the index outlives every
   * member). Not awaited: a lost keep is covered by the margin (see keepTtl).
   */
  keep(reply: Reply, ttlMs: number): void {
    if (this.store.principalOptions.maxLifetimeMs !== null || reply.code !== Code.OK) return;
    const { principal } = identityFromFields(reply.fields);
    if (principal === undefined) return;
    this.run('keepIndex', 'principalKeep', principal, keepTtl(ttlMs), true, this.key(principal)).catch(() => undefined);
  }
}
