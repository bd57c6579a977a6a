/**
 * The part of a framework session store that does not depend on the framework:
 * reading a session as fields with the generation it was read at, and saving
 * a session object as a patch of the fields it changed since, live only.
 *
 * An adapter only has to carry the {@link Loaded} state from `load` to `save`
 * across one request (express: a WeakMap keyed by the session object;
 * Fastify: a token inside the session data, see `session-cas/fastify`).
 * @module
 */
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import type { PatchChanges, Session, SessionStore, WriteResult } from '../core/types.js';
import { SessionConflictError } from './errors.js';
import { type Data, diff, own, setOwn, toMetadata, ttlFromCookie } from './fields.js';
import type { ResolvedFieldOptions } from './options.js';

/** What a request knows about the session it loaded (or saved). */
export interface Loaded {
  readonly id: string;
  /**
   * Generation the request's knowledge of the fields it did not write dates from (the one it
   * loaded, or created); `undefined` once the session is known to be gone.
   */
  readonly generation: number | undefined;
  /** Field name -> serialized value as this request last knew it (loaded, or written by it). */
  readonly baseline: ReadonlyMap<string, string>;
}

/** Loads and saves sessions as fields on a session-cas store. */
export class FieldSessions {
  constructor(
    readonly sessions: SessionStore,
    private readonly options: ResolvedFieldOptions,
  ) {}

  /** A live session's fields and what a later save must know; `null` when absent, expired or destroyed. */
  async load(sid: string): Promise<{ data: Data; loaded: Loaded } | null> {
    const s = await this.sessions.peek(sid);
    return s ? this.toData(s) : null;
  }

  /** The fields of `s` (parsed) and its baseline (each field in canonical form). */
  toData(s: Session): { data: Data; loaded: Loaded } {
    const data: Data = {};
    const baseline = new Map<string, string>();
    for (const [name, text] of Object.entries(s.metadata)) {
      let value: unknown;
      try {
        value = this.options.serializer.parse(text);
      } catch (err) {
        throw new SessionStoreError(
          'UNEXPECTED_REPLY',
          `session ${JSON.stringify(s.id)}: field ${JSON.stringify(name)} cannot be parsed`,
          { cause: err },
        );
      }
      setOwn(data, name, value);
      // The canonical form, so a field this request never touched compares equal at save time.
      const canonical = this.stringifyField(name, value);
      if (canonical !== undefined) baseline.set(name, canonical);
    }
    return { data, loaded: { id: s.id, generation: s.generation, baseline } };
  }

  /**
   * Saves `sess` under `sid`. With `known` for this id (the session was loaded
   * or saved before) only changed fields are patched, and only while the record
   * is live: a save after destroy or expiry is dropped without error. Without,
   * the session is created; a live id is replaced whole, a destroyed one stays
   * destroyed. A cookie already expired destroys the session. Returns what the
   * next save of the same object must know.
   * @throws InvalidArgumentError when a field cannot be serialized (nothing is written).
   * @throws SessionConflictError under `sameField: 'error'` (nothing is written).
   */
  async save(sid: string, sess: Data, known: Loaded | undefined): Promise<Loaded> {
    const fields = this.fields(sess); // before any I/O: an unserializable value writes nothing
    const ttl = ttlFromCookie(sess);
    if (known && known.id === sid) return this.saveLoaded(sid, known, fields, ttl);
    const gone: Loaded = { id: sid, generation: undefined, baseline: fields };
    if (ttl === 'expired') {
      await this.sessions.terminate(sid);
      return gone;
    }
    const created = await this.sessions.create(sid, toMetadata(fields), { ttlMs: ttl });
    if (created.ok) return { id: sid, generation: created.session.generation, baseline: fields };
    if (created.reason === 'terminated') return gone;
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

  /** Ends a session for good; an absent id is not an error. */
  async destroy(sid: string): Promise<void> {
    await this.sessions.terminate(sid);
  }

  private async saveLoaded(
    sid: string,
    known: Loaded,
    fields: Map<string, string>,
    ttl: number | undefined | 'expired',
  ): Promise<Loaded> {
    if (ttl === 'expired') {
      await this.sessions.terminate(sid);
      return { id: sid, generation: undefined, baseline: fields };
    }
    const changes = diff(known.baseline, fields);
    if (!changes.set && !changes.remove) {
      await this.sessions.touch(sid, { ttlMs: ttl });
      return known;
    }
    const result =
      this.options.sameField === 'error' && known.generation !== undefined
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
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const result = await this.sessions.patch(sid, changes, { ttlMs: ttl, expectedGeneration: expected });
      if (result.ok || result.reason !== 'conflict') return result;
      const current = result.session.metadata;
      const clashing = names.filter((n) => {
        const now = this.canonical(own(current, n));
        // The same change on both sides is no clash.
        return now !== known.baseline.get(n) && now !== own(changes.set ?? {}, n);
      });
      if (clashing.length > 0) throw new SessionConflictError(sid, clashing);
      expected = result.session.generation;
    }
    throw new SessionConflictError(
      sid,
      [],
      `session changed concurrently ${this.options.maxAttempts} times in a row; nothing was written`,
    );
  }

  private canonical(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    try {
      return this.options.serializer.stringify(this.options.serializer.parse(text));
    } catch {
      return text;
    }
  }

  private stringifyField(name: string, value: unknown): string | undefined {
    let text: unknown;
    try {
      text = this.options.serializer.stringify(value);
    } catch (err) {
      throw new InvalidArgumentError(
        `session[${JSON.stringify(name)}]`,
        `cannot be serialized (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    if (text !== undefined && typeof text !== 'string') {
      throw new InvalidArgumentError(
        `session[${JSON.stringify(name)}]`,
        `the serializer returned ${typeof text}, not a string`,
      );
    }
    return text;
  }

  private fields(sess: Data): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of Object.keys(sess)) {
      const text = this.stringifyField(name, sess[name]);
      if (text !== undefined) out.set(name, text);
    }
    return out;
  }
}
