/**
 * session-cas: session state with a generation counter, changed only by
 * atomic compare-and-set, so a terminate or TTL expiry can never be undone by
 * a late writer and two writers never silently overwrite each other.
 * @packageDocumentation
 */
export type {
  CreateOptions,
  CreateResult,
  PrincipalLimitMode,
  TerminateAllOptions,
  TerminateAllResult,
  Metadata,
  MutateFn,
  MutateOptions,
  MutateResult,
  PatchChanges,
  PatchOptions,
  Session,
  SessionStore,
  ReplicationReport,
  ReplicationWait,
  SessionStoreOptions,
  TerminateOptions,
  TerminateResult,
  TouchOptions,
  TouchResult,
  TtlOption,
  WaitOption,
  WriteOptions,
  WriteResult,
} from './core/types.js';
export {
  InvalidArgumentError,
  RedisFaultError,
  SessionStoreError,
  isInvalidArgument,
  isOutcomeUnknown,
  isRedisFault,
  isSessionStoreError,
} from './core/errors.js';
export type { Outcome, SessionStoreErrorCode } from './core/errors.js';
export { RedisSessionStore } from './redis/redis-store.js';
export type { IoredisClientLike, NodeRedisClientLike, SupportedClient } from './redis/client/interface.js';
export { functionLibrary } from './redis/scripts.js';
export type { EvictionPolicyCheck, EvictionPolicyReport } from './redis/eviction-policy.js';
export type { RedisSessionStoreOptions } from './redis/store-options.js';
export { MemorySessionStore } from './memory/memory-store.js';
export type { MemorySessionStoreOptions } from './memory/memory-store.js';
export { DEFAULT_PREFIX, sessionKey } from './redis/keys.js';
export { SLOT_COUNT, keySlot } from './redis/slots.js';
export { MAX_ID_LENGTH } from './core/validate.js';
export { DEFAULTS } from './core/defaults.js';
export type {
  ChangeEvent,
  ChangeFeed,
  ChangeKind,
  FeedStatus,
  GenerationOptions,
  GenerationReader,
  GenerationResult,
  SubscribeOptions,
  Subscription,
} from './core/types.js';
export { SessionCache } from './cache/session-cache.js';
export type { EvictionReason, SessionCacheOptions, SessionCacheStats, ValidationMode } from './cache/session-cache.js';
export { parseChangeMessage } from './redis/change-feed.js';
export type { ChangeFeedOptions } from './redis/change-feed.js';
export { shardChannel } from './redis/shard-channels.js';
