/**
 * The two races the store exists for, over real HTTP: a slow request saving
 * after logout (or expiry), and two requests of one session saving at once.
 * The same scenarios run against connect-redis 9 (with node-redis, the client
 * it supports), asserting its known behaviour, so the comparison stays honest.
 */
import { RedisStore } from 'connect-redis';
import type { Store } from 'express-session';
import { createClient as createNodeRedis } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { isSessionConflict } from '../../src/express/index.js';
import { uniquePrefix } from '../infra/clients.js';
import { type App, Browser, startApp } from './express-harness.js';
import { type CasTarget, memoryCasTarget, redisCasTarget } from './express-targets.js';

/** A request loads the session and stalls; another logs out; the first then changes and saves it. */
async function logoutRace(app: App): Promise<{ sid: string; after: { sid: string; data: Record<string, unknown> } }> {
  const tab = new Browser(app.url);
  const { sid } = await tab.get('/login?user=ada');
  const gate = app.gates.open('slow');
  const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
  await gate.loaded;
  expect(await tab.clone().get('/logout')).toEqual({ ok: true });
  gate.release();
  expect((await slow).data).toEqual({ user: 'ada', cart: 'book' }); // the slow request did change its copy
  return { sid, after: await tab.clone().get('/read') };
}

/** Two requests load the session; one sets `a`, then the other sets `b`. */
async function parallelFields(app: App, names: [string, string] = ['a', 'b']): Promise<Record<string, unknown>> {
  const tab = new Browser(app.url);
  await tab.get('/login?user=ada');
  const ga = app.gates.open('a');
  const gb = app.gates.open('b');
  const pa = tab.clone().get(`/set?name=${names[0]}&value=1&gate=a`);
  const pb = tab.clone().get(`/set?name=${names[1]}&value=2&gate=b`);
  await Promise.all([ga.loaded, gb.loaded]);
  ga.release();
  await pa;
  gb.release();
  await pb;
  return (await tab.clone().get('/read')).data;
}

/** Two requests load the session and both set `x`; the first saves first. Explicit saves report errors. */
async function sameField(app: App): Promise<{
  first: { status: number; body: any };
  second: { status: number; body: any };
  data: Record<string, unknown>;
}> {
  const tab = new Browser(app.url);
  await tab.get('/login?user=ada');
  const ga = app.gates.open('a');
  const gb = app.gates.open('b');
  const pa = tab.clone().request('/set?name=x&value=A&gate=a&save=1');
  const pb = tab.clone().request('/set?name=x&value=B&gate=b&save=1');
  await Promise.all([ga.loaded, gb.loaded]);
  ga.release();
  const first = await pa;
  gb.release();
  const second = await pb;
  return { first, second, data: (await tab.clone().get('/read')).data };
}

const targets: CasTarget[] = [redisCasTarget(5), redisCasTarget(6), memoryCasTarget()];

describe.each(targets)('$name', (target) => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('logout race: a save that lands after destroy is dropped; the old cookie gets a new empty session', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const { sid, after } = await logoutRace(app);
    expect(after.sid).not.toBe(sid);
    expect(after.data).toEqual({});
    expect(await sessions.peek(sid)).toBeNull();
    expect(await sessions.create(sid, {})).toEqual({ ok: false, reason: 'terminated' }); // still a tombstone
  });

  it('expiry race: a save that lands after the record expired does not re-create it', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    const gate = app.gates.open('slow');
    const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
    await gate.loaded;
    await target.expire(sessions, sid);
    gate.release();
    await slow;
    expect(await sessions.peek(sid)).toBeNull();
    const after = await tab.clone().get('/read');
    expect(after.sid).not.toBe(sid);
    expect(after.data).toEqual({});
  });

  it('parallel requests changing different fields both persist', async () => {
    const { store } = target.make();
    app = await startApp(store);
    expect(await parallelFields(app)).toEqual({ user: 'ada', a: '1', b: '2' });
  });

  it('parallel requests removing one field and setting another both persist', async () => {
    const { store } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    await tab.get('/login?user=ada');
    await tab.get('/set?name=tmp&value=t');
    const gb = app.gates.open('b');
    const pb = tab.clone().get('/set?name=b&value=2&gate=b');
    await gb.loaded;
    await tab.clone().get('/unset?name=tmp'); // loads after b loaded, saves before it
    gb.release();
    await pb;
    expect((await tab.clone().get('/read')).data).toEqual({ user: 'ada', b: '2' });
  });

  it('same field, default policy: the later save wins', async () => {
    const { store } = target.make();
    app = await startApp(store);
    const { first, second, data } = await sameField(app);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(data).toEqual({ user: 'ada', x: 'B' });
  });

  it("same field, sameField: 'error': the later save fails with SESSION_CONFLICT and writes nothing", async () => {
    const { store, sessions } = target.make({ sameField: 'error' });
    app = await startApp(store);
    const { first, second, data } = await sameField(app);
    expect(first.status).toBe(200);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'SESSION_CONFLICT', name: 'SessionConflictError' });
    expect(data).toEqual({ user: 'ada', x: 'A' });
    // The store-level error carries the fields.
    const sid = first.body.sid as string;
    const loadedA = await new Promise<any>((r) => store.get(sid, (_e, s) => r(s)));
    const loadedB = await new Promise<any>((r) => store.get(sid, (_e, s) => r(s)));
    loadedA.x = 'C';
    loadedB.x = 'D';
    await new Promise<void>((r, j) => store.set(sid, loadedA, (e) => (e ? j(e) : r())));
    const err = await new Promise<unknown>((r) => store.set(sid, loadedB, (e) => r(e)));
    expect(isSessionConflict(err)).toBe(true);
    expect((err as { fields: string[] }).fields).toEqual(['x']);
    expect((await sessions.peek(sid))!.metadata.x).toBe('"C"');
  });

  it("sameField: 'error' still merges changes to different fields", async () => {
    const { store } = target.make({ sameField: 'error' });
    app = await startApp(store);
    expect(await parallelFields(app)).toEqual({ user: 'ada', a: '1', b: '2' });
  });
});

describe('connect-redis 9 with node-redis (the comparison)', () => {
  let client: ReturnType<typeof createNodeRedis>;
  let prefix: string;
  let app: App | undefined;
  beforeAll(async () => {
    client = createNodeRedis({ url: inject('redisUrl') });
    client.on('error', () => undefined);
    await client.connect();
    prefix = uniquePrefix('connect-redis');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 }))
      if (keys.length) await client.del(keys);
    await client.quit();
  });
  const store = (): Store => new RedisStore({ client, prefix }) as unknown as Store;

  it('logout race: it resurrects the destroyed session (the old cookie gets the old session back)', async () => {
    app = await startApp(store());
    const { sid, after } = await logoutRace(app);
    expect(after.sid).toBe(sid);
    expect(after.data).toEqual({ user: 'ada', cart: 'book' });
    expect(await client.exists(`${prefix}${sid}`)).toBe(1);
  });

  it('parallel requests changing different fields: it loses the first update', async () => {
    app = await startApp(store());
    expect(await parallelFields(app)).toEqual({ user: 'ada', b: '2' });
  });
});
