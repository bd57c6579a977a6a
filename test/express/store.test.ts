/** CasSessionStore driven directly through express-session's Store API (callbacks), on real Redis. */
import session from 'express-session';
import { afterAll, describe, expect, it } from 'vitest';
import DefaultExport, {
  CasSessionStore,
  type FieldSerializer,
  SessionConflictError,
  isSessionConflict,
} from '../../src/express/index.js';
import {
  MemorySessionStore,
  RedisSessionStore,
  SessionStoreError,
  isInvalidArgument,
  isSessionStoreError,
} from '../../src/index.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { call, redisCasTarget } from './express-targets.js';

const target = redisCasTarget(5);
const cookie = (maxAge?: number) =>
  maxAge === undefined
    ? { originalMaxAge: null, httpOnly: true, path: '/' }
    : { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: '/' };
const get = (store: CasSessionStore, sid: string) => call<any>((cb) => store.get(sid, cb));
const set = (store: CasSessionStore, sid: string, sess: object) => call((cb) => store.set(sid, sess as never, cb));
const failure = (fn: (cb: (err?: unknown) => void) => void) =>
  new Promise<unknown>((resolve) => fn((err) => resolve(err)));

describe('CasSessionStore construction', () => {
  it('builds a RedisSessionStore from an ioredis client and its options', () => {
    const store = new CasSessionStore(target.client(), { prefix: 'app:', ttlMs: 60_000, sameField: 'error' });
    expect(store).toBeInstanceOf(session.Store);
    expect(store.sessions).toBeInstanceOf(RedisSessionStore);
    expect((store.sessions as RedisSessionStore).prefix).toBe('app:');
    expect((store.sessions as RedisSessionStore).options.ttlMs).toBe(60_000);
  });

  it('passes every RedisSessionStore option through, evictionPolicyCheck included', () => {
    const client = target.client();
    expect(() => new CasSessionStore(client, { evictionPolicyCheck: 'sometimes' as never })).toThrow(
      /options\.evictionPolicyCheck/,
    );
    expect(() => new CasSessionStore(new MemorySessionStore(), { evictionPolicyCheck: 'off' })).toThrow(
      /options\.evictionPolicyCheck/,
    );
  });

  it('also takes one object, { client, ...options } or { store, ...options }, and is the default export', () => {
    const fromClient = new CasSessionStore({ client: target.client(), prefix: 'one:', sameField: 'error' });
    expect(fromClient.sessions).toBeInstanceOf(RedisSessionStore);
    expect((fromClient.sessions as RedisSessionStore).prefix).toBe('one:');
    const memory = new MemorySessionStore();
    expect(new CasSessionStore({ store: memory }).sessions).toBe(memory);
    expect(() => new CasSessionStore({ store: memory, prefix: 'x:' })).toThrow(/options\.prefix/);
    expect(() => new CasSessionStore({ client: {} as never })).toThrow(/storeOrClient/);
    expect(DefaultExport).toBe(CasSessionStore);
  });

  it('takes a ready SessionStore, and refuses store options next to it', () => {
    const memory = new MemorySessionStore();
    expect(new CasSessionStore(memory).sessions).toBe(memory);
    expect(() => new CasSessionStore(memory, { prefix: 'x:' })).toThrow(/options\.prefix/);
  });

  it('refuses anything else and bad options, naming the argument', () => {
    const bad: Array<[unknown, unknown, RegExp]> = [
      [{}, undefined, /storeOrClient/],
      [null, undefined, /storeOrClient/],
      [new MemorySessionStore(), { sameField: 'first' }, /options\.sameField/],
      [new MemorySessionStore(), { serializer: { stringify: JSON.stringify } }, /options\.serializer/],
      [new MemorySessionStore(), { scanCount: 0 }, /options\.scanCount/],
      [new MemorySessionStore(), { maxAttempts: 1.5 }, /options\.maxAttempts/],
      [new MemorySessionStore(), 'opts', /options/],
      [
        new MemorySessionStore(),
        { samefield: 'error' },
        /options\.samefield`: unknown option \(did you mean sameField\?\)/,
      ],
      [target.client(), { prefx: 'app:' }, /options\.prefx`: unknown option \(did you mean prefix\?\)/],
      [{ client: target.client(), scancount: 10 }, undefined, /options\.scancount/],
      [{ clinet: target.client() }, undefined, /options\.clinet`: unknown option \(did you mean client\?\)/],
      [{ ttlMs: 1_000 }, undefined, /storeOrClient/], // known keys, but neither client nor store
    ];
    for (const [arg, opts, message] of bad) {
      let thrown: unknown;
      try {
        new CasSessionStore(arg as never, opts as never);
      } catch (err) {
        thrown = err;
      }
      expect(isInvalidArgument(thrown), String(message)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});

describe('CasSessionStore through the Store API', () => {
  it('a value that cannot be serialized is an error to the callback and writes nothing', async () => {
    const { store, sessions } = target.make();
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    for (const value of [10n, loop]) {
      const err = await failure((cb) => store.set('new-sid', { cookie: cookie(), v: value } as never, cb));
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/session\["v"\].*cannot be serialized/);
    }
    expect(await sessions.peek('new-sid')).toBeNull();

    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const loaded = await get(store, 'sid');
    const gen = (await sessions.peek('sid'))!.generation;
    loaded.n = 1n;
    expect(isInvalidArgument(await failure((cb) => store.set('sid', loaded, cb)))).toBe(true);
    expect((await sessions.peek('sid'))!.generation).toBe(gen);
  });

  it('each top-level field is one metadata entry, written by the pluggable serializer', async () => {
    const tagged: FieldSerializer = {
      stringify: (v) => (v === undefined || typeof v === 'function' ? undefined : `v1:${JSON.stringify(v)}`),
      parse: (t) => JSON.parse(t.slice(3)),
    };
    const { store, sessions } = target.make({ serializer: tagged });
    await set(store, 'sid', { cookie: cookie(), user: { name: 'ada', roles: ['admin'] }, skip: () => 1 });
    const raw = await sessions.peek('sid');
    expect(Object.keys(raw!.metadata).sort()).toEqual(['cookie', 'user']);
    expect(raw!.metadata.user).toBe('v1:{"name":"ada","roles":["admin"]}');
    expect((await get(store, 'sid')).user).toEqual({ name: 'ada', roles: ['admin'] });

    const broken = target.make({ serializer: { stringify: () => 42 as unknown as string, parse: JSON.parse } });
    const err = await failure((cb) => broken.store.set('sid', { cookie: cookie() } as never, cb));
    expect((err as Error).message).toMatch(/returned number/);
  });

  it('a stored field that cannot be parsed is an error to the get callback', async () => {
    const { store, sessions } = target.make();
    await sessions.create('sid', { cookie: '{"path":"/"}', user: '{not json' });
    const err = await failure((cb) => store.get('sid', cb));
    expect(isSessionStoreError(err)).toBe(true);
    expect((err as Error).message).toMatch(/"user" cannot be parsed/);
  });

  it('an unknown object saved on a live id replaces it whole; on a destroyed id it is dropped', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada', cart: ['book'] });
    await set(store, 'sid', { cookie: cookie(), user: 'bob' });
    expect(await get(store, 'sid')).toEqual({ cookie: cookie(), user: 'bob' });
    await call((cb) => store.destroy('sid', cb));
    await set(store, 'sid', { cookie: cookie(), user: 'eve' });
    expect(await sessions.peek('sid')).toBeNull();
  });

  it('a cookie already expired: a new session is not created, a loaded one is destroyed', async () => {
    const { store, sessions } = target.make();
    const past = { originalMaxAge: 1000, expires: new Date(Date.now() - 1000), path: '/' };
    await set(store, 'new', { cookie: past, user: 'ada' });
    expect(await sessions.peek('new')).toBeNull();
    await set(store, 'old', { cookie: cookie(60_000), user: 'ada' });
    const loaded = await get(store, 'old');
    loaded.cookie = past;
    await set(store, 'old', loaded);
    expect(await sessions.peek('old')).toBeNull();
    expect(await sessions.create('old', {})).toEqual({ ok: false, reason: 'terminated' });
  });

  it('saves of one session object run in order, each diffed against the last (no false conflict)', async () => {
    const { store } = target.make({ sameField: 'error' });
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const loaded = await get(store, 'sid');
    loaded.a = 1;
    const first = set(store, 'sid', loaded);
    loaded.b = 2;
    const second = set(store, 'sid', loaded);
    await Promise.all([first, second]);
    expect(await get(store, 'sid')).toMatchObject({ user: 'ada', a: 1, b: 2 });
  });

  it("sameField: 'error': a second save of one object still sees a field another request changed before the first", async () => {
    const { store, sessions } = target.make({ sameField: 'error' });
    await set(store, 'sid', { cookie: cookie(), user: 'ada', n: 1 });
    const a = await get(store, 'sid');
    const b = await get(store, 'sid');
    a.n = 2;
    await set(store, 'sid', a);
    b.m = 3;
    await set(store, 'sid', b); // another field: merged, and b's n is still the loaded 1
    b.n = 4;
    const err = await failure((cb) => store.set('sid', b, cb));
    expect(isSessionConflict(err)).toBe(true);
    expect((err as { fields: string[] }).fields).toEqual(['n']);
    expect((await sessions.peek('sid'))!.metadata).toMatchObject({ n: '2', m: '3' });
  });

  it("sameField: 'error': the same change made on both sides is not a conflict", async () => {
    const { store } = target.make({ sameField: 'error' });
    await set(store, 'sid', { cookie: cookie(), user: 'ada', tmp: 1 });
    const a = await get(store, 'sid');
    const b = await get(store, 'sid');
    a.x = 'same';
    b.x = 'same';
    delete a.tmp;
    delete b.tmp;
    await set(store, 'sid', a);
    await set(store, 'sid', b);
    expect(await get(store, 'sid')).toEqual({ cookie: cookie(), user: 'ada', x: 'same' });
  });

  it('without a callback, the returned promise reports the outcome, and failures also reach error listeners', async () => {
    const { store } = target.make();
    await store.set('sid', { cookie: cookie(), user: 'ada' } as never);
    expect(await store.get('sid')).toEqual({ cookie: cookie(), user: 'ada' });
    const seen = new Promise<unknown>((resolve) => store.once('error', resolve));
    const rejected = await store.set('sid', { cookie: cookie(), bad: 1n } as never).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(isInvalidArgument(rejected)).toBe(true);
    expect(await seen).toBe(rejected);
    // With a callback the promise never rejects: the error went to the callback.
    let viaCallback: unknown;
    await store.set('sid', { cookie: cookie(), bad: 1n } as never, (e) => {
      viaCallback = e;
    });
    expect(isInvalidArgument(viaCallback)).toBe(true);
    await store.destroy('sid');
    expect(await store.get('sid')).toBeNull();
  });
});

describe.each([5, 6] as const)('all, length and clear (SCAN, ioredis %i)', (major) => {
  const keyed = createClient(major, undefined, { keyPrefix: uniquePrefix('kp') });
  afterAll(() => keyed.disconnect());

  it('list and count live sessions only, under this prefix only, with an ioredis keyPrefix and glob characters in the prefix', async () => {
    const prefix = `${uniquePrefix('scan')}[*?]\\`;
    const store = new CasSessionStore(keyed, { prefix, scanCount: 2 });
    const neighbour = new CasSessionStore(keyed, { prefix: `${prefix}x` });
    const ids = ['a', 'b{c}', 'd%7B', 'e', 'f'];
    for (const id of ids) await set(store, id, { cookie: cookie(), id });
    await set(neighbour, 'n', { cookie: cookie(), id: 'n' });
    await call((cb) => store.destroy('e', cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(4);
    const all = await call<Record<string, any>>((cb) => store.all(cb));
    expect(Object.keys(all!).sort()).toEqual(['a', 'b{c}', 'd%7B', 'f']);
    expect(all!['b{c}'].id).toBe('b{c}');
    await call((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
    expect(await store.sessions.peek('a')).toBeNull();
    expect(await call<number>((cb) => neighbour.length(cb))).toBe(1);
    // A session listed by all() saves as a loaded one: after clear, it is not brought back.
    all!.f.extra = true;
    await set(store, 'f', all!.f);
    expect(await store.sessions.peek('f')).toBeNull();
  });

  it('on a store that cannot list its sessions, they fail through the callback', async () => {
    const store = new CasSessionStore(new MemorySessionStore());
    for (const op of [
      (cb: (e?: unknown) => void) => store.all(cb),
      (cb: (e?: unknown) => void) => store.length(cb),
      (cb: (e?: unknown) => void) => store.clear(cb),
    ]) {
      const err = await failure(op);
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/needs a RedisSessionStore/);
    }
  });
});

/** Runs `fn` with the process's `event` listeners swapped for one recorder, restored afterwards. */
async function recording(event: 'uncaughtException' | 'unhandledRejection', fn: (seen: unknown[]) => Promise<void>) {
  const saved = process.listeners(event as 'uncaughtException');
  const seen: unknown[] = [];
  const record = (e: unknown) => seen.push(e);
  process.removeAllListeners(event);
  process.on(event as 'uncaughtException', record);
  try {
    await fn(seen);
  } finally {
    process.off(event as 'uncaughtException', record);
    for (const l of saved) process.on(event as 'uncaughtException', l as never);
  }
}

const nextMacrotask = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('express-session findings (#14)', () => {
  it('touch resets the expiry that get reports, without a write', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(60_000), user: 'ada' });
    const stored = (await get(store, 'sid')).cookie.expires;
    // Nothing touched: get reports the saved expiry exactly (no drift from the TTL read).
    expect((await get(store, 'sid')).cookie.expires).toBe(stored);
    const gen = (await sessions.peek('sid'))!.generation;
    const loaded = await get(store, 'sid');
    const touchedTo = Date.now() + 120_000;
    loaded.cookie = { ...loaded.cookie, expires: new Date(touchedTo) };
    await call((cb) => store.touch('sid', loaded, cb));
    const after = await get(store, 'sid');
    const reported = new Date(after.cookie.expires).getTime();
    expect(reported).toBeGreaterThan(touchedTo - 1_000);
    expect(reported).toBeLessThanOrEqual(touchedTo + 1_000);
    expect(after.cookie.originalMaxAge).toBe(60_000);
    expect(after.user).toBe('ada');
    expect((await sessions.peek('sid'))!.generation).toBe(gen);
  });

  it('a browser-session cookie (no expires) stays without one after a touch', async () => {
    const { store } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const loaded = await get(store, 'sid');
    await call((cb) => store.touch('sid', loaded, cb));
    expect((await get(store, 'sid')).cookie).toEqual(cookie());
  });

  it('an exception thrown by a callback is uncaught, not a swallowed rejection, and the callback runs once', async () => {
    const { store } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    await recording('unhandledRejection', async (rejections) => {
      await recording('uncaughtException', async (uncaught) => {
        const calls: string[] = [];
        const boomGet = new Error('assertion in get callback');
        await store.get('sid', () => {
          calls.push('get');
          throw boomGet;
        });
        const boomSet = new Error('assertion in set error callback');
        await store.set('sid', { cookie: cookie(), bad: 1n } as never, (err) => {
          calls.push(isInvalidArgument(err) ? 'set-error' : 'set-other');
          throw boomSet;
        });
        await nextMacrotask();
        expect(uncaught).toEqual([boomGet, boomSet]);
        expect(calls).toEqual(['get', 'set-error']);
      });
      await nextMacrotask();
      expect(rejections).toEqual([]);
    });
  });

  it('a save whose cookie already expired destroys the live session, even from an object the store never loaded', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(60_000), user: 'ada' });
    expect(await get(store, 'sid')).not.toBeNull();
    const past = { originalMaxAge: 1000, expires: new Date(Date.now() - 1000), path: '/' };
    await set(store, 'sid', { cookie: past, user: 'ada' });
    expect(await get(store, 'sid')).toBeNull();
    expect(await sessions.create('sid', {})).toEqual({ ok: false, reason: 'terminated' });
  });

  it('SessionConflictError is a SessionStoreError with code SESSION_CONFLICT', () => {
    const e = new SessionConflictError('sid', ['cart']);
    expect(e).toBeInstanceOf(SessionStoreError);
    expect(e.name).toBe('SessionConflictError');
    expect(e.code).toBe('SESSION_CONFLICT');
    expect(e.fields).toEqual(['cart']);
    expect(e.sessionId).toBe('sid');
    expect(isSessionStoreError(e)).toBe(true);
    expect(isSessionConflict(e)).toBe(true);
    expect(isSessionConflict(new SessionStoreError('CLOSED', 'closed'))).toBe(false);
  });
});
