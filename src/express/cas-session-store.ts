/**
 * `session-cas/express`: an express-session store on session-cas.
 *
 * Each top-level field of a session is one metadata entry (serialized on its
 * own), so a save writes only the fields that changed, as a `patch`. A session
 * loaded by `get` remembers its generation in a WeakMap keyed by the session
 * object (never in the data the app sees, never in the cookie); saving it only
 * patches a live record, so a save that lands after `destroy` or expiry is
 * dropped instead of bringing the session back. Only a session this store did
 * not load (a new one) is created.
 * @module
 */
import session from 'express-session';
import type { SessionData, Store as ExpressStore } from 'express-session';
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import { decodeId, encodeId } from '../redis/keys.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../redis/redis-store.js';
import type { Client } from '../redis/scripts.js';
import type { Metadata, PatchChanges, Session, SessionStore, WriteResult } from '../core/types.js';
import { type AllowedKeys, REDIS_STORE_OPTION_KEYS, checkOptions, checkPositiveInt } from '../core/validate.js';

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

/**
 * What happens when two requests of one session change the same top-level
 * field concurrently (changes to different fields always both persist):
 * - `'last-write-wins'` (default): the save that reaches Redis last wins that field.
 * - `'error'`: the later save fails with a {@link SessionConflictError} and writes
 *   nothing; the earlier value stays. The `cookie` field is exempt (always last write wins).
 */
export type SameFieldPolicy = 'last-write-wins' | 'error';

/** Options of {@link CasSessionStore}. */
export interface CasSessionStoreOptions extends RedisSessionStoreOptions {
  /** Serializer of each session field. Default `JSON`. */
  serializer?: FieldSerializer;
  /** Policy for concurrent writes to the same field. Default `'last-write-wins'`. */
  sameField?: SameFieldPolicy;
  /** With `sameField: 'error'`: attempts when only other fields moved concurrently. Default 10. */
  maxAttempts?: number;
  /** `COUNT` hint of each SCAN call made by `all`, `length` and `clear`. Default 100. */
  scanCount?: number;
  /**
   * Names the principal (user) of a session when it is first stored: called
   * with the session data on the save that creates the record, never later (a
   * session's principal cannot change). Return `undefined` for none. So that a
   * session gets its principal, apps should `req.session.regenerate()` at
   * login, as express-session advises anyway, and set the user before the
   * first save. Lists and ends with `destroyAll` (and the store's
   * `sessionsOf` / `terminateAll`). Default: no principal.
   */
  principal?: (sess: SessionData) => string | undefined;
}

/**
 * The one-argument form, in the style of other express-session stores:
 * `new CasSessionStore({ client, prefix })` or `new CasSessionStore({ store })`.
 */
export type CasSessionStoreConfig = CasSessionStoreOptions &
  ({ client: Client; store?: undefined } | { store: SessionStore; client?: undefined });

/**
 * A save refused under `sameField: 'error'`: another request changed a field
 * this save also changes, after this request loaded the session. Nothing was
 * written. Test with {@link isSessionConflict} (checks `code`).
 */
export class SessionConflictError extends Error {
  readonly code = 'SESSION_CONFLICT' as const;
  /** The session whose save was refused. */
  readonly sessionId: string;
  /** The fields changed on both sides (empty when attempts ran out). */
  readonly fields: readonly string[];

  constructor(sessionId: string, fields: readonly string[], detail?: string) {
    super(
      detail ??
        `session fields changed concurrently by another request: ${fields.map((f) => JSON.stringify(f)).join(', ')}`,
    );
    this.name = 'SessionConflictError';
    this.sessionId = sessionId;
    this.fields = fields;
  }
}

/** Whether `e` is a {@link SessionConflictError} (works across ESM/CJS copies). */
export function isSessionConflict(e: unknown): e is SessionConflictError {
  return e instanceof Error && (e as { code?: unknown }).code === 'SESSION_CONFLICT';
}

type Callback<T> = (err: unknown, value?: T) => void;
type Data = Record<string, unknown>;
type Req = Parameters<ExpressStore['createSession']>[0];
type AllSessions = { [sid: string]: SessionData };

/** What a session object loaded (or saved) by this store remembers. */
interface Loaded {
  readonly id: string;
  /** Generation it was read or last written at; `undefined` once it is known to be gone. */
  readonly generation: number | undefined;
  /** Field name -> serialized value as this request last knew it. */
  readonly baseline: ReadonlyMap<string, string>;
}

/** Every RedisSessionStoreOptions key (one list, in validate.ts, that the compiler keeps complete). */
const REDIS_OPTION_KEYS = Object.keys(REDIS_STORE_OPTION_KEYS) as Array<keyof RedisSessionStoreOptions>;
/** Every CasSessionStoreOptions key: anything else is refused as a typo. */
const OPTION_KEYS: AllowedKeys<CasSessionStoreOptions> = {
  ...REDIS_STORE_OPTION_KEYS,
  serializer: true,
  sameField: true,
  maxAttempts: true,
  scanCount: true,
  principal: true,
};

/** The store's key space, for SCAN; only a {@link RedisSessionStore} has one. */
interface Scannable {
  readonly client: Client;
  readonly prefix: string;
}

function isSessionStore(x: unknown): x is SessionStore {
  const s = x as Partial<Record<keyof SessionStore, unknown>> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    (['create', 'peek', 'patch', 'touch', 'terminate', 'mutate'] as const).every((m) => typeof s[m] === 'function')
  );
}

function isClient(x: unknown): x is Client {
  return typeof x === 'object' && x !== null && typeof (x as { defineCommand?: unknown }).defineCommand === 'function';
}

function isScannable(s: SessionStore): s is SessionStore & Scannable {
  const r = s as Partial<Scannable>;
  return isClient(r.client) && typeof r.prefix === 'string';
}

const { Store } = session;

/**
 * An express-session `Store` that never resurrects a destroyed or expired
 * session and never loses a concurrent change to another field.
 *
 * Methods follow express-session's callback signatures; errors (faults,
 * unserializable values, {@link SessionConflictError}) go to the callback,
 * never thrown. Each also returns a promise that settles after the callback:
 * without a callback it rejects with the error instead.
 *
 * @example
 * ```ts
 * import session from 'express-session';
 * import { Redis } from 'ioredis';
 * import { CasSessionStore } from 'session-cas/express';
 * app.use(
 *   session({ store: new CasSessionStore(new Redis()), secret: 's3cret', resave: false, saveUninitialized: false }),
 * );
 * ```
 */
export class CasSessionStore extends Store {
  /** The session-cas store the sessions live in. */
  readonly sessions: SessionStore;
  private readonly serializer: FieldSerializer;
  private readonly principalOf: ((sess: SessionData) => string | undefined) | undefined;
  private readonly sameField: SameFieldPolicy;
  private readonly maxAttempts: number;
  private readonly scanCount: number;
  private readonly loaded = new WeakMap<object, Loaded>();
  private readonly saving = new WeakMap<object, Promise<unknown>>();

  /**
   * @param storeOrClient a session-cas {@link SessionStore} (`RedisSessionStore`,
   * `MemorySessionStore`), or an ioredis client to build a `RedisSessionStore` on
   * with the `RedisSessionStoreOptions` in `options` (`prefix`, `ttlMs`...).
   * Or one object: `{ client, ...options }` or `{ store, ...options }`.
   * @throws InvalidArgumentError for anything else, bad options, or store options
   * given together with a ready store (configure that store instead).
   */
  constructor(storeOrClient: SessionStore | Client | CasSessionStoreConfig, options?: CasSessionStoreOptions) {
    super();
    if (
      !isClient(storeOrClient) &&
      !isSessionStore(storeOrClient) &&
      options === undefined &&
      typeof storeOrClient === 'object' &&
      storeOrClient !== null &&
      ('client' in storeOrClient || 'store' in storeOrClient)
    ) {
      const { client, store, ...rest } = storeOrClient as CasSessionStoreConfig;
      storeOrClient = (client ?? store) as SessionStore | Client;
      options = rest;
    }
    const o = checkOptions<CasSessionStoreOptions>(options, 'options', OPTION_KEYS);
    if (isClient(storeOrClient)) {
      const redisOptions: RedisSessionStoreOptions = {};
      for (const k of REDIS_OPTION_KEYS) if (o[k] !== undefined) (redisOptions as Record<string, unknown>)[k] = o[k];
      this.sessions = new RedisSessionStore(storeOrClient, redisOptions);
    } else if (isSessionStore(storeOrClient)) {
      const misplaced = REDIS_OPTION_KEYS.find((k) => o[k] !== undefined);
      if (misplaced) {
        throw new InvalidArgumentError(`options.${misplaced}`, 'configure it on the SessionStore you pass, not here');
      }
      this.sessions = storeOrClient;
    } else {
      throw new InvalidArgumentError('storeOrClient', 'expected a session-cas SessionStore or an ioredis client');
    }
    this.serializer = checkSerializer(o.serializer);
    if (o.principal !== undefined && typeof o.principal !== 'function') {
      throw new InvalidArgumentError('options.principal', 'expected a function (sess) => string | undefined');
    }
    this.principalOf = o.principal;
    if (o.sameField !== undefined && o.sameField !== 'last-write-wins' && o.sameField !== 'error') {
      throw new InvalidArgumentError('options.sameField', "expected 'last-write-wins' or 'error'");
    }
    this.sameField = o.sameField ?? 'last-write-wins';
    this.maxAttempts = o.maxAttempts === undefined ? 10 : checkPositiveInt(o.maxAttempts, 'options.maxAttempts');
    this.scanCount = o.scanCount === undefined ? 100 : checkPositiveInt(o.scanCount, 'options.scanCount');
  }

  /** Reads a live session (without refreshing its TTL); `null` when absent, expired or destroyed. */
  override get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null | undefined> {
    return this.settle(this.readSession(sid), callback);
  }

  /**
   * Saves a session. A session loaded by `get` (or saved before) is patched:
   * only changed fields are written, and only while it is live (else the save
   * is dropped without error). A session this store has not seen is created;
   * if the id is live already it is replaced whole, if destroyed the save is dropped.
   */
  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    return this.settle(
      this.serialized(sess, () => this.save(sid, sess as unknown as Data)),
      callback,
    );
  }

  /** Ends a session for good: later saves of it are dropped. Destroying an absent id is not an error. */
  override destroy(sid: string, callback?: (err?: unknown) => void): Promise<void> {
    return this.settle(
      this.sessions.terminate(sid).then(() => undefined),
      callback,
    );
  }

  /** Resets the TTL of a live session (from its cookie, else the store default); never creates one. */
  override touch(sid: string, sess: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    return this.settle(this.touchLive(sid, sess as unknown as Data), callback as Callback<void> | undefined);
  }

  /** Every live session, by id. RedisSessionStore only: SCANs its keys (never KEYS). */
  override all(callback?: Callback<AllSessions>): Promise<AllSessions | undefined> {
    return this.settle(this.collect(), callback);
  }

  /** How many live sessions there are. RedisSessionStore only (SCAN). */
  override length(callback?: Callback<number>): Promise<number | undefined> {
    return this.settle(this.count(), callback);
  }

  /** Destroys every session (they become tombstones). RedisSessionStore only (SCAN). */
  override clear(callback?: (err?: unknown) => void): Promise<void> {
    return this.settle(this.destroyEverything(), callback);
  }

  /**
   * Destroys every live session of `principal` ("log out everywhere"), but
   * `except` (one session id, e.g. `req.sessionID` to stay logged in here, or
   * a list): each becomes a tombstone, so later saves of it are dropped.
   * @returns the ids destroyed (also passed to the callback).
   */
  destroyAll(
    principal: string,
    except?: string | readonly string[],
    callback?: Callback<string[]>,
  ): Promise<string[] | undefined> {
    const list = typeof except === 'string' ? [except] : except;
    const work = Promise.resolve().then(() =>
      this.sessions.terminateAll(principal, list === undefined ? undefined : { except: list }),
    );
    return this.settle(
      work.then((r) => r.terminated),
      callback,
    );
  }

  /** express-session builds its Session from our data here; the new object inherits what we remember. */
  override createSession(req: Req, data: SessionData): ReturnType<ExpressStore['createSession']> {
    const remembered = this.loaded.get(data);
    const created = super.createSession(req, data);
    if (remembered) this.loaded.set(created, remembered);
    return created;
  }

  /**
   * Runs `work` and reports it the express-session way, through the callback.
   * The returned promise settles when the callback has run: with a callback it
   * never rejects (the error went to the callback); without one it rejects,
   * already marked handled so that a caller ignoring it (express-session's
   * `req.session.destroy()` without a callback) cannot crash the process, and
   * the error is also emitted as `'error'` when the store has listeners.
   */
  private settle<T>(work: Promise<T>, callback: Callback<T> | undefined): Promise<T | undefined> {
    if (callback) {
      return work.then(
        (value) => {
          callback(null, value);
          return value;
        },
        (err: unknown) => {
          callback(err);
          return undefined;
        },
      );
    }
    const result = work.catch((err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      throw err;
    });
    result.catch(() => undefined);
    return result;
  }

  /** Saves of one session object run one after another, each diffing against the last. */
  private serialized(obj: unknown, task: () => Promise<void>): Promise<void> {
    if (typeof obj !== 'object' || obj === null) {
      return Promise.reject(new InvalidArgumentError('session', 'expected a session object'));
    }
    const run = (this.saving.get(obj) ?? Promise.resolve()).then(task);
    this.saving.set(
      obj,
      run.catch(() => undefined),
    );
    return run;
  }

  private async readSession(sid: string): Promise<SessionData | null> {
    const s = await this.sessions.peek(sid);
    return s ? this.toData(s) : null;
  }

  private toData(s: Session): SessionData {
    const data: Data = {};
    const baseline = new Map<string, string>();
    for (const [name, text] of Object.entries(s.metadata)) {
      let value: unknown;
      try {
        value = this.serializer.parse(text);
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
    this.loaded.set(data, { id: s.id, generation: s.generation, baseline });
    return data as unknown as SessionData;
  }

  private stringifyField(name: string, value: unknown): string | undefined {
    let text: unknown;
    try {
      text = this.serializer.stringify(value);
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

  private async save(sid: string, sess: Data): Promise<void> {
    const fields = this.fields(sess); // before any I/O: an unserializable value writes nothing
    const ttl = ttlFromCookie(sess);
    const known = this.loaded.get(sess);
    if (known && known.id === sid) return this.saveLoaded(sid, sess, known, fields, ttl);
    if (ttl === 'expired') return;
    const principal = this.principalOf?.(sess as unknown as SessionData);
    const opts = principal === undefined ? { ttlMs: ttl } : { ttlMs: ttl, principal };
    const created = await this.sessions.create(sid, toMetadata(fields), opts);
    if (created.ok) return this.remember(sess, sid, created.session.generation, fields);
    // Destroyed, or refused by maxSessionsPerPrincipal ('refuse'): nothing is stored, later saves are dropped.
    if (created.reason === 'terminated' || created.reason === 'limit')
      return this.remember(sess, sid, undefined, fields);
    // A live id this store did not load (a direct `set`): replace it whole, live only.
    const replaced = await this.sessions.mutate(sid, () => toMetadata(fields), { ttlMs: ttl });
    this.remember(sess, sid, replaced.ok ? replaced.session.generation : undefined, fields);
  }

  private async saveLoaded(
    sid: string,
    sess: Data,
    known: Loaded,
    fields: Map<string, string>,
    ttl: number | undefined | 'expired',
  ): Promise<void> {
    if (ttl === 'expired') {
      await this.sessions.terminate(sid);
      return this.remember(sess, sid, undefined, fields);
    }
    const changes = diff(known.baseline, fields);
    if (!changes.set && !changes.remove) {
      await this.sessions.touch(sid, { ttlMs: ttl });
      return;
    }
    const result =
      this.sameField === 'error' && known.generation !== undefined
        ? await this.patchChecked(sid, known, changes, ttl)
        : await this.sessions.patch(sid, changes, { ttlMs: ttl });
    // Not live any more: the save is dropped, and stays dropped for this object.
    this.remember(sess, sid, result.ok ? result.session.generation : undefined, fields);
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
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
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
      `session changed concurrently ${this.maxAttempts} times in a row; nothing was written`,
    );
  }

  private canonical(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    try {
      return this.serializer.stringify(this.serializer.parse(text));
    } catch {
      return text;
    }
  }

  private remember(sess: Data, id: string, generation: number | undefined, baseline: Map<string, string>): void {
    this.loaded.set(sess, { id, generation, baseline });
  }

  private async touchLive(sid: string, sess: Data): Promise<void> {
    const ttl = ttlFromCookie(sess);
    if (ttl === 'expired') await this.sessions.terminate(sid);
    else await this.sessions.touch(sid, { ttlMs: ttl });
  }

  private scannable(op: string): SessionStore & Scannable {
    if (!isScannable(this.sessions)) {
      throw new InvalidArgumentError(
        'store',
        `${op}() needs a RedisSessionStore (it SCANs its keys); this store cannot list sessions`,
      );
    }
    return this.sessions;
  }

  private async collect(): Promise<AllSessions> {
    const store = this.scannable('all');
    const out: Data = {};
    for await (const ids of scanIds(store, this.scanCount)) {
      const sessions = await Promise.all(ids.map((id) => store.peek(id)));
      for (const s of sessions) if (s) setOwn(out, s.id, this.toData(s));
    }
    return out as AllSessions;
  }

  private async count(): Promise<number> {
    const store = this.scannable('length');
    let n = 0;
    for await (const ids of scanIds(store, this.scanCount)) {
      const live = await Promise.all(ids.map((id) => store.exists(id)));
      n += live.filter(Boolean).length;
    }
    return n;
  }

  private async destroyEverything(): Promise<void> {
    const store = this.scannable('clear');
    for await (const ids of scanIds(store, this.scanCount)) {
      await Promise.all(ids.map((id) => store.terminate(id)));
    }
  }
}

function checkSerializer(s: unknown): FieldSerializer {
  if (s === undefined) return JSON;
  const c = s as Partial<FieldSerializer> | null;
  if (typeof c !== 'object' || c === null || typeof c.stringify !== 'function' || typeof c.parse !== 'function') {
    throw new InvalidArgumentError('options.serializer', 'expected { stringify(value), parse(text) }');
  }
  return c as FieldSerializer;
}

/** Own-property write that keeps `__proto__` an ordinary key. */
function setOwn(target: Data, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function own(m: Readonly<Metadata>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
}

function toMetadata(fields: ReadonlyMap<string, string>): Metadata {
  const m: Metadata = {};
  for (const [k, v] of fields) setOwn(m, k, v);
  return m;
}

/** Fields to set (new or changed since the baseline) and to remove (gone since). */
function diff(baseline: ReadonlyMap<string, string>, fields: ReadonlyMap<string, string>): PatchChanges {
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
function ttlFromCookie(sess: Data): number | undefined | 'expired' {
  const cookie = sess.cookie as { expires?: unknown } | null | undefined;
  const expires = cookie?.expires;
  if (expires === undefined || expires === null || expires === false) return undefined;
  const at = expires instanceof Date ? expires.getTime() : new Date(expires as string | number).getTime();
  if (!Number.isFinite(at)) return undefined;
  const ms = Math.ceil(at - Date.now());
  return ms > 0 ? ms : 'expired';
}

/** Escapes Redis glob metacharacters. */
function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

function keyPrefixOf(client: Client): string {
  const o = client.options as { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } };
  const p = o.keyPrefix ?? o.redisOptions?.keyPrefix;
  return typeof p === 'string' ? p : '';
}

type ScanNode = { scan(cursor: string, ...args: Array<string | number>): Promise<[string, string[]]> };

function scanNodes(client: Client): ScanNode[] {
  const c = client as unknown as { isCluster?: boolean; nodes?: (role: string) => ScanNode[] };
  return c.isCluster && typeof c.nodes === 'function' ? c.nodes('master') : [client as unknown as ScanNode];
}

/**
 * Pages of session ids under the store's prefix, one SCAN call per page (each
 * bounded by `count`; never KEYS). The ioredis `keyPrefix` is not applied to
 * SCAN patterns or replies, so it is added and stripped here.
 */
async function* scanIds(store: Scannable, count: number): AsyncGenerator<string[]> {
  const head = keyPrefixOf(store.client) + store.prefix + '{';
  const pattern = `${globEscape(head)}*}:s`;
  for (const node of scanNodes(store.client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = String(next);
      const ids = keys.map((k) => idOfKey(String(k), head)).filter((id): id is string => id !== undefined);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }
}

function idOfKey(key: string, head: string): string | undefined {
  if (!key.startsWith(head) || !key.endsWith('}:s')) return undefined;
  const encoded = key.slice(head.length, -3);
  if (encoded === '' || /[{}]/.test(encoded)) return undefined;
  const id = decodeId(encoded);
  return encodeId(id) === encoded ? id : undefined;
}

export default CasSessionStore;
