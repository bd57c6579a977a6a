/**
 * The options of {@link RedisSessionStore}: their interface, the record of
 * allowed keys, and the checks that turn them into the store's settings.
 * @module
 */
import { DEFAULTS, type ResolvedOptions, resolveOptions } from '../core/defaults.js';
import { type PrincipalOptions, resolvePrincipalOptions } from '../core/principals.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ReplicationWait, SessionStoreOptions } from '../core/types.js';
import { type AllowedKeys, STORE_OPTION_KEYS, checkOptions, checkReplicationWait } from '../core/validate.js';
import { type ChangeFeedOptions, checkFeedOptions } from './change-feed.js';
import { type EvictionPolicyCheck, checkPolicyMode } from './eviction-policy.js';
import type { Client } from './scripts.js';
import { isCluster } from './slots.js';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions extends SessionStoreOptions, ChangeFeedOptions {
  /**
   * Prefix of every key this store writes, before any ioredis `keyPrefix`.
   * Default `'scas:'`. Stores with different prefixes never see each other's sessions.
   */
  prefix?: string;
  /**
   * Publish a change event (`<kind>:<generation>:<key>[:p<principal>]`, kind one of created,
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
   * {@link RedisSessionStore.checkEvictionPolicy}). Checked once, on the store's first call.
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

/** The keys a {@link RedisSessionStoreOptions} may have (the express store spreads them into its own). */
export const REDIS_STORE_OPTION_KEYS: AllowedKeys<RedisSessionStoreOptions> = {
  ...STORE_OPTION_KEYS,
  prefix: true,
  eventsChannel: true,
  eventsHeartbeatMs: true,
  terminateWait: true,
  writeWait: true,
  evictionPolicyCheck: true,
};

// DEFAULTS (in core, which cannot see this interface) must name every option.
const _everyOptionHasADefault: Readonly<Record<keyof RedisSessionStoreOptions, unknown>> = DEFAULTS;
void _everyOptionHasADefault;

/** The store's settings after defaults and checks. */
export interface RedisStoreSettings {
  readonly options: ResolvedOptions;
  /** `maxSessionsPerPrincipal`, `onPrincipalLimit`, `maxLifetimeMs` (see core/principals.ts). */
  readonly principalOptions: PrincipalOptions;
  readonly prefix: string;
  /** `''`: no events. */
  readonly channel: string;
  readonly terminateWait: ReplicationWait | undefined;
  readonly writeWait: ReplicationWait | undefined;
  readonly evictionPolicyCheck: EvictionPolicyCheck;
  readonly feedOptions: Required<ChangeFeedOptions>;
}

/** @throws InvalidArgumentError for bad options. */
export function resolveRedisOptions(client: Client, options: unknown): RedisStoreSettings {
  const o = checkOptions<RedisSessionStoreOptions>(options, 'options', REDIS_STORE_OPTION_KEYS);
  const resolved = resolveOptions(o);
  if (o.prefix !== undefined && (typeof o.prefix !== 'string' || /[{}]/.test(o.prefix))) {
    // A brace in the prefix would make Redis hash part of the prefix instead
    // of the id, putting many sessions in one cluster slot.
    throw new InvalidArgumentError('options.prefix', 'expected a string without `{` or `}`');
  }
  if (o.eventsChannel !== undefined && (typeof o.eventsChannel !== 'string' || o.eventsChannel === '')) {
    throw new InvalidArgumentError('options.eventsChannel', 'expected a non-empty string');
  }
  const terminateWait = checkReplicationWait(o.terminateWait, 'options.terminateWait');
  const writeWait = checkReplicationWait(o.writeWait, 'options.writeWait');
  const evictionPolicyCheck = checkPolicyMode(o.evictionPolicyCheck) ?? DEFAULTS.evictionPolicyCheck;
  const channel = o.eventsChannel ?? '';
  if (channel !== '' && isCluster(client) && /[{}]/.test(channel)) {
    // The shard channel's own hash tag must decide its slot.
    throw new InvalidArgumentError(
      'options.eventsChannel',
      'must not contain `{` or `}` on a Cluster client (the shard channels add a hash tag)',
    );
  }
  return {
    options: resolved,
    principalOptions: resolvePrincipalOptions(o),
    prefix: o.prefix ?? DEFAULTS.prefix,
    channel,
    terminateWait,
    writeWait,
    evictionPolicyCheck,
    feedOptions: checkFeedOptions(o),
  };
}
