/**
 * The change feed on a real Redis Cluster (3 primaries, 1 replica each):
 * sharded pub/sub, one SSUBSCRIBE per slot on a connection per primary.
 *
 * Events come from real store writes (the write functions SPUBLISH on the
 * shard channel of the key's slot); the tests publish (`publishEvent`) only
 * what no write would: foreign and old-format payloads. Issue #12's findings on a cluster:
 * - 2: CLIENT KILL TYPE pubsub on every node is reported as `interrupted`,
 *   then `subscribed` once every slot is covered again; also slot migration
 *   and failover (Redis sends `sunsubscribe` for the slots a node loses);
 * - 3: other namespaces on the same channel are ignored;
 * - 5: a primary's subscriber connection gone silent (proxy blackhole through
 *   natMap) is noticed by the heartbeat;
 * - 1: other writers' events during this node's mutate apply at once;
 * and a load with kills, checked for staleness.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type FeedStatus,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  SLOT_COUNT,
  type Session,
  SessionCache,
  keySlot,
  sessionKey,
} from '../../src/index.js';
import { encodeId } from '../../src/redis/keys.js';
import type { Client } from '../../src/redis/scripts.js';
import { shardChannel } from '../../src/redis/shard-channels.js';
import { runFeedLoad } from '../cache/feed-load.js';
import { idsInSlot } from './slot-helpers.js';
import { eventMessage, evictions, expectDeliveredOrReportedGap, publishEvent, uid, waitFor } from '../cache/helpers.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { type FaultProxy, startProxy } from '../infra/proxy.js';

let cluster: RedisCluster;
const extra: Array<{ disconnect(): void }> = [];
beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
});
afterAll(async () => {
  for (const c of extra) c.disconnect();
  await cluster?.stop();
});

type Major = 5 | 6;

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
    last: () => statuses.at(-1)?.status,
  };
}

/** Two nodes on their own Cluster clients, one channel and prefix; `pub` publishes events as the scripts will. */
function nodes(major: Major = 5, options: RedisSessionStoreOptions = {}) {
  const prefix = uniquePrefix('cfeed');
  const channel = `${prefix}events`;
  const opts = { prefix, eventsChannel: channel, ...options };
  const name = `scas-cf-${uid('B')}`;
  const A = new RedisSessionStore(cluster.client(major), opts);
  const B = new RedisSessionStore(cluster.client(major, { redisOptions: { connectionName: name } }), opts);
  const pub = cluster.client(5);
  const publish = (kind: string, generation: number, id: string) =>
    publishEvent(pub, channel, eventMessage(kind, generation, id, prefix));
  return { prefix, channel, name, A, B, pub, publish };
}

async function created(store: RedisSessionStore, id: string): Promise<Session> {
  const r = await store.create(id, { v: '0' });
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

async function clientsNamed(name: string): Promise<Array<{ port: number; ssub: number; flags: string }>> {
  const out: Array<{ port: number; ssub: number; flags: string }> = [];
  for (const n of cluster.live()) {
    const list = (await n.admin.call('CLIENT', 'LIST')) as string;
    for (const line of list.trim().split('\n')) {
      const f = Object.fromEntries(
        line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      if (f.name === name) out.push({ port: n.port, ssub: Number(f.ssub ?? 0), flags: f.flags ?? '' });
    }
  }
  return out;
}

async function killPubsubEverywhere(): Promise<number> {
  let killed = 0;
  for (const n of cluster.live()) killed += Number(await n.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
  return killed;
}

describe('what Redis 7.0 does with SPUBLISH from scripts (the ground the Cluster feed stands on)', () => {
  const FN =
    "#!lua name=scasfeedlab\nredis.register_function('scas_feed_lab_pub', function(keys, args) return redis.call('SPUBLISH', args[1], args[2]) end)";
  const SRC = "return redis.call('SPUBLISH', ARGV[1], ARGV[2])";
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: Error) => e.message,
    );

  it('SPUBLISH from EVAL (plain and #!lua) and FCALL, key in KEYS, to the channel of its slot reaches an SSUBSCRIBEr; another slot is refused', async () => {
    const key = sessionKey(uid('lab'), 'lab:');
    const slot = keySlot(key);
    const owner = await cluster.ownerOf(slot);
    const primaries = await cluster.primaries();
    for (const p of primaries) await p.admin.call('FUNCTION', 'LOAD', 'REPLACE', FN);
    const channel = shardChannel('lab', slot);
    const sub = new Redis({ host: '127.0.0.1', port: owner.port });
    sub.on('error', () => undefined); // a later test's failover sends it a sunsubscribe ioredis 5 cannot place
    extra.push(sub);
    const got: string[] = [];
    sub.on('smessage', (_c: string, m: string) => got.push(m));
    await sub.ssubscribe(channel);
    expect(await owner.admin.call('EVAL', SRC, 1, key, channel, 'eval')).toBe(1);
    expect(await owner.admin.call('EVAL', `#!lua\n${SRC}`, 1, key, channel, 'shebang')).toBe(1);
    expect(await owner.admin.call('FCALL', 'scas_feed_lab_pub', 1, key, channel, 'fcall')).toBe(1);
    expect(await waitFor(() => got.length === 3)).toBe(true);
    expect(got).toEqual(['eval', 'shebang', 'fcall']);
    // Another slot of the same node.
    const sameNode = slot + 1 < SLOT_COUNT && (await cluster.ownerOf(slot + 1)).id === owner.id ? slot + 1 : slot - 1;
    expect((await cluster.ownerOf(sameNode)).id).toBe(owner.id);
    const near = shardChannel('lab', sameNode);
    expect(await refusal(owner.admin.call('EVAL', `#!lua\n${SRC}`, 1, key, near, 'x'))).toMatch(
      /^ERR Script attempted to access keys that do not hash to the same slot/,
    );
    expect(await refusal(owner.admin.call('FCALL', 'scas_feed_lab_pub', 1, key, near, 'x'))).toMatch(
      /^ERR Script attempted to access keys that do not hash to the same slot/,
    );
    expect(await owner.admin.call('EVAL', SRC, 1, key, near, 'x')).toBe(0); // a script without #!lua may (allow-cross-slot-keys)
    // A slot of another node.
    let farSlot = -1;
    for (let s = 0; s < SLOT_COUNT && farSlot < 0; s += 97) if ((await cluster.ownerOf(s)).id !== owner.id) farSlot = s;
    for (const cmd of [
      ['EVAL', SRC],
      ['EVAL', `#!lua\n${SRC}`],
      ['FCALL', 'scas_feed_lab_pub'],
    ] as const) {
      expect(await refusal(owner.admin.call(cmd[0], cmd[1], 1, key, shardChannel('lab', farSlot), 'x'))).toMatch(
        /^ERR Script attempted to access a non local key in a cluster node/,
      );
    }
    for (const p of primaries) await p.admin.call('FUNCTION', 'DELETE', 'scasfeedlab');
    sub.disconnect();
  });
});

describe('Cluster feed: sharded subscriptions', () => {
  for (const major of [5, 6] as const) {
    it(`ioredis ${major}: one named connection per primary, SSUBSCRIBEd to the shard channel of each slot it owns; events of every primary arrive`, async () => {
      const n = nodes(major);
      const spy = feedSpy();
      const t0 = performance.now();
      const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
      const subscribeMs = performance.now() - t0;
      expect(spy.statuses.map((s) => s.status)).toEqual(['subscribed']);
      const conns = await clientsNamed(`${n.name}:events`);
      const primaries = await cluster.primaries();
      expect(conns.map((c) => c.port).sort()).toEqual(primaries.map((p) => p.port).sort());
      expect(conns.reduce((sum, c) => sum + c.ssub, 0)).toBe(SLOT_COUNT);
      // Writes on sessions of every primary: ids until each primary owns some (bounded).
      const ids: string[] = [];
      const ownerOf = new Map<string, number>();
      for (let i = 0; i < 200 && (ids.length < 12 || new Set(ownerOf.values()).size < 3); i++) {
        const id = uid(`ev${i}`);
        ids.push(id);
        ownerOf.set(id, (await cluster.ownerOf(keySlot(sessionKey(id, n.prefix)))).port);
      }
      const sessions: Session[] = [];
      for (const id of ids) sessions.push(await created(n.A, id));
      expect(await waitFor(() => spy.events.length === ids.length)).toBe(true);
      // Every event arrives once. Order is promised per shard only: each primary's events come on
      // their own connection, so events of two primaries may interleave in any order.
      const expected = sessions.map((x) => ({ kind: 'created', id: x.id, generation: x.generation }));
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      expect([...spy.events].sort(byId)).toEqual([...expected].sort(byId));
      const owners = new Set(ownerOf.values());
      for (const port of owners) {
        const onThisShard = (e: { id: string }) => ownerOf.get(e.id) === port;
        expect(spy.events.filter(onThisShard)).toEqual(expected.filter(onThisShard));
      }
      expect(owners.size).toBe(3);
      console.log(
        `[cluster feed] ioredis ${major}: subscribe() covered ${SLOT_COUNT} slots on 3 primaries in ${subscribeMs.toFixed(0)} ms`,
      );
      await sub.unsubscribe();
      expect(await waitFor(async () => (await clientsNamed(`${n.name}:events`)).length === 0)).toBe(true);
    });
  }

  it('finding 3: events of other prefixes and keyPrefixes on the same channel are ignored', async () => {
    const n = nodes();
    const spy = feedSpy();
    const sub = await n.B.subscribe(spy.listener);
    const id = uid('ns');
    await publishEvent(n.pub, n.channel, eventMessage('terminated', 9, id, uniquePrefix('other')));
    await publishEvent(n.pub, n.channel, eventMessage('terminated', 9, id, n.prefix, 'app:'));
    await publishEvent(n.pub, shardChannel(n.channel, keySlot(id)), `terminated:9:${id}`); // old format
    await n.publish('updated', 10, id);
    expect(await waitFor(() => spy.events.length > 0)).toBe(true);
    await sleep(20);
    expect(spy.events).toEqual([{ kind: 'updated', id, generation: 10 }]);
    await sub.unsubscribe();
  });

  it("an eventsChannel with { or } is refused on a Cluster client (it would move the shard channels' slot)", () => {
    const c = cluster.client(5, { lazyConnect: true });
    for (const ch of ['a{b}', 'x{', '}']) {
      expect(() => new RedisSessionStore(c, { eventsChannel: ch })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.eventsChannel' }),
      );
    }
    expect(() => new RedisSessionStore(c, { eventsChannel: 'plain:events' })).not.toThrow();
  });
});

describe('Cluster feed: gaps are reported', () => {
  for (const major of [5, 6] as const) {
    it(`ioredis ${major}, finding 2: CLIENT KILL TYPE pubsub on every node: interrupted, the event in the gap is lost, subscribed again; the 'events' cache re-validates`, async () => {
      const n = nodes(major);
      const ev = evictions();
      const cache = new SessionCache(n.B, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
      await cache.ready;
      const spy = feedSpy();
      const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
      const id = uid('kill');
      const s0 = await created(n.A, id);
      expect(await cache.get(id)).toEqual(s0);
      expect(await killPubsubEverywhere()).toBeGreaterThanOrEqual(3); // one per primary: the cache and the spy share B's feed
      expect(await n.A.terminate(id)).toMatchObject({ ok: true }); // its event is published into the gap
      expect(await waitFor(() => spy.count('interrupted') >= 1)).toBe(true);
      expect(await waitFor(() => spy.last() === 'subscribed', 10_000)).toBe(true);
      // maxStaleMs is far away: only the reported gap makes the cache look again.
      expect(await cache.get(id)).toBeNull();
      expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
      // Events flow again.
      const next = await created(n.A, uid('next'));
      expect(await cache.get(next.id)).toEqual(next);
      expect(await n.A.patch(next.id, { set: { v: '1' } })).toMatchObject({ ok: true });
      expect(await waitFor(() => !cache.has(next.id))).toBe(true);
      await sub.unsubscribe();
      await cache.close();
    });
  }

  it('a slot migrating to another primary: interrupted, then subscribed on the new owner; its events arrive from there', async () => {
    const n = nodes();
    const spy = feedSpy();
    const ev = evictions();
    const cache = new SessionCache(n.B, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('mig');
    const s0 = await created(n.A, id);
    expect(await cache.get(id)).toEqual(s0);
    const slot = keySlot(sessionKey(id, n.prefix));
    const from = await cluster.ownerOf(slot);
    const to = (await cluster.primaries()).find((p) => p.id !== from.id)!;
    await cluster.moveSlot(slot, to);
    expect(await waitFor(() => spy.count('interrupted') === 1)).toBe(true);
    expect(await waitFor(() => spy.count('subscribed') === 2, 10_000)).toBe(true);
    const updated = await n.A.patch(id, { set: { v: '1' } }); // runs on the new owner, and publishes there
    if (!updated.ok) throw new Error('patch');
    expect(await waitFor(() => ev.list.length === 1)).toBe(true);
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'stale' }]);
    expect((await clientsNamed(`${n.name}:events`)).find((c) => c.port === to.port)).toBeDefined();
    await sub.unsubscribe();
    await cache.close();
  });

  it('failover of a primary (CLUSTER FAILOVER on its replica): interrupted, then subscribed on the promoted replica', async () => {
    const n = nodes(6);
    const spy = feedSpy();
    const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('fo');
    const slot = keySlot(sessionKey(id, n.prefix));
    const primary = await cluster.ownerOf(slot);
    const replica = await cluster.replicaOf(primary);
    if (!replica) throw new Error('no replica');
    await replica.admin.call('CLUSTER', 'FAILOVER');
    expect(await waitFor(() => spy.count('interrupted') === 1, 10_000)).toBe(true);
    expect(await waitFor(() => spy.count('subscribed') === 2, 15_000)).toBe(true);
    expect(await replica.role()).toBe('master');
    const gapsBefore = spy.count('interrupted');
    // A write on the promoted replica, now the slot's primary. A's client may still send it to the demoted
    // node first (READONLY, which ioredis does not follow): retry, bounded, after a slot map refresh.
    for (let attempt = 1; ; attempt++) {
      try {
        await created(n.A, id);
        break;
      } catch (err) {
        if (attempt >= 50 || !/READONLY/.test(String(err))) throw err;
        await new Promise<void>((resolve) =>
          (n.A.client as unknown as { refreshSlotsCache(cb: () => void): void }).refreshSlotsCache(() => resolve()),
        );
        await sleep(100);
      }
    }
    await expectDeliveredOrReportedGap(spy, n.A, id, gapsBefore);
    // Right after the failover the slot map ioredis refreshed may still name the demoted primary, now a
    // replica of the new one: SSUBSCRIBE works there too, and the shard's messages reach it by
    // replication. Once the client's map names the new primary, the feed moves there.
    expect(
      await waitFor(
        async () => ((await clientsNamed(`${n.name}:events`)).find((c) => c.port === replica.port)?.ssub ?? 0) > 0,
        15_000,
      ),
    ).toBe(true);
    expect(await waitFor(() => spy.last() === 'subscribed', 10_000)).toBe(true);
    await cluster.waitForOk();
    await sub.unsubscribe();
  });
});

describe('Cluster feed: finding 5, a silent primary connection', () => {
  it('a blackholed proxy in front of one primary (natMap) is noticed by the heartbeat; subscribed again once it passes', async () => {
    const heartbeatMs = 100;
    const proxies = new Map<number, FaultProxy>();
    for (const node of cluster.nodes) proxies.set(node.port, await startProxy({ port: node.port }));
    try {
      const natMap = Object.fromEntries(
        [...proxies].map(([port, p]) => [`127.0.0.1:${port}`, { host: '127.0.0.1', port: p.port }]),
      );
      const startupNodes = [...proxies.values()].map((p) => ({ host: '127.0.0.1', port: p.port }));
      const viaProxies = new Cluster(startupNodes, {
        natMap,
        redisOptions: { maxRetriesPerRequest: 3 },
        slotsRefreshTimeout: 500,
      });
      viaProxies.on('error', () => undefined);
      extra.push(viaProxies);
      const prefix = uniquePrefix('cfhb');
      const channel = `${prefix}events`;
      const B = new RedisSessionStore(viaProxies as unknown as Client, {
        prefix,
        eventsChannel: channel,
        eventsHeartbeatMs: heartbeatMs,
      });
      const A = new RedisSessionStore(cluster.client(5), { prefix, eventsChannel: channel }); // direct, no proxy
      const spy = feedSpy();
      const sub = await B.subscribe(spy.listener, { onStatus: spy.onStatus });
      const id = uid('hb');
      const slot = keySlot(sessionKey(id, prefix));
      const [sameSlot] = idsInSlot(keySlot(encodeId(id)), 1, 'hb2');
      const primary = await cluster.ownerOf(slot);
      const proxy = proxies.get(primary.port)!;
      const s0 = await created(A, id);
      expect(await waitFor(() => spy.events.length === 1)).toBe(true);
      proxy.setMode('blackhole');
      const t0 = performance.now();
      // Published by the primary while B's connection to it hears nothing: lost.
      expect(await A.terminate(id)).toMatchObject({ ok: true });
      expect(await waitFor(() => spy.count('interrupted') === 1, 3_000)).toBe(true);
      const noticedMs = spy.statuses[1]!.at - t0;
      expect(noticedMs).toBeLessThan(3 * heartbeatMs + 300);
      await sleep(4 * heartbeatMs);
      expect(spy.count('subscribed')).toBe(1); // not while that primary is unreachable
      proxy.setMode('pass');
      proxy.resetConnections(); // the Cluster client's own connection to it lost bytes too: start it clean
      expect(await waitFor(() => spy.last() === 'subscribed', 15_000)).toBe(true);
      expect(spy.events).toEqual([{ kind: 'created', id, generation: s0.generation }]); // the terminate's was lost
      const next = await created(A, sameSlot!); // same slot, same primary: its events reach B again
      expect(await waitFor(() => spy.events.some((e) => e.id === next.id))).toBe(true);
      console.log(
        `[cluster feed] silent primary connection noticed after ${noticedMs.toFixed(0)} ms (heartbeat ${heartbeatMs} ms)`,
      );
      await sub.unsubscribe();
    } finally {
      for (const p of proxies.values()) await p.close();
    }
  });
});

describe('Cluster feed: finding 1 and a load with kills', () => {
  it("finding 1: B terminates X while A's cache runs mutate(X) with a slow fn: A stops serving X when the event arrives", async () => {
    const n = nodes();
    const ev = evictions();
    const cacheA = new SessionCache(n.A, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cacheA.ready;
    const seen: ChangeEvent[] = [];
    const spy = await n.A.subscribe((e) => seen.push(e));
    const id = uid('mut');
    const s0 = await created(n.B, id);
    expect(await cacheA.get(id)).toEqual(s0);
    let inFn!: () => void;
    const entered = new Promise<void>((resolve) => {
      inFn = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const pending = cacheA.mutate(id, async (s) => {
      inFn();
      await released;
      return { ...s.metadata, v: 'A' };
    });
    await entered;
    expect(await n.B.terminate(id)).toMatchObject({ ok: true });
    expect(await waitFor(() => seen.some((e) => e.kind === 'terminated' && e.id === id))).toBe(true);
    expect(await cacheA.get(id)).toBeNull();
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
    release();
    expect(await pending).toMatchObject({ ok: false, reason: 'terminated' });
    await spy.unsubscribe();
    await cacheA.close();
  });

  it("subscriber connections killed on every node during a load: an 'events' cache never serves a session older than one acknowledged more than 1 s before the get", async () => {
    const n = nodes(6);
    const reader = new SessionCache(n.B, { validate: 'events', maxStaleMs: 600_000 });
    await reader.ready;
    const spy = feedSpy();
    const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const ids = Array.from({ length: 300 }, (_, i) => uid(`load${i}`));
    const start = new Map<string, number>();
    for (const id of ids) start.set(id, (await created(n.A, id)).generation);
    const r = await runFeedLoad({
      writer: n.A,
      reader,
      ids,
      start,
      kill: killPubsubEverywhere,
      durationMs: 3_000,
      writeGapMs: 12,
      maxGets: 100_000,
      killEveryMs: 500,
      boundMs: 1_000,
    });
    console.log(
      `[cluster feed] kills during load: ${r.writes} writes, ${r.gets} gets (${r.hits} from memory), ` +
        `${r.kills} kills (${r.killed} connections), ${spy.count('interrupted')} interrupted, ${r.violations.length} violations`,
    );
    expect(r.violations.slice(0, 5)).toEqual([]);
    expect(r.kills).toBeGreaterThanOrEqual(3);
    expect(spy.count('interrupted')).toBeGreaterThanOrEqual(3);
    expect(r.hits).toBeGreaterThan(r.gets / 10);
    await sub.unsubscribe();
    await reader.close();
  });
});
