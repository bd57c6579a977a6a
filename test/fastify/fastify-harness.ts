/**
 * A real Fastify app with @fastify/session on 127.0.0.1, driven by Node's
 * fetch (never `inject`), with the express harness's gates: a request stops
 * after its session loaded until the test releases it, so races are ordered
 * by the test, never by timing.
 */
import fastifyCookie from '@fastify/cookie';
import fastifySession, { type FastifySessionOptions, type SessionStore } from '@fastify/session';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Browser, Gates } from '../express/express-harness.js';

export { Browser, Gates };

/** The cookie @fastify/session uses by default. */
export const COOKIE = 'sessionId';

/** What the app reports about the session it saw. */
export interface SessionView {
  sid: string;
  /** The session as `JSON.stringify` shows it, without `cookie`. */
  data: Record<string, unknown>;
  /** Every own enumerable key the app sees on request.session (cookie included). */
  keys: string[];
}

type Sess = Record<string, unknown>;

function view(request: FastifyRequest): SessionView {
  const s = request.session as unknown as Sess;
  const { cookie: _cookie, ...data } = JSON.parse(JSON.stringify(s)) as Sess;
  return { sid: request.session.sessionId, data, keys: Object.keys(s) };
}

function fail(reply: FastifyReply, err: unknown, status = 500): FastifyReply {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return reply
    .code(status)
    .send({ error: { code: e?.code ?? null, name: e?.name ?? null, message: String(e?.message ?? err) } });
}

export interface App {
  readonly url: string;
  readonly gates: Gates;
  /** A browser of this app (its cookie jar holds the session cookie). */
  browser(): Browser;
  close(): Promise<void>;
}

type Query = Record<string, string | undefined>;

/**
 * Routes (as the express harness):
 * - `/login?user=u`: sets `user`.
 * - `/read[?gate=g]`: reports the session, changes nothing.
 * - `/set?name=n&value=v[&gate=g][&save=1][&json=1]`: waits at gate g, sets field n to v;
 *   with `save=1` saves explicitly and answers 409 on error.
 * - `/unset?name=n`: deletes field n.
 * - `/logout`: `request.session.destroy()`.
 * - `/regenerate?user=u[&gate=g]`: regenerates, then sets `user`.
 * - `/reload?gate=g`: waits at gate g, reloads, reports.
 */
export async function startApp(store: SessionStore, options: Partial<FastifySessionOptions> = {}): Promise<App> {
  const gates = new Gates();
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    store,
    secret: 'a test secret of at least thirty-two characters',
    saveUninitialized: false,
    cookie: { secure: false },
    ...options,
  });
  const sess = (request: FastifyRequest): Sess => request.session as unknown as Sess;
  const q = (request: FastifyRequest): Query => request.query as Query;

  app.setErrorHandler((err, _request, reply) => fail(reply, err));
  app.get('/login', async (request) => {
    sess(request).user = q(request).user ?? 'ada';
    return view(request);
  });
  app.get('/read', async (request) => {
    await gates.pass(q(request).gate);
    return view(request);
  });
  app.get('/set', async (request, reply) => {
    const { gate, name, value = '', json, save } = q(request);
    await gates.pass(gate);
    sess(request)[name!] = json === '1' ? JSON.parse(value) : value;
    if (save !== '1') return view(request);
    try {
      await request.session.save();
    } catch (err) {
      // Drop this request's changes, or @fastify/session's own save would fail the same way.
      await request.session.reload();
      return fail(reply, err, 409);
    }
    return view(request);
  });
  app.get('/unset', async (request) => {
    delete sess(request)[q(request).name!];
    return view(request);
  });
  app.get('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  app.get('/regenerate', async (request) => {
    await gates.pass(q(request).gate);
    await request.session.regenerate();
    sess(request).user = q(request).user ?? 'bob';
    return view(request);
  });
  app.get('/reload', async (request) => {
    await gates.pass(q(request).gate);
    await request.session.reload();
    return view(request);
  });

  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    gates,
    browser: () => new Browser(address, COOKIE),
    close: () => app.close(),
  };
}
