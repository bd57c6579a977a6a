/**
 * Turns whatever ioredis rejects with into a typed {@link RedisFaultError}.
 * Error replies mean Redis refused or failed the script before its first write
 * (every script validates first), so the outcome is `not_applied`. So does an
 * error raised before the request left the process (`sent: false`). Anything
 * else on a write (timeout, connection closed, retries exhausted) may have
 * happened after Redis received the request, or may still happen (ioredis
 * sends a command that timed out in its offline queue once it reconnects):
 * `OUTCOME_UNKNOWN`.
 * @module
 */
import {
  RedisFaultError,
  type SessionStoreError,
  type SessionStoreErrorCode,
  isSessionStoreError,
} from '../core/errors.js';
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
 * `error` events, and a Cluster's `node error` events, remembering the last
 * one until the client is `ready` again, so a fault can say why the
 * connection is down. Side effect: with a listener attached, ioredis no
 * longer prints "[ioredis] Unhandled error event" for that client.
 */
export function watchConnection(client: object): ConnectionWatch {
  const known = watches.get(client);
  if (known) return known;
  const watch: { last: ConnectionWatch['last'] } = { last: undefined };
  const emitter = client as Partial<Emitter>;
  if (typeof emitter.on === 'function') {
    const remember = (err: unknown): void => {
      if (err instanceof Error) watch.last = { error: err, at: Date.now() };
    };
    emitter.on('error', remember);
    emitter.on('node error', remember);
    emitter.on('ready', () => {
      watch.last = undefined;
    });
  }
  watches.set(client, watch);
  return watch;
}

/** What the caller knows about the failed call besides the error. */
export interface FaultContext {
  /** The client's connection watch: its last connection error joins the fault's cause chain. */
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
  const why = message + connectionNote(e, context.connection);
  if (!writes || NOT_SENT.test(message)) {
    return new RedisFaultError('CONNECTION', `${operation}: not sent or not answered: ${why}`, {
      outcome: 'not_applied',
      operation,
      sessionId,
      cause: err,
    });
  }
  return new RedisFaultError(
    'OUTCOME_UNKNOWN',
    `${operation}: the outcome is unknown (the request may have been applied): ${why}`,
    { outcome: 'unknown', operation, sessionId, cause: err },
  );
}

/**
 * When the client had a connection error since it was last ready: chains it
 * as the `cause` of the error ioredis rejected with (which has none of its
 * own: "Command timed out", "Reached the max retries per request limit",
 * "Stream isn't writeable..."), and returns the text to add to the message.
 */
function connectionNote(e: Error, watch: ConnectionWatch | undefined): string {
  const last = watch?.last;
  if (!last || last.error === e) return '';
  if (e.cause === undefined && Object.isExtensible(e)) {
    Object.defineProperty(e, 'cause', { value: last.error, writable: true, configurable: true, enumerable: false });
  }
  return `; last connection error (${Math.max(0, Date.now() - last.at)} ms ago): ${last.error.message}`;
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
