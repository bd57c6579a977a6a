/**
 * The Cluster change feed on node-redis (`createCluster`): the same sharded
 * subscriber as on ioredis (one SSUBSCRIBE connection per primary, a
 * `duplicate()` of node-redis's own connection to it), so the same promises:
 * every slot covered, events of every primary, and every gap reported (kill,
 * slot migration, failover). RESP3 (node-redis 6's default) and RESP2.
 * test/cluster/feed-cluster.test.ts holds the ioredis cases and the long load.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type FeedStatus,
  RedisSessionStore,
  SLOT_COUNT,
  type Session,
  SessionCache,
  keySlot,
  sessionKey,
} from '../../src/index.js';
import { eventMessage, evictions, expectDeliveredOrReportedGap, publishEvent, uid, waitFor } from '../cache/helpers.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { type NodeRedis, nodeRedisCluster } from '../infra/node-redis-clients.js';

let cluster: RedisCluster;
const opened: NodeRedis[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
});
afterAll(async () => {
  for (const c of opened) c.close();
  await cluster?.stop();
});

function feedSpy() {
  const events: ChangeEvent[] = [];
  const statuses: FeedStatus[] = [];
  return {
    events,
    statuses,
    listener: (e: ChangeEvent) => {
      events.push(e);
    },
    onStatus: (status: FeedStatus) => {
      statuses.push(status);
    },
    count: (status: FeedStatus) => statuses.filter((s) => s === status).length,
    last: () => statuses.at(-1),
  };
}

/** A writer A and a subscriber B on their own node-redis Cluster clients; B's connections are named. */
async function nodes(RESP: 2 | 3 = 3) {
  const prefix = uniquePrefix('nrfeed');
  const channel = `${prefix}events`;
  const opts = { prefix, eventsChannel: channel };
  const name = `scas-nr-${uid('B')}`;
  const a = nodeRedisCluster(cluster.startupNodes, { RESP });
  const b = nodeRedisCluster(cluster.startupNodes, { RESP, options: { name } });
  opened.push(a, b);
  await Promise.all([a.ready(), b.ready()]);
  const A = new RedisSessionStore(a.client, opts);
  const B = new RedisSessionStore(b.client, opts);
  const pub = cluster.client(5);
  const publish = (kind: string, generation: number, id: string) =>
    publishEvent(pub, channel, eventMessage(kind, generation, id, prefix));
  return { prefix, channel, name, A, B, publish };
}

async function created(store: RedisSessionStore, id: string): Promise<Session> {
  const r = await store.create(id, { v: '0' });
  if (!r.ok) throw new Error(`create ${id} failed`);
  return r.session;
}

async function clientsNamed(name: string): Promise<Array<{ port: number; ssub: number }>> {
  const out: Array<{ port: number; ssub: number }> = [];
  for (const n of cluster.live()) {
    const list = (await n.admin.call('CLIENT', 'LIST')) as string;
    for (const line of list.trim().split('\n')) {
      const f = Object.fromEntries(
        line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      if (f.name === name) out.push({ port: n.port, ssub: Number(f.ssub ?? 0) });
    }
  }
  return out;
}

describe('Cluster feed on node-redis', () => {
  for (const RESP of [3, 2] as const) {
    it(`RESP${RESP}: one named connection per primary covers every slot; events of every primary arrive, in order per shard`, async () => {
      const n = await nodes(RESP);
      const spy = feedSpy();
      const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
      expect(spy.statuses).toEqual(['subscribed']);
      const conns = await clientsNamed(`${n.name}:events`);
      const primaries = await cluster.primaries();
      expect(conns.map((c) => c.port).sort()).toEqual(primaries.map((p) => p.port).sort());
      expect(conns.reduce((sum, c) => sum + c.ssub, 0)).toBe(SLOT_COUNT);
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
      const expected = sessions.map((x) => ({ kind: 'created', id: x.id, generation: x.generation }));
      for (const port of new Set(ownerOf.values())) {
        const onThisShard = (e: { id: string }) => ownerOf.get(e.id) === port;
        expect(spy.events.filter(onThisShard)).toEqual(expected.filter(onThisShard));
      }
      expect(new Set(ownerOf.values()).size).toBe(3);
      await sub.unsubscribe();
      expect(await waitFor(async () => (await clientsNamed(`${n.name}:events`)).length === 0)).toBe(true);
    });
  }

  it("CLIENT KILL TYPE pubsub on every node: interrupted, the event in the gap is lost, subscribed again; the 'events' cache re-validates", async () => {
    const n = await nodes();
    const ev = evictions();
    const cache = new SessionCache(n.B, { validate: 'events', maxStaleMs: 600_000, onEvict: ev.onEvict });
    await cache.ready;
    const spy = feedSpy();
    const sub = await n.B.subscribe(spy.listener, { onStatus: spy.onStatus });
    const id = uid('kill');
    const s0 = await created(n.A, id);
    expect(await cache.get(id)).toEqual(s0);
    let killed = 0;
    for (const node of cluster.live()) killed += Number(await node.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    expect(killed).toBeGreaterThanOrEqual(3);
    expect(await n.A.terminate(id)).toMatchObject({ ok: true }); // its event is published into the gap
    expect(await waitFor(() => spy.count('interrupted') >= 1)).toBe(true);
    expect(await waitFor(() => spy.last() === 'subscribed', 10_000)).toBe(true);
    expect(await cache.get(id)).toBeNull();
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'terminated' }]);
    const next = await created(n.A, uid('next'));
    expect(await cache.get(next.id)).toEqual(next);
    expect(await n.A.patch(next.id, { set: { v: '1' } })).toMatchObject({ ok: true });
    expect(await waitFor(() => !cache.has(next.id))).toBe(true);
    await sub.unsubscribe();
    await cache.close();
  });

  it('events of other prefixes on the same channel are ignored', async () => {
    const n = await nodes();
    const spy = feedSpy();
    const sub = await n.B.subscribe(spy.listener);
    const id = uid('ns');
    const pub = cluster.client(5);
    await publishEvent(pub, n.channel, eventMessage('terminated', 9, id, uniquePrefix('other')));
    await n.publish('updated', 10, id);
    expect(await waitFor(() => spy.events.length > 0)).toBe(true);
    await sleep(20);
    expect(spy.events).toEqual([{ kind: 'updated', id, generation: 10 }]);
    await sub.unsubscribe();
  });

  it('a slot migrating to another primary: interrupted, then subscribed on the new owner; its events arrive from there', async () => {
    const n = await nodes();
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
    const updated = await n.A.patch(id, { set: { v: '1' } }); // node-redis follows MOVED to the new owner
    if (!updated.ok) throw new Error('patch');
    expect(await waitFor(() => ev.list.length === 1)).toBe(true);
    expect(ev.list).toEqual([{ id, generation: s0.generation, reason: 'stale' }]);
    expect((await clientsNamed(`${n.name}:events`)).find((c) => c.port === to.port)).toBeDefined();
    await sub.unsubscribe();
    await cache.close();
  });

  it('failover of a primary (CLUSTER FAILOVER on its replica): interrupted, then subscribed on the promoted replica', async () => {
    const n = await nodes();
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
    // node-redis may still send the write to the demoted node first (READONLY, which it does not follow).
    for (let attempt = 1; ; attempt++) {
      try {
        await created(n.A, id);
        break;
      } catch (err) {
        if (attempt >= 50 || !/READONLY/.test(String(err))) throw err;
        await sleep(100);
      }
    }
    await expectDeliveredOrReportedGap(spy, n.A, id, gapsBefore);
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
