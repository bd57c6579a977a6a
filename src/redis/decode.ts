/**
 * The one decoder of function replies. A reply is one of:
 * - an integer `gen`: OK (applied, or live) at generation `gen`;
 * - a bulk string `<gen>`, `<gen>:<c>` or `<gen>:<c>:<p>` (c may be empty):
 *   OK at generation `gen`, with createdAt `c` and principal `p` of the
 *   record as the fields `c` and `p` (the principal is last, so it may hold
 *   `:`);
 * - a record as HGETALL gives it (a flat field/value array whose first
 *   element is a field name): OK, the live record (`get`, `peek`);
 * - `{code, generation, fields}`: a status code, a generation (integer,
 *   decimal string, or '' for none) and a flat field/value array of the raw
 *   record (or empty).
 * The first three are the hot paths' replies: a nested Lua table costs the
 * server about a microsecond to convert, a third of a bare CAS.
 * @module
 */
import { Code, type CodeValue, isCode } from './codes.js';
import { SessionStoreError } from '../core/errors.js';
import type { Session } from '../core/types.js';
import { freezeMetadata } from '../core/validate.js';

export interface Reply {
  readonly code: CodeValue;
  /** The generation in the reply, or null when there is none. */
  readonly generation: number | null;
  /** Raw record fields, flat: name, value, name, value... */
  readonly fields: readonly string[];
}

function unexpected(what: string, raw: unknown): SessionStoreError {
  let shown: string;
  try {
    shown = JSON.stringify(raw)?.slice(0, 200) ?? String(raw);
  } catch {
    shown = String(raw);
  }
  return new SessionStoreError('UNEXPECTED_REPLY', `Unexpected script reply (${what}): ${shown}`);
}

/** A generation in canonical decimal (range checked by the caller): the one copy of this pattern. */
export const GENERATION = /^[1-9][0-9]{0,15}$/;

/** Parses a generation (decimal string or integer); throws UNEXPECTED_REPLY unless it is a positive safe integer. */
export function parseGeneration(s: unknown, raw: unknown = s): number {
  if (typeof s === 'number') {
    if (!Number.isSafeInteger(s) || s < 1) throw unexpected('generation out of range', raw);
    return s;
  }
  if (typeof s !== 'string' || !GENERATION.test(s)) throw unexpected('generation', raw);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw unexpected('generation out of range', raw);
  return n;
}

function checkFields(fields: unknown, raw: unknown): readonly string[] {
  if (!Array.isArray(fields) || fields.length % 2 !== 0) throw unexpected('fields', raw);
  for (let i = 0; i < fields.length; i++) if (typeof fields[i] !== 'string') throw unexpected('fields', raw);
  return fields as string[];
}

const NO_FIELDS: readonly string[] = Object.freeze([]);

/** The bulk-string OK reply (see the module comment). */
function decodeOkString(raw: string): Reply {
  const first = raw.indexOf(':');
  if (first < 0) return { code: Code.OK, generation: parseGeneration(raw), fields: NO_FIELDS };
  const generation = parseGeneration(raw.slice(0, first), raw);
  const second = raw.indexOf(':', first + 1);
  const created = second < 0 ? raw.slice(first + 1) : raw.slice(first + 1, second);
  const fields: string[] = [];
  if (created !== '') fields.push('c', created);
  if (second >= 0) fields.push('p', raw.slice(second + 1));
  return { code: Code.OK, generation, fields };
}

export function decodeReply(raw: unknown): Reply {
  if (typeof raw === 'number') return { code: Code.OK, generation: parseGeneration(raw), fields: NO_FIELDS };
  if (typeof raw === 'string') return decodeOkString(raw);
  if (!Array.isArray(raw) || raw.length === 0) throw unexpected('shape', raw);
  if (typeof raw[0] === 'string') return { code: Code.OK, generation: null, fields: checkFields(raw, raw) };
  if (raw.length !== 3) throw unexpected('shape', raw);
  const [code, gen, fields] = raw as [unknown, unknown, unknown];
  if (!isCode(code)) throw unexpected('code', raw);
  const generation = gen === '' ? null : parseGeneration(gen, raw);
  return { code, generation, fields: checkFields(fields, raw) };
}

/**
 * Builds a Session from raw record fields: `g` is the generation, `m<name>` the metadata,
 * `p` the principal and `c` createdAt (ms; a record of a version without it reads as 0).
 */
export function sessionFromFields(id: string, fields: readonly string[]): Session {
  let generation: number | undefined;
  let principal: string | undefined;
  let createdAt = 0;
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i]!;
    if (f.charCodeAt(0) === 109 /* m */) entries.push([f.slice(1), fields[i + 1]!]);
    else if (f === 'g') generation = parseGeneration(fields[i + 1], fields);
    else if (f === 'p') principal = fields[i + 1];
    else if (f === 'c') createdAt = parseMillis(fields[i + 1], fields);
  }
  if (generation === undefined) throw unexpected('record without generation', fields);
  const metadata = freezeMetadata(entries);
  return principal === undefined
    ? { id, generation, metadata, createdAt }
    : { id, generation, metadata, principal, createdAt };
}

/** A createdAt field: a non-negative safe integer of ms. */
export function parseMillis(s: unknown, raw: unknown = s): number {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s)) throw unexpected('createdAt', raw);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw unexpected('createdAt out of range', raw);
  return n;
}

/** The principal (`p`) and createdAt (`c`) in a reply's fields, when they are there. */
export function identityFromFields(fields: readonly string[]): { principal?: string; createdAt?: number } {
  const out: { principal?: string; createdAt?: number } = {};
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'p') out.principal = fields[i + 1]!;
    else if (fields[i] === 'c') out.createdAt = parseMillis(fields[i + 1], fields);
  }
  return out;
}

/** The generation of a reply that must carry one. */
export function requireGeneration(reply: Reply): number {
  if (reply.generation === null) throw unexpected(`code ${reply.code} without generation`, reply);
  return reply.generation;
}

export { Code };
