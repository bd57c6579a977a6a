/**
 * Key layout. Every key of one session carries the same hash tag, so all of
 * them land in one cluster slot, whatever the id contains; the mapping from
 * (role, id) to key is injective.
 * @module
 */

import { DEFAULTS } from '../core/defaults.js';

/** Default key prefix of {@link RedisSessionStore}. */
export const DEFAULT_PREFIX: string = DEFAULTS.prefix;

/**
 * Escapes `%`, `{` and `}` so the id can sit between braces as a hash tag: the
 * tag is never empty (ids are non-empty) and never ends early, and escaping
 * `%` too keeps the encoding reversible, so distinct ids give distinct keys.
 */
export function encodeId(id: string): string {
  return id.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'));
}

/** Inverse of {@link encodeId}. */
export function decodeId(encoded: string): string {
  return encoded.replace(/%(25|7B|7D)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The Redis key of a session record: `<prefix>{<encoded id>}:s`, before any
 * ioredis `keyPrefix` (which ioredis prepends itself). The role suffix after
 * the tag leaves room for more keys per session in the same slot.
 */
export function sessionKey(id: string, prefix: string = DEFAULT_PREFIX): string {
  return `${prefix}{${encodeId(id)}}:s`;
}
