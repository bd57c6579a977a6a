/**
 * Options of the express store, and turning the constructor's arguments into a session-cas store.
 * @module
 */
import type { SessionData } from 'express-session';
import { InvalidArgumentError } from '../core/errors.js';
import type { SessionStore } from '../core/types.js';
import { DEFAULTS } from '../core/defaults.js';
import { type AllowedKeys, checkOptions, checkPositiveInt } from '../core/validate.js';
import { RedisSessionStore } from '../redis/redis-store.js';
import { REDIS_STORE_OPTION_KEYS, type RedisSessionStoreOptions } from '../redis/store-options.js';
import { isSupportedClient } from '../redis/client/detect.js';
import type { SupportedClient as Client } from '../redis/client/interface.js';
import { FieldCodec, type FieldSerializer } from './field-diff.js';

/**
 * What happens when two requests of one session change the same top-level
 * field concurrently (changes to different fields always both persist):
 * - `'last-write-wins'` (default): the save that reaches Redis last wins that field.
 * - `'error'`: the later save fails with a {@link SessionConflictError} and writes
 *   nothing; the earlier value stays. The `cookie` field is exempt (always last write wins).
 */
export type SameFieldPolicy = 'last-write-wins' | 'error';

/** Options of {@link CasSessionStore}. */
export interface CasSessionStoreOptions extends RedisSessionStoreOptions {
  /** Serializer of each session field. Default `JSON`. */
  serializer?: FieldSerializer;
  /** Policy for concurrent writes to the same field. Default `'last-write-wins'`. */
  sameField?: SameFieldPolicy;
  /** With `sameField: 'error'`: attempts when only other fields moved concurrently. Default 10. */
  maxAttempts?: number;
  /** `COUNT` hint of each SCAN call made by `all`, `length` and `clear`. Default 100. */
  scanCount?: number;
  /**
   * Names the principal (user) of a session when it is first stored: called
   * with the session data on the save that creates the record, never later (a
   * session's principal cannot change). Return `undefined` for none. So that a
   * session gets its principal, apps should `req.session.regenerate()` at
   * login, as express-session advises anyway, and set the user before the
   * first save. Lists and ends with `destroyAll` (and the store's
   * `sessionsOf` / `terminateAll`). Default: no principal.
   */
  principal?: (sess: SessionData) => string | undefined;
}

/**
 * The one-argument form, in the style of other express-session stores:
 * `new CasSessionStore({ client, prefix })` or `new CasSessionStore({ store })`.
 */
export type CasSessionStoreConfig = CasSessionStoreOptions &
  ({ client: Client; store?: undefined } | { store: SessionStore; client?: undefined });

/** The constructor's arguments, checked and with defaults. */
export interface ResolvedConfig {
  readonly sessions: SessionStore;
  readonly codec: FieldCodec;
  readonly sameField: SameFieldPolicy;
  readonly maxAttempts: number;
  readonly scanCount: number;
  readonly principal: ((sess: SessionData) => string | undefined) | undefined;
}

/** Default `COUNT` hint of SCAN. */
const SCAN_COUNT = 100;

/** Every RedisSessionStoreOptions key (one list, in validate.ts, that the compiler keeps complete). */
const REDIS_OPTION_KEYS = Object.keys(REDIS_STORE_OPTION_KEYS) as Array<keyof RedisSessionStoreOptions>;
/** The options every framework store takes (the Fastify one lists nothing, so it has no `scanCount`). */
export const FIELD_STORE_OPTION_KEYS: AllowedKeys<Omit<CasSessionStoreOptions, 'scanCount'>> = {
  ...REDIS_STORE_OPTION_KEYS,
  serializer: true,
  sameField: true,
  maxAttempts: true,
  principal: true,
};
/** Every CasSessionStoreOptions key: anything else is refused as a typo. */
const OPTION_KEYS: AllowedKeys<CasSessionStoreOptions> = { ...FIELD_STORE_OPTION_KEYS, scanCount: true };

function isSessionStore(x: unknown): x is SessionStore {
  const s = x as Partial<Record<keyof SessionStore, unknown>> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    (['create', 'peek', 'patch', 'touch', 'terminate', 'mutate'] as const).every((m) => typeof s[m] === 'function')
  );
}

function isClient(x: unknown): x is Client {
  return isSupportedClient(x);
}

/**
 * Checks the constructor's arguments (two-argument or one-object form) and
 * builds the `RedisSessionStore` when given a client. `allowed` is the list of
 * option keys the calling store takes (default: the express store's).
 * @throws InvalidArgumentError naming the argument.
 */
export function resolveConfig(
  storeOrClient: SessionStore | Client | CasSessionStoreConfig,
  options: CasSessionStoreOptions | undefined,
  allowed: Partial<AllowedKeys<CasSessionStoreOptions>> = OPTION_KEYS,
): ResolvedConfig {
  if (
    !isClient(storeOrClient) &&
    !isSessionStore(storeOrClient) &&
    options === undefined &&
    typeof storeOrClient === 'object' &&
    storeOrClient !== null
  ) {
    if ('client' in storeOrClient || 'store' in storeOrClient) {
      const { client, store, ...rest } = storeOrClient as CasSessionStoreConfig;
      storeOrClient = (client ?? store) as SessionStore | Client;
      options = rest;
    } else if (Object.getPrototypeOf(storeOrClient) === Object.prototype) {
      // A config object with a typo such as `clinet`: name the key, not just "storeOrClient".
      checkOptions(storeOrClient, 'options', { ...allowed, client: true, store: true } as AllowedKeys<object>);
    }
  }
  const o = checkOptions<CasSessionStoreOptions>(options, 'options', allowed as AllowedKeys<CasSessionStoreOptions>);
  const sessions = sessionStoreOf(storeOrClient, o);
  const codec = new FieldCodec(o.serializer);
  if (o.sameField !== undefined && o.sameField !== 'last-write-wins' && o.sameField !== 'error') {
    throw new InvalidArgumentError('options.sameField', "expected 'last-write-wins' or 'error'");
  }
  if (o.principal !== undefined && typeof o.principal !== 'function') {
    throw new InvalidArgumentError('options.principal', 'expected a function (sess) => string | undefined');
  }
  return {
    principal: o.principal,
    sessions,
    codec,
    sameField: o.sameField ?? 'last-write-wins',
    maxAttempts:
      o.maxAttempts === undefined ? DEFAULTS.maxAttempts : checkPositiveInt(o.maxAttempts, 'options.maxAttempts'),
    scanCount: o.scanCount === undefined ? SCAN_COUNT : checkPositiveInt(o.scanCount, 'options.scanCount'),
  };
}

function sessionStoreOf(storeOrClient: unknown, o: CasSessionStoreOptions): SessionStore {
  if (isClient(storeOrClient)) {
    const redisOptions: RedisSessionStoreOptions = {};
    for (const k of REDIS_OPTION_KEYS) if (o[k] !== undefined) (redisOptions as Record<string, unknown>)[k] = o[k];
    return new RedisSessionStore(storeOrClient, redisOptions);
  }
  if (isSessionStore(storeOrClient)) {
    const misplaced = REDIS_OPTION_KEYS.find((k) => o[k] !== undefined);
    if (misplaced) {
      throw new InvalidArgumentError(`options.${misplaced}`, 'configure it on the SessionStore you pass, not here');
    }
    return storeOrClient;
  }
  throw new InvalidArgumentError(
    'storeOrClient',
    'expected a session-cas SessionStore, or an ioredis or node-redis client',
  );
}
