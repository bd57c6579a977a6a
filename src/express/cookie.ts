/**
 * The session cookie's expiry and the record's TTL: a save sets the TTL from
 * the cookie, and a read reports a TTL that a `touch` extended as the cookie's expiry.
 * @module
 */
import type { Data } from './field-diff.js';

/**
 * How much later than the stored `cookie.expires` the record must live for a
 * read to report the record's expiry instead. A save sets the TTL from the
 * cookie, so right after it the two differ by the save's latency only; a touch
 * moves the record's expiry by the time since the last save.
 */
export const EXPIRY_SLACK_MS = 50;

/**
 * TTL in ms from the session cookie's expiry (what `cookie.maxAge` reports),
 * `undefined` for the store default when the cookie has none, `'expired'`
 * when it is already past.
 */
export function ttlFromCookie(sess: Data): number | undefined | 'expired' {
  const at = expiresAt(sess);
  if (at === undefined) return undefined;
  const ms = Math.ceil(at - Date.now());
  return ms > 0 ? ms : 'expired';
}

function expiresAt(sess: Data): number | undefined {
  const cookie = sess.cookie as { expires?: unknown } | null | undefined;
  const expires = cookie?.expires;
  if (expires === undefined || expires === null || expires === false) return undefined;
  const at = expires instanceof Date ? expires.getTime() : new Date(expires as string | number).getTime();
  return Number.isFinite(at) ? at : undefined;
}

/**
 * Sets `cookie.expires` of loaded data to when the record expires (`readAt`
 * plus its remaining `pttl`), when that is more than {@link EXPIRY_SLACK_MS}
 * later than the stored expiry: a touch reset the TTL without writing the
 * cookie. A cookie without an expiry (a browser-session cookie) is left alone:
 * its record lives for the store default, which is not the cookie's.
 */
export function withRecordExpiry(data: Data, readAt: number, pttl: number): void {
  const stored = expiresAt(data);
  if (stored === undefined || pttl <= 0) return;
  const recordExpires = readAt + pttl;
  if (recordExpires <= stored + EXPIRY_SLACK_MS) return;
  const cookie = data.cookie as Record<string, unknown>;
  cookie.expires = new Date(recordExpires).toISOString();
}
