/**
 * The races the store exists for, on a real Fastify app over real HTTP: a slow
 * request saving after logout (or expiry), and two requests of one session
 * saving at once. The same scenarios run with session-cas/express's store
 * plugged into @fastify/session, asserting its known behaviour there (the
 * generation is lost between get and set), so the comparison stays honest.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CasSessionStore as ExpressCasSessionStore } from '../../src/express/index.js';
import { CasSessionStore, TRACKING_FIELD, isSessionConflict } from '../../src/fastify/index.js';
import { RedisSessionStore } from '../../src/index.js';
import { uniquePrefix } from '../infra/clients.js';
import { type App, startApp } from './fastify-harness.js';
import { type CasTarget, expireNow, memoryCasTarget, nodeRedisCasTarget, redisCasTarget } from './fastify-targets.js';

/** A request loads the session and stalls; another logs out; the first then changes and saves it. */
async function logoutRace(app: App): Promise<{ sid: string; after: { sid: string; data: Record<string, unknown> } }> {
  const tab = app.browser();
  const { sid } = await tab.get('/login?user=ada');
  const gate = app.gates.open('slow');
  const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
  await gate.loaded;
  expect(await tab.clone().get('/logout')).toEqual({ ok: true });
  gate.release();
  expect((await slow).data).toEqual({ user: 'ada', cart: 'book' }); // the slow request did change its copy
  return { sid, after: await tab.clone().get('/read') };
}

/** A request loads the session and stalls; the record expires; the first then changes and saves it. */
async function expiryRace(app: App, expire: (sid: string) => Promise<void>) {
  const tab = app.browser();
  const { sid } = await tab.get('/login?user=ada');
  const gate = app.gates.open('slow');
  const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
  await gate.loaded;
  await expire(sid);
  gate.release();
  await slow;
  return { sid, after: await tab.clone().get('/read') };
}

/** Two requests load the session; one sets `a`, then the other sets `b`. */
async function parallelFields(app: App): Promise<Record<string, unknown>> {
  const tab = app.browser();
  await tab.get('/login?user=ada');
  const ga = app.gates.open('a');
  const gb = app.gates.open('b');
  const pa = tab.clone().get('/set?name=a&value=1&gate=a');
  const pb = tab.clone().get('/set?name=b&value=2&gate=b');
  await Promise.all([ga.loaded, gb.loaded]);
  ga.release();
  await pa;
  gb.release();
  await pb;
  return (await tab.clone().get('/read')).data;
}

/** Two requests load the session and both set `x`; the first saves first. Explicit saves report errors. */
async function sameField(app: App) {
  const tab = app.browser();
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
  return { first, second, data: (await tab.clone().get('/read')).data as Record<string, unknown> };
}

const targets: CasTarget[] = [redisCasTarget(5), redisCasTarget(6), nodeRedisCasTarget(), memoryCasTarget()];

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
    const { sid, after } = await expiryRace(app, (id) => target.expire(sessions, id));
    expect(await sessions.peek(sid)).toBeNull();
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
    const tab = app.browser();
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
    expect((await sessions.peek(first.body.sid))!.metadata.x).toBe('"A"');
  });

  it("sameField: 'error' still merges changes to different fields", async () => {
    const { store } = target.make({ sameField: 'error' });
    app = await startApp(store);
    expect(await parallelFields(app)).toEqual({ user: 'ada', a: '1', b: '2' });
  });

  it('regenerate race: the old id stays destroyed, a slow save of it is dropped, the new id holds only its own data', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = app.browser();
    const { sid } = await tab.get('/login?user=ada');
    const gate = app.gates.open('slow');
    const slow = tab.clone().get('/set?name=cart&value=book&gate=slow');
    await gate.loaded;
    const regenerated = await tab.get('/regenerate?user=bob');
    gate.release();
    await slow;
    expect(regenerated.sid).not.toBe(sid);
    expect(await sessions.peek(sid)).toBeNull();
    expect((await tab.get('/read')).data).toEqual({ user: 'bob' });
  });

  it("reload picks up another request's change, and a later save diffs against the reloaded data", async () => {
    const { store } = target.make({ sameField: 'error' });
    app = await startApp(store);
    const tab = app.browser();
    await tab.get('/login?user=ada');
    const gate = app.gates.open('r');
    const reloading = tab.clone().get('/reload?gate=r');
    await gate.loaded;
    await tab.clone().get('/set?name=x&value=1');
    gate.release();
    expect((await reloading).data).toEqual({ user: 'ada', x: '1' });
    // Saved at the reloaded generation (rolling saves every request): no conflict, nothing lost.
    expect((await tab.clone().request('/set?name=x&value=2&save=1')).status).toBe(200);
    expect((await tab.get('/read')).data).toEqual({ user: 'ada', x: '2' });
  });

  it('reload after the record is gone: after logout the save stays dropped; after expiry the id comes back empty', async () => {
    // @fastify/session's reload() of a missing record builds a new Session under the same id, with
    // nothing loaded, so its save is a create: a tombstone refuses it, an expired key does not (a
    // limit documented in docs/fastify.md; express-session's reload fails instead).
    const { store, sessions } = target.make();
    app = await startApp(store);
    const tab = app.browser();
    const { sid } = await tab.get('/login?user=ada');
    let gate = app.gates.open('r');
    let reloading = tab.clone().get('/reload?gate=r');
    await gate.loaded;
    await tab.clone().get('/logout');
    gate.release();
    expect((await reloading).data).toEqual({});
    expect(await sessions.peek(sid)).toBeNull();

    const other = app.browser();
    const second = (await other.get('/login?user=bob')).sid as string;
    gate = app.gates.open('r2');
    reloading = other.clone().get('/reload?gate=r2');
    await gate.loaded;
    await target.expire(sessions, second);
    gate.release();
    expect((await reloading).data).toEqual({});
    const back = await sessions.peek(second);
    expect(back).not.toBeNull();
    expect(Object.keys(back!.metadata)).toEqual(['cookie']); // not logged in: only the cookie field
  });
});

describe('two app instances on one Redis (each request handled by either)', () => {
  const target = redisCasTarget(5);
  let apps: App[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
  });
  const twoNodes = async () => {
    const prefix = uniquePrefix('fastify-nodes');
    const store = () => new CasSessionStore(new RedisSessionStore(target.client(), { prefix }));
    apps = [await startApp(store()), await startApp(store())];
    return apps as [App, App];
  };
  const on = (app: App, cookie: string | undefined) => {
    const b = app.browser();
    b.cookie = cookie;
    return b;
  };

  it('a slow request on one node saving after logout on the other is dropped; different fields merge', async () => {
    const [a, b] = await twoNodes();
    const tab = a.browser();
    const { sid } = await tab.get('/login?user=ada');
    const ga = a.gates.open('x');
    const gb = b.gates.open('y');
    const px = on(a, tab.cookie).get('/set?name=x&value=1&gate=x');
    const py = on(b, tab.cookie).get('/set?name=y&value=2&gate=y');
    await Promise.all([ga.loaded, gb.loaded]);
    ga.release();
    await px;
    gb.release();
    await py;
    expect((await on(b, tab.cookie).get('/read')).data).toEqual({ user: 'ada', x: '1', y: '2' });

    const slow = a.gates.open('slow');
    const pending = on(a, tab.cookie).get('/set?name=cart&value=book&gate=slow');
    await slow.loaded;
    await on(b, tab.cookie).get('/logout');
    slow.release();
    await pending;
    const after = await on(b, tab.cookie).get('/read');
    expect(after.sid).not.toBe(sid);
    expect(after.data).toEqual({});
  });
});

describe('principal and destroyAll ("log out everywhere")', () => {
  const target = redisCasTarget(5);
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('ends every session of the user but the one kept; a slow save of an ended one is dropped', async () => {
    const sessions = new RedisSessionStore(target.client(), { prefix: uniquePrefix('fastify-principal') });
    const store = new CasSessionStore(sessions, { principal: (s) => (s as { user?: string }).user });
    app = await startApp(store);
    const laptop = app.browser();
    const phone = app.browser();
    const kept = (await laptop.get('/login?user=ada')).sid as string;
    const ended = (await phone.get('/login?user=ada')).sid as string;
    await app.browser().get('/login?user=bob');
    expect((await sessions.sessionsOf('ada')).map((s) => s.id).sort()).toEqual([kept, ended].sort());
    const gate = app.gates.open('slow');
    const slow = phone.clone().get('/set?name=cart&value=book&gate=slow');
    await gate.loaded;
    expect(await store.destroyAll('ada', kept)).toEqual([ended]);
    gate.release();
    await slow;
    expect(await sessions.peek(ended)).toBeNull();
    expect((await phone.get('/read')).data).toEqual({});
    expect((await laptop.get('/read')).data).toEqual({ user: 'ada' });
    expect((await sessions.sessionsOf('bob')).length).toBe(1);
  });
});

describe('the tracking field', () => {
  const target = redisCasTarget(5);
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('is on a loaded session only, invisible to JSON, never stored, and does not count as a change', async () => {
    const { store, sessions } = target.make();
    app = await startApp(store, { rolling: false });
    const tab = app.browser();
    const login = await tab.get('/login?user=ada');
    expect(login.keys).not.toContain(TRACKING_FIELD); // a new session has none
    const read = await tab.get('/read');
    expect(read.keys.sort()).toEqual([TRACKING_FIELD, 'cookie', 'user'].sort());
    expect(read.data).toEqual({ user: 'ada' });
    const stored = await sessions.peek(login.sid);
    expect(Object.keys(stored!.metadata).sort()).toEqual(['cookie', 'user']);
    // rolling: false saves only modified sessions: a read does not write.
    await tab.get('/read');
    expect((await sessions.peek(login.sid))!.generation).toBe(stored!.generation);
    await tab.get('/set?name=x&value=1');
    const changed = await sessions.peek(login.sid);
    expect(changed!.generation).toBeGreaterThan(stored!.generation);
    expect(Object.keys(changed!.metadata).sort()).toEqual(['cookie', 'user', 'x']);
  });
});

describe("session-cas/express's store on Fastify (the comparison: the generation is lost between get and set)", () => {
  const target = redisCasTarget(5);
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  const make = () => {
    const sessions = new RedisSessionStore(target.client(), { prefix: uniquePrefix('fastify-express') });
    return { store: new ExpressCasSessionStore(sessions), sessions };
  };

  it('parallel requests changing different fields: it loses the first update', async () => {
    app = await startApp(make().store);
    expect(await parallelFields(app)).toEqual({ user: 'ada', b: '2' });
  });

  it('expiry race: it re-creates the expired session', async () => {
    const { store, sessions } = make();
    app = await startApp(store);
    const { sid, after } = await expiryRace(app, (id) => expireNow(target.client(), sessions, id));
    expect(after.sid).toBe(sid);
    expect(after.data).toEqual({ user: 'ada', cart: 'book' });
  });

  it("same field, sameField: 'error': no conflict is seen, the later save wins", async () => {
    const sessions = new RedisSessionStore(target.client(), { prefix: uniquePrefix('fastify-express') });
    app = await startApp(new ExpressCasSessionStore(sessions, { sameField: 'error' }));
    const { first, second, data } = await sameField(app);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(data).toEqual({ user: 'ada', x: 'B' });
    expect(isSessionConflict(second.body.error)).toBe(false);
  });
});
