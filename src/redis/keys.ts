/**
 * Key layout. Every key of one session carries the same hash tag, so all of
 * them land in one cluster slot, whatever the id contains; the mapping from
 * (role, id) to key is injective.
 * @module
 */

import { DEFAULTS } from '../core/defaults.js';
import { MAX_ID_LENGTH } from '../core/validate.js';

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

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The session id (and principal) of a change event: the id in `text.slice(from)`
 * if it is exactly `<namespace>{<encoded id>}:s`, optionally followed by
 * `:p<principal>`, else null.
 */
export function parseEventKey(
  text: string,
  from: number,
  namespace: string,
): { id: string; principal?: string } | null {
  if (!text.startsWith(namespace, from)) return null;
  const open = from + namespace.length;
  // The encoded id holds no brace, so the first `}` closes the tag.
  const close = text.indexOf('}', open);
  if (text.charCodeAt(open) !== 0x7b /* { */ || close < open + 2 || !text.startsWith('}:s', close)) return null;
  const encoded = text.slice(open + 1, close);
  if (encoded.includes('{')) return null;
  const id = decodeId(encoded);
  // Only the canonical encoding of a valid id: anything else was not written by sessionKey().
  if (encodeId(id) !== encoded || !isValidId(id)) return null;
  const rest = text.slice(close + 3);
  if (rest === '') return { id };
  const principal = rest.startsWith(':p') ? rest.slice(2) : '';
  return isValidId(principal) ? { id, principal } : null;
}

function isValidId(s: string): boolean {
  return s.length > 0 && s.length <= MAX_ID_LENGTH && !LONE_SURROGATE.test(s);
}
