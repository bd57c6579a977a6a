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
 *
 * This class coordinates; the parts are lru.ts, generation-floor.ts, slots.ts
 * (singleflight, writes in flight), feed-link.ts, reads.ts, writes.ts and options.ts.
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type {
  CreateOptions,
  CreateResult,
  Metadata,
  MutateFn,
  MutateOptions,
  MutateResult,
  PatchChanges,
  PatchOptions,
  Session,
  SessionStore,
  TerminateAllOptions,
  TerminateAllResult,
  TerminateOptions,
  TerminateResult,
  TouchOptions,
  TouchResult,
  WriteOptions,
  WriteResult,
} from '../core/types.js';
import { checkGeneration, checkId } from '../core/validate.js';
import { FeedLink } from './feed-link.js';
import { Lru } from './lru.js';
import { checkCacheOptions, reporter, type SessionCacheOptions, type ValidationMode } from './options.js';
import { join, servable } from './reads.js';
import { expecting, Slots } from './slots.js';
import { assertOpen, type CacheState } from './state.js';
import { created, settle, terminated, touched, watchMutate, write } from './writes.js';

export type { EvictionReason } from './lru.js';
export type { SessionCacheOptions, ValidationMode } from './options.js';

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

  private readonly state: CacheState;
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
    const report = reporter(o.onError);
    const lru = new Lru(o.maxEntries, o.onEvict, report);
    const slots = new Slots();
    const feed = new FeedLink(lru, slots, () => this.state.closed);
    this.state = {
      store,
      mode: o.validate,
      maxStaleMs: o.maxStaleMs,
      staleIfErrorMs: o.staleIfErrorMs,
      now: o.now,
      lru,
      slots,
      feed,
      counters: { hits: 0, validations: 0, loads: 0, staleServed: 0 },
      closed: false,
    };
    this.ready = this.mode === 'events' ? feed.subscribe(store, o.onError ? report : undefined) : Promise.resolve();
  }

  /** Number of sessions held. */
  get size(): number {
    return this.state.lru.size;
  }

  /** Counters since creation (a copy). */
  stats(): SessionCacheStats {
    return { ...this.state.counters };
  }

  /** Whether `id` is held (no I/O, no validation, no LRU effect). */
  has(id: string): boolean {
    return this.state.lru.has(id);
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
    assertOpen(this.state);
    const entry = this.state.lru.get(id);
    if (entry && servable(this.state, id, entry)) {
      this.state.counters.hits++;
      this.state.lru.bump(id, entry);
      return entry.session;
    }
    return join(this.state, id);
  }

  /** Passes through to the store (`peek` never slides the TTL, so it never counts as a hit). */
  async peek(id: string): Promise<Session | null> {
    assertOpen(this.state);
    return this.store.peek(id);
  }

  /** Passes through to the store. */
  async exists(id: string): Promise<boolean> {
    assertOpen(this.state);
    return this.store.exists(id);
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
    assertOpen(this.state);
    this.state.slots.raiseInflight(s.id, { updated: s.generation, terminated: 0 });
    this.state.lru.adopt(s.id, s, this.state.now(), this.state.feed.epoch);
  }

  /**
   * Drops `id` (`onEvict` reason `cleared`); a load in flight for it will not be cached.
   * @returns whether an entry was held.
   */
  invalidate(id: string): boolean {
    checkId(id);
    this.state.slots.poison(id);
    const entry = this.state.lru.get(id);
    if (!entry) return false;
    this.state.lru.evict(id, entry, 'cleared');
    return true;
  }

  /** Drops every entry (`onEvict` reason `cleared`); loads in flight will not be cached. */
  clear(): void {
    this.state.slots.poisonAll();
    this.state.lru.clear('cleared');
  }

  /**
   * Clears the cache (`onEvict` reason `cleared`), ends its change-feed
   * subscription (the store closes its subscriber connection with the last
   * one) and refuses further calls with `CLOSED`. Does not touch the store or
   * its client. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.state.closed = true;
      this.state.feed.up = false;
      this.clear();
      this.closing = this.state.feed.close(this.ready);
    }
    return this.closing;
  }

  // ---------------------------------------------------------------- writes

  /** Passes through; on success caches the new session. */
  create(id: string, metadata?: Metadata, opts?: CreateOptions): Promise<CreateResult> {
    return write(
      this.state,
      id,
      expecting('created', 'above', undefined),
      () => this.store.create(id, metadata, opts),
      (r, ctx) => created(this.state, id, r, ctx),
    );
  }

  /** Passes through; success caches the new session, conflict the current one, not_found/terminated drop it. */
  update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult> {
    return write(
      this.state,
      id,
      expecting('updated', 'above', expectedGeneration),
      () => this.store.update(id, expectedGeneration, metadata, opts),
      (r, ctx) => settle(this.state, id, r, ctx),
    );
  }

  /** Passes through; as `update`. */
  patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult> {
    return write(
      this.state,
      id,
      expecting('updated', 'above', opts?.expectedGeneration),
      () => this.store.patch(id, changes, opts),
      (r, ctx) => settle(this.state, id, r, ctx),
    );
  }

  /**
   * Passes through; as `update` (the store's `mutate` does the CAS retries).
   * `fn` is wrapped to learn when a compare-and-set is in flight (the store
   * writes `fn`'s result right after it returns, at the generation it was
   * given): events that arrive while `fn` runs are other writers' and apply at once.
   */
  mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult> {
    const { expect, wrapped } = watchMutate(this.state, id, fn);
    return write(
      this.state,
      id,
      expect,
      () => this.store.mutate(id, typeof fn === 'function' ? wrapped : fn, opts),
      (r, ctx) => settle(this.state, id, r, ctx),
    );
  }

  /**
   * Passes through; a success at the held generation counts as a validation, a newer generation
   * makes the entry stale.
   */
  touch(id: string, opts?: TouchOptions): Promise<TouchResult> {
    // touch publishes nothing: every event during it is another writer's.
    return write(
      this.state,
      id,
      undefined,
      () => this.store.touch(id, opts),
      (r, ctx) => touched(this.state, id, r, ctx),
    );
  }

  /** Passes through to the store: a principal's sessions are never served from the cache. */
  sessionsOf(principal: string): Promise<Session[]> {
    assertOpen(this.state);
    return this.store.sessionsOf(principal);
  }

  /**
   * Passes through; then drops the entries of the ended sessions (`onEvict`
   * reason `terminated`) and poisons loads of them that are in flight.
   */
  async terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult> {
    assertOpen(this.state);
    const result = await this.store.terminateAll(principal, opts);
    for (const id of result.terminated) {
      this.state.slots.poison(id);
      const entry = this.state.lru.get(id);
      if (entry) this.state.lru.evict(id, entry, 'terminated');
    }
    return result;
  }

  /** Passes through; drops the entry (`onEvict` reason `terminated`) on success, not_found and terminated. */
  terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult> {
    return write(
      this.state,
      id,
      expecting('terminated', 'exactly', opts?.expectedGeneration),
      () => this.store.terminate(id, opts),
      (r, ctx) => terminated(this.state, id, r, ctx),
    );
  }
}
