/**
 * Options of `SessionCache`: their types, defaults and checks, and where
 * errors go (`onError`).
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { Session } from '../core/types.js';
import { checkOptions, checkPositiveInt, type AllowedKeys } from '../core/validate.js';
import type { EvictionReason, OnEvict } from './lru.js';

/** How hits are checked against the store; see {@link SessionCacheOptions.validate}. */
export type ValidationMode = 'always' | 'events';

/** Options of `SessionCache`. */
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

/** Every key of {@link SessionCacheOptions}, typed so the compiler keeps it complete; others are refused. */
export const SESSION_CACHE_OPTION_KEYS: AllowedKeys<SessionCacheOptions> = {
  maxEntries: true,
  validate: true,
  maxStaleMs: true,
  staleIfErrorMs: true,
  onEvict: true,
  onError: true,
  now: true,
};

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_STALE_MS = 5_000;

/** Checked options with their defaults filled in. */
export interface CacheSettings {
  readonly maxEntries: number;
  readonly validate: ValidationMode;
  readonly maxStaleMs: number;
  readonly staleIfErrorMs: number;
  readonly onEvict: OnEvict | undefined;
  readonly onError: ((error: unknown) => void) | undefined;
  readonly now: () => number;
}

/** @throws InvalidArgumentError naming the bad option. */
export function checkCacheOptions(options: unknown): CacheSettings {
  const o = checkOptions<SessionCacheOptions>(options, 'options', SESSION_CACHE_OPTION_KEYS);
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

/**
 * Where an error goes: to `onError`; without it, or when it throws, out as an uncaught exception on a
 * microtask, so a broken callback is loud and never breaks the cache call that triggered it.
 */
export function reporter(onError: ((error: unknown) => void) | undefined): (err: unknown) => void {
  return (err) => {
    if (!onError) {
      queueMicrotask(() => {
        throw err;
      });
      return;
    }
    try {
      onError(err);
    } catch (inner) {
      queueMicrotask(() => {
        throw inner;
      });
    }
  };
}
