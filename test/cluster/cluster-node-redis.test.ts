/**
 * Replication and Cluster routing on node-redis:
 * - terminateWait on a standalone primary with a replica: WAIT's count is
 *   reported; a frozen replica, a connection killed during WAIT (node-redis
 *   rejects the WAIT and does not send it again), or a WAIT refused by ACL
 *   is `durable: false`, never a thrown error (the terminate applied);
 * - on a node-redis Cluster, WAIT runs on the primary that owns the session's
 *   slot, with the node-redis `keyPrefix` in the slot;
 * - CLUSTER FAILOVER under load: operations resume on the promoted replica
 *   with bounded errors (the same bound as on ioredis) and the history holds;
 * - resharding under load: slots move while two node-redis Cluster clients
 *   (RESP3, RESP2) create, update and terminate; the history holds and every
 *   redirection is followed;
 * - a slot held half-migrated: node-redis follows ASK, and "Function not
 *   found" on the importing node loads the library there; with
 *   `maxCommandRedirections: 0` the store throws typed faults.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, isOutcomeUnknown, isRedisFault, keySlot } from '../../src/index.js';
import {
  type ClusterNode,
  type RedisCluster,
  startRedisCluster,
  waitForReplicaOffset,
  waitUntil,
} from '../../harness/cluster.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { libraryLoaded } from '../infra/server-faults.js';
import {
  type NodeRedis,
  type NodeRedisOptions,
  nodeRedisClient,
  nodeRedisCluster,
} from '../infra/node-redis-clients.js';
import { History, checkHistory, runWorkload } from './cluster-history.js';
import { commandCount, errorCount, idsInSlot, resetStats } from './slot-helpers.js';

const opened: NodeRedis[] = [];
afterAll(() => {
  for (const c of opened) c.close();
});
async function ready(c: NodeRedis): Promise<NodeRedis> {
  opened.push(c);
  await c.ready();
  return c;
}

describe('terminateWait on node-redis (standalone primary + replica)', () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    primary = await startRedisServer();
    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    admin = createClient(5, primary.url) as Redis;
    const replicaAdmin = createClient(5, replica.url) as Redis;
    await waitForReplicaOffset(admin, replicaAdmin, 20_000);
    replicaAdmin.disconnect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await replica?.kill();
    await primary?.kill();
  });
  const withReplicaFrozen = async <T>(fn: () => Promise<T>): Promise<T> => {
    process.kill(replica.pid()!, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(replica.pid()!, 'SIGCONT');
    }
  };
  const store = async (timeoutMs = 2_000, o: NodeRedisOptions = {}, url = primary.url) =>
    new RedisSessionStore((await ready(nodeRedisClient(url, o))).client, {
      prefix: uniquePrefix('nr-tw'),
      terminateWait: { replicas: 1, timeoutMs },
    });

  it.each([3, 2] as const)(
    'RESP%i: reports the replica that acknowledged; more replicas than exist: not durable',
    async (RESP) => {
      const s = await store(2_000, { RESP });
      expect((await s.create('a')).ok).toBe(true);
      expect(await s.terminate('a')).toMatchObject({
        ok: true,
        replication: { acknowledged: 1, requested: 1, durable: true },
      });
      expect((await s.create('b')).ok).toBe(true);
      expect(await s.terminate('b', { wait: { replicas: 2, timeoutMs: 200 } })).toMatchObject({
        ok: true,
        replication: { acknowledged: 1, requested: 2, durable: false },
      });
    },
  );

  it('reports not durable when the replica does not acknowledge in time', async () => {
    const s = await store(300);
    expect((await s.create('a')).ok).toBe(true);
    const r = await withReplicaFrozen(() => s.terminate('a'));
    expect(r).toMatchObject({ ok: true, replication: { acknowledged: 0, requested: 1, durable: false } });
  });

  it('the connection killed during WAIT: node-redis rejects the WAIT (no re-send); the terminate is applied, not durable', async () => {
    const s = await store(10_000, { options: { name: 'nr-tw-kill', socket: { reconnectStrategy: () => 50 } } });
    expect((await s.create('a')).ok).toBe(true);
    let pending: Promise<unknown> | undefined;
    await withReplicaFrozen(async () => {
      pending = s.terminate('a');
      await sleep(300); // applied; its WAIT blocks
      expect(Number(await admin.call('CLIENT', 'KILL', 'SKIPME', 'yes', 'TYPE', 'normal'))).toBeGreaterThanOrEqual(1);
      await sleep(100);
    });
    const result = (await pending) as { replication: { error?: { code?: string } } };
    expect(result).toMatchObject({ ok: true, replication: { acknowledged: 0, requested: 1, durable: false } });
    expect(result.replication.error?.code).toBe('CONNECTION');
    expect(await s.peek('a')).toBeNull();
  });

  it('a WAIT refused by ACL: applied, not durable, the NOPERM in replication.error', async () => {
    await admin.call('ACL', 'SETUSER', 'nr-nowait', 'on', '>pw', '~*', '&*', '+@all', '-wait');
    const s = await store(1_000, {}, `redis://nr-nowait:pw@127.0.0.1:${primary.port}`);
    expect((await s.create('a')).ok).toBe(true);
    const result = (await s.terminate('a')) as { replication: { error?: { code?: string } } };
    expect(result).toMatchObject({ ok: true, replication: { acknowledged: 0, requested: 1, durable: false } });
    expect(result.replication.error?.code).toBe('NOPERM');
    expect(await s.create('a')).toEqual({ ok: false, reason: 'terminated' });
  });
});

describe('node-redis Cluster: WAIT routing and half-migrated slots', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const WAIT = { replicas: 1, timeoutMs: 2_000 };
  const clusterClient = async (o: Parameters<typeof nodeRedisCluster>[1] = {}) =>
    (await ready(nodeRedisCluster(cluster.startupNodes, o))).client;

  it('terminateWait runs WAIT on the primary that owns the session slot, and reports the replica', async () => {
    const store = new RedisSessionStore(await clusterClient(), {
      prefix: uniquePrefix('nr-wait'),
      terminateWait: WAIT,
    });
    for (const slot of [100, 6000, 11000]) {
      const [id] = idsInSlot(slot, 1, 'nrwait') as [string];
      expect((await store.create(id)).ok).toBe(true);
      const owner = await cluster.ownerOf(slot);
      await resetStats(cluster.nodes);
      expect(await store.terminate(id)).toMatchObject({
        ok: true,
        replication: { acknowledged: 1, requested: 1, durable: true },
      });
      expect(await commandCount([owner], 'wait')).toBe(1);
      expect(await commandCount(cluster.nodes, 'wait')).toBe(1);
    }
  });

  it('includes the node-redis keyPrefix in the slot (a prefix with a hash tag moves every session)', async () => {
    const store = new RedisSessionStore(await clusterClient({ keyPrefix: '{tenant7}:' }), {
      prefix: uniquePrefix('nr-wait'),
      terminateWait: WAIT,
    });
    const tagSlot = keySlot('tenant7');
    const id = 'x';
    expect(keySlot(store.keyFor(id))).not.toBe(tagSlot);
    expect((await store.create(id)).ok).toBe(true);
    const owner = await cluster.ownerOf(tagSlot);
    expect(await owner.admin.exists(`{tenant7}:${store.keyFor(id)}`)).toBe(1);
    await resetStats(cluster.nodes);
    expect(await store.terminate(id)).toMatchObject({ ok: true, replication: { durable: true } });
    expect(await commandCount([owner], 'wait')).toBe(1);
  });

  it('CLUSTER FAILOVER under load: resumes on the promoted replica with bounded errors, and the history holds', async () => {
    const slot = 100;
    const oldPrimary = await cluster.ownerOf(slot);
    const replica = (await cluster.replicaOf(oldPrimary))!;
    expect(replica).toBeDefined();
    const options = { prefix: uniquePrefix('nr-failover'), ttlMs: 120_000, tombstoneTtlMs: 300 };
    const stores = [
      new RedisSessionStore(await clusterClient(), options),
      new RedisSessionStore(await clusterClient({ RESP: 2 }), options),
    ];
    await stores[0]!.loadLibrary();
    await waitUntil('the library to reach the replica', () => libraryLoaded(replica.admin), 5_000);
    const ids = [...idsInSlot(slot, 6, 'nrfo'), ...idsInSlot(6000, 3, 'nrfo'), ...idsInSlot(11000, 3, 'nrfo')];
    const history = new History();
    let stop = false;
    const load = runWorkload({ stores, ids, workersPerStore: 6, running: () => !stop, history });
    await sleep(1_000);
    await replica.admin.call('CLUSTER', 'FAILOVER');
    await waitUntil('the replica to be promoted', async () => (await replica.role()) === 'master', 20_000);
    const promotedAt = performance.now();
    await sleep(1_500);
    stop = true;
    await load;
    const errors = history.errors();
    const slotIds = new Set(ids.slice(0, 6));
    const resumed = history.ops.filter(
      (o) => slotIds.has(o.id) && o.kind === 'update' && o.status === 'ok' && o.start > promotedAt,
    );
    console.info(
      `[failover node-redis] ${history.ops.length} ops, ${resumed.length} updates on the failed-over slot after ` +
        `promotion, ${errors.length} errors: ${[...new Set(errors.map((e) => e.reason))].join(',')}`,
    );
    expect(checkHistory(history)).toEqual([]);
    expect(errors.length).toBeLessThanOrEqual(10);
    expect(resumed.length).toBeGreaterThan(10);
    expect(await oldPrimary.role()).toBe('slave');
    await cluster.waitForOk();
  });

  it('resharding under load: no resurrection, no lost acknowledged update, every redirection followed', async () => {
    await resetStats(cluster.nodes);
    const slots = [200, 6100, 11100, 15100];
    const ids = slots.flatMap((slot) => idsInSlot(slot, 4, `nrrs${slot}`));
    const options = { prefix: uniquePrefix('nr-reshard'), ttlMs: 120_000, tombstoneTtlMs: 300 };
    const stores = [
      new RedisSessionStore(await clusterClient(), options),
      new RedisSessionStore(await clusterClient({ RESP: 2 }), options),
    ];
    const history = new History();
    const deadline = Date.now() + 3_000;
    const running = () => Date.now() < deadline;
    let moves = 0;
    const resharder = (async () => {
      const primaries = await cluster.primaries();
      for (let round = 0; round < 1000 && running(); round++) {
        for (const slot of slots) {
          if (!running()) break;
          const owner = await cluster.ownerOf(slot);
          const to = primaries[(primaries.findIndex((p) => p.id === owner.id) + 1) % primaries.length]!;
          await cluster.moveSlot(slot, to, { batch: 1, pauseMs: 20 });
          moves++;
        }
      }
    })();
    await Promise.all([runWorkload({ stores, ids, workersPerStore: 8, running, history }), resharder]);
    await cluster.waitForOk({ replicas: false });
    expect(checkHistory(history)).toEqual([]);
    expect(history.errors().map((o) => `${o.kind}:${o.reason}`)).toEqual([]);
    expect(moves).toBeGreaterThanOrEqual(slots.length);
    expect(await errorCount(cluster.nodes, 'MOVED')).toBeGreaterThan(0);
    expect(await errorCount(cluster.nodes, 'ASK')).toBeGreaterThan(0);
    expect(history.count('update', 'ok')).toBeGreaterThan(100);
    expect(history.count('create', 'ok')).toBeGreaterThan(5);
  });

  describe('a slot held half-migrated', () => {
    const slot = 7000;
    let source: ClusterNode;
    let target: ClusterNode;
    const startMigration = async () => {
      source = await cluster.ownerOf(slot);
      target = (await cluster.primaries()).find((p) => p.id !== source.id)!;
      await target.admin.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await source.admin.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    };
    const migrateKeys = (keys: string[]) =>
      source.admin.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
    const finishMigration = async () => {
      const rest = (await source.admin.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
      if (rest.length > 0) await migrateKeys(rest);
      await target.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await source.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await cluster.waitForOk({ replicas: false });
    };

    it('functions follow ASK to the importing node; "Function not found" there loads the library', async () => {
      const [moved, stays, fresh] = idsInSlot(slot, 3, 'nrhalf') as [string, string, string];
      const store = new RedisSessionStore(await clusterClient(), { prefix: uniquePrefix('nr-half'), ttlMs: 120_000 });
      const a = await store.create(moved, { v: '1' });
      const b = await store.create(stays, { v: '1' });
      if (!a.ok || !b.ok) throw new Error('setup create failed');
      await startMigration();
      await migrateKeys([store.keyFor(moved)]);
      await target.admin.call('FUNCTION', 'FLUSH');
      await resetStats(cluster.nodes);
      const u = await store.update(moved, a.session.generation, { v: '2' });
      expect(u).toMatchObject({ ok: true, session: { metadata: { v: '2' } } });
      expect(await store.update(stays, b.session.generation, { v: '2' })).toMatchObject({ ok: true });
      expect((await store.create(fresh, { v: '1' })).ok).toBe(true);
      expect((await store.peek(moved))?.metadata).toEqual({ v: '2' });
      expect((await store.terminate(stays)).ok).toBe(true);
      expect(await store.create(stays)).toEqual({ ok: false, reason: 'terminated' });
      expect(await errorCount([source], 'ASK')).toBeGreaterThan(0);
      expect(await commandCount([target], 'asking')).toBeGreaterThan(0);
      expect(await errorCount([target], 'ERR')).toBeGreaterThan(0); // "ERR Function not found"
      await finishMigration();
      expect((await store.terminate(moved)).ok).toBe(true);
      expect(await store.peek(moved)).toBeNull();
    });

    it('with maxCommandRedirections 0 the store throws typed faults and nothing is applied', async () => {
      const [id] = idsInSlot(slot + 1, 1, 'nrgiveup') as [string];
      const prefix = uniquePrefix('nr-giveup');
      const store = new RedisSessionStore(await clusterClient(), { prefix, ttlMs: 120_000 });
      const created = await store.create(id, { v: '1' });
      if (!created.ok) throw new Error('setup create failed');
      source = await cluster.ownerOf(slot + 1);
      target = (await cluster.primaries()).find((p) => p.id !== source.id)!;
      await target.admin.call('CLUSTER', 'SETSLOT', slot + 1, 'IMPORTING', source.id);
      await source.admin.call('CLUSTER', 'SETSLOT', slot + 1, 'MIGRATING', target.id);
      await source.admin.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', store.keyFor(id));
      const impatient = new RedisSessionStore(await clusterClient({ cluster: { maxCommandRedirections: 0 } }), {
        prefix,
      });
      const write = await impatient.update(id, created.session.generation, { v: '2' }).catch((e: unknown) => e);
      // node-redis: MaxCommandRedirectionsError, as ioredis's "Too many Cluster redirections": a write cannot know.
      expect(isOutcomeUnknown(write)).toBe(true);
      const read = await impatient.peek(id).catch((e: unknown) => e);
      expect(isRedisFault(read) && read.code === 'CONNECTION' && read.outcome === 'not_applied').toBe(true);
      expect(await store.peek(id)).toEqual(created.session); // not applied
      await target.admin.call('CLUSTER', 'SETSLOT', slot + 1, 'NODE', target.id);
      await source.admin.call('CLUSTER', 'SETSLOT', slot + 1, 'NODE', target.id);
      await cluster.waitForOk({ replicas: false });
    });
  });
});
