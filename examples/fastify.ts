/**
 * session-cas/fastify end to end: a Fastify app with @fastify/session and
 * CasSessionStore on Redis, driven over real HTTP, showing the two races a
 * Redis session store usually loses:
 *   1. Two tabs of one user change different fields at the same time: both
 *      changes persist (a whole-session store keeps only the last save).
 *   2. A slow request is still running when the user logs out: its save at the
 *      end of the request is dropped, so the logout holds (a whole-session store
 *      writes the session back, logged in again).
 *
 * Run: npm ci && npm run example:fastify   (Redis as for `npm run example`: REDIS_URL if set,
 * else a throwaway redis-server, else Docker. It writes only keys under a fresh random prefix,
 * which expire within a minute.)
 * Exits with status 1 if any step does not behave as described.
 */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { CasSessionStore } from 'session-cas/fastify';

declare module 'fastify' {
  interface Session {
    user?: string;
    theme?: string;
    cart?: string[];
  }
}

/**
 * Lets the demo hold a request after its session loaded, so the races happen
 * in a known order instead of by luck: `hold('a')` makes the next request with
 * `?hold=a` wait until `release('a')`.
 */
const holds = new Map<string, { loaded: () => void; release: Promise<void> }>();
function hold(name: string): { loaded: Promise<void>; release: () => void } {
  let loaded!: () => void;
  let release!: () => void;
  const l = new Promise<void>((r) => (loaded = r));
  holds.set(name, { loaded, release: new Promise<void>((r) => (release = r)) });
  return { loaded: l, release };
}

async function main(): Promise<boolean> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `example:fastify:${randomBytes(4).toString('hex')}:`;
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: randomBytes(32).toString('hex'),
    store: new CasSessionStore(redis, { prefix, ttlMs: 60_000 }),
    saveUninitialized: false,
    cookie: { secure: false, maxAge: 60_000 }, // plain HTTP on localhost for the demo
  });
  app.addHook('preHandler', async (request) => {
    const h = holds.get((request.query as { hold?: string }).hold ?? '');
    if (h) {
      h.loaded();
      await h.release;
    }
  });
  app.get('/login', async (request) => {
    request.session.user = 'ada';
    return { user: request.session.user };
  });
  app.get('/theme', async (request) => {
    request.session.theme = (request.query as { value: string }).value;
    return { theme: request.session.theme };
  });
  app.get('/cart', async (request) => {
    request.session.cart = [...(request.session.cart ?? []), (request.query as { item: string }).item];
    return { cart: request.session.cart };
  });
  app.get('/me', async (request) => ({
    user: request.session.user ?? null,
    theme: request.session.theme ?? null,
    cart: request.session.cart ?? [],
  }));
  app.get('/logout', async (request) => {
    await request.session.destroy();
    return { loggedOut: true };
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });

  /** What the routes answer. */
  interface Reply {
    user?: string | null;
    theme?: string | null;
    cart?: string[];
    loggedOut?: boolean;
  }
  let cookie = '';
  const get = async (path: string): Promise<Reply> => {
    const res = await fetch(base + path, { headers: cookie ? { cookie } : {} });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('sessionId='));
    if (set && !cookie) cookie = set.split(';')[0]!;
    return (await res.json()) as Reply;
  };
  let failed = false;
  const check = (what: string, condition: boolean): void => {
    if (!condition) failed = true;
    console.log(`${condition ? '  ok  ' : '  FAIL'} ${what}`);
  };

  try {
    await get('/login');
    check('logged in', (await get('/me')).user === 'ada');

    // Race 1: both tabs load the session, then the theme tab saves first, the cart tab second.
    const themeTab = hold('theme');
    const cartTab = hold('cart');
    const theme = get('/theme?value=dark&hold=theme');
    const cart = get('/cart?item=book&hold=cart');
    await Promise.all([themeTab.loaded, cartTab.loaded]);
    themeTab.release();
    await theme;
    cartTab.release();
    await cart;
    const me = await get('/me');
    check('two tabs changing different fields: both changes persist', me.theme === 'dark' && me.cart?.[0] === 'book');

    // Race 2: a slow request (adding to the cart) is still running when the user logs out.
    const slowTab = hold('slow');
    const slow = get('/cart?item=pen&hold=slow');
    await slowTab.loaded;
    check('logout', (await get('/logout')).loggedOut === true);
    slowTab.release();
    check('the slow request still answered', (await slow).cart?.includes('pen') === true);
    check('its save after the logout was dropped: the old cookie is logged out', (await get('/me')).user === null);
  } finally {
    await app.close();
    redis.disconnect();
  }
  return !failed;
}

main().then(
  (ok) => {
    console.log(ok ? 'Fastify example: all checks passed' : 'Fastify example: some checks FAILED');
    process.exitCode = ok ? 0 : 1;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
