/**
 * Session objects as fields: each top-level field is one metadata entry,
 * serialized on its own, so a save can write only what changed.
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { Metadata, PatchChanges } from '../core/types.js';

/**
 * How one session field becomes one stored string and back. `JSON` fits.
 * `stringify` may return `undefined` to leave the field out (as JSON does for
 * functions and `undefined`); throwing makes the save fail with an
 * `InvalidArgumentError` passed to the callback.
 */
export interface FieldSerializer {
  stringify(value: unknown): string | undefined;
  parse(text: string): unknown;
}

/** A session object as the frameworks hand it over: top-level fields by name. */
export type Data = Record<string, unknown>;

export function checkSerializer(s: unknown): FieldSerializer {
  if (s === undefined) return JSON;
  const c = s as Partial<FieldSerializer> | null;
  if (typeof c !== 'object' || c === null || typeof c.stringify !== 'function' || typeof c.parse !== 'function') {
    throw new InvalidArgumentError('options.serializer', 'expected { stringify(value), parse(text) }');
  }
  return c as FieldSerializer;
}

/** Own-property write that keeps `__proto__` an ordinary key. */
export function setOwn(target: Data, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function own(m: Readonly<Metadata>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
}

export function toMetadata(fields: ReadonlyMap<string, string>): Metadata {
  const m: Metadata = {};
  for (const [k, v] of fields) setOwn(m, k, v);
  return m;
}

/** Fields to set (new or changed since the baseline) and to remove (gone since). */
export function diff(baseline: ReadonlyMap<string, string>, fields: ReadonlyMap<string, string>): PatchChanges {
  const set: Metadata = {};
  let anySet = false;
  for (const [k, v] of fields) {
    if (baseline.get(k) !== v) {
      setOwn(set, k, v);
      anySet = true;
    }
  }
  const remove = [...baseline.keys()].filter((k) => !fields.has(k));
  return { ...(anySet ? { set } : {}), ...(remove.length > 0 ? { remove } : {}) };
}

/**
 * TTL in ms from the session cookie's expiry (what `cookie.maxAge` reports),
 * `undefined` for the store default when the cookie has none, `'expired'`
 * when it is already past.
 */
export function ttlFromCookie(sess: Data): number | undefined | 'expired' {
  const cookie = sess.cookie as { expires?: unknown } | null | undefined;
  const expires = cookie?.expires;
  if (expires === undefined || expires === null || expires === false) return undefined;
  const at = expires instanceof Date ? expires.getTime() : new Date(expires as string | number).getTime();
  if (!Number.isFinite(at)) return undefined;
  const ms = Math.ceil(at - Date.now());
  return ms > 0 ? ms : 'expired';
}
