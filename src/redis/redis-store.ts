/**
 * The Redis store: every operation is one call of a function of the session-cas
 * Redis Functions library (lua/*.lua, see scripts.ts).
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { Code, type Reply, decodeReply, identityFromFields, requireGeneration, sessionFromFields } from './decode.js';
import { checkSubscribeArgs } from '../core/listeners.js';
import { type ChangeFeedOptions, RedisChangeFeed, checkFeedOptions } from './change-feed.js';
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import { type ConnectionWatch, toFault, watchConnection } from './faults.js';
import type { ScriptName } from './generated/lua.js';
import { sessionKey } from './keys.js';
import { checkMutateArgs, runMutate } from '../core/mutate.js';
import {
  type PrincipalOptions,
  checkCreateOptions,
  checkPrincipal,
  checkTerminateAllArgs,
  resolvePrincipalOptions,
} from '../core/principals.js';
import * as principals from './principals.js';
import {
  type ArgsOf,
  type Client,
  type EventTarget,
  type FieldArgs,
  NO_EVENTS,
  NotSentError,
  callScript,
  loadLibrary,
} from './scripts.js';
import { shardChannel } from './shard-channels.js';
import { connectionForKey, isCluster, keySlot } from './slots.js';
import type {
  ChangeEvent,
  ChangeFeed,
  CreateOptions,
  CreateResult,
  GenerationOptions,
  GenerationReader,
  GenerationResult,
  Metadata,
  ReplicationReport,
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
  ReplicationWait,
  TtlOption,
  WriteOptions,
  WriteResult,
} from '../core/types.js';
import {
  type CheckedChanges,
  type CheckedMetadata,
  DEFAULTS,
  type ResolvedOptions,
  PATCH_OPTION_KEYS,
  REDIS_STORE_OPTION_KEYS,
  TERMINATE_OPTION_KEYS,
  TOUCH_OPTION_KEYS,
  WRITE_OPTION_KEYS,
  checkReplicationWait,
  checkWaitOption,
  checkChanges,
  checkExpectedGeneration,
  checkGeneration,
  checkGenerationOptions,
  checkId,
  checkMetadata,
  checkOptions,
  checkTtl,
  freezeMetadata,
  resolveOptions,
} from '../core/validate.js';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions extends SessionStoreOptions, ChangeFeedOptions {
  /**
   * Prefix of every key this store writes, before any ioredis `keyPrefix`.
   * Default `'scas:'`. Stores with different prefixes never see each other's sessions.
   */
  prefix?: string;
  /**
   * Publish a change event (`<kind>:<generation>:<key>`, kind one of created,
   * updated, terminated, key the record's key as Redis sees it) from inside
   * every successful write, in the same atomic step: PUBLISH on this channel,
   * or on a Cluster client SPUBLISH on the shard channel of the key's slot
   * (`shardChannel`). Default: off. Needed by `subscribe` and by a
   * {@link SessionCache} in `'events'` mode.
   */
  eventsChannel?: string;
  /**
   * After a successful `terminate`, run `WAIT replicas timeoutMs` on the
   * connection that ran it (on a Cluster client: the connection to the
   * primary of the session's slot) and report in the result how many replicas
   * acknowledged. Redis replicates asynchronously: without this, a terminate
   * acknowledged by a primary that fails before replicating it is lost, and
   * the session comes back on the promoted replica. Default: off (or
   * `writeWait` when that is set). A call's `opts.wait` overrides it.
   */
  terminateWait?: ReplicationWait;
  /**
   * The same as `terminateWait` for every write: after a successful `create`,
   * `update`, `patch`, `terminate` (and `mutate`'s write), WAIT for this many
   * replicas and report the count in the result's `replication`. Nothing is
   * ever undone: a write whose replicas did not acknowledge in time is
   * applied on the primary and reported `durable: false`. Default: off. A
   * call's `opts.wait` overrides it (`false`: no wait for that call).
   */
  writeWait?: ReplicationWait;
  /**
   * What to do when the server's `maxmemory-policy` lets Redis evict session
   * keys, and with them tombstones (any policy but `noeviction`; see
   * {@link checkEvictionPolicy}). Checked once, on the store's first call.
   * - `'warn'` (default): run the check beside the first call and emit a
   *   process warning (`SessionCasWarning`) when the policy can evict
   *   tombstones or cannot be read.
   * - `'error'`: the first call waits for the check; when the policy can
   *   evict tombstones, every call throws `UNSAFE_CONFIG` and sends nothing.
   *   When the policy cannot be read (INFO and CONFIG refused by ACL or a
   *   managed service) it warns and works, as in `'warn'`.
   * - `'off'`: no check.
   */
  evictionPolicyCheck?: EvictionPolicyCheck;
}

/** See {@link RedisSessionStoreOptions.evictionPolicyCheck}. */
export type EvictionPolicyCheck = 'warn' | 'error' | 'off';

/** What {@link RedisSessionStore.checkEvictionPolicy} found. */
export interface EvictionPolicyReport {
  /** The server's `maxmemory-policy`, or null when neither INFO nor CONFIG GET could read it. */
  readonly policy: string | null;
  /** The server's `maxmemory` in bytes (0: no limit), or null when unknown. */
  readonly maxmemory: number | null;
  /** true: Redis may evict tombstones under memory pressure; false: it never evicts; null: unknown. */
  readonly canEvictTombstones: boolean | null;
}

const EVICTION_WARNING = 'SESSION_CAS_EVICTION_POLICY';
const CHECK_MODES: ReadonlySet<string> = new Set<EvictionPolicyCheck>(['warn', 'error', 'off']);

/**
 * Op ids: 8 base64url characters from 6 random bytes (48 bits), drawn from a
 * pool refilled 1024 at a time. A write carries its op id into its function,
 * which remembers the last 8 per session, so a call that ioredis re-sends
 * after a reconnect reports its first application instead of applying
 * twice. Two different writes on one session share an id with probability
 * about 8 / 2^48 per write.
 */
const OP_ID_BYTES = 6;
const opIdPool = Buffer.alloc(OP_ID_BYTES * 1024);
let opIdOffset = opIdPool.length;
function nextOpId(): string {
  if (opIdOffset === opIdPool.length) {
    randomFillSync(opIdPool);
    opIdOffset = 0;
  }
  const id = opIdPool.toString('base64url', opIdOffset, opIdOffset + OP_ID_BYTES);
  opIdOffset += OP_ID_BYTES;
  return id;
}

/** Metadata as the functions take it: flat `m<name>`, value pairs (built by push: no spread, any size). */
function fieldArgs(checked: CheckedMetadata): FieldArgs {
  const out: string[] = [];
  for (const [k, v] of checked.entries) out.push(`m${k}`, v);
  return out;
}

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
  private readonly channel: string;
  /** The client's ioredis `keyPrefix` (Redis sees it before every key). */
  private readonly keyPrefix: string;
  private readonly terminateWait: ReplicationWait | undefined;
  private readonly writeWait: ReplicationWait | undefined;
  private feed: RedisChangeFeed | undefined;
  private readonly feedOptions: Required<ChangeFeedOptions>;
  private readonly evictionPolicyCheck: EvictionPolicyCheck;
  /** The first call's policy check; undefined until then, or again after a connection failure. */
  private policyGate: Promise<void> | undefined;
  /** The client's last connection error, for the cause of a fault. */
  private readonly connection: ConnectionWatch;

  /** @throws InvalidArgumentError for a client that is not ioredis, or bad options. */
  constructor(client: Client, options?: RedisSessionStoreOptions) {
    if (typeof client !== 'object' || client === null || typeof (client as Client).defineCommand !== 'function') {
      throw new InvalidArgumentError('client', 'expected an ioredis Redis or Cluster instance');
    }
    const o = checkOptions<RedisSessionStoreOptions>(options, 'options', REDIS_STORE_OPTION_KEYS);
    this.options = resolveOptions(o);
    this.principalOptions = resolvePrincipalOptions(o);
    if (o.prefix !== undefined && (typeof o.prefix !== 'string' || /[{}]/.test(o.prefix))) {
      // A brace in the prefix would make Redis hash part of the prefix instead
      // of the id, putting many sessions in one cluster slot.
      throw new InvalidArgumentError('options.prefix', 'expected a string without `{` or `}`');
    }
    if (o.eventsChannel !== undefined && (typeof o.eventsChannel !== 'string' || o.eventsChannel === '')) {
      throw new InvalidArgumentError('options.eventsChannel', 'expected a non-empty string');
    }
    this.terminateWait = checkReplicationWait(o.terminateWait, 'options.terminateWait');
    this.writeWait = checkReplicationWait(o.writeWait, 'options.writeWait');
    if (o.evictionPolicyCheck !== undefined && !CHECK_MODES.has(o.evictionPolicyCheck as string)) {
      throw new InvalidArgumentError('options.evictionPolicyCheck', "expected 'warn', 'error' or 'off'");
    }
    this.evictionPolicyCheck = o.evictionPolicyCheck ?? DEFAULTS.evictionPolicyCheck;
    this.prefix = o.prefix ?? DEFAULTS.prefix;
    this.channel = o.eventsChannel ?? '';
    if (this.channel !== '' && isCluster(client) && /[{}]/.test(this.channel)) {
      // The shard channel's own hash tag must decide its slot.
      throw new InvalidArgumentError(
        'options.eventsChannel',
        'must not contain `{` or `}` on a Cluster client (the shard channels add a hash tag)',
      );
    }
    this.client = client;
    this.keyPrefix = (client as unknown as { options?: { keyPrefix?: string } }).options?.keyPrefix ?? '';
    this.connection = watchConnection(client);
    this.feedOptions = checkFeedOptions(o);
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

  /** Where a write on `key` publishes its event: the channel, or on a Cluster the shard channel of its slot. */
  private events(key: string): EventTarget {
    if (this.channel === '') return NO_EVENTS;
    if (!isCluster(this.client)) return { channel: this.channel, command: 'PUBLISH' };
    return { channel: shardChannel(this.channel, keySlot(this.keyPrefix + key)), command: 'SPUBLISH' };
  }

  /** The Redis key of a session's record (without the client's `keyPrefix`). */
  keyFor(id: string): string {
    return sessionKey(checkId(id), this.prefix);
  }

  private async run<N extends ScriptName>(
    op: string,
    script: N,
    id: string,
    args: ArgsOf<N>,
    writes: boolean,
    key = sessionKey(id, this.prefix),
  ): Promise<Reply> {
    if (this.evictionPolicyCheck !== 'off') await this.gateOnPolicy();
    let raw: unknown;
    try {
      raw = await callScript(this.client, script, key, args);
    } catch (err) {
      if (err instanceof NotSentError)
        throw toFault(err.cause, op, id, writes, { connection: this.connection, sent: false });
      throw toFault(err, op, id, writes, { connection: this.connection });
    }
    return decodeReply(raw);
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
  async checkEvictionPolicy(): Promise<EvictionPolicyReport> {
    const c = this.client as unknown as {
      info(section: string): Promise<string>;
      call(...args: string[]): Promise<unknown>;
    };
    let policy: string | null = null;
    let maxmemory: number | null = null;
    try {
      const info = await c.info('memory');
      policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
      const max = /^maxmemory:(\d+)/m.exec(info)?.[1];
      maxmemory = max === undefined ? null : Number(max);
    } catch (err) {
      if (!isRefusal(err)) throw toFault(err, 'checkEvictionPolicy', '', false, { connection: this.connection });
    }
    if (policy === null) {
      try {
        const reply = await c.call('CONFIG', 'GET', 'maxmemory-policy');
        policy = configValue(reply);
      } catch (err) {
        if (!isRefusal(err)) throw toFault(err, 'checkEvictionPolicy', '', false, { connection: this.connection });
      }
    }
    return { policy, maxmemory, canEvictTombstones: policy === null ? null : policy !== 'noeviction' };
  }

  /** Runs the policy check once per store; in 'error' mode the first call waits for it. */
  private gateOnPolicy(): Promise<void> | undefined {
    if (!this.policyGate) {
      const mode = this.evictionPolicyCheck;
      this.policyGate = this.checkEvictionPolicy().then(
        (report) => {
          if (report.canEvictTombstones === null) {
            warn(
              "session-cas could not read the server's maxmemory-policy (INFO and CONFIG GET refused); " +
                'make sure it is noeviction, or evicted tombstones let terminated ids be created again early.',
            );
          } else if (report.canEvictTombstones) {
            const message =
              `maxmemory-policy is ${report.policy} (maxmemory ${report.maxmemory ?? '?'}): Redis may evict ` +
              'session tombstones under memory pressure, and a terminated id could then be created again before ' +
              'tombstoneTtlMs. Use maxmemory-policy noeviction.';
            if (mode === 'error') throw new SessionStoreError('UNSAFE_CONFIG', message);
            warn(message);
          }
        },
        (err: unknown) => {
          this.policyGate = undefined; // a connection failure: check again on the next call
          throw err;
        },
      );
      if (mode === 'warn') this.policyGate.catch(() => undefined);
    }
    return this.evictionPolicyCheck === 'error' ? this.policyGate : undefined;
  }

  private ttl(opts: TtlOption, argument = 'opts.ttlMs'): number {
    return opts.ttlMs === undefined ? this.options.ttlMs : checkTtl(opts.ttlMs, argument);
  }

  private conflict(id: string, reply: Reply): { ok: false; reason: 'conflict'; session: Session } {
    return { ok: false, reason: 'conflict', session: sessionFromFields(id, reply.fields) };
  }

  async create(id: string, metadata: Metadata = {}, opts?: CreateOptions): Promise<CreateResult> {
    checkId(id);
    const checked = checkMetadata(metadata, this.options.maxMetadataBytes);
    const { o, principal } = checkCreateOptions(opts);
    const ttlMs = this.ttl(o);
    const wait = this.waitOf(o, this.writeWait);
    const create = () => this.createRecord(id, checked, ttlMs, wait, principal);
    if (principal === undefined) return create();
    return principals.createForPrincipal(this.principalBackend(), id, principal, ttlMs, create);
  }

  private async createRecord(
    id: string,
    checked: CheckedMetadata,
    ttlMs: number,
    wait: ReplicationWait | undefined,
    principal: string | undefined,
  ): Promise<CreateResult> {
    const key = sessionKey(id, this.prefix);
    const args = {
      opId: nextOpId(),
      ttlMs,
      events: this.events(key),
      principal: principal ?? '',
      lifetimeMs: this.principalOptions.maxLifetimeMs ?? undefined,
      fields: fieldArgs(checked),
    };
    const reply = await this.run('create', 'create', id, args, true, key);
    switch (reply.code) {
      case Code.OK:
      case Code.REPLAYED: {
        // createdAt is the create's generation (server µs) in ms, as create.lua stores it.
        const identity = { principal, createdAt: Math.floor(requireGeneration(reply) / 1000) };
        const session = this.written(id, reply, checked, identity);
        return this.durable('create', id, wait, reply, { ok: true, session });
      }
      case Code.EXISTS:
        return { ok: false, reason: 'exists' };
      case Code.TERMINATED:
        return { ok: false, reason: 'terminated' };
      default:
        throw unexpectedCode('create', reply);
    }
  }

  /**
   * The session a create or update produced: its own metadata at the reply's
   * generation, or, for a re-sent call that later writes have overtaken, the
   * current record (the closest truthful snapshot; its generation is the
   * current one, so the caller's next CAS sees what they did).
   */
  private written(
    id: string,
    reply: Reply,
    checked: CheckedMetadata,
    known: { principal?: string | undefined; createdAt?: number | undefined } = {},
  ): Session {
    const identity = identityFromFields(reply.fields);
    if (hasGeneration(reply.fields)) return sessionFromFields(id, reply.fields);
    const principal = identity.principal ?? known.principal;
    const createdAt = identity.createdAt ?? known.createdAt ?? 0;
    const base = { id, generation: requireGeneration(reply), metadata: freezeMetadata(checked.entries), createdAt };
    return principal === undefined ? base : { ...base, principal };
  }

  /** What the principal logic (principals.ts) calls back into. */
  private principalBackend(): principals.PrincipalBackend {
    return {
      principalOptions: this.principalOptions,
      runIndex: (op, script, principal, args) =>
        this.run(op, script, principal, args, script !== 'principalList', this.indexKey(principal)),
      load: (id) => this.load(id),
      terminate: (id, opts) => this.terminate(id, opts),
    };
  }

  private indexKey(principal: string): string {
    return principals.principalIndexKey(principal, this.prefix);
  }

  /**
   * A member's TTL was reset: keep its principal's index alive at least as
   * long (not needed with maxLifetimeMs, whose index outlives every member).
   * Not awaited: a lost keep is covered by the index's margin (see keepTtl).
   */
  private keepIndex(fields: readonly string[], ttlMs: number): void {
    if (this.principalOptions.maxLifetimeMs !== null) return;
    const { principal } = identityFromFields(fields);
    if (principal === undefined) return;
    const key = this.indexKey(principal);
    this.run('keepIndex', 'principalKeep', principal, principals.keepTtl(ttlMs), true, key).catch(() => undefined);
  }

  /**
   * The live sessions of `principal`, oldest `createdAt` first (ties by id).
   * Never refreshes a TTL. Reads the principal's index, then every session in
   * it (one pipelined round trip), and drops from the index the entries of
   * sessions that are gone.
   * @throws InvalidArgumentError for a bad principal, before any I/O.
   * @throws RedisFaultError when Redis fails.
   */
  async sessionsOf(principal: string): Promise<Session[]> {
    checkPrincipal(principal);
    return principals.sessionsOf(this.principalBackend(), principal);
  }

  /**
   * Terminates every live session of `principal` but those in `opts.except`,
   * each exactly as `terminate` does (tombstone, `terminated` event, and the
   * store's `terminateWait`).
   * @returns the ids it ended, oldest first.
   * @throws InvalidArgumentError for a bad principal or `except`, before any I/O.
   * @throws RedisFaultError when Redis fails (some sessions may be terminated already).
   */
  async terminateAll(principal: string, opts?: TerminateAllOptions): Promise<TerminateAllResult> {
    const { principal: p, except } = checkTerminateAllArgs(principal, opts);
    return principals.terminateAll(this.principalBackend(), p, except);
  }

  async get(id: string): Promise<Session | null> {
    checkId(id);
    if (!this.options.touchOnGet) return this.peek(id);
    const reply = await this.run('get', 'get', id, { ttlMs: this.options.ttlMs }, true);
    if (reply.code !== Code.OK) return null;
    this.keepIndex(reply.fields, this.options.ttlMs);
    return sessionFromFields(id, reply.fields);
  }

  async peek(id: string): Promise<Session | null> {
    const loaded = await this.load(id);
    return typeof loaded === 'string' ? null : loaded;
  }

  /** @internal The live session or why there is none; used by `mutate`. */
  async load(id: string): Promise<Session | 'not_found' | 'terminated'> {
    checkId(id);
    const reply = await this.run('peek', 'peek', id, undefined, false);
    if (reply.code === Code.OK) return sessionFromFields(id, reply.fields);
    return reply.code === Code.TERMINATED ? 'terminated' : 'not_found';
  }

  async generationOf(id: string, opts?: GenerationOptions): Promise<GenerationResult> {
    checkId(id);
    const { touch } = checkGenerationOptions(opts, this.options.touchOnGet);
    const reply = await this.run(
      'generationOf',
      'generation',
      id,
      { ttlMs: touch ? this.options.ttlMs : undefined },
      touch,
    );
    if (reply.code !== Code.OK) return missing('generationOf', reply);
    this.keepIndex(reply.fields, this.options.ttlMs);
    return { ok: true, generation: requireGeneration(reply) };
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
    checkId(id);
    const expected = checkGeneration(expectedGeneration, 'expectedGeneration');
    const checked = checkMetadata(metadata, this.options.maxMetadataBytes);
    const o = checkOptions<WriteOptions>(opts, 'opts', WRITE_OPTION_KEYS);
    const ttlMs = this.ttl(o);
    const wait = this.waitOf(o, this.writeWait);
    const key = sessionKey(id, this.prefix);
    const args = { opId: nextOpId(), ttlMs, expected, events: this.events(key), fields: fieldArgs(checked) };
    const reply = await this.run('update', 'update', id, args, true, key);
    switch (reply.code) {
      case Code.OK:
      case Code.REPLAYED:
        this.keepIndex(reply.fields, ttlMs);
        return this.durable('update', id, wait, reply, { ok: true, session: this.written(id, reply, checked) });
      case Code.CONFLICT:
        return this.conflict(id, reply);
      default:
        return missing('update', reply);
    }
  }

  async patch(id: string, changes: PatchChanges, opts?: PatchOptions): Promise<WriteResult> {
    checkId(id);
    const checked = checkChanges(changes, this.options.maxMetadataBytes);
    const o = checkOptions<PatchOptions>(opts, 'opts', PATCH_OPTION_KEYS);
    const expected = checkExpectedGeneration(o);
    const ttlMs = this.ttl(o);
    const wait = this.waitOf(o, this.writeWait);
    if (checked.set.entries.length === 0 && checked.remove.length === 0) return this.emptyPatch(id, expected ?? '');
    const key = sessionKey(id, this.prefix);
    const remove: string[] = [];
    for (const name of checked.remove) remove.push(`m${name}`);
    const args = {
      opId: nextOpId(),
      ttlMs,
      expected,
      maxBytes: this.options.maxMetadataBytes,
      events: this.events(key),
      set: fieldArgs(checked.set),
      remove,
    };
    const reply = await this.run('patch', 'patch', id, args, true, key);
    switch (reply.code) {
      case Code.OK:
        this.keepIndex(reply.fields, ttlMs);
        // The reply holds the record before the patch: apply the patch to it.
        return this.durable('patch', id, wait, reply, {
          ok: true,
          session: patchedSession(id, requireGeneration(reply), reply.fields, checked),
        });
      case Code.REPLAYED:
        // Applied by an earlier send of this call: the current record is the
        // closest truthful snapshot (later writes may have moved it on).
        return this.durable('patch', id, wait, reply, { ok: true, session: sessionFromFields(id, reply.fields) });
      case Code.CONFLICT:
        return this.conflict(id, reply);
      case Code.TOO_LARGE:
        throw new InvalidArgumentError(
          'changes',
          `the patched metadata would be ${reply.generation ?? '?'} bytes, over maxMetadataBytes ` +
            `(${this.options.maxMetadataBytes}); found by the server, nothing was written`,
        );
      default:
        return missing('patch', reply);
    }
  }

  /**
   * A patch that changes nothing is a read (no write function runs, so no new
   * generation, no event, no TTL refresh): the current session, or why
   * there is none, with the usual CAS check.
   */
  private async emptyPatch(id: string, expected: number | ''): Promise<WriteResult> {
    const loaded = await this.load(id);
    if (typeof loaded === 'string') return { ok: false, reason: loaded };
    if (expected !== '' && loaded.generation !== expected) return { ok: false, reason: 'conflict', session: loaded };
    return { ok: true, session: loaded };
  }

  async touch(id: string, opts?: TouchOptions): Promise<TouchResult> {
    checkId(id);
    const o = checkOptions<TouchOptions>(opts, 'opts', TOUCH_OPTION_KEYS);
    const ttlMs = this.ttl(o);
    const reply = await this.run('touch', 'touch', id, { ttlMs, expected: checkExpectedGeneration(o) }, true);
    switch (reply.code) {
      case Code.OK:
        this.keepIndex(reply.fields, ttlMs);
        return { ok: true, generation: requireGeneration(reply) };
      case Code.CONFLICT:
        return this.conflict(id, reply);
      default:
        return missing('touch', reply);
    }
  }

  async terminate(id: string, opts?: TerminateOptions): Promise<TerminateResult> {
    checkId(id);
    const o = checkOptions<TerminateOptions>(opts, 'opts', TERMINATE_OPTION_KEYS);
    const wait = this.waitOf(o, this.terminateWait ?? this.writeWait);
    const key = sessionKey(id, this.prefix);
    const args = {
      opId: nextOpId(),
      ttlMs: this.options.tombstoneTtlMs,
      expected: checkExpectedGeneration(o),
      events: this.events(key),
    };
    const reply = await this.run('terminate', 'terminate', id, args, true, key);
    switch (reply.code) {
      case Code.OK:
      case Code.REPLAYED: {
        const generation = requireGeneration(reply);
        if (!wait) return { ok: true, generation };
        return { ok: true, generation, replication: await this.waitForReplicas('terminate', id, wait, reply) };
      }
      case Code.CONFLICT:
        return this.conflict(id, reply);
      default:
        return missing('terminate', reply);
    }
  }

  /**
   * WAIT on the connection that served the terminate: the client itself, or
   * on a Cluster client the primary of the key's slot. Called in the same
   * tick as the terminate's reply, so the connection (socket) is the one the
   * reply came on; WAIT counts only the writes made on its own socket, so if
   * ioredis reconnected before WAIT ran, or the terminate was a replay of an
   * earlier send, nothing confirms the terminate: `durable: false`.
   * A REPLAYED reply means ioredis re-sent the call after a reconnect and an
   * earlier send applied it, on a connection WAIT here cannot cover.
   * The write is applied by then, so a failure here is reported in
   * `replication.error` (`durable: false`), never thrown: throwing would
   * tell the caller the write may not have applied.
   */
  private async waitForReplicas(
    op: string,
    id: string,
    wait: ReplicationWait,
    reply: Reply,
  ): Promise<ReplicationReport> {
    const { replicas, timeoutMs } = wait;
    const wroteHere = reply.code === Code.OK;
    let acknowledged: unknown;
    let sameSocket = false;
    try {
      const conn = connectionForKey(this.client, sessionKey(id, this.prefix));
      if (!conn) throw new Error("the client's slot map names no primary for the session's slot");
      const socket = conn.stream;
      acknowledged = await conn.call('WAIT', replicas, timeoutMs);
      sameSocket = socket !== undefined && conn.stream === socket;
    } catch (err) {
      // The write is applied (its reply came back); only its replication is unconfirmed.
      return { acknowledged: 0, requested: replicas, durable: false, error: toFault(err, `${op} (WAIT)`, id, false) };
    }
    if (typeof acknowledged !== 'number') {
      const error = new SessionStoreError('UNEXPECTED_REPLY', `WAIT replied ${String(acknowledged)}`);
      return { acknowledged: 0, requested: replicas, durable: false, error };
    }
    const confirmed = wroteHere && sameSocket ? acknowledged : 0;
    return { acknowledged: confirmed, requested: replicas, durable: confirmed >= replicas };
  }

  /** The wait a write makes: its `opts.wait`, else the store's default for it. */
  private waitOf(o: { wait?: unknown }, fallback: ReplicationWait | undefined): ReplicationWait | undefined {
    const w = checkWaitOption(o);
    return w === false ? undefined : (w ?? fallback);
  }

  /** A successful write's result, with its replication report when it waits. */
  private async durable<R extends { ok: true }>(
    op: string,
    id: string,
    wait: ReplicationWait | undefined,
    reply: Reply,
    result: R,
  ): Promise<R & { replication?: ReplicationReport }> {
    if (!wait) return result;
    return { ...result, replication: await this.waitForReplicas(op, id, wait, reply) };
  }

  async mutate(id: string, fn: MutateFn, opts?: MutateOptions): Promise<MutateResult> {
    checkId(id);
    return runMutate(this, id, fn, checkMutateArgs(fn, opts));
  }
}

/** The session after a patch: the record before it (from the reply), with the changes applied. */
function patchedSession(id: string, generation: number, before: readonly string[], changes: CheckedChanges): Session {
  const metadata = new Map<string, string>();
  for (let i = 0; i < before.length; i += 2) {
    const f = before[i]!;
    if (f.charCodeAt(0) === 109 /* m */) metadata.set(f.slice(1), before[i + 1]!);
  }
  for (const name of changes.remove) metadata.delete(name);
  for (const [k, v] of changes.set.entries) metadata.set(k, v);
  const { principal, createdAt = 0 } = identityFromFields(before);
  const base = { id, generation, metadata: freezeMetadata([...metadata]), createdAt };
  return principal === undefined ? base : { ...base, principal };
}

/** Whether raw fields are a whole record (they name `g`), not just `c`/`p`. */
function hasGeneration(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'g') return true;
  return false;
}

/** An error reply (NOPERM, unknown or renamed command): the server refused, the connection is fine. */
function isRefusal(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ReplyError' || err.constructor?.name === 'ReplyError');
}

/** The value of a one-parameter CONFIG GET reply: RESP2 `[name, value]`, RESP3 `{ name: value }`. */
function configValue(reply: unknown): string | null {
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : null;
  if (reply instanceof Map) {
    const v = [...reply.values()][0];
    return typeof v === 'string' ? v : null;
  }
  if (typeof reply === 'object' && reply !== null) {
    const v = Object.values(reply)[0];
    return typeof v === 'string' ? v : null;
  }
  return null;
}

function warn(message: string): void {
  process.emitWarning(message, { type: 'SessionCasWarning', code: EVICTION_WARNING });
}

function unexpectedCode(op: string, reply: Reply): SessionStoreError {
  return new SessionStoreError('UNEXPECTED_REPLY', `${op}: unexpected reply code ${reply.code}`);
}

function missing(op: string, reply: Reply): { ok: false; reason: 'not_found' | 'terminated' } {
  if (reply.code === Code.NOT_FOUND) return { ok: false, reason: 'not_found' };
  if (reply.code === Code.TERMINATED) return { ok: false, reason: 'terminated' };
  throw unexpectedCode(op, reply);
}
