/**
 * The in-memory store: the same contract as the Redis store, in one process.
 * The embedded default for tests and single-node use, and the model the
 * property tests compare Redis against.
 * @module
 */
import { Listeners, checkSubscribeArgs } from '../core/listeners.js';
import { InvalidArgumentError } from '../core/errors.js';
import { checkMutateArgs, runMutate } from '../core/mutate.js';
import {
  type PrincipalOptions,
  bySessionAge,
  checkPrincipal,
  checkTerminateAllArgs,
  limitDecision,
  resolvePrincipalOptions,
} from '../core/principals.js';
import { MemoryPrincipalIndex } from './principals.js';
import type {
  ChangeEvent,
  ChangeFeed,
  ChangeKind,
  CreateOptions,
  CreateResult,
  GenerationOptions,
  GenerationReader,
  GenerationResult,
  Metadata,
  MutateFn,
  MutateOptions,
  MutateResult,
  PatchChanges,
  PatchOptions,
  Session,
  SessionStore,
  SessionStoreOptions,
  SubscribeOptions,
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
import { type ResolvedOptions, resolveOptions } from '../core/defaults.js';
import { prepareCreate, preparePatch, prepareTerminate, prepareTouch, prepareUpdate } from '../core/requests.js';
import {
  type AllowedKeys,
  STORE_OPTION_KEYS,
  checkGenerationOptions,
  checkId,
  checkOptions,
  freezeMetadata,
  utf8Bytes,
} from '../core/validate.js';

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions extends SessionStoreOptions {
  /** Clock in ms; inject one to move time in tests. Default `Date.now`. */
  now?: () => number;
}

const MEMORY_STORE_OPTION_KEYS: AllowedKeys<MemorySessionStoreOptions> = { ...STORE_OPTION_KEYS, now: true };

interface LiveRecord {
  readonly kind: 'live';
  readonly session: Session;
  readonly expiresAt: number;
}
interface Tombstone {
  readonly kind: 'tombstone';
  readonly generation: number;
  readonly expiresAt: number;
}
type StoredRecord = LiveRecord | Tombstone;

/** Expired records are swept once per this many operations, so memory stays bounded. */
const SWEEP_EVERY = 1024;

/**
 * A {@link SessionStore} in process memory, with the Redis store's semantics:
 * generations, tombstones, TTLs (checked against the injectable clock, so no
 * timers run) and the same validation.
 *
 * Generations come from a store-wide high-water mark, so an id re-created after
 * terminate or expiry always gets a higher generation than any before.
 */
export class MemorySessionStore implements SessionStore, GenerationReader, ChangeFeed {
  /** Options after defaults. */
  readonly options: ResolvedOptions;
  /** The principal options (`maxSessionsPerPrincipal`, `onPrincipalLimit`, `maxLifetimeMs`) after defaults. */
  readonly principalOptions: PrincipalOptions;
  /** @internal */
  private readonly now: () => number;
  /** @internal */
  private readonly principals = new MemoryPrincipalIndex();
  /** @internal */
  private readonly records = new Map<string, StoredRecord>();
  /** @internal */
  private highWater = 0;
  /** @internal */
  private opsSinceSweep = 0;
  /** @internal */
  private readonly listeners = new Listeners();

  /** @throws InvalidArgumentError for bad options. */
  constructor(options?: MemorySessionStoreOptions) {
    const o = checkOptions<MemorySessionStoreOptions>(options, 'options', MEMORY_STORE_OPTION_KEYS);
    this.options = resolveOptions(o);
    this.principalOptions = resolvePrincipalOptions(o);
    if (o.now !== undefined && typeof o.now !== 'function')
      throw new InvalidArgumentError('options.now', 'expected a function');
    this.now = o.now ?? Date.now;
  }

  /** @internal The unexpired record of an id, dropping an expired one. */
  private record(id: string): StoredRecord | undefined {
    const now = this.now();
    if (++this.opsSinceSweep >= SWEEP_EVERY) this.sweep(now);
    const rec = this.records.get(id);
    if (rec && rec.expiresAt <= now) {
      this.records.delete(id);
      return undefined;
    }
    return rec;
  }

  /** @internal */
  private sweep(now: number): void {
    this.opsSinceSweep = 0;
    for (const [id, rec] of this.records) if (rec.expiresAt <= now) this.records.delete(id);
    this.principals.sweep((principal, id) => this.liveOf(principal, id) !== undefined);
  }

  /** The live session `id` if it belongs to `principal`. */
  private liveOf(principal: string, id: string): Session | undefined {
    const rec = this.records.get(id);
    if (!rec || rec.kind !== 'live' || rec.expiresAt <= this.now()) return undefined;
    return rec.session.principal === principal ? rec.session : undefined;
  }

  /** The live sessions of `principal`, in creation order. */
  private liveSessionsOf(principal: string): Session[] {
    return this.principals
      .live(principal, (id) => this.liveOf(principal, id) !== undefined)
      .map((id) => this.liveOf(principal, id)!);
  }

  /** @internal Events go out on a microtask, in write order, so a listener never runs inside a write. */
  private emit(kind: ChangeKind, generation: number, id: string, principal?: string): void {
    if (this.listeners.size === 0) return;
    const event: ChangeEvent = principal === undefined ? { kind, id, generation } : { kind, id, generation, principal };
    queueMicrotask(() => this.listeners.emit(event));
  }

  /** @internal */
  private store(session: Session, ttlMs: number): Session {
    this.highWater = Math.max(this.highWater, session.generation);
    const lifetime = this.principalOptions.maxLifetimeMs;
    const until = lifetime === null ? Infinity : session.createdAt + lifetime;
    this.records.set(session.id, { kind: 'live', session, expiresAt: Math.min(this.now() + ttlMs, until) });
    return session;
  }

  /** @internal Why a write cannot apply, or the live record it applies to. */
  private live(
    id: string,
    expected: number | undefined,
  ):
    | LiveRecord
    | { ok: false; reason: 'not_found' | 'terminated' }
    | { ok: false; reason: 'conflict'; session: Session } {
    const rec = this.record(id);
    if (!rec) return { ok: false, reason: 'not_found' };
    if (rec.kind === 'tombstone') return { ok: false, reason: 'terminated' };
    if (expected !== undefined && rec.session.generation !== expected)
      return { ok: false, reason: 'conflict', session: rec.session };
    return rec;
  }

  async create(id: string, metadata: Metadata = {}, opts?: CreateOptions): Promise<CreateResult> {
    const req = prepareCreate(id, metadata, opts, this.options); // `wait`: checked, nothing to wait for here
    const { principal } = req;
    const rec = this.record(id);
    if (rec) return { ok: false, reason: rec.kind === 'live' ? 'exists' : 'terminated' };
    const cap = this.principalOptions.maxSessionsPerPrincipal;
    if (principal !== undefined && cap !== null) {
      // One step: the sessions a capped create sees are exactly the live ones, none in flight.
      const others = this.liveSessionsOf(principal).map((s) => ({ id: s.id, terminable: true }));
      const mode = this.principalOptions.onPrincipalLimit;
      const decision = limitDecision([...others, { id, terminable: false }], id, cap, mode);
      if (decision.refused) return { ok: false, reason: 'limit' };
      for (const s of decision.evict) this.end(this.records.get(s.id) as LiveRecord);
    }
    const base = { id, generation: this.highWater + 1, metadata: freezeMetadata(req.metadata.entries) };
    const createdAt = this.now();
    const session: Session = principal === undefined ? { ...base, createdAt } : { ...base, principal, createdAt };
    if (principal !== undefined) this.principals.add(principal, id);
    this.emit('created', session.generation, id, principal);
    return { ok: true, session: this.store(session, req.ttlMs) };
  }

  /** Leaves a tombstone for a live record and emits its `terminated` event. */
  private end(rec: LiveRecord, tombstoneTtlMs = this.options.tombstoneTtlMs): number {
    const { id, generation, principal } = rec.session;
    this.records.set(id, { kind: 'tombstone', generation, expiresAt: this.now() + tombstoneTtlMs });
    this.emit('terminated', generation, id, principal);
    return generation;
  }

  /**
   * The live sessions of `principal`, oldest `createdAt` first (ties by id). Never refreshes a TTL.
   * @throws InvalidArgumentError for a bad principal.
   */
  async sessionsOf(principal: string): Promise<Session[]> {
    checkPrincipal(principal);
    return this.liveSessionsOf(principal).sort(bySessionAge);
  }

  /**
   * Terminates every live session of `principal` but those in `opts.except`, as `terminate` does.
   * @returns the ids it ended, oldest first.
   * @throws InvalidArgumentError for a bad principal or `except`.
   */
  async terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult> {
    const { principal: p, except } = checkTerminateAllArgs(principal, opts);
    const terminated: string[] = [];
    for (const s of this.liveSessionsOf(p).sort(bySessionAge)) {
      if (except.has(s.id)) continue;
      this.end(this.records.get(s.id) as LiveRecord);
      terminated.push(s.id);
    }
    return { terminated };
  }

  async get(id: string): Promise<Session | null> {
    checkId(id);
    const rec = this.record(id);
    if (!rec || rec.kind !== 'live') return null;
    if (this.options.touchOnGet) this.store(rec.session, this.options.ttlMs);
    return rec.session;
  }

  async peek(id: string): Promise<Session | null> {
    const loaded = await this.load(id);
    return typeof loaded === 'string' ? null : loaded;
  }

  /** @internal The live session or why there is none; used by `mutate`. */
  async load(id: string): Promise<Session | 'not_found' | 'terminated'> {
    checkId(id);
    const rec = this.record(id);
    if (!rec) return 'not_found';
    return rec.kind === 'live' ? rec.session : 'terminated';
  }

  async exists(id: string): Promise<boolean> {
    checkId(id);
    return this.record(id)?.kind === 'live';
  }

  async generationOf(id: string, opts?: GenerationOptions): Promise<GenerationResult> {
    checkId(id);
    const { touch } = checkGenerationOptions(opts, this.options.touchOnGet);
    const rec = this.record(id);
    if (!rec) return { ok: false, reason: 'not_found' };
    if (rec.kind === 'tombstone') return { ok: false, reason: 'terminated' };
    if (touch) this.store(rec.session, this.options.ttlMs);
    return { ok: true, generation: rec.session.generation };
  }

  /**
   * In-process change events. Delivery guarantee: every successful
   * create/update/patch/terminate (and `mutate` write) of this store is
   * delivered exactly once, in write order, on a microtask after the write, to
   * every listener subscribed by then. Never `interrupted`.
   * Expiry emits nothing (expired records are found lazily).
   * @throws InvalidArgumentError (synchronously) for a bad listener or options.
   */
  subscribe(listener: (event: ChangeEvent) => void, opts?: SubscribeOptions): Promise<Subscription> {
    const o = checkSubscribeArgs(listener, opts);
    if (o.signal?.aborted) return Promise.reject(o.signal.reason);
    const reg = this.listeners.add(listener, o);
    this.listeners.status('subscribed', reg);
    return Promise.resolve({
      unsubscribe: async () => {
        this.listeners.remove(reg);
      },
    });
  }

  async update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult> {
    const req = prepareUpdate(id, expectedGeneration, metadata, opts, this.options);
    const rec = this.live(id, req.expected);
    if (!('kind' in rec)) return rec;
    const generation = rec.session.generation + 1;
    const session = { ...rec.session, generation, metadata: freezeMetadata(req.metadata.entries) };
    this.emit('updated', session.generation, id, session.principal);
    return { ok: true, session: this.store(session, req.ttlMs) };
  }

  async patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult> {
    const req = preparePatch(id, changes, opts, this.options);
    const rec = this.live(id, req.expected);
    if (!('kind' in rec)) return rec;
    // Nothing to change: no write, no new generation, no event, no TTL refresh.
    if (req.empty) return { ok: true, session: rec.session };
    const next = new Map(Object.entries(rec.session.metadata));
    for (const name of req.changes.remove) next.delete(name);
    for (const [k, v] of req.changes.set.entries) next.set(k, v);
    let bytes = 0;
    for (const [k, v] of next) bytes += utf8Bytes(k) + utf8Bytes(v);
    if (bytes > this.options.maxMetadataBytes) {
      throw new InvalidArgumentError(
        'changes',
        `the patched metadata would be ${bytes} bytes, over maxMetadataBytes ` +
          `(${this.options.maxMetadataBytes}); nothing was written`,
      );
    }
    const session = { ...rec.session, generation: rec.session.generation + 1, metadata: freezeMetadata(next) };
    this.emit('updated', session.generation, id, session.principal);
    return { ok: true, session: this.store(session, req.ttlMs) };
  }

  async touch(id: string, opts?: TouchOptions): Promise<TouchResult> {
    const req = prepareTouch(id, opts, this.options);
    const rec = this.live(id, req.expected);
    if (!('kind' in rec)) return rec;
    this.store(rec.session, req.ttlMs);
    return { ok: true, generation: rec.session.generation };
  }

  async terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult> {
    const req = prepareTerminate(id, opts, this.options); // `wait`: checked, no replicas here
    const rec = this.live(id, req.expected);
    if (!('kind' in rec)) return rec;
    return { ok: true, generation: this.end(rec, req.ttlMs) };
  }

  async mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult> {
    checkId(id);
    return runMutate(this, id, fn, checkMutateArgs(fn, opts));
  }

  /** Number of records held (live sessions and tombstones, expired ones not yet swept included). */
  get size(): number {
    return this.records.size;
  }
}
