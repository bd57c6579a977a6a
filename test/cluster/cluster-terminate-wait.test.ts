/**
 * terminateWait on a standalone primary with one replica: WAIT's count is
 * reported, and `durable` is never claimed by a WAIT that did not cover the
 * terminate (a replica that does not answer, a socket replaced by a reconnect,
 * a WAIT that fails after the terminate applied).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { waitForReplicaOffset } from '../../harness/cluster.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import type { Redis } from 'ioredis';

let primary: RedisServer;
let replica: RedisServer;
let admin: Redis;
let replicaAdmin: Redis;
beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  admin = createClient(5, primary.url) as Redis;
  replicaAdmin = createClient(5, replica.url) as Redis;
  await waitForReplicaOffset(admin, replicaAdmin, 20_000);
});
afterAll(async () => {
  admin?.disconnect();
  replicaAdmin?.disconnect();
  await replica?.kill();
  await primary?.kill();
});

/** Runs `fn` with the replica process frozen (it cannot acknowledge anything). */
async function withReplicaFrozen<T>(fn: () => Promise<T>): Promise<T> {
  const pid = replica.pid()!;
  process.kill(pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe('terminateWait (standalone primary + replica)', () => {
  const store = (major: 5 | 6, timeoutMs = 2_000) =>
    new RedisSessionStore(createClient(major, primary.url), {
      prefix: uniquePrefix('tw'),
      terminateWait: { replicas: 1, timeoutMs },
    });

  it.each([5, 6] as const)('reports the replica that acknowledged (ioredis %i)', async (major) => {
    const s = store(major);
    expect((await s.create('a')).ok).toBe(true);
    expect(await s.terminate('a')).toMatchObject({
      ok: true,
      replication: { acknowledged: 1, requested: 1, durable: true },
    });
    // Asking for more replicas than exist: applied, not durable.
    const greedy = new RedisSessionStore(s.client, {
      prefix: s.prefix,
      terminateWait: { replicas: 2, timeoutMs: 200 },
    });
    expect((await greedy.create('b')).ok).toBe(true);
    expect(await greedy.terminate('b')).toMatchObject({
      ok: true,
      replication: { acknowledged: 1, requested: 2, durable: false },
    });
    s.client.disconnect();
  });

  it('reports not durable when the replica does not acknowledge in time', async () => {
    const s = store(5, 300);
    expect((await s.create('a')).ok).toBe(true);
    const r = await withReplicaFrozen(() => s.terminate('a'));
    expect(r).toMatchObject({ ok: true, replication: { acknowledged: 0, requested: 1, durable: false } });
    s.client.disconnect();
  });

  it('reports not durable when WAIT ran on a new socket after a reconnect (its count says nothing of the terminate)', async () => {
    const s = store(5, 10_000);
    expect((await s.create('a')).ok).toBe(true);
    const storeConnId = await (s.client as Redis).client('ID');
    let pending: Promise<unknown> | undefined;
    await withReplicaFrozen(async () => {
      pending = s.terminate('a');
      await sleep(300); // the terminate is applied; its WAIT blocks: the replica cannot acknowledge
      expect(await admin.client('KILL', 'ID', String(storeConnId))).toBe(1);
      await sleep(100);
    });
    const result = await pending;
    // ioredis re-sent WAIT on its new socket, where it counted the replica as
    // soon as it answered; that socket wrote nothing, so the count must not count.
    expect(result).toMatchObject({ ok: true, replication: { acknowledged: 0, durable: false } });
    expect(await s.peek('a')).toBeNull();
    s.client.disconnect();
  });

  it('reports the applied terminate as not durable, with the WAIT error, when WAIT fails', async () => {
    const s = store(5);
    expect((await s.create('a')).ok).toBe(true);
    // An ACL user that may run the scripts but not WAIT.
    await admin.call('ACL', 'SETUSER', 'nowait', 'on', 'nopass', '~*', '&*', '+@all', '-wait');
    const limited = createClient(5, primary.url, { username: 'nowait', password: 'x' });
    const ls = new RedisSessionStore(limited, { prefix: s.prefix, terminateWait: { replicas: 1, timeoutMs: 1000 } });
    const result = await ls.terminate('a');
    expect(result).toMatchObject({ ok: true, replication: { acknowledged: 0, requested: 1, durable: false } });
    const error = (result as { replication: { error?: { code?: string } } }).replication.error;
    expect(error?.code).toBe('NOPERM');
    expect(await s.create('a')).toEqual({ ok: false, reason: 'terminated' }); // it did apply
    limited.disconnect();
    s.client.disconnect();
  });
});
