/**
 * From decoded function replies to the public results: the session a write
 * produced, the reasons a write did not apply, and `UNEXPECTED_REPLY` for a
 * code the call cannot give. Also the metadata as the functions take it.
 * @module
 */
import { InvalidArgumentError, isRedisFault, isSessionStoreError } from '../core/errors.js';
import type { CreateResult, Session, TerminateResult, TouchResult, WriteResult } from '../core/types.js';
import { type CheckedChanges, type CheckedMetadata, freezeMetadata } from '../core/validate.js';
import { Code, type Reply, identityFromFields, requireGeneration, sessionFromFields } from './decode.js';
import { unexpectedReply } from './faults.js';
import type { FieldArgs } from './scripts.js';

/** Metadata as the functions take it: flat `m<name>`, value pairs (built by push: no spread, any size). */
export function fieldArgs(checked: CheckedMetadata): FieldArgs {
  const out: string[] = [];
  for (const [k, v] of checked.entries) out.push(`m${k}`, v);
  return out;
}

/** A CONFLICT reply's result: the current session. */
export function conflict(id: string, reply: Reply): { ok: false; reason: 'conflict'; session: Session } {
  return { ok: false, reason: 'conflict', session: sessionFromFields(id, reply.fields) };
}

/**
 * The session a create or update produced: its own metadata at the reply's
 * generation, or, for a re-sent call that later writes have overtaken, the
 * current record (the closest truthful snapshot; its generation is the
 * current one, so the caller's next CAS sees what they did).
 */
export function written(
  id: string,
  reply: Reply,
  checked: CheckedMetadata,
  known: { principal?: string | undefined; createdAt?: number | undefined } = {},
): Session {
  if (hasGeneration(reply.fields)) return sessionFromFields(id, reply.fields);
  // Otherwise the fields are at most the record's c and p (update.lua), or nothing (create: the caller knows).
  const identity = identityFromFields(reply.fields);
  const principal = identity.principal ?? known.principal;
  const createdAt = identity.createdAt ?? known.createdAt ?? 0;
  const base = { id, generation: requireGeneration(reply), metadata: freezeMetadata(checked.entries), createdAt };
  return principal === undefined ? base : { ...base, principal };
}

/** Whether raw fields are a whole record (they name `g`), not just `c`/`p`. */
function hasGeneration(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'g') return true;
  return false;
}

/** The session after a patch: the record before it (from the reply), with the changes applied. */
export function patchedSession(
  id: string,
  generation: number,
  before: readonly string[],
  changes: CheckedChanges,
): Session {
  const metadata = new Map<string, string>();
  for (let i = 0; i < before.length; i += 2) {
    const f = before[i]!;
    if (f.charCodeAt(0) === 109 /* m */) metadata.set(f.slice(1), before[i + 1]!);
  }
  for (const name of changes.remove) metadata.delete(name);
  for (const [k, v] of changes.set.entries) metadata.set(k, v);
  const { principal, createdAt = 0 } = identityFromFields(before);
  const base = { id, generation, metadata: freezeMetadata([...metadata]), createdAt };
  return principal === undefined ? base : { ...base, principal };
}

/** A code the call cannot give: `UNEXPECTED_REPLY`, with the outcome a write leaves unknown. */
export function unexpectedCode(op: string, id: string, writes: boolean, reply: Reply): Error {
  return unexpectedReply(op, id, writes, `unexpected reply code ${reply.code}`);
}

/** NOT_FOUND or TERMINATED as a result; any other code is {@link unexpectedCode}. */
export function missing(
  op: string,
  id: string,
  writes: boolean,
  reply: Reply,
): { ok: false; reason: 'not_found' | 'terminated' } {
  if (reply.code === Code.NOT_FOUND) return { ok: false, reason: 'not_found' };
  if (reply.code === Code.TERMINATED) return { ok: false, reason: 'terminated' };
  throw unexpectedCode(op, id, writes, reply);
}

/**
 * Runs `decide` on a reply; a reply it cannot read (a record without a
 * generation, a code without one) becomes `UNEXPECTED_REPLY` with the
 * outcome of `op`: unknown for a write, which ran and may have applied.
 */
export function settle<T>(op: string, id: string, writes: boolean, decide: () => T): T {
  try {
    return decide();
  } catch (err) {
    if (isSessionStoreError(err) && err.code === 'UNEXPECTED_REPLY' && !isRedisFault(err)) {
      throw unexpectedReply(op, id, writes, err.message, err);
    }
    throw err;
  }
}

/**
 * `create`'s result. createdAt is the create's generation (server µs) in ms,
 * as create.lua stores it (field c); the principal is the caller's.
 */
export function createResult(
  id: string,
  reply: Reply,
  metadata: CheckedMetadata,
  principal?: string | undefined,
): CreateResult {
  switch (reply.code) {
    case Code.OK:
    case Code.REPLAYED: {
      const createdAt = Math.floor(requireGeneration(reply) / 1000);
      return { ok: true, session: written(id, reply, metadata, { principal, createdAt }) };
    }
    case Code.EXISTS:
      return { ok: false, reason: 'exists' };
    case Code.TERMINATED:
      return { ok: false, reason: 'terminated' };
    default:
      throw unexpectedCode('create', id, true, reply);
  }
}

/** `update`'s result. */
export function updateResult(id: string, reply: Reply, metadata: CheckedMetadata): WriteResult {
  switch (reply.code) {
    case Code.OK:
    case Code.REPLAYED:
      return { ok: true, session: written(id, reply, metadata) };
    case Code.CONFLICT:
      return conflict(id, reply);
    default:
      return missing('update', id, true, reply);
  }
}

/**
 * `patch`'s result. TOO_LARGE is an {@link InvalidArgumentError} although
 * the call reached Redis: only the server knows the size after the patch
 * (the record's other entries), and it checks it before its first write.
 */
export function patchResult(id: string, reply: Reply, changes: CheckedChanges, maxBytes: number): WriteResult {
  switch (reply.code) {
    case Code.OK:
      // The reply holds the record before the patch: apply the patch to it.
      return { ok: true, session: patchedSession(id, requireGeneration(reply), reply.fields, changes) };
    case Code.REPLAYED:
      // Applied by an earlier send of this call: the current record is the
      // closest truthful snapshot (later writes may have moved it on).
      return { ok: true, session: sessionFromFields(id, reply.fields) };
    case Code.CONFLICT:
      return conflict(id, reply);
    case Code.TOO_LARGE:
      throw new InvalidArgumentError(
        'changes',
        `the patched metadata would be ${reply.generation ?? '?'} bytes, over maxMetadataBytes (${maxBytes}); ` +
          'found by the server, which checks it before writing: nothing was written',
      );
    default:
      return missing('patch', id, true, reply);
  }
}

/** `touch`'s result. */
export function touchResult(id: string, reply: Reply): TouchResult {
  switch (reply.code) {
    case Code.OK:
      return { ok: true, generation: requireGeneration(reply) };
    case Code.CONFLICT:
      return conflict(id, reply);
    default:
      return missing('touch', id, true, reply);
  }
}

/** `terminate`'s result. */
export function terminateResult(id: string, reply: Reply): TerminateResult {
  switch (reply.code) {
    case Code.OK:
    case Code.REPLAYED:
      return { ok: true, generation: requireGeneration(reply) };
    case Code.CONFLICT:
      return conflict(id, reply);
    default:
      return missing('terminate', id, true, reply);
  }
}
