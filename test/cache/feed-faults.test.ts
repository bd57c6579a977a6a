/**
 * The single-node change feed under issue #12's findings, on a throwaway
 * redis-server this file owns (so CLIENT KILL TYPE pubsub hits nobody else):
 * - 3: stores with different prefixes (or client keyPrefixes) on one
 *   eventsChannel never act on each other's events;
 * - 5: a subscriber connection that goes silent without a FIN (loopback proxy
 *   in blackhole mode) is noticed by the heartbeat: `interrupted`, dropped,
 *   reconnected, `subscribed` again, and an 'events' cache re-validates;
 * - 2 (single node): CLIENT KILL TYPE pubsub reports the gap.
 *
 * Events come from real store writes; the test publishes (`publishEvent`) only
 * what no write would: foreign and old-format payloads.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type FeedStatus,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type Session,
  SessionCache,
} from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { type FaultProxy, startProxy } from '../infra/proxy.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { runFeedLoad } from './feed-load.js';
import { eventMessage, evictions, gated, publishEvent, uid, waitFor } from './helpers.js';

let server: RedisServer;
let proxy: FaultProxy;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startProxy({ port: server.port });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await proxy?.close();
  await server?.kill();
});

function client(options: RedisOptions = {}, url = server.url): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 3, ...options });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
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

describe('finding 3: events carry the full key; other namespaces are ignored', () => {
  it("two stores with different prefixes on one channel: a terminate in one never evicts the other's live session", async () => {
    const channel = `${uniquePrefix('ns')}events`;
    const p1 = uniquePrefix('p1');
    const p2 = uniquePrefix('p2');
    const mine = new RedisSessionStore(client(), { prefix: p1, eventsChannel: channel });
    const theirs = new RedisSessionStore(client(), { prefix: p2, eventsChannel: channel });
    const viaKeyPrefix = new RedisSessionStore(client({ keyPrefix: 'app2:' }), { prefix: p1, eventsChannel: channel });
    const ev = evictions();
    const cache = new SessionCache(mine, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const spy = feedSpy();
    const sub = await mine.subscribe(spy.listener);
    const id = uid('same-id');
    const s1 = await created(mine, id);
    expect(await cache.get(id)).toEqual(s1);
    // The same id in the other namespaces, created later (higher generations), then terminated there.
    for (const other of [theirs, viaKeyPrefix]) {
      const s = await created(other, id);
      expect(s.generation).toBeGreaterThan(s1.generation);
      expect(await other.terminate(id)).toMatchObject({ ok: true });
    }
    // An event of this namespace after them: once it is in, the others were ignored, not slow.
    const marker = uid('marker');
    await created(mine, marker);
    expect(await waitFor(() => spy.events.some((e) => e.id === marker))).toBe(true);
    expect(spy.events.filter((e) => e.id === id && e.kind === 'terminated')).toEqual([]);
    expect(await cache.get(id)).toEqual(s1);
    expect(cache.stats().hits).toBeGreaterThan(0);
    expect(ev.list).toEqual([]);
    // ...while its own namespace's terminate (by another node) still evicts at once.
    const sameNamespace = new RedisSessionStore(client(), { prefix: p1, eventsChannel: channel });
    expect(await sameNamespace.terminate(id)).toMatchObject({ ok: true });
    expect(await waitFor(() => ev.list.length === 1)).toBe(true);
    expect(ev.list).toEqual([{ id, generation: s1.generation, reason: 'terminated' }]);
    await sub.unsubscribe();
    await cache.close();
  });

  it("with a load of X in flight, another namespace's terminate of X does not make the get return null", async () => {
    const channel = `${uniquePrefix('nsl')}events`;
    const mine = new RedisSessionStore(client(), { prefix: uniquePrefix('l1'), eventsChannel: channel });
    const theirs = new RedisSessionStore(client(), { prefix: uniquePrefix('l2'), eventsChannel: channel });
    const g = gated(mine, ['get']);
    const cache = new SessionCache(g.store as RedisSessionStore, { validate: 'events', maxStaleMs: 600_000 });
    await cache.ready;
    const spy = feedSpy();
    const sub = await mine.subscribe(spy.listener);
    const id = uid('load');
    const s1 = await created(mine, id);
    g.state.holding = true;
    const load = cache.get(id); // cold: a store read, its reply held
    expect(await waitFor(() => g.state.held === 1)).toBe(true);
    g.state.holding = false;
    await created(theirs, id);
    expect(await theirs.terminate(id)).toMatchObject({ ok: true });
    const marker = uid('marker'); // this namespace's event after theirs: once it is in, theirs were ignored
    await created(mine, marker);
    expect(await waitFor(() => spy.events.some((e) => e.id === marker))).toBe(true);
    g.state.release();
    expect(await load).toEqual(s1);
    expect(cache.has(id)).toBe(true);
    expect(await cache.get(id)).toEqual(s1);
    await sub.unsubscribe();
    await cache.close();
  });

  it('a store on a client with a keyPrefix takes events of its own keyPrefix + prefix only', async () => {
    const channel = `${uniquePrefix('kp')}events`;
    const prefix = uniquePrefix('kp');
    const store = new RedisSessionStore(client({ keyPrefix: 'tenant1:' }), { prefix, eventsChannel: channel });
    const spy = feedSpy();
    const sub = await store.subscribe(spy.listener);
    const pub = client();
    await publishEvent(pub, channel, eventMessage('updated', 5, 'a', prefix)); // no keyPrefix: another namespace
    await publishEvent(pub, channel, eventMessage('updated', 6, 'a', prefix, 'tenant2:'));
    await publishEvent(pub, channel, `updated:7:a`); // the old format
    await publishEvent(pub, channel, eventMessage('updated', 8, 'a', prefix, 'tenant1:'));
    expect(await waitFor(() => spy.events.length > 0)).toBe(true);
    await sleep(20);
    expect(spy.events).toEqual([{ kind: 'updated', id: 'a', generation: 8 }]);
    await sub.unsubscribe();
  });
});

describe('finding 5: heartbeat', () => {
  it('rejects a bad eventsHeartbeatMs at construction; 0 (off) and 10 are accepted', () => {
    const c = client({ lazyConnect: true });
    for (const bad of [-1, 5, 9, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', 2 ** 31, null]) {
      expect(
        () => new RedisSessionStore(c, { eventsChannel: 'x', eventsHeartbeatMs: bad as number }),
        String(bad),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.eventsHeartbeatMs' }));
    }
    for (const ok of [0, 10, 1_000])
      expect(() => new RedisSessionStore(c, { eventsChannel: 'x', eventsHeartbeatMs: ok })).not.toThrow();
    expect(() => new RedisSessionStore(c, { eventsHeartbeatMs: -1 })).toThrow(
      expect.objectContaining({ argument: 'options.eventsHeartbeatMs' }),
    );
  });

  it('a half-open subscriber connection (blackhole, no FIN) is reported interrupted within two beats, then resubscribed; the cache re-validates', async () => {
    const heartbeatMs = 100;
    const channel = `${uniquePrefix('hb')}events`;
    const prefix = uniquePrefix('hb');
    const options: RedisSessionStoreOptions = { prefix, eventsChannel: channel, eventsHeartbeatMs: heartbeatMs };
    const A = new RedisSessionStore(client(), options);
    // B reaches Redis through the proxy; its subscriber connection (a duplicate) does too.
    const B = new RedisSessionStore(client({ connectionName: 'hb-B', retryStrategy: () => 50 }, proxy.url), options);
    const ev = evictions();
    const cache = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('hb');
    const s0 = await created(A, id);
    expect(await cache.get(id)).toEqual(s0);
    const hits = cache.stats().hits;
    expect(await cache.get(id)).toEqual(s0);
    expect(cache.stats().hits).toBe(hits + 1);

    proxy.setMode('blackhole');
    const t0 = performance.now();
    // The terminate's event is published while B's subscriber hears nothing: it is lost for good.
    expect(await A.terminate(id)).toMatchObject({ ok: true });
    expect(await waitFor(() => spy.count('interrupted') === 1, 3_000)).toBe(true);
    const noticedMs = spy.statuses[1]!.at - t0;
    expect(noticedMs).toBeLessThan(3 * heartbeatMs + 200);
    await sleep(3 * heartbeatMs); // reconnect attempts into the blackhole are dropped too
    expect(spy.count('subscribed')).toBe(1);

    proxy.setMode('pass');
    expect(await waitFor(() => spy.count('subscribed') === 2, 5_000)).toBe(true);
    expect(spy.events.some((e) => e.id === id && e.kind === 'terminated')).toBe(false); // lost
    // maxStaleMs is far away: only the reported gap makes B re-validate, and find the terminate.
    expect(await cache.get(id)).toBeNull();
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
    console.log(`[cache] half-open subscriber noticed after ${noticedMs.toFixed(0)} ms (heartbeat ${heartbeatMs} ms)`);
    await sub.unsubscribe();
    await cache.close();
  });
});

describe('finding 2 (single node): CLIENT KILL TYPE pubsub', () => {
  it('is reported as interrupted, then subscribed; an event published in the gap is lost and the cache re-validates', async () => {
    const channel = `${uniquePrefix('kill')}events`;
    const prefix = uniquePrefix('kill');
    const options = { prefix, eventsChannel: channel };
    const A = new RedisSessionStore(client(), options);
    const B = new RedisSessionStore(client({ retryStrategy: () => 300 }), options);
    const cache = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
    await cache.ready;
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('kill');
    const s0 = await created(A, id);
    expect(await cache.get(id)).toEqual(s0);
    const admin = client();
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(1);
    expect(await A.terminate(id)).toMatchObject({ ok: true });
    expect(await waitFor(() => spy.count('interrupted') === 1)).toBe(true);
    expect(await waitFor(() => spy.count('subscribed') === 2)).toBe(true);
    expect(spy.events.some((e) => e.kind === 'terminated')).toBe(false); // lost
    expect(await cache.get(id)).toBeNull();
    // Events flow again after the resubscription.
    const next = await created(A, uid('after'));
    expect(await cache.get(next.id)).toEqual(next);
    expect(await A.patch(next.id, { set: { v: '1' } })).toMatchObject({ ok: true });
    expect(await waitFor(() => !cache.has(next.id))).toBe(true);
    await sub.unsubscribe();
    await cache.close();
  });
});

describe('subscriber connections killed during a load', () => {
  it("an 'events' cache never serves a session older than one acknowledged more than 1 s before the get", async () => {
    const channel = `${uniquePrefix('load')}events`;
    const prefix = uniquePrefix('load');
    const options = { prefix, eventsChannel: channel };
    const writer = new RedisSessionStore(client(), options);
    const B = new RedisSessionStore(client({ retryStrategy: () => 100 }), options);
    const reader = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
    await reader.ready;
    const spy = feedSpy();
    const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const ids = Array.from({ length: 500 }, (_, i) => uid(`load${i}`));
    const start = new Map<string, number>();
    for (const id of ids) start.set(id, (await created(writer, id)).generation);
    const admin = client();
    const r = await runFeedLoad({
      writer,
      reader,
      ids,
      start,
      kill: async () => Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')),
      durationMs: 3_000,
      writeGapMs: 8,
      maxGets: 100_000,
      killEveryMs: 400,
      boundMs: 1_000,
    });
    console.log(
      `[cache] single node, kills during load: ${r.writes} writes, ${r.gets} gets (${r.hits} from memory), ` +
        `${r.kills} kills (${r.killed} connections), ${spy.count('interrupted')} interrupted, ${r.violations.length} violations`,
    );
    expect(r.violations.slice(0, 5)).toEqual([]);
    expect(r.kills).toBeGreaterThanOrEqual(3);
    expect(spy.count('interrupted')).toBeGreaterThanOrEqual(3);
    expect(r.hits).toBeGreaterThan(r.gets / 10); // the cache did serve from memory: the check was not vacuous
    await sub.unsubscribe();
    await reader.close();
  });
});
