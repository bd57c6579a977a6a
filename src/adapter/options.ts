/**
 * The constructor arguments the framework stores share: a session-cas store or
 * an ioredis client (with the RedisSessionStore options), in two forms.
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { SessionStore } from '../core/types.js';
import { type AllowedKeys, REDIS_STORE_OPTION_KEYS, checkOptions, checkPositiveInt } from '../core/validate.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../redis/redis-store.js';
import type { Client } from '../redis/scripts.js';
import { type FieldSerializer, checkSerializer } from './fields.js';

/**
 * What happens when two requests of one session change the same top-level
 * field concurrently (changes to different fields always both persist):
 * - `'last-write-wins'` (default): the save that reaches Redis last wins that field.
 * - `'error'`: the later save fails with a `SessionConflictError` and writes
 *   nothing; the earlier value stays. The `cookie` field is exempt (always last write wins).
 */
export type SameFieldPolicy = 'last-write-wins' | 'error';

/** How a framework store turns session objects into fields. */
export interface FieldSessionOptions {
  /** Serializer of each session field. Default `JSON`. */
  serializer?: FieldSerializer;
  /** Policy for concurrent writes to the same field. Default `'last-write-wins'`. */
  sameField?: SameFieldPolicy;
  /** With `sameField: 'error'`: attempts when only other fields moved concurrently. Default 10. */
  maxAttempts?: number;
}

/** {@link FieldSessionOptions} checked, defaults filled in. */
export interface ResolvedFieldOptions {
  readonly serializer: FieldSerializer;
  readonly sameField: SameFieldPolicy;
  readonly maxAttempts: number;
}

/** The FieldSessionOptions keys, for an adapter's own {@link AllowedKeys} list. */
export const FIELD_OPTION_KEYS: AllowedKeys<FieldSessionOptions> = {
  serializer: true,
  sameField: true,
  maxAttempts: true,
};

/** Every RedisSessionStoreOptions key (one list, in validate.ts, that the compiler keeps complete). */
const REDIS_OPTION_KEYS = Object.keys(REDIS_STORE_OPTION_KEYS) as Array<keyof RedisSessionStoreOptions>;

export function isSessionStore(x: unknown): x is SessionStore {
  const s = x as Partial<Record<keyof SessionStore, unknown>> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    (['create', 'peek', 'patch', 'touch', 'terminate', 'mutate'] as const).every((m) => typeof s[m] === 'function')
  );
}

export function isClient(x: unknown): x is Client {
  return typeof x === 'object' && x !== null && typeof (x as { defineCommand?: unknown }).defineCommand === 'function';
}

/**
 * The session-cas store an adapter works on, and its checked options.
 * `storeOrClient` is a {@link SessionStore}, an ioredis client (a
 * RedisSessionStore is built on it from the Redis options), or one object
 * `{ client, ...options }` / `{ store, ...options }` (then `options` is absent).
 * @throws InvalidArgumentError for anything else, unknown or bad options, or
 * Redis options next to a ready store (configure that store instead).
 */
export function resolveSessions<O extends RedisSessionStoreOptions>(
  storeOrClient: unknown,
  options: unknown,
  allowed: AllowedKeys<O>,
): { sessions: SessionStore; options: Partial<O> } {
  if (
    !isClient(storeOrClient) &&
    !isSessionStore(storeOrClient) &&
    options === undefined &&
    typeof storeOrClient === 'object' &&
    storeOrClient !== null &&
    ('client' in storeOrClient || 'store' in storeOrClient)
  ) {
    const { client, store, ...rest } = storeOrClient as { client?: unknown; store?: unknown };
    storeOrClient = client ?? store;
    options = rest;
  }
  const o = checkOptions<O>(options, 'options', allowed);
  if (isClient(storeOrClient)) {
    const redisOptions: RedisSessionStoreOptions = {};
    for (const k of REDIS_OPTION_KEYS) if (o[k] !== undefined) (redisOptions as Record<string, unknown>)[k] = o[k];
    return { sessions: new RedisSessionStore(storeOrClient, redisOptions), options: o };
  }
  if (isSessionStore(storeOrClient)) {
    const misplaced = REDIS_OPTION_KEYS.find((k) => o[k] !== undefined);
    if (misplaced) {
      throw new InvalidArgumentError(`options.${misplaced}`, 'configure it on the SessionStore you pass, not here');
    }
    return { sessions: storeOrClient, options: o };
  }
  throw new InvalidArgumentError('storeOrClient', 'expected a session-cas SessionStore or an ioredis client');
}

/** Checks the {@link FieldSessionOptions} part of already key-checked options. */
export function resolveFieldOptions(o: FieldSessionOptions): ResolvedFieldOptions {
  if (o.sameField !== undefined && o.sameField !== 'last-write-wins' && o.sameField !== 'error') {
    throw new InvalidArgumentError('options.sameField', "expected 'last-write-wins' or 'error'");
  }
  return {
    serializer: checkSerializer(o.serializer),
    sameField: o.sameField ?? 'last-write-wins',
    maxAttempts: o.maxAttempts === undefined ? 10 : checkPositiveInt(o.maxAttempts, 'options.maxAttempts'),
  };
}
