/** CasSessionStore driven directly through @fastify/session's store API (callbacks), on real Redis. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import DefaultExport, { CasSessionStore, TRACKING_FIELD, type FieldSerializer } from '../../src/fastify/index.js';
import { MemorySessionStore, RedisSessionStore, isInvalidArgument, isSessionStoreError } from '../../src/index.js';
import { redisCasTarget } from './fastify-targets.js';

const target = redisCasTarget(5);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cookie = (maxAge?: number) =>
  maxAge === undefined
    ? { originalMaxAge: null, httpOnly: true, path: '/' }
    : { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: '/' };
type Sess = Record<string, any>;
const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
const get = (store: CasSessionStore, sid: string) => call<Sess>((cb) => store.get(sid, cb as never));
const set = (store: CasSessionStore, sid: string, sess: object) => call((cb) => store.set(sid, sess as never, cb));
const failure = (fn: (cb: (err?: unknown) => void) => void) =>
  new Promise<unknown>((resolve) => fn((err) => resolve(err)));
/** What @fastify/session does with the loaded data: copies its enumerable fields into a new object. */
const rebuild = (data: Sess): Sess => {
  const copy: Sess = {};
  for (const key in data) copy[key] = data[key];
  return copy;
};

describe('CasSessionStore construction', () => {
  it('builds a RedisSessionStore from an ioredis client and its options, or takes a ready store', () => {
    const store = new CasSessionStore(target.client(), { prefix: 'app:', ttlMs: 60_000, sameField: 'error' });
    expect(store.sessions).toBeInstanceOf(RedisSessionStore);
    expect((store.sessions as RedisSessionStore).prefix).toBe('app:');
    expect((store.sessions as RedisSessionStore).options.ttlMs).toBe(60_000);
    const memory = new MemorySessionStore();
    expect(new CasSessionStore(memory).sessions).toBe(memory);
    expect(new CasSessionStore({ store: memory }).sessions).toBe(memory);
    const one = new CasSessionStore({ client: target.client(), prefix: 'one:' });
    expect((one.sessions as RedisSessionStore).prefix).toBe('one:');
    expect(DefaultExport).toBe(CasSessionStore);
  });

  it('refuses anything else and bad options, naming the argument', () => {
    const bad: Array<[unknown, unknown, RegExp]> = [
      [{}, undefined, /storeOrClient/],
      [null, undefined, /storeOrClient/],
      [{ client: {} }, undefined, /storeOrClient/],
      [{ sotre: new MemorySessionStore() }, undefined, /options\.sotre`: unknown option \(did you mean store\?\)/],
      [new MemorySessionStore(), { prefix: 'x:' }, /options\.prefix/],
      [{ store: new MemorySessionStore(), prefix: 'x:' }, undefined, /options\.prefix/],
      [new MemorySessionStore(), { sameField: 'first' }, /options\.sameField/],
      [new MemorySessionStore(), { serializer: { stringify: JSON.stringify } }, /options\.serializer/],
      [new MemorySessionStore(), { maxAttempts: 0 }, /options\.maxAttempts/],
      // all/length/clear are not part of @fastify/session's store contract, so there is no scanCount.
      [new MemorySessionStore(), { scanCount: 10 }, /options\.scanCount`: unknown option/],
      [target.client(), { prefx: 'app:' }, /options\.prefx`: unknown option \(did you mean prefix\?\)/],
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

describe('CasSessionStore through the store API', () => {
  it('get adds the tracking token: opaque, frozen, shows the generation, serializes to nothing', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const data = (await get(store, 'sid'))!;
    const token = data[TRACKING_FIELD];
    expect(Object.keys(data).sort()).toEqual([TRACKING_FIELD, 'cookie', 'user'].sort());
    expect(token.generation).toBe((await sessions.peek('sid'))!.generation);
    expect(Object.isFrozen(token)).toBe(true);
    expect(JSON.parse(JSON.stringify(data))).toEqual({ cookie: cookie(), user: 'ada' });
    expect(await get(store, 'nobody')).toBeNull();
  });

  it('a save of the rebuilt object patches only its changed fields at the loaded generation', async () => {
    const { store, sessions } = target.make({ sameField: 'error' });
    await set(store, 'sid', { cookie: cookie(), user: 'ada', n: 1 });
    const a = rebuild((await get(store, 'sid'))!);
    const b = rebuild((await get(store, 'sid'))!);
    a.n = 2;
    b.m = 3;
    await set(store, 'sid', a);
    await set(store, 'sid', b); // a different field: merged
    const stored = (await sessions.peek('sid'))!.metadata;
    expect(stored).toEqual({ cookie: JSON.stringify(cookie()), user: '"ada"', n: '2', m: '3' });
    b.n = 4; // b loaded n=1, and a changed n since: a conflict
    const err = await failure((cb) => store.set('sid', b as never, cb));
    expect((err as { code?: string; fields?: string[] }).code).toBe('SESSION_CONFLICT');
    expect((err as { fields: string[] }).fields).toEqual(['n']);
    expect((await sessions.peek('sid'))!.metadata.n).toBe('2');
  });

  it('saves of one session object run in order, each diffed against the last (no false conflict)', async () => {
    const { store } = target.make({ sameField: 'error' });
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const loaded = rebuild((await get(store, 'sid'))!);
    loaded.a = 1;
    const first = set(store, 'sid', loaded);
    loaded.b = 2;
    const second = set(store, 'sid', loaded);
    await Promise.all([first, second]);
    expect(await get(store, 'sid')).toMatchObject({ user: 'ada', a: 1, b: 2 });
  });

  it('a forged or foreign value in the tracking field is not trusted and never stored', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    const generation = (await sessions.peek('sid'))!.generation;
    await call((cb) => store.destroy('sid', cb));
    // A plain object claiming a generation: treated as a session this store never loaded.
    await set(store, 'sid', { cookie: cookie(), user: 'eve', [TRACKING_FIELD]: { generation } });
    expect(await sessions.peek('sid')).toBeNull();
    await set(store, 'other', { cookie: cookie(), [TRACKING_FIELD]: 'x' });
    expect((await sessions.peek('other'))!.metadata).toEqual({ cookie: JSON.stringify(cookie()) });
    // A token loaded for another id does not carry over to this one.
    const loaded = rebuild((await get(store, 'other'))!);
    await set(store, 'third', { ...loaded, user: 'bob' });
    expect((await sessions.peek('third'))!.metadata.user).toBe('"bob"');
  });

  it('a stored field under the tracking name stays as it is and unseen', async () => {
    const { store, sessions } = target.make();
    await sessions.create('sid', { cookie: JSON.stringify(cookie()), [TRACKING_FIELD]: '"stored"' });
    const data = rebuild((await get(store, 'sid'))!);
    expect(typeof data[TRACKING_FIELD]).toBe('object');
    data.user = 'ada';
    await set(store, 'sid', data);
    expect((await sessions.peek('sid'))!.metadata).toMatchObject({ [TRACKING_FIELD]: '"stored"', user: '"ada"' });
  });

  it('a session never loaded whose cookie already expired destroys the live record (as connect-redis does)', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(60_000), user: 'ada' });
    const past = { originalMaxAge: 1000, expires: new Date(Date.now() - 1000), path: '/' };
    await set(store, 'sid', { cookie: past, user: 'ada' });
    expect(await sessions.peek('sid')).toBeNull();
    expect(await sessions.create('sid', {})).toEqual({ ok: false, reason: 'terminated' });
    await set(store, 'new', { cookie: past });
    expect(await sessions.peek('new')).toBeNull();
  });

  it('an unknown object saved on a live id replaces it whole; on a destroyed id it is dropped', async () => {
    const { store, sessions } = target.make();
    await set(store, 'sid', { cookie: cookie(), user: 'ada', cart: ['book'] });
    await set(store, 'sid', { cookie: cookie(), user: 'bob' });
    expect(JSON.parse(JSON.stringify(await get(store, 'sid')))).toEqual({ cookie: cookie(), user: 'bob' });
    await call((cb) => store.destroy('sid', cb));
    await set(store, 'sid', { cookie: cookie(), user: 'eve' });
    expect(await sessions.peek('sid')).toBeNull();
  });

  it('a value that cannot be serialized, or a stored field that cannot be parsed, is an error to the callback', async () => {
    const tagged: FieldSerializer = {
      stringify: (v) => `v1:${JSON.stringify(v)}`,
      parse: (t) => JSON.parse(t.slice(3)),
    };
    const { store, sessions } = target.make({ serializer: tagged });
    await set(store, 'sid', { cookie: cookie(), user: 'ada' });
    expect((await sessions.peek('sid'))!.metadata.user).toBe('v1:"ada"');
    const loaded = rebuild((await get(store, 'sid'))!);
    const generation = (await sessions.peek('sid'))!.generation;
    loaded.n = 1n;
    const err = await failure((cb) => store.set('sid', loaded as never, cb));
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/session\["n"\].*cannot be serialized/);
    expect((await sessions.peek('sid'))!.generation).toBe(generation);
    await sessions.patch('sid', { set: { user: '{not json' } });
    const parse = await failure((cb) => store.get('sid', cb));
    expect(isSessionStoreError(parse)).toBe(true);
    expect((parse as Error).message).toMatch(/"user" cannot be parsed/);
  });

  it('without a callback, the returned promise reports the outcome, and failures also reach error listeners', async () => {
    const { store } = target.make();
    await store.set('sid', { cookie: cookie(), user: 'ada' } as never);
    expect(JSON.parse(JSON.stringify(await store.get('sid')))).toEqual({ cookie: cookie(), user: 'ada' });
    const seen = new Promise<unknown>((resolve) => store.once('error', resolve));
    const rejected = await store.set('sid', { cookie: cookie(), bad: 1n } as never).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(isInvalidArgument(rejected)).toBe(true);
    expect(await seen).toBe(rejected);
    let viaCallback: unknown;
    await store.set('sid', { cookie: cookie(), bad: 1n } as never, (e) => {
      viaCallback = e;
    });
    expect(isInvalidArgument(viaCallback)).toBe(true);
    await store.destroy('sid');
    expect(await store.get('sid')).toBeNull();
  });

  it('an exception thrown by a callback escapes as an uncaught exception; the callback runs once', async () => {
    const script = `
      import { CasSessionStore } from ${JSON.stringify(`${root}src/fastify/index.ts`)};
      import { MemorySessionStore } from ${JSON.stringify(`${root}src/index.ts`)};
      const seen = { calls: 0, uncaught: [], unhandled: [] };
      process.on('uncaughtException', (e) => seen.uncaught.push(e.message));
      process.on('unhandledRejection', (e) => seen.unhandled.push(String(e)));
      const store = new CasSessionStore(new MemorySessionStore());
      store.get('absent', () => { seen.calls++; throw new Error('thrown by the get callback'); });
      store.set('sid', { cookie: {} }, () => { seen.calls++; throw new Error('thrown by the set callback'); });
      store.set('sid', { bad: 1n }, () => { seen.calls++; throw new Error('thrown by the error callback'); });
      setTimeout(() => console.log(JSON.stringify(seen)), 200);
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: root, timeout: 20_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const seen = JSON.parse(out) as { calls: number; uncaught: string[]; unhandled: string[] };
    expect({ ...seen, uncaught: seen.uncaught.sort() }).toEqual({
      calls: 3,
      uncaught: ['thrown by the error callback', 'thrown by the get callback', 'thrown by the set callback'],
      unhandled: [],
    });
  });
});
