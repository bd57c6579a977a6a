/**
 * Error classes and guards. Expected outcomes are values; only faults and
 * invalid arguments are thrown. Test errors with the guards (they check the
 * string `code`), not `instanceof`, which fails when ESM and CJS copies of the
 * package are both loaded.
 * @module
 */

/** Every `code` a {@link SessionStoreError} can carry. */
export type SessionStoreErrorCode =
  /** A bad argument or option; thrown before any I/O. */
  | 'INVALID_ARGUMENT'
  /**
   * A write may or may not have been applied (timeout, connection lost or retries exhausted after
   * it may have been sent).
   */
  | 'OUTCOME_UNKNOWN'
  /**
   * Nothing was applied: a read failed, or the request never left the process (offline queue off,
   * or a client-side error).
   */
  | 'CONNECTION'
  /** Redis is out of memory (maxmemory); the script was refused whole. */
  | 'OOM'
  /** Redis is busy running a slow script; the command was refused. */
  | 'BUSY'
  /** The server is a read-only replica; the command was refused. */
  | 'READONLY'
  /** The server is loading its dataset; the command was refused. */
  | 'LOADING'
  /** The ACL user may not run the needed commands; the command was refused. */
  | 'NOPERM'
  /** A cluster redirection or state error that ioredis did not resolve; refused. */
  | 'CLUSTER'
  /** Any other error reply from Redis; the script did not write. */
  | 'REDIS_ERROR'
  /**
   * Redis answered with a reply this version does not understand. From a
   * store call it is a {@link RedisFaultError}: after a write its `outcome` is
   * `unknown` (the function ran and may have applied), after a read `not_applied`.
   */
  | 'UNEXPECTED_REPLY'
  /** The server's configuration breaks a guarantee (for example an eviction policy that can drop tombstones). */
  | 'UNSAFE_CONFIG'
  /** The object was closed (a `SessionCache` after `close()`); nothing was sent. */
  | 'CLOSED'
  /** `session-cas/express` with `sameField: 'error'`: another request changed the same field; nothing was written. */
  | 'SESSION_CONFLICT';

/** Whether a failed command was applied. */
export type Outcome = 'not_applied' | 'unknown';

/** Base class of every error session-cas throws. */
export class SessionStoreError extends Error {
  /** Stable machine-readable code; use it (or the guards) to branch. */
  readonly code: SessionStoreErrorCode;

  constructor(code: SessionStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SessionStoreError';
  }
}

/**
 * A bad argument or option, thrown before anything touches Redis, with one
 * exception: a `patch` whose result would exceed `maxMetadataBytes` (the size
 * of the entries it leaves alone is known only to the server) is refused by
 * the server's function before its first write, so nothing is written, but
 * the call did reach Redis.
 */
export class InvalidArgumentError extends SessionStoreError {
  declare readonly code: 'INVALID_ARGUMENT';
  /** Which argument was rejected, e.g. `id`, `metadata`, `opts.ttlMs`. */
  readonly argument: string;

  constructor(argument: string, reason: string) {
    super('INVALID_ARGUMENT', `Invalid argument \`${argument}\`: ${reason}`);
    this.name = 'InvalidArgumentError';
    this.argument = argument;
  }
}

/** Redis or the connection failed. `outcome` says whether the write may have applied. */
export class RedisFaultError extends SessionStoreError {
  /** `unknown`: the write may have applied; read before retrying a non-idempotent step. */
  readonly outcome: Outcome;
  /** The store operation that failed, e.g. `update`. */
  readonly operation: string;
  /** The session id the operation was about. */
  readonly sessionId: string;

  constructor(
    code: SessionStoreErrorCode,
    message: string,
    context: { outcome: Outcome; operation: string; sessionId: string; cause?: unknown },
  ) {
    super(code, message, { cause: context.cause });
    this.name = 'RedisFaultError';
    this.outcome = context.outcome;
    this.operation = context.operation;
    this.sessionId = context.sessionId;
  }
}

function hasCode(e: unknown): e is { code: unknown; name: unknown } {
  return typeof e === 'object' && e !== null && 'code' in e;
}

/** Every code, as a record so the compiler fails when a code is added to the type and not here. */
const CODES: Readonly<Record<SessionStoreErrorCode, true>> = {
  INVALID_ARGUMENT: true,
  OUTCOME_UNKNOWN: true,
  CONNECTION: true,
  OOM: true,
  BUSY: true,
  READONLY: true,
  LOADING: true,
  NOPERM: true,
  CLUSTER: true,
  REDIS_ERROR: true,
  UNEXPECTED_REPLY: true,
  UNSAFE_CONFIG: true,
  CLOSED: true,
  SESSION_CONFLICT: true,
};

/** Whether `e` is any error thrown by session-cas (works across ESM/CJS copies). */
export function isSessionStoreError(e: unknown): e is SessionStoreError {
  return (
    e instanceof Error &&
    hasCode(e) &&
    typeof e.code === 'string' &&
    Object.prototype.hasOwnProperty.call(CODES, e.code) &&
    ['SessionStoreError', 'InvalidArgumentError', 'RedisFaultError', 'SessionConflictError'].includes(e.name as string)
  );
}

/** Whether `e` is an {@link InvalidArgumentError}. */
export function isInvalidArgument(e: unknown): e is InvalidArgumentError {
  return isSessionStoreError(e) && e.code === 'INVALID_ARGUMENT';
}

/** Whether `e` is a {@link RedisFaultError} (any Redis or connection fault). */
export function isRedisFault(e: unknown): e is RedisFaultError {
  return isSessionStoreError(e) && e.name === 'RedisFaultError';
}

/**
 * Whether `e` says a write may or may not have been applied: code `OUTCOME_UNKNOWN`, or any other
 * fault of a write whose `outcome` is `unknown` (such as an `UNEXPECTED_REPLY` to a write).
 */
export function isOutcomeUnknown(e: unknown): e is RedisFaultError {
  if (!isSessionStoreError(e)) return false;
  return e.code === 'OUTCOME_UNKNOWN' || (isRedisFault(e) && e.outcome === 'unknown');
}
