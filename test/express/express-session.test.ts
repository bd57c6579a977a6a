/**
 * express-session's own expectations of a store, over real HTTP on a real
 * Redis: regenerate, reload, save, touch, rolling sessions, cookie maxAge.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisSessionStore } from '../../src/index.js';
import { type App, Browser, startApp } from './express-harness.js';
import { call, redisCasTarget } from './express-targets.js';

const target = redisCasTarget(5);
const pttl = (sessions: RedisSessionStore, sid: string): Promise<number> => target.client().pttl(sessions.keyFor(sid));

describe('express-session expectations (CasSessionStore on Redis)', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('regenerate: new id and cookie, the old id is destroyed, data set after regenerate persists', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    const { sid: oldSid } = await tab.get('/login?user=ada');
    const oldCookie = tab.cookie;
    const regenerated = await tab.request('/regenerate?user=bob');
    expect(regenerated.status).toBe(200);
    expect(regenerated.setCookie).toBeDefined();
    expect(regenerated.body.sid).not.toBe(oldSid);
    expect(tab.cookie).not.toBe(oldCookie);
    expect(await sessions.peek(oldSid)).toBeNull();
    expect((await tab.get('/read')).data).toEqual({ user: 'bob' });
    const stale = new Browser(app.url);
    stale.cookie = oldCookie;
    const read = await stale.get('/read');
    expect(read.sid).not.toBe(oldSid);
    expect(read.data).toEqual({});
  });

  it('regenerate race: a slow request on the old id saving after regenerate does not bring it back', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    const { sid: oldSid } = await tab.get('/login?user=ada');
    const gate = app.gates.open('slow');
    const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
    await gate.loaded;
    const { sid: newSid } = await tab.get('/regenerate?user=ada');
    gate.release();
    await slow;
    expect(await sessions.peek(oldSid)).toBeNull();
    expect((await sessions.peek(newSid))!.metadata.user).toBe('"ada"');
  });

  it("reload: picks up another request's change, and a save after reload keeps both", async () => {
    const { store } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    await tab.get('/login?user=ada');
    const gate = app.gates.open('r');
    const reloading = tab.clone().get('/reload?gate=r');
    await gate.loaded;
    await tab.clone().get('/set?name=theme&value=dark');
    gate.release();
    expect((await reloading).data).toEqual({ user: 'ada', theme: 'dark' });
    // The reloaded session object is tracked like a loaded one: it patches, never resurrects.
    const g2 = app.gates.open('r2');
    const late = tab.clone().get('/set?name=x&value=1&gate=r2');
    await g2.loaded;
    await tab.clone().get('/logout');
    g2.release();
    await late;
    expect((await tab.clone().get('/read')).data).toEqual({});
  });

  it('save: an explicit save is in the store before the response, and the end of the request does not write again', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store, {}, async (sid) => sessions.peek(sid));
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    const body = await tab.get('/save-and-peek?name=step&value=2');
    expect(body.stored.metadata.step).toBe('"2"');
    const after = await sessions.peek(sid);
    expect(after!.generation).toBe(body.stored.generation);
  });

  it('touch: an unmodified request resets the TTL from the cookie maxAge without a write', async () => {
    const { store, sessions } = target.make({}, { ttlMs: 600_000 });
    app = await startApp(store, { cookie: { maxAge: 60_000 } });
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    const before = await sessions.peek(sid);
    await target.client().pexpire((sessions as RedisSessionStore).keyFor(sid), 5_000);
    const read = await tab.request('/read');
    expect(read.setCookie).toBeUndefined(); // not rolling: no new cookie for an unmodified session
    const ttl = await pttl(sessions as RedisSessionStore, sid);
    expect(ttl).toBeGreaterThan(30_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect((await sessions.peek(sid))!.generation).toBe(before!.generation);
  });

  it('touch extends only a live session: touching a destroyed or unknown id creates nothing', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    const loaded = await call<any>((cb) => store.get(sid, cb));
    await call((cb) => store.destroy(sid, cb));
    await call((cb) => store.touch(sid, loaded, cb));
    await call((cb) => store.touch('never-existed', loaded, cb));
    expect(await sessions.peek(sid)).toBeNull();
    expect(await target.client().exists((sessions as RedisSessionStore).keyFor('never-existed'))).toBe(0);
  });

  it('rolling: every response sets the cookie and the store TTL is reset each time', async () => {
    const { store, sessions } = target.make({}, { ttlMs: 600_000 });
    app = await startApp(store, { rolling: true, cookie: { maxAge: 60_000 } });
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    for (let i = 0; i < 3; i++) {
      await target.client().pexpire((sessions as RedisSessionStore).keyFor(sid), 5_000);
      const read = await tab.request('/read');
      expect(read.setCookie).toMatch(/Expires=/);
      expect(read.body.sid).toBe(sid);
      expect(await pttl(sessions as RedisSessionStore, sid)).toBeGreaterThan(30_000);
    }
  });

  it('cookie maxAge sets the record TTL; without it the store default applies', async () => {
    const withMaxAge = target.make({}, { ttlMs: 600_000 });
    app = await startApp(withMaxAge.store, { cookie: { maxAge: 120_000 } });
    const { sid } = await new Browser(app.url).get('/login?user=ada');
    const ttl = await pttl(withMaxAge.sessions as RedisSessionStore, sid);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    await app.close();

    const noMaxAge = target.make({}, { ttlMs: 600_000 });
    app = await startApp(noMaxAge.store);
    const r = await new Browser(app.url).request('/login?user=ada');
    expect(r.setCookie).not.toMatch(/Expires=/); // a browser-session cookie
    const ttl2 = await pttl(noMaxAge.sessions as RedisSessionStore, r.body.sid);
    expect(ttl2).toBeGreaterThan(300_000);
    expect(ttl2).toBeLessThanOrEqual(600_000);
  });

  it('the app and the cookie never see the generation', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = new Browser(app.url);
    const login = await tab.get('/login?user=ada');
    const read = await tab.get('/read');
    expect(read.keys.sort()).toEqual(['cookie', 'user']);
    expect(decodeURIComponent(tab.cookie!)).toMatch(new RegExp(`^s:${login.sid.replace(/[-_]/g, '\\$&')}\\.[^.]+$`));
    const data = await call<any>((cb) => store.get(login.sid, cb));
    const generation = String((await sessions.peek(login.sid))!.generation);
    expect(Object.keys(data).sort()).toEqual(['cookie', 'user']);
    expect(JSON.stringify(data)).not.toContain(generation);
  });

  it('a save the store refuses (over maxMetadataBytes) is an error to the app; the server keeps serving, nothing is written', async () => {
    const { store, sessions } = target.make({}, { maxMetadataBytes: 4096 });
    app = await startApp(store);
    const tab = new Browser(app.url);
    const { sid } = await tab.get('/login?user=ada');
    const gen = (await sessions.peek(sid))!.generation;
    const r = await tab.request('/big?size=5000');
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('INVALID_ARGUMENT');
    expect((await tab.get('/read')).data).toEqual({ user: 'ada' });
    expect((await sessions.peek(sid))!.generation).toBe(gen);
  });
});
