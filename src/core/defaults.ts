/**
 * Every default in one place, and the store options resolved against them.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type { SessionStoreOptions } from './types.js';
import { checkOptions, checkPositiveInt, checkTtl, describe } from './validate.js';

/**
 * Every default, in one place: the options of both stores
 * (`RedisSessionStoreOptions`; `MemorySessionStore` has the shared ones,
 * plus `now`, default `Date.now`) and `mutate`'s `maxAttempts`.
 * `tombstoneTtlMs: 'ttlMs'` means "the store's `ttlMs`"; `null` means off.
 */
export const DEFAULTS = Object.freeze({
  /** Sliding TTL of a live session, ms (30 minutes). */
  ttlMs: 1_800_000,
  /** `get()` and `generationOf()` refresh the TTL. */
  touchOnGet: true,
  /** How long a terminated id stays terminated: the store's `ttlMs`. */
  tombstoneTtlMs: 'ttlMs',
  /** Cap on the UTF-8 bytes of all metadata names + values (1 MiB). */
  maxMetadataBytes: 1024 * 1024,
  /** Redis key prefix, before any ioredis `keyPrefix`. */
  prefix: 'scas:',
  /** No change events are published. */
  eventsChannel: null,
  /** Each change-feed subscriber connection is PINGed every second; a missed beat is a reported gap. */
  eventsHeartbeatMs: 1_000,
  /** No WAIT after terminate (unless `writeWait` is set). */
  terminateWait: null,
  /** No WAIT after any write. */
  writeWait: null,
  /** Check `maxmemory-policy` on the first call and warn when it can evict tombstones. */
  evictionPolicyCheck: 'warn',
  /** `mutate`: CAS attempts before it returns the last conflict. */
  maxAttempts: 10,
  /** No cap on the live sessions of a principal. */
  maxSessionsPerPrincipal: null,
  /** Over the cap, `create` terminates the principal's oldest sessions. */
  onPrincipalLimit: 'evict-oldest',
  /** No absolute lifetime: only the sliding TTL. */
  maxLifetimeMs: null,
} as const);

/** Options after defaults and checks. */
export interface ResolvedOptions {
  readonly ttlMs: number;
  readonly touchOnGet: boolean;
  readonly tombstoneTtlMs: number;
  readonly maxMetadataBytes: number;
}

/** Applies defaults and checks store options. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = checkOptions<SessionStoreOptions>(options, 'options');
  const ttlMs = o.ttlMs === undefined ? DEFAULTS.ttlMs : checkTtl(o.ttlMs, 'options.ttlMs');
  const tombstoneTtlMs = o.tombstoneTtlMs === undefined ? ttlMs : checkTtl(o.tombstoneTtlMs, 'options.tombstoneTtlMs');
  if (o.touchOnGet !== undefined && typeof o.touchOnGet !== 'boolean') {
    throw new InvalidArgumentError('options.touchOnGet', `expected a boolean, got ${describe(o.touchOnGet)}`);
  }
  const maxMetadataBytes =
    o.maxMetadataBytes === undefined
      ? DEFAULTS.maxMetadataBytes
      : checkPositiveInt(o.maxMetadataBytes, 'options.maxMetadataBytes');
  return { ttlMs, tombstoneTtlMs, touchOnGet: o.touchOnGet ?? DEFAULTS.touchOnGet, maxMetadataBytes };
}
