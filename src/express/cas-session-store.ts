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
import { InvalidArgumentError } from '../core/errors.js';
import type { Session, SessionStore } from '../core/types.js';
import type { SupportedClient as Client } from '../redis/client/interface.js';
import { type Callback, settle } from './callbacks.js';
import { withRecordExpiry } from './cookie.js';
import { type Data, setOwn } from './field-diff.js';
import { FieldSessions, type Loaded } from './field-sessions.js';
import { type CasSessionStoreConfig, type CasSessionStoreOptions, resolveConfig } from './options.js';

type Req = Parameters<ExpressStore['createSession']>[0];
type AllSessions = { [sid: string]: SessionData };

/** A store that can list its sessions (RedisSessionStore's internal `scanIds`). */
interface Listing {
  scanIds(count: number): AsyncIterable<string[]>;
}

/** A store whose records' remaining TTL can be read (RedisSessionStore's internal `remainingTtl`). */
interface TtlReadable {
  remainingTtl(id: string): Promise<number>;
}

function canList(s: SessionStore): s is SessionStore & Listing {
  return typeof (s as Partial<Listing>).scanIds === 'function';
}

function canReadTtl(s: SessionStore): s is SessionStore & TtlReadable {
  return typeof (s as Partial<TtlReadable>).remainingTtl === 'function';
}

const { Store } = session;

/**
 * An express-session `Store` that never resurrects a destroyed or expired
 * session and never loses a concurrent change to another field.
 *
 * Methods follow express-session's callback signatures; errors (faults,
 * unserializable values, {@link SessionConflictError}) go to the callback,
 * never thrown. The callback runs on its own tick, so an exception it throws
 * is uncaught (not a swallowed rejection). Each method also returns a promise
 * that settles after the callback: without a callback it rejects with the error instead.
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
  private readonly fields: FieldSessions;
  private readonly scanCount: number;
  private readonly loaded = new WeakMap<object, Loaded>();
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
    const c = resolveConfig(storeOrClient, options);
    this.sessions = c.sessions;
    this.fields = new FieldSessions({
      ...c,
      principal: c.principal as ((sess: Data) => string | undefined) | undefined,
    });
    this.scanCount = c.scanCount;
  }

  /**
   * Reads a live session (without refreshing its TTL); `null` when absent, expired or destroyed.
   *
   * `cookie.expires` is the one the last save wrote, unless a `touch` has since
   * extended the record: a touch resets only the TTL (no write, no new
   * generation), so on a RedisSessionStore the expiry read back is the record's
   * (now plus its PTTL) when it is later than the stored one (see `withRecordExpiry`).
   */
  override get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null | undefined> {
    return settle(this, this.readSession(sid), callback);
  }

  /**
   * Saves a session. A session loaded by `get` (or saved before) is patched:
   * only changed fields are written, and only while it is live (else the save
   * is dropped without error). A session this store has not seen is created;
   * if the id is live already it is replaced whole, if destroyed the save is dropped.
   * A session whose cookie has already expired is destroyed, whichever object it is.
   */
  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    return settle(
      this,
      this.serialized(sess, () => this.save(sid, sess as unknown as Data)),
      callback,
    );
  }

  /** Ends a session for good: later saves of it are dropped. Destroying an absent id is not an error. */
  override destroy(sid: string, callback?: (err?: unknown) => void): Promise<void> {
    return settle(
      this,
      this.sessions.terminate(sid).then(() => undefined),
      callback,
    );
  }

  /**
   * Resets the TTL of a live session (from its cookie, else the store default); never creates one.
   * It writes nothing else: `get` reports the extended expiry from the record's TTL.
   */
  override touch(sid: string, sess: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    return settle(this, this.fields.touch(sid, sess as unknown as Data), callback as Callback<void> | undefined);
  }

  /** Every live session, by id. RedisSessionStore only: SCANs its keys (never KEYS). */
  override all(callback?: Callback<AllSessions>): Promise<AllSessions | undefined> {
    return settle(this, this.collect(), callback);
  }

  /** How many live sessions there are. RedisSessionStore only (SCAN). */
  override length(callback?: Callback<number>): Promise<number | undefined> {
    return settle(this, this.count(), callback);
  }

  /** Destroys every session (they become tombstones). RedisSessionStore only (SCAN). */
  override clear(callback?: (err?: unknown) => void): Promise<void> {
    return settle(this, this.destroyEverything(), callback);
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
    const work = Promise.resolve()
      .then(() => this.sessions.terminateAll(principal, list === undefined ? undefined : { except: list }))
      .then((r) => r.terminated);
    return settle(this, work, callback);
  }

  /** express-session builds its Session from our data here; the new object inherits what we remember. */
  override createSession(req: Req, data: SessionData): ReturnType<ExpressStore['createSession']> {
    const remembered = this.loaded.get(data);
    const created = super.createSession(req, data);
    if (remembered) this.loaded.set(created, remembered);
    return created;
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
    const store = this.sessions;
    if (!canReadTtl(store)) {
      const s = await store.peek(sid);
      return s ? this.toData(s) : null;
    }
    const readAt = Date.now();
    const [s, pttl] = await Promise.all([store.peek(sid), store.remainingTtl(sid)]);
    if (!s) return null;
    const data = this.toData(s);
    withRecordExpiry(data as unknown as Data, readAt, Number(pttl));
    return data;
  }

  private toData(s: Session): SessionData {
    const { data, loaded } = this.fields.decode(s);
    this.loaded.set(data, loaded);
    return data as unknown as SessionData;
  }

  private async save(sid: string, sess: Data): Promise<void> {
    this.loaded.set(sess, await this.fields.save(sid, sess, this.loaded.get(sess)));
  }

  private listing(op: string): SessionStore & Listing {
    if (!canList(this.sessions)) {
      throw new InvalidArgumentError(
        'store',
        `${op}() needs a RedisSessionStore (it SCANs its keys); this store cannot list sessions`,
      );
    }
    return this.sessions;
  }

  private async collect(): Promise<AllSessions> {
    const store = this.listing('all');
    const out: Data = {};
    for await (const ids of store.scanIds(this.scanCount)) {
      const sessions = await Promise.all(ids.map((id) => store.peek(id)));
      for (const s of sessions) if (s) setOwn(out, s.id, this.toData(s));
    }
    return out as AllSessions;
  }

  private async count(): Promise<number> {
    const store = this.listing('length');
    let n = 0;
    for await (const ids of store.scanIds(this.scanCount)) {
      const live = await Promise.all(ids.map((id) => store.exists(id)));
      n += live.filter(Boolean).length;
    }
    return n;
  }

  private async destroyEverything(): Promise<void> {
    const store = this.listing('clear');
    for await (const ids of store.scanIds(this.scanCount)) {
      await Promise.all(ids.map((id) => store.terminate(id)));
    }
  }
}

export default CasSessionStore;
