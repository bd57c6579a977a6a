/**
 * The one decoder of script replies. Every script answers
 * `{code, generation, fields}`: a status code, a decimal generation (or ''),
 * and a flat field/value array of the raw record (or empty).
 * @module
 */
import { Code, type CodeValue, isCode } from './codes.js';
import { SessionStoreError } from './errors.js';
import type { Session } from './types.js';
import { freezeMetadata } from './validate.js';

export interface Reply {
  readonly code: CodeValue;
  /** The generation in the reply, or null when the script sent ''. */
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

/** Parses a decimal generation; throws UNEXPECTED_REPLY unless it is a positive safe integer. */
export function parseGeneration(s: unknown, raw: unknown = s): number {
  if (typeof s !== 'string' || !/^[1-9][0-9]{0,15}$/.test(s)) throw unexpected('generation', raw);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw unexpected('generation out of range', raw);
  return n;
}

export function decodeReply(raw: unknown): Reply {
  if (!Array.isArray(raw) || raw.length !== 3) throw unexpected('shape', raw);
  const [code, gen, fields] = raw as [unknown, unknown, unknown];
  if (!isCode(code)) throw unexpected('code', raw);
  if (!Array.isArray(fields) || fields.length % 2 !== 0 || !fields.every((f) => typeof f === 'string')) {
    throw unexpected('fields', raw);
  }
  const generation = gen === '' ? null : parseGeneration(gen, raw);
  return { code, generation, fields: fields as string[] };
}

/** Whether the raw record fields belong to a live session (not a tombstone). */
export function isLiveRecord(fields: readonly string[]): boolean {
  let hasGen = false;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 't') return false;
    if (fields[i] === 'g') hasGen = true;
  }
  return hasGen;
}

/** Builds a Session from raw record fields: `g` is the generation, `m<name>` the metadata. */
export function sessionFromFields(id: string, fields: readonly string[]): Session {
  let generation: number | undefined;
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i]!;
    if (f.charCodeAt(0) === 109 /* m */) entries.push([f.slice(1), fields[i + 1]!]);
    else if (f === 'g') generation = parseGeneration(fields[i + 1], fields);
  }
  if (generation === undefined) throw unexpected('record without generation', fields);
  return { id, generation, metadata: freezeMetadata(entries) };
}

/** The generation of a reply that must carry one. */
export function requireGeneration(reply: Reply): number {
  if (reply.generation === null) throw unexpected(`code ${reply.code} without generation`, reply);
  return reply.generation;
}

export { Code };
