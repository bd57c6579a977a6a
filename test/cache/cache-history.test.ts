/**
 * Issue #12, Tests, on a single Redis: subscriber connections killed (CLIENT
 * KILL TYPE pubsub) and the primary itself killed (SIGKILL, restarted on the
 * same port; appendfsync always, so nothing acknowledged is lost) during a
 * load, checked with the linearizability checker: the `'events'` cache never
 * serves a session older than one acknowledged more than 1 s before the get
 * (maxStaleMs is 600 s), the `'always'` cache never one acknowledged before
 * the get started. The load and the check: ./cache-history.ts.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type FeedStatus, RedisSessionStore, SessionCache } from '../../src/index.js';
import { uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { expectHistoryHeld, runCacheLoad } from './cache-history.js';
import { uid } from './helpers.js';

let server: RedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.kill();
});

/** A client that rides out the restart: it reconnects every 50 ms and keeps its commands queued meanwhile. */
function client(options: RedisOptions = {}): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: 100, retryStrategy: () => 50, ...options });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

describe('single Redis: pubsub kills and a primary kill during a load', () => {
  it("the 'events' cache is never more than 1 s behind an acknowledged write, the 'always' cache never behind", async () => {
    const prefix = uniquePrefix('chist');
    const options = { prefix, eventsChannel: `${prefix}events` };
    const A = new RedisSessionStore(client(), options);
    const B = new RedisSessionStore(client({ retryStrategy: () => 100 }), options);
    const C = new RedisSessionStore(client(), options);
    const statuses: FeedStatus[] = [];
    const events = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
    const always = new SessionCache(C, { validate: 'always' });
    await events.ready;
    const sub = await B.subscribe(() => undefined, { onStatus: (s) => statuses.push(s) });
    const admin = client();
    const r = await runCacheLoad({
      writer: A,
      events,
      always,
      ids: Array.from({ length: 300 }, (_, i) => uid(`h${i}`)),
      killPubsub: async () => Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')),
      killPrimary: async (quiesce) => {
        await quiesce();
        await server.kill();
        await server.start();
      },
      primaryAtMs: 1_500,
      durationMs: 3_500,
      killEveryMs: 400,
      writeGapMs: 8,
      boundMs: 1_000,
      maxGets: 15_000,
    });
    expectHistoryHeld('[cache history] single node', r, statuses);
    await sub.unsubscribe();
    await events.close();
    await always.close();
  });
});
