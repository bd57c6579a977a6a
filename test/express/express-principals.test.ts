/**
 * `principal` and `destroyAll` of CasSessionStore over real HTTP: a user logs
 * in on three devices (regenerate at login, as express-session advises), logs
 * out the other devices, then everywhere; and the store's cap applies to
 * logins. On the memory store and on Redis.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CasSessionStore } from '../../src/express/index.js';
import {
  MemorySessionStore,
  RedisSessionStore,
  type SessionStore,
  type SessionStoreOptions,
  isInvalidArgument,
} from '../../src/index.js';
import { createClient, uniquePrefix } from '../infra/clients.js';

type Sess = session.Session & { user?: string };

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function startApp(store: CasSessionStore): Promise<string> {
  const app = express();
  app.use(session({ store, secret: 'test', resave: false, saveUninitialized: false }));
  app.get('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      (req.session as Sess).user = String(req.query.user);
      req.session.save((e) => (e ? next(e) : res.json({ sid: req.sessionID })));
    });
  });
  app.get('/me', (req, res) => res.json({ sid: req.sessionID, user: (req.session as Sess).user ?? null }));
  app.get('/logout-others', (req, res, next) => {
    store.destroyAll((req.session as Sess).user!, req.sessionID).then((ids) => res.json({ ids }), next);
  });
  app.get('/logout-everywhere', (req, res, next) => {
    store.destroyAll((req.session as Sess).user!, undefined, (err, ids) => (err ? next(err) : res.json({ ids })));
  });
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((r) => server.once('listening', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** One device: a cookie jar of one cookie. */
class Device {
  private cookie: string | undefined;
  constructor(private readonly base: string) {}
  async get(path: string): Promise<any> {
    const res = await fetch(this.base + path, {
      headers: this.cookie ? { cookie: this.cookie } : {},
      signal: AbortSignal.timeout(20_000),
    });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
    if (set) this.cookie = set.split(';')[0];
    const body = await res.json();
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  }
}

const client = createClient(5);
afterAll(() => client.disconnect());

const targets: Array<[string, (o?: SessionStoreOptions) => SessionStore]> = [
  ['memory', (o) => new MemorySessionStore(o)],
  ['Redis', (o) => new RedisSessionStore(client, { ...o, prefix: uniquePrefix('express-principals') })],
];

describe.each(targets)('CasSessionStore principal and destroyAll (%s)', (_, makeSessions) => {
  const make = (o?: SessionStoreOptions) => {
    const sessions = makeSessions(o);
    const store = new CasSessionStore(sessions, { principal: (sess) => (sess as Sess).user });
    return { sessions, store };
  };

  it('names the principal at the first save, and destroyAll logs out the other devices, then all', async () => {
    const { sessions, store } = make();
    const base = await startApp(store);
    const [phone, laptop, tablet] = [new Device(base), new Device(base), new Device(base)];
    const sids: string[] = [];
    for (const d of [phone, laptop, tablet]) sids.push((await d.get('/login?user=ada')).sid);
    const other = new Device(base);
    const bob = (await other.get('/login?user=bob')).sid;
    const listed = await sessions.sessionsOf('ada');
    expect(listed.map((s) => s.id).sort()).toEqual([...sids].sort());
    for (const s of listed) expect(s.principal).toBe('ada');

    const others = await laptop.get('/logout-others');
    expect([...others.ids].sort()).toEqual([sids[0], sids[2]].sort());
    expect((await phone.get('/me')).user).toBeNull();
    expect((await tablet.get('/me')).user).toBeNull();
    expect(await laptop.get('/me')).toEqual({ sid: sids[1], user: 'ada' });
    // A logged-out session id stays dead: the store never brings it back.
    expect(await sessions.peek(sids[0]!)).toBeNull();

    expect((await laptop.get('/logout-everywhere')).ids).toEqual([sids[1]]);
    expect((await laptop.get('/me')).user).toBeNull();
    expect(await sessions.sessionsOf('ada')).toEqual([]);
    expect((await other.get('/me')).sid).toBe(bob);
    expect((await other.get('/me')).user).toBe('bob');
  });

  it('a session saved without a principal has none; the principal never changes later', async () => {
    const { sessions, store } = make();
    const base = await startApp(store);
    const d = new Device(base);
    const { sid } = await d.get('/login?user=ada');
    expect((await sessions.peek(sid))?.principal).toBe('ada');
    await new Promise<void>((resolve, reject) =>
      store.set(sid, { cookie: {} as never, user: 'mallory' } as never, (e) => (e ? reject(e) : resolve())),
    );
    expect((await sessions.peek(sid))?.principal).toBe('ada');
  });

  it("with maxSessionsPerPrincipal the oldest login is logged out ('evict-oldest')", async () => {
    const { sessions, store } = make({ maxSessionsPerPrincipal: 2 });
    const base = await startApp(store);
    const devices = [new Device(base), new Device(base), new Device(base)];
    for (const d of devices) await d.get('/login?user=ada');
    expect((await devices[0]!.get('/me')).user).toBeNull();
    expect((await devices[2]!.get('/me')).user).toBe('ada');
    expect((await sessions.sessionsOf('ada')).length).toBe(2);
  });

  it('destroyAll checks its arguments', async () => {
    const { store } = make();
    await expect(store.destroyAll('')).rejects.toSatisfy(isInvalidArgument);
    await expect(store.destroyAll('ada', [1] as never)).rejects.toSatisfy(isInvalidArgument);
    expect(() => new CasSessionStore(makeSessions(), { principal: 'user' as never })).toThrow(/options.principal/);
  });
});
