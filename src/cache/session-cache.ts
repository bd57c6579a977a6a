/**
 * SessionCache: a bounded, node-local LRU of sessions in front of any
 * {@link SessionStore}, kept honest by generations.
 *
 * How an entry stays correct:
 * - Every entry holds a session snapshot and its generation. A newer
 *   generation seen anywhere (a validation, an event, a write result) makes
 *   the entry stale; equal generations mean equal metadata, so nothing is ever
 *   compared field by field and node-specific writes cannot cause storms.
 * - `'always'`: each hit asks the store for the generation only
 *   (`generationOf`, one small round trip that also slides the TTL as `get`
 *   would) and reloads only when it changed.
 * - `'events'`: hits are served from memory while the entry was validated less
 *   than `maxStaleMs` ago and the change feed is up; events evict changed
 *   entries; a feed interruption makes every entry re-validate.
 * - Concurrent gets of one id share one store call (singleflight), but a get
 *   never joins a call that was sent before it started: it waits for the next
 *   one. So in `'always'` mode no get returns a session older than one
 *   acknowledged before the get began.
 * - Results are installed only if not older than what the cache holds or has
 *   learnt meanwhile (from events and its own writes): a late load never
 *   overwrites a newer entry and never resurrects a terminated one.
 * @module
 */
import { InvalidArgumentError, SessionStoreError, isInvalidArgument } from '../core/errors.js';
import type {
  ChangeEvent,
  ChangeFeed,
  ChangeKind,
  CreateOptions,
  CreateResult,
  FeedStatus,
  GenerationReader,
  Metadata,
  MutateFn,
  MutateOptions,
  MutateResult,
  PatchChanges,
  PatchOptions,
  Session,
  SessionStore,
  Subscription,
  TerminateAllOptions,
  TerminateAllResult,
  TerminateOptions,
  TerminateResult,
  TouchOptions,
  TouchResult,
  WriteOptions,
  WriteResult,
} from '../core/types.js';
import { checkGeneration, checkId, checkOptions, checkPositiveInt } from '../core/validate.js';

/**
 * Why an entry left the cache.
 * - `capacity`: least recently used, pushed out by `maxEntries`.
 * - `stale`: the store has a newer generation (another writer, or a conflict
 *   returned to a write through this cache).
 * - `terminated`: the session was terminated (here or on another node).
 * - `expired`: the store no longer has the session (TTL expiry; also any
 *   vanished session on a store without `generationOf`).
 * - `cleared`: the application removed it: `invalidate`, `clear` or `close`.
 */
export type EvictionReason = 'capacity' | 'stale' | 'terminated' | 'expired' | 'cleared';

/** How hits are checked against the store; see {@link SessionCacheOptions.validate}. */
export type ValidationMode = 'always' | 'events';

/** Options of {@link SessionCache}. */
export interface SessionCacheOptions {
  /** Most sessions held; the least recently used goes first. Default 10_000. */
  maxEntries?: number;
  /**
   * `'always'` (default): every hit costs one small round trip that returns
   * only the generation; a hit never returns a session older than one
   * acknowledged before the get began.
   * `'events'`: hits cost nothing while the entry is younger than
   * `maxStaleMs` and the store's change feed is up; a change made on another
   * node is seen as soon as its event arrives, and within `maxStaleMs` of the
   * last validation if the event is lost. Needs a store with `subscribe`
   * (a `RedisSessionStore` with `eventsChannel`, or a `MemorySessionStore`).
   */
  validate?: ValidationMode;
  /**
   * `'events'` mode: longest time a hit is served without asking the store.
   * It bounds staleness when an event is lost, and is also how often a
   * session in use here gets its TTL slid (validations touch like `get`), so
   * keep it well below the store's `ttlMs`. Default 5_000; 0 validates every
   * hit (events then only evict early).
   */
  maxStaleMs?: number;
  /**
   * When a validation fails (Redis down, timeout), serve the cached copy if it
   * was last validated at most this many ms ago, instead of throwing. The
   * trade-off: for that long, a session terminated or changed on another node
   * during the outage can still be served here. Default 0: the error reaches
   * the caller. Misses always throw (there is nothing to serve).
   */
  staleIfErrorMs?: number;
  /**
   * Called exactly once per entry that leaves the cache, synchronously, with
   * the last session it held; close per-session resources here. A rejected
   * promise or exception goes to `onError`. A write through this cache that
   * succeeds moves its entry to the new session in place (no call).
   */
  onEvict?: (session: Session, reason: EvictionReason) => void | Promise<void>;
  /**
   * Receives exceptions from `onEvict` and a failed change-feed subscription.
   * Default: `onEvict` errors are rethrown asynchronously (an uncaught
   * exception, like an unhandled 'error' event); feed errors reject `ready`.
   */
  onError?: (error: unknown) => void;
  /** Monotonic clock in ms, for tests. Default `performance.now`. */
  now?: () => number;
}

/** Counters since the cache was created. */
export interface SessionCacheStats {
  /** Gets answered from memory without any store call (`'events'` mode). */
  readonly hits: number;
  /** Generation checks sent to the store (`generationOf`, or `get` on stores without it). */
  readonly validations: number;
  /** Full reads sent to the store (`get`): misses and changed generations. */
  readonly loads: number;
  /** Gets answered with a cached copy after a failed validation (`staleIfErrorMs`). */
  readonly staleServed: number;
}

interface Entry {
  session: Session;
  /** Clock time when the newest validation of this session was sent. */
  validatedAt: number;
  /** Feed epoch of that validation; a feed status change makes older ones void. */
  epoch: number;
}

/** What the cache has learnt about an id while a call was in flight. */
interface Floor {
  /** Highest generation created or updated: older snapshots are stale. */
  updated: number;
  /** Highest generation terminated: snapshots at or below it are dead. */
  terminated: number;
}

interface Batch {
  readonly promise: Promise<Session | null>;
  resolve(value: Session | null): void;
  reject(error: unknown): void;
  readonly floor: Floor;
  /** Set when something happened that the floor cannot express: never install this batch's result. */
  poisoned: boolean;
  issuedAt: number;
  epoch: number;
}

/** Per-id coordination, kept only while calls on the id are in flight. */
interface Slot {
  /** Gets waiting for a call not sent yet: later gets join it. */
  open: Batch | undefined;
  /** The call in flight: later gets never join it (it may predate them). */
  inflight: Batch | undefined;
  /** Writes through this cache in flight. */
  writes: number;
  /** What those writes can publish: an event that matches one may be this node's own. */
  readonly expects: Set<Expectation>;
  /** Every event that arrived during those writes, checked against their results when they finish. */
  deferred: Floor | undefined;
  /** The events among them that were another writer's (applied at once): checked against every result at once. */
  foreign: Floor | undefined;
  /** Events held back because one of those writes may have published them; the entry is not served meanwhile. */
  held: ChangeEvent[];
}

/**
 * The one event a write in flight may publish: its kind, and what is known of
 * its generation in advance. An update at `expectedGeneration` g publishes
 * `updated` with a generation above g (max(g + 1, server time in
 * microseconds)); a terminate at g publishes `terminated` g. Events that match
 * no expectation are other writers' and apply at once.
 */
interface Expectation {
  readonly kind: ChangeKind;
  /** `above`: the event's generation is greater than `generation`; `exactly`: equal to it. Undefined: any. */
  generation: number | undefined;
  readonly match: 'above' | 'exactly';
  /** mutate: only while its compare-and-set is in flight, not while `fn` runs. */
  active: boolean;
}

type GenerationRead =
  | { kind: 'generation'; generation: number }
  | { kind: 'missing'; reason: 'not_found' | 'terminated' }
  | { kind: 'session'; session: Session | null };

interface WriteContext {
  readonly issuedAt: number;
  readonly epoch: number;
  /** The entry's session when the write was sent. */
  readonly before: Session | undefined;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_STALE_MS = 5_000;

function newFloor(): Floor {
  return { updated: 0, terminated: 0 };
}

function raise(floor: Floor, event: ChangeEvent): void {
  if (event.kind === 'terminated') floor.terminated = Math.max(floor.terminated, event.generation);
  else floor.updated = Math.max(floor.updated, event.generation);
}

/** Why a snapshot at `generation` is outdated by `floor`, or null if it is not. */
function outdated(generation: number, floor: Floor): EvictionReason | null {
  if (generation <= floor.terminated) return 'terminated';
  if (generation < floor.updated) return 'stale';
  return null;
}

/** What a write publishes: `kind`, at a generation `match` the given one (any when it is not a number). */
function expecting(kind: ChangeKind, match: 'above' | 'exactly', generation: unknown): Expectation {
  return { kind, match, generation: typeof generation === 'number' ? generation : undefined, active: true };
}

/** Whether a write in flight on the event's id may have published it. */
function mayBeOwn(slot: Slot, event: ChangeEvent): boolean {
  for (const e of slot.expects) {
    if (!e.active || e.kind !== event.kind) continue;
    if (e.generation === undefined) return true;
    if (e.match === 'above' ? event.generation > e.generation : event.generation === e.generation) return true;
  }
  return false;
}

function newBatch(): Batch {
  let resolve!: (v: Session | null) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Session | null>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject, floor: newFloor(), poisoned: false, issuedAt: 0, epoch: 0 };
}

function checkCacheOptions(
  options: unknown,
): Required<Omit<SessionCacheOptions, 'onEvict' | 'onError'>> & Pick<SessionCacheOptions, 'onEvict' | 'onError'> {
  const o = checkOptions<SessionCacheOptions>(options, 'options');
  const validate = o.validate ?? 'always';
  if (validate !== 'always' && validate !== 'events') {
    throw new InvalidArgumentError('options.validate', `expected 'always' or 'events', got ${String(validate)}`);
  }
  for (const name of ['onEvict', 'onError', 'now'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function')
      throw new InvalidArgumentError(`options.${name}`, 'expected a function');
  }
  const staleIfErrorMs =
    o.staleIfErrorMs === undefined ? 0 : checkNonNegativeMs(o.staleIfErrorMs, 'options.staleIfErrorMs');
  return {
    maxEntries: o.maxEntries === undefined ? DEFAULT_MAX_ENTRIES : checkPositiveInt(o.maxEntries, 'options.maxEntries'),
    validate,
    maxStaleMs:
      o.maxStaleMs === undefined ? DEFAULT_MAX_STALE_MS : checkNonNegativeMs(o.maxStaleMs, 'options.maxStaleMs'),
    staleIfErrorMs,
    onEvict: o.onEvict,
    onError: o.onError,
    now: o.now ?? (() => performance.now()),
  };
}

function checkNonNegativeMs(n: unknown, argument: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(argument, `expected a non-negative safe integer of milliseconds, got ${String(n)}`);
  }
  return n;
}

function checkSession(session: unknown): Session {
  if (typeof session !== 'object' || session === null) throw new InvalidArgumentError('session', 'expected a Session');
  const s = session as Session;
  checkId(s.id, 'session.id');
  checkGeneration(s.generation, 'session.generation');
  if (typeof s.metadata !== 'object' || s.metadata === null)
    throw new InvalidArgumentError('session.metadata', 'expected an object');
  return s;
}

/**
 * A node-local cache of sessions over any {@link SessionStore}. It is itself a
 * `SessionStore`: reads go through the cache, writes go to the store and keep
 * the cache coherent with their results (a success caches the new session, a
 * conflict the current one; terminate, `not_found` and `terminated` drop it).
 *
 * @example
 * ```ts
 * const cache = new SessionCache(store, {
 *   maxEntries: 5_000,
 *   validate: 'events',
 *   maxStaleMs: 2_000,
 *   onEvict: (session, reason) => closeBackends(session.id, reason),
 * });
 * const session = await cache.get(id);
 * ```
 */
export class SessionCache implements SessionStore {
  /** The wrapped store. */
  readonly store: SessionStore;
  /** The validation mode in force. */
  readonly mode: ValidationMode;
  /**
   * Resolves when the cache is fully effective: at once in `'always'` mode; in
   * `'events'` mode when the change feed is subscribed (until then, and
   * whenever the feed is interrupted, every hit is validated). Rejects if the
   * subscription fails; the cache then keeps validating every hit.
   */
  readonly ready: Promise<void>;

  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly staleIfErrorMs: number;
  private readonly onEvict: SessionCacheOptions['onEvict'];
  private readonly onError: SessionCacheOptions['onError'];
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<string, Slot>();
  private readonly counters = { hits: 0, validations: 0, loads: 0, staleServed: 0 };
  /** Bumped on every feed status change: validations of an older epoch no longer count. */
  private epoch = 0;
  /** Slots with held events (so a hit looks at its slot only when there are any). */
  private heldSlots = 0;
  private feedUp = false;
  private subscription: Subscription | undefined;
  private readonly abortFeed = new AbortController();
  private closed = false;
  private closing: Promise<void> | undefined;

  /**
   * @throws InvalidArgumentError for bad options, a store that is not a
   * SessionStore, or `'events'` on a store without `subscribe` (or a Redis
   * store without `eventsChannel`).
   */
  constructor(store: SessionStore, options?: SessionCacheOptions) {
    if (
      typeof store !== 'object' ||
      store === null ||
      typeof store.get !== 'function' ||
      typeof store.update !== 'function'
    ) {
      throw new InvalidArgumentError('store', 'expected a SessionStore');
    }
    const o = checkCacheOptions(options);
    this.store = store;
    this.mode = o.validate;
    this.maxEntries = o.maxEntries;
    this.maxStaleMs = o.maxStaleMs;
    this.staleIfErrorMs = o.staleIfErrorMs;
    this.onEvict = o.onEvict;
    this.onError = o.onError;
    this.now = o.now;
    this.ready = this.mode === 'events' ? this.subscribe() : Promise.resolve();
  }

  private subscribe(): Promise<void> {
    const feed = this.store as Partial<ChangeFeed>;
    if (typeof feed.subscribe !== 'function') {
      throw new InvalidArgumentError('options.validate', "'events' needs a store with subscribe() (a change feed)");
    }
    const pending = feed.subscribe.call(this.store, (event) => this.onChange(event), {
      onStatus: (status) => this.onStatus(status),
      signal: this.abortFeed.signal,
    });
    const ready = pending.then((sub) => {
      this.subscription = sub;
      if (this.closed) return sub.unsubscribe();
      return undefined;
    });
    ready.catch((err: unknown) => {
      if (this.onError && !this.closed) this.report(err);
    });
    return ready;
  }

  /** Number of sessions held. */
  get size(): number {
    return this.entries.size;
  }

  /** Counters since creation (a copy). */
  stats(): SessionCacheStats {
    return { ...this.counters };
  }

  /** Whether `id` is held (no I/O, no validation, no LRU effect). */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  // ---------------------------------------------------------------- reads

  /**
   * The live session, from memory when the mode allows, else validated or
   * loaded through the store (one shared call per id at a time).
   * @returns the session, or null when absent, expired or terminated (nothing is cached for null).
   * @throws InvalidArgumentError for a bad id; SessionStoreError `CLOSED` after `close()`.
   * @throws the store's error when a load fails, or a validation fails and `staleIfErrorMs` does not cover the entry.
   */
  async get(id: string): Promise<Session | null> {
    checkId(id);
    this.assertOpen();
    const entry = this.entries.get(id);
    if (entry && this.isFresh(entry) && !this.isHeld(id)) {
      this.counters.hits++;
      this.bump(id, entry);
      return entry.session;
    }
    return this.join(id);
  }

  /** An event that may be another node's change is held for `id`: its entry must be checked before it is served. */
  private isHeld(id: string): boolean {
    return this.heldSlots > 0 && (this.slots.get(id)?.held.length ?? 0) > 0;
  }

  /** Passes through to the store (`peek` never slides the TTL, so it never counts as a hit). */
  async peek(id: string): Promise<Session | null> {
    this.assertOpen();
    return this.store.peek(id);
  }

  /** Passes through to the store. */
  async exists(id: string): Promise<boolean> {
    this.assertOpen();
    return this.store.exists(id);
  }

  private isFresh(entry: Entry): boolean {
    return (
      this.mode === 'events' &&
      this.feedUp &&
      entry.epoch === this.epoch &&
      this.now() - entry.validatedAt < this.maxStaleMs
    );
  }

  private slot(id: string): Slot {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = {
        open: undefined,
        inflight: undefined,
        writes: 0,
        expects: new Set(),
        deferred: undefined,
        foreign: undefined,
        held: [],
      };
      this.slots.set(id, slot);
    }
    return slot;
  }

  private releaseSlot(id: string, slot: Slot): void {
    if (!slot.open && !slot.inflight && slot.writes === 0 && this.slots.get(id) === slot) this.slots.delete(id);
  }

  /**
   * Joins the batch not yet sent for `id`, or opens one. It is sent on a
   * microtask (so gets started in the same tick share it), or when the call in
   * flight returns.
   */
  private join(id: string): Promise<Session | null> {
    const slot = this.slot(id);
    if (slot.open) return slot.open.promise;
    const batch = newBatch();
    slot.open = batch;
    if (!slot.inflight) queueMicrotask(() => this.send(id, slot, batch));
    return batch.promise;
  }

  private send(id: string, slot: Slot, batch: Batch): void {
    slot.open = undefined;
    slot.inflight = batch;
    batch.issuedAt = this.now();
    batch.epoch = this.epoch;
    this.resolveBatch(id, batch)
      .then(batch.resolve, batch.reject)
      .finally(() => {
        slot.inflight = undefined;
        if (slot.open) this.send(id, slot, slot.open);
        else this.releaseSlot(id, slot);
      });
  }

  private async resolveBatch(id: string, batch: Batch): Promise<Session | null> {
    const entry = this.entries.get(id);
    if (!entry) return this.install(id, await this.load(id), batch);
    if (this.isFresh(entry) && !this.isHeld(id)) {
      // 'events' mode: a validation that returned while this batch waited covers it.
      this.counters.hits++;
      return entry.session;
    }
    return this.validate(id, entry, batch);
  }

  private load(id: string): Promise<Session | null> {
    this.counters.loads++;
    return this.store.get(id);
  }

  private async readGeneration(id: string): Promise<GenerationRead> {
    this.counters.validations++;
    const reader = this.store as Partial<GenerationReader>;
    if (typeof reader.generationOf !== 'function') return { kind: 'session', session: await this.store.get(id) };
    const r = await reader.generationOf.call(this.store, id);
    return r.ok ? { kind: 'generation', generation: r.generation } : { kind: 'missing', reason: r.reason };
  }

  private async validate(id: string, entry: Entry, batch: Batch): Promise<Session | null> {
    const session = entry.session;
    let read: GenerationRead;
    try {
      read = await this.readGeneration(id);
    } catch (err) {
      return this.staleOnError(id, entry, session, err);
    }
    // A write of this node in flight on the id decides the entry when it returns (so its own change
    // never evicts it); until then the entry is not served without another check.
    const ownWrite = (this.slots.get(id)?.writes ?? 0) > 0;
    if (read.kind === 'missing' || (read.kind === 'session' && read.session === null)) {
      const reason = read.kind === 'missing' && read.reason === 'terminated' ? 'terminated' : 'expired';
      if (ownWrite) this.recheck(id, session);
      else this.evictIfCurrent(id, session, reason);
      return null;
    }
    const generation = read.kind === 'generation' ? read.generation : read.session!.generation;
    if (generation === session.generation) {
      if (
        this.entries.get(id) === entry &&
        entry.session === session &&
        !batch.poisoned &&
        !this.closed &&
        outdated(generation, batch.floor) === null
      ) {
        entry.validatedAt = Math.max(entry.validatedAt, batch.issuedAt);
        entry.epoch = batch.epoch;
        this.bump(id, entry);
      }
      return this.answer(id, session, batch);
    }
    if (ownWrite) {
      this.recheck(id, session);
      const loaded = read.kind === 'session' ? read.session : await this.load(id);
      return loaded === null ? null : this.answer(id, loaded, batch);
    }
    this.evictIfCurrent(id, session, 'stale');
    const loaded = read.kind === 'session' ? read.session : await this.load(id);
    return this.install(id, loaded, batch);
  }

  /** The entry holding `session` must be validated again before it is served. */
  private recheck(id: string, session: Session): void {
    const entry = this.entries.get(id);
    if (entry && entry.session === session) entry.validatedAt = -Infinity;
  }

  private staleOnError(id: string, entry: Entry, session: Session, err: unknown): Session {
    if (
      this.staleIfErrorMs > 0 &&
      !isInvalidArgument(err) &&
      this.entries.get(id) === entry &&
      entry.session === session &&
      this.now() - entry.validatedAt <= this.staleIfErrorMs
    ) {
      this.counters.staleServed++;
      return session;
    }
    throw err;
  }

  /** Caches a loaded session unless the cache holds or has learnt of something newer. */
  private install(id: string, loaded: Session | null, batch: Batch): Session | null {
    if (loaded === null) return null;
    if (!this.closed && !batch.poisoned && outdated(loaded.generation, batch.floor) === null) {
      const current = this.entries.get(id);
      const entry: Entry = { session: loaded, validatedAt: batch.issuedAt, epoch: batch.epoch };
      if (!current) this.insert(id, entry);
      else if (current.session.generation < loaded.generation) {
        this.evict(id, current, 'stale');
        this.insert(id, entry);
      }
    }
    return this.answer(id, loaded, batch);
  }

  /** What a batch returns: what it read, unless the cache meanwhile learnt it is dead or holds a newer one. */
  private answer(id: string, read: Session, batch: Batch): Session | null {
    if (read.generation <= batch.floor.terminated) return null;
    const current = this.entries.get(id)?.session;
    return current && current.generation > read.generation ? current : read;
  }

  // ---------------------------------------------------------------- entries

  /**
   * Caches a session the caller just read or wrote, as current as of now. Kept
   * only if newer than the entry held (which it then replaces in place, without
   * `onEvict`).
   * @throws InvalidArgumentError for something that is not a Session; `CLOSED` after `close()`.
   */
  set(session: Session): void {
    const s = checkSession(session);
    this.assertOpen();
    const slot = this.slots.get(s.id);
    if (slot?.inflight) slot.inflight.floor.updated = Math.max(slot.inflight.floor.updated, s.generation);
    this.adopt(s.id, s, this.now(), this.epoch);
  }

  /**
   * Drops `id` (`onEvict` reason `cleared`); a load in flight for it will not be cached.
   * @returns whether an entry was held.
   */
  invalidate(id: string): boolean {
    checkId(id);
    const slot = this.slots.get(id);
    if (slot?.inflight) slot.inflight.poisoned = true;
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.evict(id, entry, 'cleared');
    return true;
  }

  /** Drops every entry (`onEvict` reason `cleared`); loads in flight will not be cached. */
  clear(): void {
    for (const slot of this.slots.values()) if (slot.inflight) slot.inflight.poisoned = true;
    for (const [id, entry] of [...this.entries]) this.evict(id, entry, 'cleared');
  }

  /**
   * Clears the cache (`onEvict` reason `cleared`), ends its change-feed
   * subscription (the store closes its subscriber connection with the last
   * one) and refuses further calls with `CLOSED`. Does not touch the store or
   * its client. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.feedUp = false;
      this.clear();
      // A subscription still waiting for Redis is abandoned, so close() never waits for Redis.
      this.abortFeed.abort(
        new SessionStoreError('CLOSED', 'SessionCache closed before its change feed was subscribed'),
      );
      this.closing = this.ready.catch(() => undefined).then(() => this.subscription?.unsubscribe());
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new SessionStoreError('CLOSED', 'SessionCache is closed');
  }

  private bump(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
  }

  private insert(id: string, entry: Entry): void {
    this.entries.set(id, entry);
    while (this.entries.size > this.maxEntries) {
      const [oldId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.evict(oldId, oldest, 'capacity');
    }
  }

  /** The one way out of the cache: removes `entry` if it is still the one held, and tells onEvict once. */
  private evict(id: string, entry: Entry, reason: EvictionReason): void {
    if (this.entries.get(id) !== entry) return;
    this.entries.delete(id);
    if (!this.onEvict) return;
    try {
      const r = this.onEvict(entry.session, reason);
      if (r && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).then(undefined, (err) => this.report(err));
    } catch (err) {
      this.report(err);
    }
  }

  private evictIfCurrent(id: string, session: Session, reason: EvictionReason): void {
    const entry = this.entries.get(id);
    if (entry && entry.session === session) this.evict(id, entry, reason);
  }

  private report(err: unknown): void {
    if (!this.onError) {
      queueMicrotask(() => {
        throw err;
      });
      return;
    }
    try {
      this.onError(err);
    } catch (inner) {
      queueMicrotask(() => {
        throw inner;
      });
    }
  }

  /** A session this node wrote or was handed: replaces an older entry in place. */
  private adopt(id: string, session: Session, validatedAt: number, epoch: number): void {
    const current = this.entries.get(id);
    if (!current) {
      this.insert(id, { session, validatedAt, epoch });
      return;
    }
    if (current.session.generation > session.generation) return;
    if (current.session.generation < session.generation) current.session = session;
    if (validatedAt >= current.validatedAt) {
      current.validatedAt = validatedAt;
      current.epoch = epoch;
    }
    this.bump(id, current);
  }

  // ---------------------------------------------------------------- change feed

  private onStatus(status: FeedStatus): void {
    // Either way, entries validated before now may have missed events: they re-validate.
    this.epoch++;
    this.feedUp = status === 'subscribed';
  }

  private onChange(event: ChangeEvent): void {
    if (this.closed) return;
    const slot = this.slots.get(event.id);
    if (slot?.inflight) raise(slot.inflight.floor, event);
    if (slot && slot.writes > 0) {
      // The results of the writes in flight are checked against it when they return.
      slot.deferred ??= newFloor();
      raise(slot.deferred, event);
      if (mayBeOwn(slot, event)) {
        // Maybe our own write's event, ahead of its reply: evicting now would report our own change
        // as someone else's. Decided when the reply is in; the entry is re-checked if read meanwhile.
        if (slot.held.length === 0) this.heldSlots++;
        slot.held.push(event);
        return;
      }
      slot.foreign ??= newFloor();
      raise(slot.foreign, event);
    }
    this.applyEvent(event);
  }

  /** Another writer's change: the entry goes if the event shows it outdated. */
  private applyEvent(event: ChangeEvent): void {
    const entry = this.entries.get(event.id);
    if (!entry) return;
    const floor = newFloor();
    raise(floor, event);
    const reason = outdated(entry.session.generation, floor);
    if (reason) this.evict(event.id, entry, reason);
  }

  /** A write stopped expecting an event (mutate between attempts): held events it alone explained apply now. */
  private releaseHeld(slot: Slot): void {
    if (slot.held.length === 0) return;
    const still = slot.held.filter((e) => mayBeOwn(slot, e));
    const release = slot.held.filter((e) => !mayBeOwn(slot, e));
    slot.held = still;
    if (still.length === 0) this.heldSlots--;
    for (const e of release) {
      slot.foreign ??= newFloor();
      raise(slot.foreign, e);
      if (!this.closed) this.applyEvent(e);
    }
  }

  // ---------------------------------------------------------------- writes

  /** Passes through; on success caches the new session. */
  create(id: string, metadata?: Metadata, opts?: CreateOptions): Promise<CreateResult> {
    return this.write(
      id,
      expecting('created', 'above', undefined),
      () => this.store.create(id, metadata, opts),
      (r, ctx) => {
        if (r.ok) {
          // Any entry held is an earlier incarnation, now gone (create only succeeds on a free id).
          const old = this.entries.get(id);
          if (old && old.session.generation < r.session.generation) this.evict(id, old, 'expired');
          this.adoptOwn(id, r.session, ctx);
        } else if (r.reason === 'terminated') {
          this.gone(id, 'terminated', ctx, undefined);
        }
      },
    );
  }

  /** Passes through; success caches the new session, conflict the current one, not_found/terminated drop it. */
  update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult> {
    return this.write(
      id,
      expecting('updated', 'above', expectedGeneration),
      () => this.store.update(id, expectedGeneration, metadata, opts),
      (r, ctx) => this.settle(id, r, ctx),
    );
  }

  /** Passes through; as `update`. */
  patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult> {
    return this.write(
      id,
      expecting('updated', 'above', opts?.expectedGeneration),
      () => this.store.patch(id, changes, opts),
      (r, ctx) => this.settle(id, r, ctx),
    );
  }

  /**
   * Passes through; as `update` (the store's `mutate` does the CAS retries).
   * `fn` is wrapped to learn when a compare-and-set is in flight (the store
   * writes `fn`'s result right after it returns, at the generation it was
   * given): events that arrive while `fn` runs are other writers' and apply at once.
   */
  mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult> {
    const expect: Expectation = { kind: 'updated', match: 'above', generation: undefined, active: false };
    const wrapped: MutateFn = async (session) => {
      this.expectNothing(id, expect);
      const result = await fn(session);
      if (result !== undefined && !this.closed) {
        expect.generation = session.generation;
        expect.active = true;
      }
      return result;
    };
    return this.write(
      id,
      expect,
      () => this.store.mutate(id, typeof fn === 'function' ? wrapped : fn, opts),
      (r, ctx) => this.settle(id, r, ctx),
    );
  }

  /** mutate's compare-and-set returned (its fn runs again): events it held that nothing else explains apply now. */
  private expectNothing(id: string, expect: Expectation): void {
    if (!expect.active) return;
    expect.active = false;
    const slot = this.slots.get(id);
    if (slot) this.releaseHeld(slot);
  }

  /**
   * Passes through; a success at the held generation counts as a validation, a newer generation
   * makes the entry stale.
   */
  touch(id: string, opts?: TouchOptions): Promise<TouchResult> {
    // touch publishes nothing: every event during it is another writer's.
    return this.write(
      id,
      undefined,
      () => this.store.touch(id, opts),
      (r, ctx) => {
        if (!r.ok) {
          this.settle(id, r, ctx);
          return;
        }
        this.raiseInflight(id, { updated: r.generation, terminated: 0 });
        const entry = this.entries.get(id);
        if (!entry) return;
        if (entry.session.generation < r.generation) this.evict(id, entry, 'stale');
        else if (entry.session.generation === r.generation && ctx.issuedAt >= entry.validatedAt) {
          entry.validatedAt = ctx.issuedAt;
          entry.epoch = ctx.epoch;
        }
      },
    );
  }

  /** Passes through to the store: a principal's sessions are never served from the cache. */
  sessionsOf(principal: string): Promise<Session[]> {
    this.assertOpen();
    return this.store.sessionsOf(principal);
  }

  /**
   * Passes through; then drops the entries of the ended sessions (`onEvict`
   * reason `terminated`) and poisons loads of them that are in flight.
   */
  async terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult> {
    this.assertOpen();
    const result = await this.store.terminateAll(principal, opts);
    for (const id of result.terminated) {
      const slot = this.slots.get(id);
      if (slot?.inflight) slot.inflight.poisoned = true;
      const entry = this.entries.get(id);
      if (entry) this.evict(id, entry, 'terminated');
    }
    return result;
  }

  /** Passes through; drops the entry (`onEvict` reason `terminated`) on success, not_found and terminated. */
  terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult> {
    return this.write(
      id,
      expecting('terminated', 'exactly', opts?.expectedGeneration),
      () => this.store.terminate(id, opts),
      (r, ctx) => {
        if (r.ok) this.gone(id, 'terminated', ctx, r.generation);
        else this.settle(id, r, ctx);
      },
    );
  }

  private async write<R>(
    id: string,
    expect: Expectation | undefined,
    call: () => Promise<R>,
    onResult: (result: R, ctx: WriteContext) => void,
  ): Promise<R> {
    checkId(id);
    this.assertOpen();
    const slot = this.slot(id);
    const ctx: WriteContext = { issuedAt: this.now(), epoch: this.epoch, before: this.entries.get(id)?.session };
    slot.writes++;
    if (expect) slot.expects.add(expect);
    let result: R;
    try {
      result = await call();
    } catch (err) {
      slot.writes--;
      if (expect) slot.expects.delete(expect);
      if (!isInvalidArgument(err)) this.unsure(id);
      this.applyDeferred(id, slot);
      this.releaseSlot(id, slot);
      throw err;
    }
    slot.writes--;
    if (expect) slot.expects.delete(expect);
    try {
      if (!this.closed) onResult(result, ctx);
    } finally {
      this.applyDeferred(id, slot);
      this.releaseSlot(id, slot);
    }
    return result;
  }

  /** A write failed without a known outcome: the entry must be checked before it is served again. */
  private unsure(id: string): void {
    const slot = this.slots.get(id);
    if (slot?.inflight) slot.inflight.poisoned = true;
    const entry = this.entries.get(id);
    if (entry) entry.validatedAt = -Infinity;
  }

  /** A write returned: held events it alone explained apply; once none is in flight, everything seen does. */
  private applyDeferred(id: string, slot: Slot): void {
    if (slot.writes > 0) {
      this.releaseHeld(slot);
      // Another writer's change seen meanwhile outdates this write's result now, not when the last write returns.
      const entry = this.entries.get(id);
      const reason = entry && slot.foreign ? outdated(entry.session.generation, slot.foreign) : null;
      if (entry && reason) this.evict(id, entry, reason);
      return;
    }
    slot.foreign = undefined;
    if (slot.held.length > 0) {
      slot.held = [];
      this.heldSlots--;
    }
    if (!slot.deferred) return;
    const floor = slot.deferred;
    slot.deferred = undefined;
    const entry = this.entries.get(id);
    const reason = entry ? outdated(entry.session.generation, floor) : null;
    if (entry && reason) this.evict(id, entry, reason);
  }

  private raiseInflight(id: string, floor: Floor): void {
    const b = this.slots.get(id)?.inflight;
    if (!b) return;
    b.floor.updated = Math.max(b.floor.updated, floor.updated);
    b.floor.terminated = Math.max(b.floor.terminated, floor.terminated);
  }

  private adoptOwn(id: string, session: Session, ctx: WriteContext): void {
    this.raiseInflight(id, { updated: session.generation, terminated: 0 });
    this.adopt(id, session, ctx.issuedAt, ctx.epoch);
  }

  private settle(id: string, r: WriteResult | TouchResult | TerminateResult, ctx: WriteContext): void {
    if (r.ok) {
      if ('session' in r) this.adoptOwn(id, r.session, ctx);
      return;
    }
    if (r.reason === 'conflict') {
      // Someone else's newer write: the entry is stale; cache the current session instead.
      this.raiseInflight(id, { updated: r.session.generation, terminated: 0 });
      const entry = this.entries.get(id);
      if (entry && entry.session.generation >= r.session.generation) return;
      if (entry) this.evict(id, entry, 'stale');
      this.insert(id, { session: r.session, validatedAt: ctx.issuedAt, epoch: ctx.epoch });
      return;
    }
    this.gone(id, r.reason === 'terminated' ? 'terminated' : 'expired', ctx, undefined);
  }

  /**
   * The session is gone. With the generation it had (our own terminate), drop
   * entries at or below it; without one, drop the entry if it is the one the
   * write was sent against (else make it re-validate), and never cache a load
   * that was in flight.
   */
  private gone(id: string, reason: 'terminated' | 'expired', ctx: WriteContext, generation: number | undefined): void {
    const entry = this.entries.get(id);
    if (generation !== undefined) {
      this.raiseInflight(id, { updated: 0, terminated: generation });
      if (entry && entry.session.generation <= generation) this.evict(id, entry, reason);
      return;
    }
    const slot = this.slots.get(id);
    if (slot?.inflight) slot.inflight.poisoned = true;
    if (entry && entry.session === ctx.before) this.evict(id, entry, reason);
    else if (entry) entry.validatedAt = -Infinity;
  }
}
