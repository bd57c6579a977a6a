/**
 * Turns whatever the client (ioredis or node-redis) rejects with into a typed
 * {@link RedisFaultError}.
 * Error replies mean Redis refused or failed the script before its first write
 * (every script validates first), so the outcome is `not_applied`. So does an
 * error raised before the request left the process (`sent: false`). Anything
 * else on a write (timeout, connection closed, retries exhausted) may have
 * happened after Redis received the request, or may still happen (ioredis
 * sends a command that timed out in its offline queue once it reconnects):
 * `OUTCOME_UNKNOWN`. node-redis says more: its command timeout and abort
 * only reject a command still waiting to be written, and its offline and
 * closed-client errors are raised before any write, so those are
 * `not_applied` (see docs/node-redis.md).
 * @module
 */
import {
  RedisFaultError,
  type SessionStoreError,
  type SessionStoreErrorCode,
  isSessionStoreError,
} from '../core/errors.js';
import { adapt } from './client/detect.js';
import { isReplyError } from './client-info.js';

const REPLY_CODES: ReadonlyArray<[RegExp, SessionStoreErrorCode]> = [
  [/^OOM\b/, 'OOM'],
  [/^BUSY\b/, 'BUSY'],
  [/^READONLY\b/, 'READONLY'],
  [/^LOADING\b/, 'LOADING'],
  [/^NOPERM\b/, 'NOPERM'],
  // A command refused by ACL inside a script (the write scripts check their
  // commands before writing, so this only comes before any write).
  [/^ERR The user executing the script can't\b/, 'NOPERM'],
  [/^(MOVED|ASK|TRYAGAIN|CROSSSLOT|CLUSTERDOWN|MASTERDOWN)\b/, 'CLUSTER'],
];

/** ioredis's message when `enableOfflineQueue: false` rejects a command it never sent. */
const NOT_SENT = /enableOfflineQueue options is false|Connection in subscriber mode/;
/** node-redis errors raised before the command was written (offline queue off, closed client, queue timeout, abort). */
const NODE_REDIS_NOT_SENT: ReadonlySet<string> = new Set([
  'ClientOfflineError',
  'ClientClosedError',
  'TimeoutError',
  'CommandTimeoutDuringMaintenanceError',
  'AbortError',
]);

/** Rejected by the client before it wrote anything. */
function notSent(e: Error): boolean {
  return NOT_SENT.test(e.message) || NODE_REDIS_NOT_SENT.has(e.constructor?.name ?? '');
}

/** The last connection error a client emitted since it was last ready. */
export interface ConnectionWatch {
  readonly last: { readonly error: Error; readonly at: number } | undefined;
}

interface Emitter {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

const watches = new WeakMap<object, ConnectionWatch>();

/**
 * Listens (once per client, however many stores share it) to the client's
 * `error` events, and a Cluster's node error events (ioredis `node error`,
 * node-redis `node-error`), remembering the last one until the client is
 * ready again, so a fault can say why the connection is down. Side effect:
 * with a listener attached, ioredis no longer prints "[ioredis] Unhandled
 * error event", and node-redis no longer throws on an `error` event nobody
 * listens to.
 */
export function watchConnection(client: object): ConnectionWatch {
  const adapter = adapt(client);
  const owner = adapter?.client ?? client;
  const known = watches.get(owner);
  if (known) return known;
  const watch: { last: ConnectionWatch['last'] } = { last: undefined };
  const remember = (err: unknown): void => {
    if (err instanceof Error) watch.last = { error: err, at: Date.now() };
  };
  const ready = (): void => {
    watch.last = undefined;
  };
  if (adapter) adapter.watch({ error: remember, ready });
  else {
    const emitter = client as Partial<Emitter>;
    if (typeof emitter.on === 'function') {
      emitter.on('error', remember);
      emitter.on('ready', ready);
    }
  }
  watches.set(owner, watch);
  return watch;
}

/** What the caller knows about the failed call besides the error. */
export interface FaultContext {
  /** The client's connection watch: its last connection error becomes the fault's `cause`. */
  readonly connection?: ConnectionWatch | undefined;
  /**
   * `false` when the error was raised before the request left the process
   * (for example while building or queueing the command): nothing can have
   * applied, so the outcome is `not_applied` even for a write.
   */
  readonly sent?: boolean;
}

/**
 * @param writes whether the operation can change state (every write, and `get`
 * which refreshes the TTL); reads that fail are `CONNECTION` faults.
 */
export function toFault(
  err: unknown,
  operation: string,
  sessionId: string,
  writes: boolean,
  context: FaultContext = {},
): SessionStoreError {
  if (isSessionStoreError(err)) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message;
  if (isReplyError(e)) {
    const code = REPLY_CODES.find(([re]) => re.test(message))?.[1] ?? 'REDIS_ERROR';
    return new RedisFaultError(code, `${operation}: Redis refused the command: ${message}`, {
      outcome: 'not_applied',
      operation,
      sessionId,
      cause: err,
    });
  }
  if (context.sent === false) {
    return new RedisFaultError(
      'CONNECTION',
      `${operation}: not sent (failed before the request left the process): ${message}`,
      {
        outcome: 'not_applied',
        operation,
        sessionId,
        cause: err,
      },
    );
  }
  // The client's own error ("Command timed out", "Reached the max retries per request limit", "Socket
  // closed unexpectedly") says what happened to the call, not why: when the connection failed since it
  // was last ready, that failure is the cause, and the message names both.
  const last = lastConnectionError(e, context.connection);
  const why = last ? `${message}; last connection error (${last.ago} ms ago): ${last.error.message}` : message;
  const cause = last ? last.error : err;
  if (!writes || notSent(e)) {
    return new RedisFaultError('CONNECTION', `${operation}: not sent or not answered: ${why}`, {
      outcome: 'not_applied',
      operation,
      sessionId,
      cause,
    });
  }
  return new RedisFaultError(
    'OUTCOME_UNKNOWN',
    `${operation}: the outcome is unknown (the request may have been applied): ${why}`,
    { outcome: 'unknown', operation, sessionId, cause },
  );
}

/** The client's connection error since it was last ready, unless it is the error itself. */
function lastConnectionError(
  e: Error,
  watch: ConnectionWatch | undefined,
): { readonly error: Error; readonly ago: number } | undefined {
  const last = watch?.last;
  if (!last || last.error === e) return undefined;
  return { error: last.error, ago: Math.max(0, Date.now() - last.at) };
}

/**
 * A reply the library cannot read (`UNEXPECTED_REPLY`). On a write the
 * function ran and may have applied, so the outcome is `unknown`, and the
 * message says so; on a read nothing changed.
 * @param detail what was wrong, e.g. `unexpected reply code 7`.
 */
export function unexpectedReply(
  operation: string,
  sessionId: string,
  writes: boolean,
  detail: string,
  cause?: unknown,
): RedisFaultError {
  const message = writes
    ? `${operation}: the outcome is unknown (the write may have been applied): ${detail}`
    : `${operation}: ${detail}`;
  return new RedisFaultError('UNEXPECTED_REPLY', message, {
    outcome: writes ? 'unknown' : 'not_applied',
    operation,
    sessionId,
    cause,
  });
}
