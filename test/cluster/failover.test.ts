/**
 * Failover on a real cluster.
 *
 * 1. terminateWait on a Cluster client runs WAIT on the primary that owns the
 *    session's slot (ioredis keyPrefix included), not on a random node.
 * 2. A manual CLUSTER FAILOVER under load: operations resume on the promoted
 *    replica with bounded errors, scripts are loaded there again, and the
 *    history holds with every acknowledged operation counted (a manual
 *    failover waits for the replica to catch up, so it loses nothing).
 * 3. The one loss asynchronous replication allows: a terminate acknowledged by
 *    a primary that dies before replicating it comes back to life on the
 *    promoted replica. terminateWait reports that terminate as not durable;
 *    a terminate it reported durable survives.
 * 4. The same loss for an update: the promoted replica never saw it, and the
 *    next writer's generation is still new (max(previous + 1, clock)), so a
 *    cache that held the lost write sees a different generation and refetches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, SessionCache, keySlot } from '../../src/index.js';
import { type RedisCluster, info, startRedisCluster, waitForReplicaOffset, waitUntil } from '../../harness/cluster.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { libraryLoaded } from '../infra/server-faults.js';
import { History, checkHistory, runWorkload } from './cluster-history.js';
import { commandCount, idsInSlot, resetStats } from './slot-helpers.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const WAIT = { replicas: 1, timeoutMs: 2_000 };

describe('terminateWait on a Cluster client', () => {
  it('runs WAIT on the primary that owns the session slot, and reports the replica', async () => {
    const store = new RedisSessionStore(cluster.client(5), { prefix: uniquePrefix('wait'), terminateWait: WAIT });
    for (const slot of [100, 6000, 11000]) {
      const [id] = idsInSlot(slot, 1, 'wait') as [string];
      expect((await store.create(id)).ok).toBe(true);
      const owner = await cluster.ownerOf(slot);
      await resetStats(cluster.nodes);
      const r = await store.terminate(id);
      expect(r).toMatchObject({ ok: true, replication: { acknowledged: 1, requested: 1, durable: true } });
      expect(await commandCount([owner], 'wait')).toBe(1);
      expect(await commandCount(cluster.nodes, 'wait')).toBe(1);
    }
  });

  it('includes the ioredis keyPrefix in the slot (a prefix with a hash tag moves every session)', async () => {
    const store = new RedisSessionStore(cluster.client(5, { keyPrefix: '{tenant7}:' }), {
      prefix: uniquePrefix('wait'),
      terminateWait: WAIT,
    });
    const tagSlot = keySlot('tenant7');
    const id = 'x'; // its own tag would pick another slot
    expect(keySlot(store.keyFor(id))).not.toBe(tagSlot);
    expect(await cluster.keySlot(`{tenant7}:${store.keyFor(id)}`)).toBe(tagSlot);
    expect((await store.create(id)).ok).toBe(true);
    const owner = await cluster.ownerOf(tagSlot);
    await resetStats(cluster.nodes);
    expect(await store.terminate(id)).toMatchObject({ ok: true, replication: { durable: true } });
    expect(await commandCount([owner], 'wait')).toBe(1);
  });
});

describe('CLUSTER FAILOVER under load', () => {
  it('resumes on the promoted replica with bounded errors, reloads scripts there, and the history holds', async () => {
    const slot = 100;
    const oldPrimary = await cluster.ownerOf(slot);
    const replica = (await cluster.replicaOf(oldPrimary))!;
    expect(replica).toBeDefined();
    // FUNCTION LOAD replicates: the replica has the library before it is promoted.
    await new RedisSessionStore(cluster.client(5), {}).loadLibrary();
    await waitUntil('the library to reach the replica', () => libraryLoaded(replica.admin), 5_000);

    const ids = [...idsInSlot(slot, 6, 'fo'), ...idsInSlot(6000, 3, 'fo'), ...idsInSlot(11000, 3, 'fo')];
    const options = { prefix: uniquePrefix('failover'), ttlMs: 120_000, tombstoneTtlMs: 300 };
    const stores = [
      new RedisSessionStore(cluster.client(5), options),
      new RedisSessionStore(cluster.client(6), options),
    ];
    const history = new History();
    let stop = false;
    const load = runWorkload({ stores, ids, workersPerStore: 6, running: () => !stop, history });

    await sleep(1_500);
    await replica.admin.call('CLUSTER', 'FAILOVER');
    await waitUntil('the replica to be promoted', async () => (await replica.role()) === 'master', 20_000);
    const promotedAt = performance.now();
    await sleep(1_500);
    stop = true;
    await load;

    const violations = checkHistory(history);
    const errors = history.errors();
    const slotIds = new Set(ids.slice(0, 6));
    const resumed = history.ops.filter(
      (o) => slotIds.has(o.id) && o.kind === 'update' && o.status === 'ok' && o.start > promotedAt,
    );
    console.info(
      `[failover] ${history.ops.length} ops, ${history.count('update', 'ok')} updates acknowledged, ` +
        `${resumed.length} on the failed-over slot after promotion, ${errors.length} errors: ${errors.map((e) => e.reason).join(',')}`,
    );
    expect(violations).toEqual([]);
    expect(errors.length).toBeLessThanOrEqual(10);
    expect(resumed.length).toBeGreaterThan(10);
    expect(await libraryLoaded(replica.admin)).toBe(true);
    expect(await oldPrimary.role()).toBe('slave');
  });
});

type Node = Awaited<ReturnType<RedisCluster['ownerOf']>>;

/**
 * The loss asynchronous replication allows: cut the replica off (frozen, its
 * link dropped on the primary side), run `write` on the primary alone, kill
 * the primary before the replica hears of it, and let the replica take over.
 */
async function loseToFailover(primary: Node, replica: Node, write: () => Promise<void>): Promise<void> {
  const replicaPid = replica.pid()!;
  process.kill(replicaPid, 'SIGSTOP');
  try {
    expect(await primary.admin.call('CLIENT', 'KILL', 'TYPE', 'replica')).toBe(1);
    expect((await info(primary.admin, 'replication')).connected_slaves).toBe('0');
    await write();
    await primary.kill();
  } finally {
    process.kill(replicaPid, 'SIGCONT');
  }
  await replica.admin.call('CLUSTER', 'FAILOVER', 'TAKEOVER');
  await waitUntil('the replica to take over', async () => (await replica.role()) === 'master', 20_000);
  await cluster.waitForOk({ replicas: false });
}

describe('the loss asynchronous replication allows', () => {
  it('a terminate acknowledged but not replicated comes back after TAKEOVER; terminateWait said it was not durable', async () => {
    await cluster.waitForOk();
    const slot = 11000;
    const primary = await cluster.ownerOf(slot);
    const replica = (await cluster.replicaOf(primary))!;
    const client = cluster.client(5);
    const store = new RedisSessionStore(client, {
      prefix: uniquePrefix('loss'),
      ttlMs: 120_000,
      terminateWait: { replicas: 1, timeoutMs: 500 },
    });
    const [lost, kept] = idsInSlot(slot, 2, 'loss') as [string, string];
    const created = await store.create(lost, { user: 'ada' });
    if (!created.ok) throw new Error('setup create failed');
    expect((await store.create(kept)).ok).toBe(true);

    // A terminate while replication works: durable, and it will survive.
    expect(await store.terminate(kept)).toMatchObject({ ok: true, replication: { acknowledged: 1, durable: true } });
    await waitForReplicaOffset(primary.admin, replica.admin);

    await loseToFailover(primary, replica, async () => {
      const t = await store.terminate(lost);
      expect(t).toEqual({
        ok: true,
        generation: created.session.generation,
        replication: { acknowledged: 0, requested: 1, durable: false },
      });
      expect(await store.peek(lost)).toBeNull(); // applied on the primary, which dies before the replica hears of it
    });

    // The session is back on the promoted replica, at its last generation.
    let back: unknown;
    await waitUntil('the client to read from the new primary', async () => {
      back = await store.peek(lost).catch(() => 'error');
      return back !== 'error';
    });
    expect(back).toEqual(created.session);
    // The terminate reported durable survived.
    expect(await store.peek(kept)).toBeNull();
    expect(await store.create(kept)).toEqual({ ok: false, reason: 'terminated' });

    // The old primary restarts (same port, same nodes.conf, empty data) and rejoins as a replica.
    await primary.start();
    await waitUntil(
      'the restarted node to follow the new primary',
      async () => (await primary.role()) === 'slave',
      30_000,
    );
    await cluster.waitForOk();
    expect(await store.peek(lost)).toEqual(created.session);
  });

  it('an update lost in a failover: the next write gets a generation never used, and a cache that held the lost one refetches', async () => {
    await cluster.waitForOk();
    const slot = 5000;
    const primary = await cluster.ownerOf(slot);
    const replica = (await cluster.replicaOf(primary))!;
    const options = { prefix: uniquePrefix('lostgen'), ttlMs: 120_000 };
    const writer = new RedisSessionStore(cluster.client(5), options);
    const reader = new RedisSessionStore(cluster.client(6), options);
    const cache = new SessionCache(reader, { validate: 'always' });
    const [id] = idsInSlot(slot, 1, 'lostgen') as [string];
    const created = await writer.create(id, { v: 'replicated' });
    if (!created.ok) throw new Error('setup create failed');
    await waitForReplicaOffset(primary.admin, replica.admin);

    let lost = created.session;
    await loseToFailover(primary, replica, async () => {
      const u = await writer.update(id, created.session.generation, { v: 'lost' });
      if (!u.ok) throw new Error('update failed');
      lost = u.session;
      expect((await cache.get(id))?.metadata).toEqual({ v: 'lost' }); // the cache on another node holds the lost write
    });
    let back: unknown;
    await waitUntil('the clients to read from the new primary', async () => {
      back = await writer.peek(id).catch(() => 'error');
      return (
        back !== 'error' &&
        (await reader.peek(id).then(
          () => true,
          () => false,
        ))
      );
    });
    expect(back).toEqual(created.session); // the update is gone

    // The next writer starts from the generation the promoted replica has, as the lost update did.
    const next = await writer.update(id, created.session.generation, { v: 'after failover' });
    if (!next.ok) throw new Error(`update after failover: ${JSON.stringify(next)}`);
    expect(next.session.generation).not.toBe(lost.generation);
    expect(next.session.generation).toBeGreaterThan(lost.generation);
    // 'always' compares generations: the held copy is not current, so the cache refetches.
    expect(await cache.get(id)).toEqual(next.session);
    await cache.close();

    await primary.start();
    await waitUntil(
      'the restarted node to follow the new primary',
      async () => (await primary.role()) === 'slave',
      30_000,
    );
    await cluster.waitForOk();
  });
});
