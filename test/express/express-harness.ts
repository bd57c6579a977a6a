/**
 * A real express app with express-session on 127.0.0.1, driven by Node's
 * fetch, with gates that hold a request after its session loaded until the
 * test releases it: races are ordered by the test, never by timing.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import session, { type SessionOptions, type Store } from 'express-session';

export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

interface Gate {
  readonly loaded: Deferred;
  readonly release: Deferred;
}

/** Named gates a request passes through after its session is loaded. */
export class Gates {
  private readonly gates = new Map<string, Gate>();

  /** Creates gate `name`; the request with `?gate=name` stops there until `release()`. */
  open(name: string): { loaded: Promise<void>; release: () => void } {
    const gate = { loaded: deferred(), release: deferred() };
    this.gates.set(name, gate);
    return { loaded: gate.loaded.promise, release: () => gate.release.resolve() };
  }

  async pass(name: string | undefined): Promise<void> {
    if (name === undefined) return;
    const gate = this.gates.get(name);
    if (!gate) throw new Error(`no gate ${name}`);
    gate.loaded.resolve();
    await gate.release.promise;
  }
}

/** What the app reports about the session it saw. */
export interface SessionView {
  sid: string;
  /** The session's own enumerable fields except `cookie`. */
  data: Record<string, unknown>;
  /** Every own enumerable key the app sees on req.session (cookie included). */
  keys: string[];
}

type Sess = Record<string, unknown>;

function view(req: Request): SessionView {
  const s = (req.session ?? {}) as unknown as Sess;
  const data: Record<string, unknown> = {};
  for (const k of Object.keys(s)) if (k !== 'cookie') data[k] = s[k];
  return { sid: req.sessionID, data, keys: Object.keys(s) };
}

function fail(res: Response, err: unknown, status = 500): void {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  res
    .status(status)
    .json({ error: { code: e?.code ?? null, name: e?.name ?? null, message: String(e?.message ?? err) } });
}

export interface App {
  readonly url: string;
  readonly gates: Gates;
  close(): Promise<void>;
}

/**
 * Routes:
 * - `/login?user=u`: sets `user`.
 * - `/read`: reports the session, changes nothing.
 * - `/set?name=n&value=v[&gate=g][&save=1]`: waits at gate g, sets field n to v
 *   (JSON-parsed when `json=1`); with `save=1` saves explicitly and answers 409 on error.
 * - `/unset?name=n`: deletes field n.
 * - `/big?size=n`: sets a field of n characters, then saves explicitly.
 * - `/logout`: `req.session.destroy()`.
 * - `/regenerate?user=u[&gate=g]`: regenerates, then sets `user`.
 * - `/reload?gate=g`: waits at gate g, reloads, reports.
 * - `/save-and-peek?name=n&value=v`: sets, saves explicitly, then calls `inspect` before answering.
 */
export async function startApp(
  store: Store,
  options: Partial<SessionOptions> = {},
  inspect?: (sid: string) => Promise<unknown>,
): Promise<App> {
  const gates = new Gates();
  const app = express();
  app.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false, ...options }));
  const q = (req: Request, k: string): string | undefined =>
    typeof req.query[k] === 'string' ? (req.query[k] as string) : undefined;
  const sess = (req: Request): Sess => req.session as unknown as Sess;

  app.get('/login', (req, res) => {
    sess(req).user = q(req, 'user') ?? 'ada';
    res.json(view(req));
  });
  app.get('/read', async (req, res) => {
    await gates.pass(q(req, 'gate'));
    res.json(view(req));
  });
  app.get('/set', async (req, res) => {
    await gates.pass(q(req, 'gate'));
    const raw = q(req, 'value') ?? '';
    sess(req)[q(req, 'name')!] = q(req, 'json') === '1' ? JSON.parse(raw) : raw;
    if (q(req, 'save') !== '1') {
      res.json(view(req));
      return;
    }
    req.session.save((err) => (err ? fail(res, err, 409) : res.json(view(req))));
  });
  app.get('/unset', (req, res) => {
    delete sess(req)[q(req, 'name')!];
    res.json(view(req));
  });
  app.get('/big', (req, res) => {
    sess(req).big = 'x'.repeat(Number(q(req, 'size')));
    req.session.save((err) => (err ? fail(res, err) : res.json({ saved: true })));
  });
  app.get('/logout', (req, res) => {
    req.session.destroy((err) => (err ? fail(res, err) : res.json({ ok: true })));
  });
  app.get('/regenerate', async (req, res) => {
    await gates.pass(q(req, 'gate'));
    req.session.regenerate((err) => {
      if (err) return fail(res, err);
      sess(req).user = q(req, 'user') ?? 'bob';
      res.json(view(req));
    });
  });
  app.get('/reload', async (req, res) => {
    await gates.pass(q(req, 'gate'));
    req.session.reload((err) => (err ? fail(res, err) : res.json(view(req))));
  });
  app.get('/save-and-peek', (req, res) => {
    sess(req)[q(req, 'name')!] = q(req, 'value');
    req.session.save(async (err) => {
      if (err) return fail(res, err);
      res.json({ ...view(req), stored: await inspect?.(req.sessionID) });
    });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gates,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A browser with one cookie jar entry: the session cookie. */
export class Browser {
  cookie: string | undefined;

  constructor(
    private readonly base: string,
    private readonly name = 'connect.sid',
  ) {}

  /** A second browser holding the same cookie (another tab of one user). */
  clone(): Browser {
    const b = new Browser(this.base, this.name);
    b.cookie = this.cookie;
    return b;
  }

  async request(path: string): Promise<{ status: number; body: any; setCookie: string | undefined }> {
    const res = await fetch(this.base + path, {
      headers: this.cookie ? { cookie: `${this.name}=${this.cookie}` } : {},
      signal: AbortSignal.timeout(20_000),
    });
    const header = res.headers.getSetCookie().find((c) => c.startsWith(`${this.name}=`));
    const setCookie = header?.slice(this.name.length + 1).split(';')[0];
    if (setCookie !== undefined) this.cookie = setCookie;
    return { status: res.status, body: await res.json(), setCookie: header };
  }

  /** GET expecting 200; returns the body. */
  async get(path: string): Promise<any> {
    const r = await this.request(path);
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}
