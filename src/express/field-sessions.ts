/**
 * What a session-framework store does at `get` and `set`, without the
 * framework: read a session as fields with the generation it was read at, and
 * save a session object as a patch of the fields it changed since, live only.
 * Used by `session-cas/express` and `session-cas/fastify`; neither this module
 * nor what it imports loads express-session.
 *
 * A framework store only carries the {@link Loaded} state from a read to the
 * save of the same request's session object (express: a WeakMap keyed by the
 * object; Fastify: a token in the session data, see `src/fastify`).
 * @module
 */
import type { PatchChanges, Session, SessionStore, WriteResult } from '../core/types.js';
import { SessionConflictError } from './conflict.js';
import { ttlFromCookie } from './cookie.js';
import { type Data, type FieldCodec, diff, own, toMetadata } from './field-diff.js';
import type { ResolvedConfig } from './options.js';

/** What a request knows about the session it loaded (or saved). */
export interface Loaded {
  readonly id: string;
  /**
   * Generation the request's knowledge of the fields it did not write dates
   * from (the one it loaded, or created); `undefined` once the session is known to be gone.
   */
  readonly generation: number | undefined;
  /** Field name -> serialized value as this request last knew it (loaded, or written by it). */
  readonly baseline: ReadonlyMap<string, string>;
}

/** What {@link FieldSessions} needs of a store's checked configuration. */
export interface FieldSessionsConfig extends Pick<ResolvedConfig, 'sessions' | 'codec' | 'sameField' | 'maxAttempts'> {
  /** Names the principal of a session when its record is created (never later). */
  readonly principal?: ((sess: Data) => string | undefined) | undefined;
}

/** Loads and saves sessions as fields on a session-cas store. */
export class FieldSessions {
  private readonly sessions: SessionStore;
  private readonly codec: FieldCodec;
  private readonly config: FieldSessionsConfig;

  constructor(config: FieldSessionsConfig) {
    this.sessions = config.sessions;
    this.codec = config.codec;
    this.config = config;
  }

  /** A stored session as app data, and what a later save of it must know. */
  decode(s: Session): { data: Data; loaded: Loaded } {
    const { data, baseline } = this.codec.decode(s);
    return { data, loaded: { id: s.id, generation: s.generation, baseline } };
  }

  /**
   * Saves `sess` under `sid`. A cookie that has already expired destroys the
   * session, whichever object it is. With `known` for this id (the session was
   * loaded or saved before) only changed fields are patched, and only while
   * the record is live: after destroy or expiry the save is dropped without
   * error. Without, the session is created (with the principal the config
   * names); a live id is replaced whole, a destroyed one stays destroyed.
   * Returns what the next save of the same object must know.
   * @throws InvalidArgumentError when a field cannot be serialized (nothing is written).
   * @throws SessionConflictError under `sameField: 'error'` (nothing is written).
   */
  async save(sid: string, sess: Data, known: Loaded | undefined): Promise<Loaded> {
    const fields = this.codec.fields(sess); // before any I/O: an unserializable value writes nothing
    const ttl = ttlFromCookie(sess);
    const gone: Loaded = { id: sid, generation: undefined, baseline: fields };
    if (ttl === 'expired') {
      // Whether this store loaded the object or not: an expired cookie ends the session (as connect-redis does).
      await this.sessions.terminate(sid);
      return gone;
    }
    if (known && known.id === sid) return this.saveLoaded(sid, known, fields, ttl);
    const principal = this.config.principal?.(sess);
    const opts = principal === undefined ? { ttlMs: ttl } : { ttlMs: ttl, principal };
    const created = await this.sessions.create(sid, toMetadata(fields), opts);
    if (created.ok) return { id: sid, generation: created.session.generation, baseline: fields };
    // Destroyed, or refused by maxSessionsPerPrincipal ('refuse'): nothing is stored, later saves are dropped.
    if (created.reason === 'terminated' || created.reason === 'limit') return gone;
    // A live id this store did not load (a direct `set`): replace it whole, live only.
    const replaced = await this.sessions.mutate(sid, () => toMetadata(fields), { ttlMs: ttl });
    return { id: sid, generation: replaced.ok ? replaced.session.generation : undefined, baseline: fields };
  }

  /** Resets the TTL of a live session from its cookie (else the store default); an expired cookie destroys it. */
  async touch(sid: string, sess: Data): Promise<void> {
    const ttl = ttlFromCookie(sess);
    if (ttl === 'expired') await this.sessions.terminate(sid);
    else await this.sessions.touch(sid, { ttlMs: ttl });
  }

  private async saveLoaded(
    sid: string,
    known: Loaded,
    fields: Map<string, string>,
    ttl: number | undefined,
  ): Promise<Loaded> {
    const changes = diff(known.baseline, fields);
    if (!changes.set && !changes.remove) {
      await this.sessions.touch(sid, { ttlMs: ttl });
      return known;
    }
    const result =
      this.config.sameField === 'error' && known.generation !== undefined
        ? await this.patchChecked(sid, known, changes, ttl)
        : await this.sessions.patch(sid, changes, { ttlMs: ttl });
    // Not live any more: the save is dropped, and stays dropped for this object. Live: the
    // generation stays the loaded one. Another request may have changed a field this one did not
    // write between its load and this save, and the baseline still holds the loaded value, so a
    // later save of that field must be checked from the load on, not from this write.
    return { id: sid, generation: result.ok ? known.generation : undefined, baseline: fields };
  }

  /** Patch at the known generation; on conflict, retry only if no changed field moved meanwhile. */
  private async patchChecked(
    sid: string,
    known: Loaded,
    changes: PatchChanges,
    ttl: number | undefined,
  ): Promise<WriteResult> {
    const names = [...Object.keys(changes.set ?? {}), ...(changes.remove ?? [])].filter((n) => n !== 'cookie');
    let expected = known.generation;
    for (let attempt = 1; attempt <= this.config.maxAttempts; attempt++) {
      const result = await this.sessions.patch(sid, changes, { ttlMs: ttl, expectedGeneration: expected });
      if (result.ok || result.reason !== 'conflict') return result;
      const current = result.session.metadata;
      const clashing = names.filter((n) => {
        const now = this.codec.canonical(own(current, n));
        // The same change on both sides is no clash.
        return now !== known.baseline.get(n) && now !== own(changes.set ?? {}, n);
      });
      if (clashing.length > 0) throw new SessionConflictError(sid, clashing);
      expected = result.session.generation;
    }
    throw new SessionConflictError(
      sid,
      [],
      `session changed concurrently ${this.config.maxAttempts} times in a row; nothing was written`,
    );
  }
}
