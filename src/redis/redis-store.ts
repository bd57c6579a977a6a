/**
 * The Redis store: every operation is one call of a function of the session-cas
 * Redis Functions library (lua/*.lua, see scripts.ts). The class coordinates:
 * arguments are checked by core/requests.ts, options by store-options.ts, and
 * each direct client call lives in its own module (scripts.ts, replication.ts,
 * eviction-policy.ts).
 * @module
 */
import { type ResolvedOptions } from '../core/defaults.js';
import { InvalidArgumentError } from '../core/errors.js';
import { checkSubscribeArgs } from '../core/listeners.js';
import { scanSessionIds } from './listing.js';
import { checkMutateArgs, runMutate } from '../core/mutate.js';
import { prepareCreate, preparePatch, prepareTerminate, prepareTouch, prepareUpdate } from '../core/requests.js';
import { type PrincipalOptions, checkPrincipal, checkTerminateAllArgs } from '../core/principals.js';
import { RedisPrincipalIndex } from './principals.js';
import type {
  ChangeEvent,
  ChangeFeed,
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
  ReplicationWait,
  Session,
  SessionStore,
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
import { checkGenerationOptions, checkId } from '../core/validate.js';
import { RedisChangeFeed } from './change-feed.js';
import { keyPrefixOf } from './client-info.js';
import { Code, type Reply, decodeReply, requireGeneration, sessionFromFields } from './decode.js';
import { type EvictionPolicyReport, PolicyGate, readEvictionPolicy } from './eviction-policy.js';
import { type ConnectionWatch, toFault, unexpectedReply, watchConnection } from './faults.js';
import {
  createResult,
  fieldArgs,
  missing,
  patchResult,
  settle,
  terminateResult,
  touchResult,
  updateResult,
} from './results.js';
import type { ScriptName } from './generated/lua.js';
import { sessionKey } from './keys.js';
import { nextOpId } from './op-ids.js';
import { type WrittenAt, durable, waitOf } from './replication.js';
import {
  type ArgsOf,
  type Client,
  type EventTarget,
  NO_EVENTS,
  NotSentError,
  callScript,
  loadLibrary,
} from './scripts.js';
import { shardChannel } from './shard-channels.js';
import { isCluster, keySlot } from './slots.js';
import { type RedisSessionStoreOptions, resolveRedisOptions } from './store-options.js';

export type { RedisSessionStoreOptions } from './store-options.js';

/**
 * A {@link SessionStore} on Redis (single node, Cluster or Sentinel) through
 * an ioredis client you own: the store never connects or quits it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisSessionStore } from 'session-cas';
 * const store = new RedisSessionStore(new Redis(), { ttlMs: 15 * 60_000 });
 * const created = await store.create('sess-1', { user: 'ada' });
 * ```
 */
export class RedisSessionStore implements SessionStore, GenerationReader, ChangeFeed {
  /** The ioredis client the store calls. */
  readonly client: Client;
  /** The key prefix (before any ioredis `keyPrefix`). */
  readonly prefix: string;
  /** Options after defaults. */
  readonly options: ResolvedOptions;
  /** The principal options (`maxSessionsPerPrincipal`, `onPrincipalLimit`, `maxLifetimeMs`) after defaults. */
  readonly principalOptions: PrincipalOptions;
  /** @internal */
  private readonly principals: RedisPrincipalIndex;
  /** @internal `''`: no events. */
  private readonly channel: string;
  /** @internal The client's ioredis `keyPrefix` (Redis sees it before every key). */
  private readonly keyPrefix: string;
  /** @internal */
  private readonly terminateWait: ReplicationWait | undefined;
  /** @internal */
  private readonly writeWait: ReplicationWait | undefined;
  /** @internal */
  private feed: RedisChangeFeed | undefined;
  /** @internal */
  private readonly feedOptions: RedisStoreFeedOptions;
  /** @internal The first call's policy check. */
  private readonly policy: PolicyGate;
  /** @internal The client's last connection error, for the cause of a fault. */
  private readonly connection: ConnectionWatch;

  /** @throws InvalidArgumentError for a client that is not ioredis, or bad options. */
  constructor(client: Client, options?: RedisSessionStoreOptions) {
    if (typeof client !== 'object' || client === null || typeof (client as Client).defineCommand !== 'function') {
      throw new InvalidArgumentError('client', 'expected an ioredis Redis or Cluster instance');
    }
    const settings = resolveRedisOptions(client, options);
    this.options = settings.options;
    this.principalOptions = settings.principalOptions;
    this.prefix = settings.prefix;
    this.channel = settings.channel;
    this.terminateWait = settings.terminateWait;
    this.writeWait = settings.writeWait;
    this.feedOptions = settings.feedOptions;
    this.client = client;
    this.keyPrefix = keyPrefixOf(client);
    this.connection = watchConnection(client);
    this.principals = new RedisPrincipalIndex(this, (...a) => this.run(...a));
    this.policy = new PolicyGate(settings.evictionPolicyCheck, () => this.checkEvictionPolicy());
  }

  /**
   * Loads this version's function library on the server (every primary of a
   * Cluster). Optional: the store loads it by itself on first use and after
   * FUNCTION FLUSH or a restart. Call it at deploy time, as a user allowed to
   * run FUNCTION LOAD, when the store's own user may not.
   * @throws RedisFaultError (`NOPERM`) when FUNCTION LOAD is refused.
   */
  async loadLibrary(): Promise<void> {
    try {
      await loadLibrary(this.client);
    } catch (err) {
      throw toFault(err, 'loadLibrary', '', false);
    }
  }

  /** @internal Where a write on `key` publishes its event: the channel, or on a Cluster its slot's shard channel. */
  private events(key: string): EventTarget {
    if (this.channel === '') return NO_EVENTS;
    if (!isCluster(this.client)) return { channel: this.channel, command: 'PUBLISH' };
    return { channel: shardChannel(this.channel, keySlot(this.keyPrefix + key)), command: 'SPUBLISH' };
  }

  /** The Redis key of a session's record (without the client's `keyPrefix`). */
  keyFor(id: string): string {
    return sessionKey(checkId(id), this.prefix);
  }

  /** @internal Runs one function on the session's key and decodes its reply. */
  private async run<N extends ScriptName>(
    op: string,
    script: N,
    id: string,
    args: ArgsOf<N>,
    writes: boolean,
    key = sessionKey(id, this.prefix),
  ): Promise<Reply> {
    await this.policy.pass();
    let raw: unknown;
    try {
      raw = await callScript(this.client, script, key, args);
    } catch (err) {
      if (err instanceof NotSentError)
        throw toFault(err.cause, op, id, writes, { connection: this.connection, sent: false });
      throw toFault(err, op, id, writes, { connection: this.connection });
    }
    try {
      return decodeReply(raw);
    } catch (err) {
      throw unexpectedReply(op, id, writes, err instanceof Error ? err.message : String(err), err);
    }
  }

  /**
   * Reads the server's `maxmemory-policy` (INFO memory, else CONFIG GET) and
   * says whether Redis may evict tombstones. Every policy but `noeviction`
   * can: the `allkeys-*` ones evict any key, and the `volatile-*` ones evict
   * keys that have a TTL, which every session record and tombstone has.
   * `maxmemory` 0 means no limit today, but it can be set at run time, so the
   * policy alone decides. An evicted tombstone lets the id be created again
   * before `tombstoneTtlMs`; an evicted live session reads as `not_found`.
   * @throws RedisFaultError (`CONNECTION`) when the connection fails; a refused
   * INFO or CONFIG (ACL, managed Redis) gives `policy: null` instead.
   */
  checkEvictionPolicy(): Promise<EvictionPolicyReport> {
    return readEvictionPolicy(this.client, this.connection);
  }

  /** @internal Where a write ran, for its WAIT. */
  private at(op: string, id: string, key: string): WrittenAt {
    return { client: this.client, key, op, id };
  }

  async create(id: string, metadata: Metadata = {}, opts?: CreateOptions): Promise<CreateResult> {
    const req = prepareCreate(id, metadata, opts, this.options);
    const { principal } = req;
    const wait = waitOf(req.wait, this.writeWait);
    const key = sessionKey(id, this.prefix);
    const fields = fieldArgs(req.metadata);
    const create = async (): Promise<CreateResult> => {
      const args = { opId: nextOpId(), ttlMs: req.ttlMs, events: this.events(key), fields };
      const reply = await this.run('create', 'create', id, this.principals.createArgs(args, principal), true, key);
      const result = settle('create', id, true, () => createResult(id, reply, req.metadata, principal));
      return result.ok ? durable(this.at('create', id, key), wait, reply, result) : result;
    };
    return principal === undefined ? create() : this.principals.create(id, principal, req.ttlMs, create);
  }

  /**
   * Live sessions of `principal`, oldest `createdAt` first; never refreshes a TTL. Reads the principal's
   * index, then its sessions (pipelined), and drops entries of sessions that are gone (docs/principals.md).
   * @throws InvalidArgumentError for a bad principal, before any I/O; RedisFaultError when Redis fails.
   */
  async sessionsOf(principal: string): Promise<Session[]> {
    return this.principals.sessionsOf(checkPrincipal(principal));
  }

  /**
   * Terminates every live session of `principal` but `opts.except`, each as `terminate` does (tombstone,
   * event, `terminateWait`). @returns the ids it ended, oldest first.
   * @throws InvalidArgumentError for bad arguments, before any I/O; RedisFaultError (some may be ended).
   */
  async terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult> {
    const { principal: p, except } = checkTerminateAllArgs(principal, opts);
    return this.principals.terminateAll(p, except);
  }

  async get(id: string): Promise<Session | null> {
    checkId(id);
    if (!this.options.touchOnGet) return this.peek(id);
    const reply = await this.run('get', 'get', id, { ttlMs: this.options.ttlMs }, true);
    this.principals.keep(reply, this.options.ttlMs);
    return settle('get', id, true, () => (reply.code === Code.OK ? sessionFromFields(id, reply.fields) : null));
  }

  async peek(id: string): Promise<Session | null> {
    const loaded = await this.load(id);
    return typeof loaded === 'string' ? null : loaded;
  }

  /** @internal The live session or why there is none; used by `mutate`. */
  async load(id: string): Promise<Session | 'not_found' | 'terminated'> {
    checkId(id);
    const reply = await this.run('peek', 'peek', id, undefined, false);
    if (reply.code !== Code.OK) return reply.code === Code.TERMINATED ? 'terminated' : 'not_found';
    return settle('peek', id, false, () => sessionFromFields(id, reply.fields));
  }

  async generationOf(id: string, opts?: GenerationOptions): Promise<GenerationResult> {
    checkId(id);
    const { touch } = checkGenerationOptions(opts, this.options.touchOnGet);
    const args = { ttlMs: touch ? this.options.ttlMs : undefined };
    const reply = await this.run('generationOf', 'generation', id, args, touch);
    if (touch) this.principals.keep(reply, this.options.ttlMs);
    return settle('generationOf', id, touch, () =>
      reply.code === Code.OK
        ? { ok: true, generation: requireGeneration(reply) }
        : missing('generationOf', id, touch, reply),
    );
  }

  /**
   * Delivers the events this store's write functions publish on
   * `eventsChannel` (on a Cluster: on the shard channel of each session's
   * slot), written by any store of the same namespace (client `keyPrefix` +
   * `prefix`) on the same Redis: every node. Events of other namespaces on
   * the same channel are ignored.
   *
   * Delivery guarantee: at most once, in publish order per Redis node, while
   * the status is `subscribed`. Events published while a subscriber
   * connection is down are lost; the loss is reported as `interrupted` as soon
   * as the feed sees it: a closed connection, a missed heartbeat PING
   * (`eventsHeartbeatMs`, so a half-open connection is noticed too), or on a
   * Cluster a shard subscription that moved or failed. No expiry events: see
   * the README.
   *
   * The store opens its own subscriber connections (one on a single node or
   * Sentinel, one per primary on a Cluster) at the first subscribe, owns
   * them, and closes them when the last subscription is unsubscribed; the
   * client you passed is never put in subscriber mode.
   * @throws InvalidArgumentError (synchronously) without `eventsChannel`, or for a bad listener.
   */
  subscribe(listener: (event: ChangeEvent) => void, opts?: SubscribeOptions): Promise<Subscription> {
    const o = checkSubscribeArgs(listener, opts);
    if (this.channel === '') {
      throw new InvalidArgumentError(
        'options.eventsChannel',
        'subscribe needs the store to be created with an eventsChannel',
      );
    }
    this.feed ??= new RedisChangeFeed(this.client, this.channel, this.keyPrefix + this.prefix, this.feedOptions);
    return this.feed.subscribe(listener, o);
  }

  async exists(id: string): Promise<boolean> {
    checkId(id);
    const reply = await this.run('exists', 'exists', id, undefined, false);
    return reply.code === Code.OK;
  }

  async update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult> {
    const req = prepareUpdate(id, expectedGeneration, metadata, opts, this.options);
    const wait = waitOf(req.wait, this.writeWait);
    const key = sessionKey(id, this.prefix);
    const { ttlMs, expected } = req;
    const args = { opId: nextOpId(), ttlMs, expected, events: this.events(key), fields: fieldArgs(req.metadata) };
    const reply = await this.run('update', 'update', id, args, true, key);
    this.principals.keep(reply, ttlMs);
    const result = settle('update', id, true, () => updateResult(id, reply, req.metadata));
    return result.ok ? durable(this.at('update', id, key), wait, reply, result) : result;
  }

  async patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult> {
    const req = preparePatch(id, changes, opts, this.options);
    const wait = waitOf(req.wait, this.writeWait);
    if (req.empty) return this.emptyPatch(id, req.expected);
    const key = sessionKey(id, this.prefix);
    const remove: string[] = [];
    for (const name of req.changes.remove) remove.push(`m${name}`);
    const args = {
      opId: nextOpId(),
      ttlMs: req.ttlMs,
      expected: req.expected,
      maxBytes: this.options.maxMetadataBytes,
      events: this.events(key),
      set: fieldArgs(req.changes.set),
      remove,
    };
    const reply = await this.run('patch', 'patch', id, args, true, key);
    this.principals.keep(reply, req.ttlMs);
    const max = this.options.maxMetadataBytes;
    const result = settle('patch', id, true, () => patchResult(id, reply, req.changes, max));
    return result.ok ? durable(this.at('patch', id, key), wait, reply, result) : result;
  }

  /**
   * @internal A patch that changes nothing is a read (no write function runs,
   * so no new generation, no event, no TTL refresh): the current session, or
   * why there is none, with the usual CAS check.
   */
  private async emptyPatch(id: string, expected: number | undefined): Promise<WriteResult> {
    const loaded = await this.load(id);
    if (typeof loaded === 'string') return { ok: false, reason: loaded };
    if (expected !== undefined && loaded.generation !== expected) {
      return { ok: false, reason: 'conflict', session: loaded };
    }
    return { ok: true, session: loaded };
  }

  async touch(id: string, opts?: TouchOptions): Promise<TouchResult> {
    const req = prepareTouch(id, opts, this.options);
    const reply = await this.run('touch', 'touch', id, { ttlMs: req.ttlMs, expected: req.expected }, true);
    this.principals.keep(reply, req.ttlMs);
    return settle('touch', id, true, () => touchResult(id, reply));
  }

  async terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult> {
    const req = prepareTerminate(id, opts, this.options);
    const wait = waitOf(req.wait, this.terminateWait ?? this.writeWait);
    const key = sessionKey(id, this.prefix);
    const args = { opId: nextOpId(), ttlMs: req.ttlMs, expected: req.expected, events: this.events(key) };
    const reply = await this.run('terminate', 'terminate', id, args, true, key);
    const result = settle('terminate', id, true, () => terminateResult(id, reply));
    return result.ok ? durable(this.at('terminate', id, key), wait, reply, result) : result;
  }

  async mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult> {
    checkId(id);
    return runMutate(this, id, fn, checkMutateArgs(fn, opts));
  }

  /**
   * @internal Pages of the ids of this store's session keys (live or tombstone), by SCAN with `count`
   * per call (every Cluster primary), for the express store's `all`, `length` and `clear`.
   */
  scanIds(count: number): AsyncIterable<string[]> {
    return scanSessionIds({ client: this.client, keyPrefix: this.keyPrefix, prefix: this.prefix }, count);
  }
}

type RedisStoreFeedOptions = ReturnType<typeof resolveRedisOptions>['feedOptions'];
