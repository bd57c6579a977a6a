/**
 * session-cas: session state with a generation counter, changed only by
 * atomic compare-and-set, so a terminate or TTL expiry can never be undone by
 * a late writer and two writers never silently overwrite each other.
 * @packageDocumentation
 */
export type {
  CreateResult, Metadata, MutateFn, MutateOptions, MutateResult, PatchChanges, PatchOptions, Session, SessionStore,
  ReplicationReport, ReplicationWait, SessionStoreOptions, TerminateOptions, TerminateResult, TouchOptions, TouchResult, TtlOption,
  WaitOption, WriteOptions, WriteResult,
} from './types.js';
export {
  InvalidArgumentError, RedisFaultError, SessionStoreError, isInvalidArgument, isOutcomeUnknown, isRedisFault,
  isSessionStoreError,
} from './errors.js';
export type { Outcome, SessionStoreErrorCode } from './errors.js';
export { RedisSessionStore } from './redis-store.js';
export { functionLibrary } from './scripts.js';
export type { EvictionPolicyCheck, EvictionPolicyReport, RedisSessionStoreOptions } from './redis-store.js';
export { MemorySessionStore } from './memory-store.js';
export type { MemorySessionStoreOptions } from './memory-store.js';
export { DEFAULT_PREFIX, encodeId, decodeId, sessionKey } from './keys.js';
export { SLOT_COUNT, keySlot } from './slots.js';
export { DEFAULTS, MAX_ID_LENGTH } from './validate.js';
export type { ResolvedOptions } from './validate.js';
export type {
  ChangeEvent, ChangeFeed, ChangeKind, FeedStatus, GenerationOptions, GenerationReader, GenerationResult,
  SubscribeOptions, Subscription,
} from './types.js';
export { SessionCache } from './cache.js';
export type { EvictionReason, SessionCacheOptions, SessionCacheStats, ValidationMode } from './cache.js';
export { parseChangeMessage } from './change-feed.js';
export type { ChangeFeedOptions } from './change-feed.js';
export { shardChannel } from './shard-channels.js';
