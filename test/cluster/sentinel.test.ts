/**
 * Sentinel: one primary, one replica, three sentinels, ioredis's `sentinels`
 * option. terminateWait works through a Sentinel client; a Sentinel failover
 * under load resumes on the promoted replica with bounded errors and scripts
 * loaded there again, and the history holds for every write that was
 * acknowledged and confirmed replicated (a Sentinel failover is not
 * coordinated with the old primary: writes it acknowledges after the
 * promotion are lost, and WAIT does not confirm them). Last, the same loss as
 * on the cluster: a terminate the primary acknowledged but never replicated
 * comes back after the failover, and terminateWait said it was not durable.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type SessionStore } from '../../src/index.js';
import {
  type RedisSentinel,
  info,
  startRedisSentinel,
  waitForReplicaOffset,
  waitUntil,
} from '../../harness/cluster.js';
import { sleep, uniquePrefix } from '../infra/clients.js';
import { libraryLoaded } from '../infra/server-faults.js';
import { History, type Op, checkHistory, runWorkload } from './cluster-history.js';

let sentinel: RedisSentinel;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
});
afterAll(async () => {
  await sentinel?.stop();
});

/**
 * Confirms an acknowledged write replicated: WAIT 1 on the same socket the
 * write's reply came on (checked right after the reply, before any I/O).
 */
async function confirmReplicated(store: SessionStore, _op: Op): Promise<boolean> {
  const client = (store as RedisSessionStore).client as Redis;
  const socket = client.stream;
  try {
    const n = await client.call('WAIT', 1, 300);
    return n === 1 && client.stream === socket;
  } catch {
    return false;
  }
}

describe('Sentinel', () => {
  it.each([5, 6] as const)(
    'terminateWait through a Sentinel client (ioredis %i) reports the replica',
    async (major) => {
      const store = new RedisSessionStore(sentinel.client(major), {
        prefix: uniquePrefix('sw'),
        terminateWait: { replicas: 1, timeoutMs: 2_000 },
      });
      expect((await store.create('a')).ok).toBe(true);
      expect(await store.terminate('a')).toMatchObject({
        ok: true,
        replication: { acknowledged: 1, requested: 1, durable: true },
      });
    },
  );

  it('SENTINEL FAILOVER under load: resumes on the promoted replica, reloads scripts, and replicated writes hold', async () => {
    const oldPrimary = await sentinel.primary();
    const replica = sentinel.servers.find((s) => s !== oldPrimary)!;
    // FUNCTION LOAD replicates: the replica has the library before it is promoted.
    await new RedisSessionStore(sentinel.client(5), {}).loadLibrary();
    await waitUntil('the library to reach the replica', () => libraryLoaded(sentinel.adminOf(replica)), 5_000);

    const options = { prefix: uniquePrefix('sfo'), ttlMs: 120_000, tombstoneTtlMs: 300 };
    const stores = [
      new RedisSessionStore(sentinel.client(5, { failoverDetector: true }), options),
      new RedisSessionStore(sentinel.client(6, { failoverDetector: true }), options),
    ];
    const ids = Array.from({ length: 10 }, (_, i) => `sfo-${i}`);
    const history = new History();
    let stop = false;
    const load = runWorkload({
      stores,
      ids,
      workersPerStore: 4,
      running: () => !stop,
      history,
      confirm: confirmReplicated,
    });

    await sleep(1_500);
    await sentinel.sentinelProcesses[0]!.admin.call('SENTINEL', 'FAILOVER', sentinel.name);
    await sentinel.waitForPrimary({ host: '127.0.0.1', port: replica.port }, 30_000);
    const switchedAt = performance.now();
    // Sentinel turns the old primary into a replica of the new one; until it has
    // synced, WAIT on the new primary confirms nothing.
    await waitUntil(
      'the old primary to follow the new one',
      async () => (await info(sentinel.adminOf(oldPrimary), 'replication')).role === 'slave',
      30_000,
    );
    await waitForReplicaOffset(sentinel.adminOf(replica), sentinel.adminOf(oldPrimary), 30_000);
    await sleep(1_500);
    stop = true;
    await load;

    const errors = history.errors();
    const resumed = history.ops.filter(
      (o) => o.kind === 'update' && o.status === 'ok' && o.durable !== false && o.start > switchedAt,
    );
    const unconfirmed = history.ops.filter((o) => o.status === 'ok' && o.durable === false && o.kind !== 'peek');
    console.info(
      `[sentinel failover] ${history.ops.length} ops, ${history.count('update', 'ok')} updates acknowledged, ` +
        `${unconfirmed.length} acknowledged writes not confirmed replicated, ${resumed.length} confirmed updates after the switch, ` +
        `${errors.length} errors: ${[...new Set(errors.map((e) => e.reason))].join(',')}`,
    );
    expect(checkHistory(history)).toEqual([]);
    expect(errors.length).toBeLessThanOrEqual(100);
    expect(resumed.length).toBeGreaterThan(10);
    expect(await libraryLoaded(sentinel.adminOf(replica))).toBe(true);
  });

  it('a terminate acknowledged but not replicated comes back after the failover; terminateWait said it was not durable', async () => {
    // Start from a settled deployment: no failover in progress, the replica in sync.
    await waitUntil(
      'the sentinels to finish any failover',
      async () => {
        const fields = (await sentinel.sentinelProcesses[0]!.admin.call(
          'SENTINEL',
          'MASTER',
          sentinel.name,
        )) as string[];
        return fields[fields.indexOf('flags') + 1] === 'master';
      },
      30_000,
    );
    const primary = await sentinel.primary();
    const replica = sentinel.servers.find((s) => s !== primary)!;
    await waitForReplicaOffset(sentinel.adminOf(primary), sentinel.adminOf(replica), 20_000);
    const store = new RedisSessionStore(sentinel.client(5), {
      prefix: uniquePrefix('sloss'),
      ttlMs: 120_000,
      terminateWait: { replicas: 1, timeoutMs: 500 },
    });
    const created = await store.create('lost', { user: 'ada' });
    if (!created.ok) throw new Error('setup create failed');
    expect((await store.create('kept')).ok).toBe(true);
    expect(await store.terminate('kept')).toMatchObject({ ok: true, replication: { durable: true } });
    await waitForReplicaOffset(sentinel.adminOf(primary), sentinel.adminOf(replica));

    const replicaPid = replica.pid()!;
    process.kill(replicaPid, 'SIGSTOP');
    try {
      expect(await sentinel.adminOf(primary).call('CLIENT', 'KILL', 'TYPE', 'replica')).toBe(1);
      const t = await store.terminate('lost');
      expect(t).toEqual({
        ok: true,
        generation: created.session.generation,
        replication: { acknowledged: 0, requested: 1, durable: false },
      });
      await primary.kill();
    } finally {
      process.kill(replicaPid, 'SIGCONT');
    }
    // The sentinels see the primary down and promote the replica.
    await sentinel.waitForPrimary({ host: '127.0.0.1', port: replica.port }, 40_000);
    let back: unknown;
    await waitUntil(
      'the client to read from the new primary',
      async () => {
        back = await store.peek('lost').catch(() => 'error');
        return back !== 'error';
      },
      30_000,
    );
    expect(back).toEqual(created.session);
    expect(await store.peek('kept')).toBeNull();
    expect(await store.create('kept')).toEqual({ ok: false, reason: 'terminated' });
  });
});
