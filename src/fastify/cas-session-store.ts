/**
 * `session-cas/fastify`: a @fastify/session store on session-cas.
 *
 * Each top-level field of a session is one metadata entry, so a save writes
 * only the fields that changed, as a `patch`, and only while the record is
 * live: a save that lands after `destroy` or expiry is dropped instead of
 * bringing the session back.
 *
 * That needs the generation and the fields the request loaded, at save time.
 * The express store keys them by the session object it returned, but
 * `@fastify/session` never hands that object back: it builds a new `Session`
 * and copies the loaded data into it with `for...in` (so non-enumerable or
 * symbol-keyed properties do not survive, and a WeakMap keyed by the loaded
 * object never sees the `Session`). What does survive is every enumerable
 * field, by reference. So `get` adds one field, {@link TRACKING_FIELD}, whose
 * value is an opaque token holding the generation and baseline of this load;
 * `set` reads it back from the `Session` and strips it before writing. The
 * token is never stored (Redis or cookie) and is invisible to `JSON.stringify`
 * and to @fastify/session's change detection (its `toJSON` returns
 * `undefined`). After the first save, the `Session` object itself is the key
 * (a WeakMap, as in express), so later saves in the same request diff against
 * what that save wrote.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { SessionStore as FastifySessionStore } from '@fastify/session';
import { InvalidArgumentError } from '../core/errors.js';
import type { SessionStore } from '../core/types.js';
import type { SupportedClient as Client } from '../redis/client/interface.js';
import { type Callback, settle } from '../express/callbacks.js';
import { type Data, setOwn } from '../express/field-diff.js';
import { FieldSessions, type Loaded } from '../express/field-sessions.js';
import type { FieldSerializer } from '../express/field-diff.js';
import { FIELD_STORE_OPTION_KEYS, resolveConfig } from '../express/options.js';
import type { RedisSessionStoreOptions } from '../redis/store-options.js';

/**
 * The session field that carries the load's generation from `get` to `set`.
 * Reserved: the store overwrites it on load and never saves it. Apps that list
 * `Object.keys(request.session)` see it; `JSON.stringify` does not.
 */
export const TRACKING_FIELD = '__sessionCas';

/**
 * What happens when two requests of one session change the same top-level field concurrently
 * (changes to different fields always both persist), as in `session-cas/express`:
 * - `'last-write-wins'` (default): the save that reaches Redis last wins that field.
 * - `'error'`: the later save fails with a `SessionConflictError` and writes nothing; the earlier
 *   value stays. The `cookie` field is exempt (always last write wins).
 */
// Its own alias (the express one is the same union), so these types never refer to express-session's.
export type SameFieldPolicy = 'last-write-wins' | 'error';

/**
 * Options of {@link CasSessionStore}: the `RedisSessionStoreOptions` (when given a client) and the
 * options of the express store, but `scanCount` (`@fastify/session`'s store contract lists nothing).
 */
export interface CasSessionStoreOptions extends RedisSessionStoreOptions {
  /** Serializer of each session field. Default `JSON`. */
  serializer?: FieldSerializer;
  /** Policy for concurrent writes to the same field. Default `'last-write-wins'`. */
  sameField?: SameFieldPolicy;
  /** With `sameField: 'error'`: attempts when only other fields moved concurrently. Default 10. */
  maxAttempts?: number;
  /**
   * Names the principal (user) of a session when it is first stored: called with the session on
   * the save that creates the record, never later (a session's principal cannot change). Return
   * `undefined` for none. So that a session gets its principal, call `request.session.regenerate()`
   * at login and set the user before the response (the save at its end creates the record).
   * Lists and ends with {@link CasSessionStore.destroyAll}. Default: no principal.
   */
  principal?: (sess: FastifySessionData) => string | undefined;
}

/**
 * The one-argument form: `new CasSessionStore({ client, prefix })` or
 * `new CasSessionStore({ store })`.
 */
export type CasSessionStoreConfig = CasSessionStoreOptions &
  ({ client: Client; store?: undefined } | { store: SessionStore; client?: undefined });

/**
 * A session as @fastify/session hands it to `set` (its `Session`) and takes it
 * from `get` (plain data it copies into a new `Session`): the app's
 * `Fastify.Session` interface.
 */
export type FastifySessionData = Parameters<FastifySessionStore['set']>[1];

/** What each token stands for; a WeakMap so that a token is opaque and cannot be forged from data. */
const tokens = new WeakMap<object, Loaded>();

/**
 * The value of {@link TRACKING_FIELD}: opaque, serializes to nothing. It only
 * shows the generation the session was read at, for logging.
 */
class SessionCasToken {
  constructor(loaded: Loaded) {
    tokens.set(this, loaded);
    Object.freeze(this);
  }

  /** The generation the session was read at. */
  get generation(): number | undefined {
    return tokens.get(this)?.generation;
  }

  /** Leaves the token out of `JSON.stringify` and of @fastify/session's change hash. */
  toJSON(): undefined {
    return undefined;
  }
}

/**
 * A @fastify/session store that never resurrects a destroyed or expired
 * session and never loses a concurrent change to another field, with the
 * same semantics as `CasSessionStore` of `session-cas/express`.
 *
 * Methods follow @fastify/session's callback signatures; errors (faults,
 * unserializable values, `SessionConflictError`) go to the callback, which is
 * called from its own tick (an exception it throws is not swallowed). Each also
 * returns a promise that settles after the callback; without a callback it
 * rejects with the error instead.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import fastifyCookie from '@fastify/cookie';
 * import fastifySession from '@fastify/session';
 * import { Redis } from 'ioredis';
 * import { CasSessionStore } from 'session-cas/fastify';
 * const app = Fastify();
 * await app.register(fastifyCookie);
 * await app.register(fastifySession, { secret: process.env.SESSION_SECRET!, store: new CasSessionStore(new Redis()) });
 * ```
 */
export class CasSessionStore extends EventEmitter implements FastifySessionStore {
  /** The session-cas store the sessions live in. */
  readonly sessions: SessionStore;
  private readonly fields: FieldSessions;
  /** Session objects saved in this process, with what their last save wrote. */
  private readonly saved = new WeakMap<object, Loaded>();
  private readonly saving = new WeakMap<object, Promise<unknown>>();

  /**
   * @param storeOrClient a session-cas {@link SessionStore} (`RedisSessionStore`,
   * `MemorySessionStore`), or an ioredis or node-redis client to build a `RedisSessionStore` on
   * with the `RedisSessionStoreOptions` in `options` (`prefix`, `ttlMs`...).
   * Or one object: `{ client, ...options }` or `{ store, ...options }`.
   * @throws InvalidArgumentError for anything else, bad options, or store options
   * given together with a ready store (configure that store instead).
   */
  constructor(storeOrClient: SessionStore | Client | CasSessionStoreConfig, options?: CasSessionStoreOptions) {
    super();
    // The express store's checks, with the keys this store takes; principal is checked to be a function.
    const config = resolveConfig(storeOrClient as never, options as never, FIELD_STORE_OPTION_KEYS);
    this.sessions = config.sessions;
    this.fields = new FieldSessions({
      ...config,
      principal: config.principal as ((sess: Data) => string | undefined) | undefined,
    });
  }

  /**
   * Reads a live session (without refreshing its TTL); `null` when absent,
   * expired or destroyed. The data carries {@link TRACKING_FIELD}.
   */
  get(
    sessionId: string,
    callback?: Callback<FastifySessionData | null>,
  ): Promise<FastifySessionData | null | undefined> {
    return settle(this, this.load(sessionId), callback);
  }

  /**
   * Saves a session. One read by `get` (its data carries the token) or saved
   * before is patched: only changed fields are written, and only while it is
   * live (else the save is dropped without error). A session this store has
   * not seen (a new or regenerated one) is created; if the id is live already
   * it is replaced whole, if destroyed the save is dropped. A cookie that has
   * already expired destroys the session.
   */
  set(sessionId: string, session: FastifySessionData, callback?: (err?: unknown) => void): Promise<void> {
    return settle(
      this,
      this.serialized(session, () => this.save(sessionId, session)),
      callback,
    );
  }

  /** Ends a session for good: later saves of it are dropped. Destroying an absent id is not an error. */
  destroy(sessionId: string, callback?: (err?: unknown) => void): Promise<void> {
    return settle(
      this,
      this.sessions.terminate(sessionId).then(() => undefined),
      callback,
    );
  }

  /**
   * Destroys every live session of `principal` ("log out everywhere"), but `except` (one session
   * id, e.g. `request.session.sessionId` to stay logged in here, or a list): each becomes a
   * tombstone, so later saves of it are dropped. Sessions get a principal from the `principal` option.
   * @returns the ids destroyed (also passed to the callback).
   */
  destroyAll(
    principal: string,
    except?: string | readonly string[],
    callback?: Callback<string[]>,
  ): Promise<string[] | undefined> {
    const list = typeof except === 'string' ? [except] : except;
    const work = Promise.resolve()
      .then(() => this.sessions.terminateAll(principal, list === undefined ? undefined : { except: list }))
      .then((r) => r.terminated);
    return settle(this, work, callback);
  }

  private async load(sid: string): Promise<FastifySessionData | null> {
    const s = await this.sessions.peek(sid);
    if (!s) return null;
    const { data, loaded } = this.fields.decode(s);
    // A stored field of that name (written by another adapter) stays as it is, unseen.
    delete data[TRACKING_FIELD];
    const baseline = new Map(loaded.baseline);
    baseline.delete(TRACKING_FIELD);
    setOwn(data, TRACKING_FIELD, new SessionCasToken({ ...loaded, baseline }));
    return data as unknown as FastifySessionData;
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

  private async save(sid: string, obj: object): Promise<void> {
    const session = obj as Data;
    const data: Data = {};
    for (const name of Object.keys(session)) if (name !== TRACKING_FIELD) setOwn(data, name, session[name]);
    const token = session[TRACKING_FIELD];
    const known = this.saved.get(session) ?? (typeof token === 'object' && token ? tokens.get(token) : undefined);
    this.saved.set(session, await this.fields.save(sid, data, known));
  }
}

export default CasSessionStore;
