/**
 * Issue #12 on a 3-primary Cluster with a replica each, two nodes on their own
 * Cluster clients:
 * - finding 4: node A's write applies, its reply is lost (a proxy in front of
 *   the slot's primary, through natMap), node B terminates or rewrites the
 *   session, ioredis re-sends A's write: it reports `terminated`, or the
 *   current record;
 * - the Tests section: subscriber connections killed on every node (CLIENT
 *   KILL TYPE pubsub) and a primary killed (SIGKILL, its replica takes over)
 *   during a load, checked with the linearizability checker for an `'events'`
 *   cache (never more than 1 s behind an acknowledged write; maxStaleMs is
 *   600 s) and an `'always'` cache (never behind). The load: ../cache/cache-history.ts.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeedStatus, RedisSessionStore, type Session, SessionCache, keySlot } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { expectHistoryHeld, runCacheLoad } from '../cache/cache-history.js';
import { uid } from '../cache/helpers.js';
import { scriptRuns, settled } from '../faults/fault-harness.js';
import { uniquePrefix } from '../infra/clients.js';
import { type FaultProxy, startProxy } from '../infra/proxy.js';
import { type RedisCluster, startRedisCluster, waitForReplicaOffset, waitUntil } from '../../harness/cluster.js';

let cluster: RedisCluster;
const extra: Array<{ disconnect(): void }> = [];
beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
});
afterAll(async () => {
  for (const c of extra) c.disconnect();
  await cluster?.stop();
});

describe('Cluster, finding 4: a re-sent write that another node overtook', () => {
  it('patch then terminate by B: terminated; patch then update by B: the current record', async () => {
    const proxies = new Map<number, FaultProxy>();
    for (const node of cluster.nodes) proxies.set(node.port, await startProxy({ port: node.port }));
    try {
      const natMap = Object.fromEntries(
        [...proxies].map(([port, p]) => [`127.0.0.1:${port}`, { host: '127.0.0.1', port: p.port }]),
      );
      const viaProxies = new Cluster(
        [...proxies.values()].map((p) => ({ host: '127.0.0.1', port: p.port })),
        { natMap, redisOptions: { maxRetriesPerRequest: 5 } },
      );
      viaProxies.on('error', () => undefined);
      extra.push(viaProxies);
      const prefix = uniquePrefix('cover');
      const A = new RedisSessionStore(viaProxies as unknown as Client, { prefix });
      const B = new RedisSessionStore(cluster.client(5), { prefix });

      /** A's `write` with the reply dropped by the slot owner's proxy; `between` runs on B before the re-send. */
      const lostReply = async <T>(id: string, write: () => Promise<T>, between: () => Promise<void>) => {
        const owner = await cluster.ownerOf(keySlot(A.keyFor(id)));
        const proxy = proxies.get(owner.port)!;
        expect(await A.exists(id)).toBe(true); // A's connection to that primary is up, the library loaded
        const runs = await scriptRuns(owner.admin);
        const dropped = proxy.stats.replyBytesDropped;
        proxy.setMode('drop-reply');
        const call = write();
        await proxy.waitFor((s) => s.replyBytesDropped > dropped);
        expect(await scriptRuns(owner.admin)).toBe(runs + 1); // applied on the primary
        await between();
        proxy.setMode('pass');
        proxy.resetConnections();
        const r = await settled(call);
        if ('error' in r) throw r.error as Error;
        expect(await scriptRuns(owner.admin)).toBeGreaterThanOrEqual(runs + 3); // B's write, then A's re-send
        return r.value;
      };
      const created = async (id: string): Promise<Session> => {
        const r = await B.create(id, { n: '0' });
        if (!r.ok) throw new Error(`create ${id}`);
        return r.session;
      };

      const x = uid('x');
      await created(x);
      const terminated = await lostReply(
        x,
        () => A.patch(x, { set: { n: 'A' } }),
        async () => {
          expect(await B.terminate(x)).toMatchObject({ ok: true });
        },
      );
      expect(terminated).toEqual({ ok: false, reason: 'terminated' });
      expect(await B.peek(x)).toBeNull();

      const y = uid('y');
      await created(y);
      let byB: Session | undefined;
      const current = await lostReply(
        y,
        () => A.patch(y, { set: { n: 'A' } }),
        async () => {
          const cur = await B.peek(y);
          expect(cur?.metadata).toEqual({ n: 'A' });
          const u = await B.update(y, cur!.generation, { b: 'B' });
          if (!u.ok) throw new Error('B update');
          byB = u.session;
        },
      );
      expect(current).toEqual({ ok: true, session: byB });
      expect(await B.peek(y)).toEqual(byB);
    } finally {
      for (const p of proxies.values()) await p.close();
    }
  });
});

describe('Cluster: pubsub kills and a primary kill during a load', () => {
  it("the 'events' cache is never more than 1 s behind an acknowledged write, the 'always' cache never behind", async () => {
    await cluster.waitForOk();
    const prefix = uniquePrefix('cchist');
    const options = { prefix, eventsChannel: `${prefix}events` };
    // Clients that ride out the failover: a command on the lost primary waits for the new slot map.
    const clientOptions = { redisOptions: { maxRetriesPerRequest: 20 }, retryDelayOnFailover: 100 };
    const A = new RedisSessionStore(cluster.client(5, clientOptions), options);
    const B = new RedisSessionStore(cluster.client(6, clientOptions), options);
    const C = new RedisSessionStore(cluster.client(5, clientOptions), options);
    const statuses: FeedStatus[] = [];
    const events = new SessionCache(B, { validate: 'events', maxStaleMs: 600_000 });
    const always = new SessionCache(C, { validate: 'always' });
    await events.ready;
    const sub = await B.subscribe(() => undefined, { onStatus: (s) => statuses.push(s) });
    const victim = await cluster.ownerOf(5000);
    const replica = (await cluster.replicaOf(victim))!;
    const r = await runCacheLoad({
      writer: A,
      events,
      always,
      ids: Array.from({ length: 300 }, (_, i) => uid(`h${i}`)),
      killPubsub: async () => {
        let killed = 0;
        for (const n of cluster.live()) killed += Number(await n.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
        return killed;
      },
      killPrimary: async (quiesce) => {
        await quiesce();
        await waitForReplicaOffset(victim.admin, replica.admin); // nothing acknowledged is lost
        await victim.kill();
        await replica.admin.call('CLUSTER', 'FAILOVER', 'TAKEOVER');
        await waitUntil('the replica to take over', async () => (await replica.role()) === 'master', 20_000);
      },
      primaryAtMs: 1_500,
      durationMs: 4_000,
      killEveryMs: 500,
      writeGapMs: 12,
      boundMs: 1_000,
      maxGets: 15_000,
    });
    expectHistoryHeld('[cluster cache history]', r, statuses);
    await sub.unsubscribe();
    await events.close();
    await always.close();
  });
});
