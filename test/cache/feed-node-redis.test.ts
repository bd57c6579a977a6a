/**
 * The single-node change feed on node-redis (`createClient`), RESP3 and
 * RESP2, on a throwaway redis-server this file owns: the same findings as
 * feed-faults.test.ts on ioredis (other namespaces ignored, a half-open
 * subscriber connection noticed by the heartbeat, CLIENT KILL TYPE pubsub
 * reported, a load with kills never served stale past the bound), through
 * the node-redis subscriber connection (a `duplicate()` that node-redis
 * resubscribes after a reconnect; the heartbeat replaces it when it goes
 * silent, since node-redis has no public way to drop a socket).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type FeedStatus,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type Session,
  SessionCache,
} from '../../src/index.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, type NodeRedisOptions, nodeRedisClient } from '../infra/node-redis-clients.js';
import { type FaultProxy, startProxy } from '../infra/proxy.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { runFeedLoad } from './feed-load.js';
import { eventMessage, evictions, publishEvent, uid, waitFor } from './helpers.js';

let server: RedisServer;
let proxy: FaultProxy;
let admin: Redis;
const opened: NodeRedis[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startProxy({ port: server.port });
  admin = new Redis(server.url);
});
afterAll(async () => {
  for (const c of opened) c.close();
  admin?.disconnect();
  await proxy?.close();
  await server?.kill();
});

async function client(o: NodeRedisOptions = {}, url = server.url): Promise<NodeRedis['client']> {
  const c = nodeRedisClient(url, o);
  opened.push(c);
  await c.ready();
  return c.client;
}

async function created(store: RedisSessionStore, id: string): Promise<Session> {
  const r = await store.create(id, { v: '0' });
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

function feedSpy() {
  const events: ChangeEvent[] = [];
  const statuses: Array<{ status: FeedStatus; at: number }> = [];
  return {
    events,
    statuses,
    listener: (e: ChangeEvent) => {
      events.push(e);
    },
    onStatus: (status: FeedStatus) => {
      statuses.push({ status, at: performance.now() });
    },
    count: (status: FeedStatus) => statuses.filter((s) => s.status === status).length,
  };
}

describe('single-node feed on node-redis', () => {
  it('a store on a node-redis client with a keyPrefix takes events of its own keyPrefix + prefix only', async () => {
    const channel = `${uniquePrefix('nrkp')}events`;
    const prefix = uniquePrefix('nrkp');
    const store = new RedisSessionStore(await client({ keyPrefix: 'tenant1:' }), { prefix, eventsChannel: channel });
    const spy = feedSpy();
    const sub = await store.subscribe(spy.listener);
    await publishEvent(admin, channel, eventMessage('updated', 5, 'a', prefix)); // no keyPrefix: another namespace
    await publishEvent(admin, channel, eventMessage('updated', 6, 'a', prefix, 'tenant2:'));
    await publishEvent(admin, channel, eventMessage('updated', 8, 'a', prefix, 'tenant1:'));
    expect(await waitFor(() => spy.events.length > 0)).toBe(true);
    await sleep(20);
    expect(spy.events).toEqual([{ kind: 'updated', id: 'a', generation: 8 }]);
    // A real write through the prefixed client reaches it too.
    const s = await created(store, uid('w'));
    expect(await waitFor(() => spy.events.some((e) => e.id === s.id && e.kind === 'created'))).toBe(true);
    await sub.unsubscribe();
  });

  it('a half-open subscriber connection (blackhole, no FIN) is reported interrupted within two beats, then resubscribed; the cache re-validates', async () => {
    const heartbeatMs = 100;
    const channel = `${uniquePrefix('nrhb')}events`;
    const prefix = uniquePrefix('nrhb');
    const options: RedisSessionStoreOptions = { prefix, eventsChannel: channel, eventsHeartbeatMs: heartbeatMs };
    const A = new RedisSessionStore(await client(), options);
    const viaProxy = await client({ options: { socket: { reconnectStrategy: () => 50 } } }, proxy.url);
    const B = new RedisSessionStore(viaProxy, options);
    const ev = evictions();
    const cache = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('hb');
    const s0 = await created(A, id);
    expect(await cache.get(id)).toEqual(s0);

    proxy.setMode('blackhole');
    const t0 = performance.now();
    expect(await A.terminate(id)).toMatchObject({ ok: true }); // published while B hears nothing: lost
    expect(await waitFor(() => spy.count('interrupted') >= 1, 3_000)).toBe(true);
    const noticedMs = spy.statuses[1]!.at - t0;
    expect(noticedMs).toBeLessThan(3 * heartbeatMs + 200);
    await sleep(3 * heartbeatMs);
    expect(spy.count('subscribed')).toBe(1);

    proxy.setMode('pass');
    expect(await waitFor(() => spy.count('subscribed') === 2, 8_000)).toBe(true);
    expect(spy.events.some((e) => e.id === id && e.kind === 'terminated')).toBe(false);
    expect(await cache.get(id)).toBeNull();
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
    console.log(`[cache] node-redis: half-open subscriber noticed after ${noticedMs.toFixed(0)} ms`);
    await sub.unsubscribe();
    await cache.close();
  });

  it("a client with socketTimeout and node-redis's default reconnect strategy: an idle subscriber connection that times out is reconnected, not given up", async () => {
    const channel = `${uniquePrefix('nridle')}events`;
    const prefix = uniquePrefix('nridle');
    // Heartbeat off: nothing keeps the subscriber connection busy, so its socket times out when idle.
    const options = { prefix, eventsChannel: channel, eventsHeartbeatMs: 0 };
    const A = new RedisSessionStore(await client(), options);
    const B = new RedisSessionStore(await client({ options: { socket: { socketTimeout: 200 } } }), options);
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    expect(await waitFor(() => spy.count('interrupted') >= 1, 3_000)).toBe(true);
    expect(await waitFor(() => spy.statuses.at(-1)?.status === 'subscribed', 3_000)).toBe(true);
    const s = await created(A, uid('idle'));
    expect(await waitFor(() => spy.events.some((e) => e.id === s.id))).toBe(true);
    await sub.unsubscribe();
  });

  for (const RESP of [3, 2] as const) {
    it(`RESP${RESP}: connections reset and reconnects refused for a while: interrupted, the event in the gap is lost, subscribed again; the cache re-validates`, async () => {
      const channel = `${uniquePrefix('nrkill')}events`;
      const prefix = uniquePrefix('nrkill');
      const options = { prefix, eventsChannel: channel };
      const A = new RedisSessionStore(await client({ RESP }), options);
      // Through the proxy, so the gap can be held open: node-redis reconnects a dropped connection at once
      // (its first reconnect does not wait for reconnectStrategy's delay), see the next test.
      const viaProxy = await client({ RESP, options: { socket: { reconnectStrategy: () => 50 } } }, proxy.url);
      const B = new RedisSessionStore(viaProxy, options);
      const cache = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
      await cache.ready;
      const spy = feedSpy();
      const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
      const id = uid('kill');
      const s0 = await created(A, id);
      expect(await cache.get(id)).toEqual(s0);
      proxy.setMode('reset'); // every connection through the proxy now, and each reconnect until 'pass'
      expect(await waitFor(() => spy.count('interrupted') >= 1)).toBe(true);
      expect(await A.terminate(id)).toMatchObject({ ok: true }); // published into the gap
      await sleep(100);
      expect(spy.statuses.at(-1)?.status).toBe('interrupted');
      proxy.setMode('pass');
      expect(await waitFor(() => spy.statuses.at(-1)?.status === 'subscribed', 5_000)).toBe(true);
      expect(spy.events.some((e) => e.kind === 'terminated')).toBe(false); // lost
      // maxStaleMs is far away: only the reported gap makes the cache look again.
      expect(await cache.get(id)).toBeNull();
      const next = await created(A, uid('after'));
      expect(await cache.get(next.id)).toEqual(next);
      expect(await A.patch(next.id, { set: { v: '1' } })).toMatchObject({ ok: true });
      expect(await waitFor(() => !cache.has(next.id))).toBe(true);
      await sub.unsubscribe();
      await cache.close();
    });
  }

  it('CLIENT KILL TYPE pubsub with nothing in the way: node-redis is subscribed again within milliseconds, and the gap is still reported', async () => {
    const channel = `${uniquePrefix('nrquick')}events`;
    const B = new RedisSessionStore(await client(), { prefix: uniquePrefix('nrquick'), eventsChannel: channel });
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const t0 = performance.now();
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(1);
    expect(await waitFor(() => spy.count('subscribed') === 2, 5_000)).toBe(true);
    expect(spy.statuses.map((x) => x.status)).toEqual(['subscribed', 'interrupted', 'subscribed']);
    console.log(`[cache] node-redis: subscribed again ${(performance.now() - t0).toFixed(0)} ms after CLIENT KILL`);
    await sub.unsubscribe();
  });

  it("subscriber connections killed during a load: an 'events' cache never serves a session older than one acknowledged more than 1 s before the get", async () => {
    const channel = `${uniquePrefix('nrload')}events`;
    const prefix = uniquePrefix('nrload');
    const options = { prefix, eventsChannel: channel };
    const writer = new RedisSessionStore(await client(), options);
    const B = new RedisSessionStore(await client({ options: { socket: { reconnectStrategy: () => 100 } } }), options);
    const reader = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
    await reader.ready;
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const ids = Array.from({ length: 300 }, (_, i) => uid(`load${i}`));
    const start = new Map<string, number>();
    for (const id of ids) start.set(id, (await created(writer, id)).generation);
    const r = await runFeedLoad({
      writer,
      reader,
      ids,
      start,
      kill: async () => Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')),
      durationMs: 2_000,
      writeGapMs: 8,
      maxGets: 100_000,
      killEveryMs: 400,
      boundMs: 1_000,
    });
    console.log(
      `[cache] node-redis, kills during load: ${r.writes} writes, ${r.gets} gets (${r.hits} from memory), ` +
        `${r.kills} kills, ${spy.count('interrupted')} interrupted, ${r.violations.length} violations`,
    );
    expect(r.violations.slice(0, 5)).toEqual([]);
    expect(r.kills).toBeGreaterThanOrEqual(3);
    expect(spy.count('interrupted')).toBeGreaterThanOrEqual(3);
    expect(r.hits).toBeGreaterThan(r.gets / 10);
    await sub.unsubscribe();
    await reader.close();
  });
});
