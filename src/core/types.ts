/**
 * Public types of session-cas. Only types and interfaces live here; the two
 * stores implement {@link SessionStore} with identical semantics.
 * @module
 */

/** Session metadata: a flat map of string names to string values. */
export type Metadata = Record<string, string>;

/** A snapshot of one live session. */
export interface Session {
  /** The session id the caller chose. */
  readonly id: string;
  /**
   * Positive safe integer. Set by `create`, increased by every successful
   * `update`/`patch`, and strictly increasing over the id's whole history,
   * across terminate, expiry and re-create (no ABA).
   */
  readonly generation: number;
  /** The metadata at this generation (a frozen copy). */
  readonly metadata: Readonly<Metadata>;
  /**
   * The principal (user, account...) the session was created for, fixed for its whole life.
   * Absent when `create` named none.
   */
  readonly principal?: string;
  /** When the session was created, ms since the epoch: the Redis server's clock, or the memory store's `now()`. */
  readonly createdAt: number;
}

/** Options shared by both stores. */
export interface SessionStoreOptions {
  /** Sliding TTL of a live session in ms. Default 1_800_000 (30 min). */
  ttlMs?: number;
  /** Whether `get()` refreshes the TTL. Default true. `peek()`/`exists()` never do. */
  touchOnGet?: boolean;
  /** How long a terminated id stays terminated, in ms. Default: `ttlMs`. */
  tombstoneTtlMs?: number;
  /** Cap on the UTF-8 bytes of all metadata names + values. Default 1 MiB. */
  maxMetadataBytes?: number;
  /**
   * Cap on the live sessions of one principal (positive safe integer). Default: none.
   * What a `create` over the cap does is `onPrincipalLimit`.
   */
  maxSessionsPerPrincipal?: number;
  /**
   * With `maxSessionsPerPrincipal`: `'evict-oldest'` (default) terminates the principal's oldest live
   * sessions so that at most the cap remain; `'refuse'` answers `{ ok: false, reason: 'limit' }`.
   */
  onPrincipalLimit?: PrincipalLimitMode;
  /**
   * Absolute lifetime in ms (positive safe integer): no session lives past `createdAt + maxLifetimeMs`,
   * whatever touches, gets and writes do (TTLs are clamped to it, on Redis by the server's clock).
   * Default: none (only the sliding TTL).
   */
  maxLifetimeMs?: number;
}

/** See {@link SessionStoreOptions.onPrincipalLimit}. */
export type PrincipalLimitMode = 'evict-oldest' | 'refuse';

/** Per-call TTL override for writes. */
export interface TtlOption {
  /** TTL in ms for this write; default: the store's `ttlMs`. */
  ttlMs?: number;
}

/**
 * Wait for replicas after a write (Redis `WAIT replicas timeoutMs` on the
 * primary that applied it). Redis replicates asynchronously: a write
 * acknowledged by a primary that fails before replicating it is lost.
 */
export interface ReplicationWait {
  /** Replicas that must acknowledge (positive integer). */
  replicas: number;
  /** Longest wait in ms (positive integer); WAIT returns earlier once `replicas` acknowledged. */
  timeoutMs: number;
}

/**
 * Per-call durability of a write: `wait` overrides the Redis store's
 * `writeWait` (and, for terminate, `terminateWait`) for this call; `false`
 * turns waiting off. The memory store checks it and ignores it (it has no
 * replicas) and never reports `replication`.
 */
export interface WaitOption {
  wait?: ReplicationWait | false;
}

/** Options of `create` and `update`. */
export interface WriteOptions extends TtlOption, WaitOption {}

/** Options of `create`. */
export interface CreateOptions extends WriteOptions {
  /**
   * The principal the session belongs to for its whole life (same rules as ids: a non-empty,
   * well-formed string of at most 1024 UTF-16 code units). Lists and ends with `sessionsOf` and `terminateAll`.
   */
  principal?: string;
}

/**
 * Result of `create`. `replication` is set when the call waited for replicas (see {@link WaitOption}).
 * `limit`: the principal has `maxSessionsPerPrincipal` live sessions and `onPrincipalLimit` is `'refuse'`.
 */
export type CreateResult =
  | { ok: true; session: Session; replication?: ReplicationReport }
  | { ok: false; reason: 'exists' | 'terminated' | 'limit' };

/** Options of `terminateAll`. */
export interface TerminateAllOptions {
  /** Session ids to leave alone ("log out my other devices"). */
  except?: readonly string[];
}

/** Result of `terminateAll`: the ids it ended. */
export interface TerminateAllResult {
  readonly terminated: string[];
}

/**
 * Result of `update`, `patch` (and, with `attempts`, `mutate`). `replication`
 * is set when the call waited for replicas (see {@link WaitOption}).
 */
export type WriteResult =
  | { ok: true; session: Session; replication?: ReplicationReport }
  /** The generation did not match; `session` is the current record, so no extra read is needed. */
  | { ok: false; reason: 'conflict'; session: Session }
  | { ok: false; reason: 'not_found' | 'terminated' };

/** Result of `touch`: the current generation on success. */
export type TouchResult =
  | { ok: true; generation: number }
  | { ok: false; reason: 'not_found' | 'terminated' }
  | { ok: false; reason: 'conflict'; session: Session };

/** How many replicas acknowledged a write (Redis store with `writeWait`, `terminateWait` or a call's `wait`). */
export interface ReplicationReport {
  /** Replicas that acknowledged within the timeout. */
  readonly acknowledged: number;
  /** Replicas asked for. */
  readonly requested: number;
  /** `acknowledged >= requested`. When false the write is applied on the primary but a failover may lose it. */
  readonly durable: boolean;
  /**
   * Set when WAIT itself failed after the write applied (for example the ACL
   * user may not run WAIT, or the connection dropped): `acknowledged` is then
   * 0 and `durable` false, as nothing confirmed the replication.
   */
  readonly error?: Error;
}

/**
 * Result of `terminate`: on success, the last generation the session had, and
 * (Redis store with `terminateWait` only) how far the tombstone replicated.
 */
export type TerminateResult =
  | { ok: true; generation: number; replication?: ReplicationReport }
  | { ok: false; reason: 'not_found' | 'terminated' }
  | { ok: false; reason: 'conflict'; session: Session };

/** Result of `mutate`: a {@link WriteResult} plus how many CAS attempts it took. */
export type MutateResult = WriteResult & { attempts: number };

/** Changes applied by `patch`: entries to set and names to remove (disjoint). */
export interface PatchChanges {
  set?: Metadata;
  remove?: readonly string[];
}

/** Options of `patch`. */
export interface PatchOptions extends TtlOption, WaitOption {
  /** Apply only if the session is at this generation (else `conflict`). */
  expectedGeneration?: number;
}

/** Options of `touch`. */
export interface TouchOptions extends TtlOption {
  /** Touch only if the session is at this generation (else `conflict`). */
  expectedGeneration?: number;
}

/** Options of `terminate`. */
export interface TerminateOptions extends WaitOption {
  /** Terminate only if the session is at this generation (else `conflict`). */
  expectedGeneration?: number;
}

/** Options of `mutate`. */
export interface MutateOptions extends TtlOption, WaitOption {
  /** CAS attempts before giving up with the last `conflict`. Default 10. */
  maxAttempts?: number;
}

/**
 * The function `mutate` calls with the current session. Return the complete
 * new metadata, or `undefined` to change nothing (nothing is written).
 * It may be called several times (once per attempt): keep it free of side effects.
 */
export type MutateFn = (session: Session) => Metadata | undefined | Promise<Metadata | undefined>;

/**
 * A versioned session store. Expected outcomes (conflict, not found,
 * terminated, exists) are returned; faults and invalid arguments are thrown as
 * {@link SessionStoreError}s.
 */
export interface SessionStore {
  /**
   * Creates a session. The only operation that brings an id into existence.
   * @returns `{ ok: true, session }`, or `exists` (a live session has the id),
   * or `terminated` (the id's tombstone has not expired).
   * @throws InvalidArgumentError before any I/O for a bad id, metadata or TTL.
   * @throws RedisFaultError when Redis fails (see its `code` and `outcome`).
   */
  create(id: string, metadata?: Metadata, opts?: CreateOptions): Promise<CreateResult>;
  /**
   * Reads a live session; refreshes its TTL when `touchOnGet` (the default).
   * @returns the session, or `null` when absent, expired or terminated.
   */
  get(id: string): Promise<Session | null>;
  /** Reads a live session without refreshing its TTL. */
  peek(id: string): Promise<Session | null>;
  /** Whether a live session has this id. Never refreshes the TTL. */
  exists(id: string): Promise<boolean>;
  /**
   * Replaces all metadata if the session is live at `expectedGeneration`.
   * @returns the new session, or `conflict` with the current one, `not_found` or `terminated`.
   */
  update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult>;
  /**
   * Sets and removes entries of a live session (at `expectedGeneration` when given).
   * @throws InvalidArgumentError when the result would exceed `maxMetadataBytes` (nothing is written).
   */
  patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult>;
  /** Resets the TTL of a live session (at `expectedGeneration` when given). */
  touch(id: string, opts?: TouchOptions): Promise<TouchResult>;
  /**
   * Terminates a live session (at `expectedGeneration` when given). Afterwards
   * the id reads as absent and every write and `create` on it returns
   * `terminated` until `tombstoneTtlMs` passes.
   */
  terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult>;
  /**
   * Read, call `fn`, compare-and-set; on conflict call `fn` again with the
   * current session (jittered backoff) up to `maxAttempts` times.
   * Errors thrown by `fn` propagate unchanged.
   */
  mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult>;
  /**
   * The live sessions of `principal`, oldest `createdAt` first (ties by id). Never refreshes a TTL.
   * @throws InvalidArgumentError for a bad principal, before any I/O.
   */
  sessionsOf(principal: string): Promise<Session[]>;
  /**
   * Terminates every live session of `principal` but those in `opts.except`, each exactly as
   * `terminate` does (tombstone, one `terminated` event).
   * @returns the ids it ended.
   * @throws InvalidArgumentError for a bad principal or `except`, before any I/O.
   */
  terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult>;
}

/** Options of `generationOf`. */
export interface GenerationOptions {
  /**
   * Reset a live session's TTL to the store's `ttlMs`, as `get` does.
   * Default: the store's `touchOnGet`, so `generationOf` slides the TTL exactly when `get` would.
   */
  touch?: boolean;
}

/** Result of `generationOf`: the current generation, or why there is no live session. */
export type GenerationResult = { ok: true; generation: number } | { ok: false; reason: 'not_found' | 'terminated' };

/**
 * Optional capability of a store: read only a session's generation (one small
 * round trip, no metadata). Both built-in stores have it; {@link SessionCache}
 * uses it to validate hits and falls back to `get` on stores without it.
 */
export interface GenerationReader {
  /**
   * The generation of the live session `id`, refreshing its TTL when
   * `opts.touch` (default: the store's `touchOnGet`).
   * @returns `{ ok: true, generation }`, or `not_found` (absent or expired) or `terminated`.
   * @throws InvalidArgumentError for a bad id or options, before any I/O.
   * @throws RedisFaultError when Redis fails.
   */
  generationOf(id: string, opts?: GenerationOptions): Promise<GenerationResult>;
}

/** What a change event reports. `touch` and `get` never emit: they do not change the generation. */
export type ChangeKind = 'created' | 'updated' | 'terminated';

/**
 * One successful write. `generation` is the new generation (`created`,
 * `updated`: update and patch) or the last generation the session had
 * (`terminated`). Events can be lost, repeated or (across Redis failovers)
 * reordered: compare generations and ignore what is not newer than what you hold.
 */
export interface ChangeEvent {
  readonly kind: ChangeKind;
  readonly id: string;
  readonly generation: number;
  /** The session's principal, when it has one. */
  readonly principal?: string;
}

/**
 * State of a subscription's delivery. `subscribed`: events published from now
 * on are delivered (sent first, before `subscribe` resolves, and again after
 * every resubscription). `interrupted`: a subscription was lost (a connection
 * closed or went silent, or on a Cluster a slot's subscription); events
 * published until the next `subscribed`, and possibly shortly before, are lost
 * for good: re-check what you hold.
 */
export type FeedStatus = 'subscribed' | 'interrupted';

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Called on every delivery state change; see {@link FeedStatus}. */
  onStatus?: (status: FeedStatus) => void;
  /**
   * Aborts a subscription that is still waiting for Redis (the returned
   * promise rejects with the signal's reason, and nothing is left subscribed).
   * No effect once it has resolved: unsubscribe then.
   */
  signal?: AbortSignal;
}

/** A live subscription to a store's change events. */
export interface Subscription {
  /** Stops delivery to this listener. Idempotent. The last one closes the store's subscriber connection. */
  unsubscribe(): Promise<void>;
}

/**
 * Optional capability of a store: a feed of change events, one per successful
 * write (see each store for its delivery guarantee).
 */
export interface ChangeFeed {
  /**
   * Calls `listener` with every change event from now on.
   * @returns once the subscription is active: events of writes that complete after it resolves are delivered
   * (unless the feed reports `interrupted`).
   * @throws InvalidArgumentError when the store has no feed configured or the listener is not a function.
   */
  subscribe(listener: (event: ChangeEvent) => void, opts?: SubscribeOptions): Promise<Subscription>;
}
