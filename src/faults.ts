/**
 * Turns whatever ioredis rejects with into a typed {@link RedisFaultError}.
 * Error replies mean Redis refused or failed the script before its first write
 * (every script validates first), so the outcome is `not_applied`. Anything
 * else on a write (timeout, connection closed, retries exhausted) may have
 * happened after Redis received the request: `OUTCOME_UNKNOWN`.
 * @module
 */
import { RedisFaultError, SessionStoreError, type SessionStoreErrorCode, isSessionStoreError } from './errors.js';

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

function isReplyError(e: Error): boolean {
  return e.name === 'ReplyError' || e.constructor?.name === 'ReplyError';
}

/**
 * @param writes whether the operation can change state (every write, and `get`
 * which refreshes the TTL); reads that fail are `CONNECTION` faults.
 */
export function toFault(err: unknown, operation: string, sessionId: string, writes: boolean): SessionStoreError {
  if (isSessionStoreError(err)) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message;
  if (isReplyError(e)) {
    const code = REPLY_CODES.find(([re]) => re.test(message))?.[1] ?? 'REDIS_ERROR';
    return new RedisFaultError(code, `${operation}: Redis refused the command: ${message}`, {
      outcome: 'not_applied', operation, sessionId, cause: err,
    });
  }
  if (!writes || NOT_SENT.test(message)) {
    return new RedisFaultError('CONNECTION', `${operation}: not sent or not answered: ${message}`, {
      outcome: 'not_applied', operation, sessionId, cause: err,
    });
  }
  return new RedisFaultError(
    'OUTCOME_UNKNOWN',
    `${operation}: the outcome is unknown (the request may have been applied): ${message}`,
    { outcome: 'unknown', operation, sessionId, cause: err },
  );
}
