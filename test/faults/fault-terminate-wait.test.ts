/**
 * terminateWait: WAIT after a terminate, reporting how many replicas
 * acknowledged the tombstone, against a real replica. When WAIT itself fails
 * the terminate is still applied: the result says so (ok, durable false,
 * the WAIT error attached) instead of throwing as if it might not be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type TerminateResult, isRedisFault } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, createAclUser, startReplica } from '../infra/server-faults.js';

let primary: RedisServer;
let replica: RedisServer;
const clients: Client[] = [];
const prefix = uniquePrefix('wait');

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startReplica(primary);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await replica?.kill();
  await primary?.kill();
});

function store(url: string, terminateWait: { replicas: number; timeoutMs: number }): RedisSessionStore {
  const c = createClient(5, url);
  clients.push(c);
  return new RedisSessionStore(c, { prefix, terminateWait });
}

async function createAndTerminate(
  s: RedisSessionStore,
  id: string,
): Promise<{ generation: number; result: TerminateResult }> {
  const created = await s.create(id, { a: '1' });
  if (!created.ok) throw new Error(JSON.stringify(created));
  return { generation: created.session.generation, result: await s.terminate(id) };
}

describe('terminateWait', () => {
  it('terminateWait: a real replica acknowledges the tombstone', async () => {
    const s = store(primary.url, { replicas: 1, timeoutMs: 5_000 });
    const { generation, result } = await createAndTerminate(s, 'acked');
    expect(result).toEqual({ ok: true, generation, replication: { acknowledged: 1, requested: 1, durable: true } });
    // The tombstone is on the replica already.
    const onReplica = await adminClient(replica.url);
    try {
      expect(await onReplica.hget(s.keyFor('acked'), 't')).toBe('1');
    } finally {
      onReplica.disconnect();
    }
  });

  it('terminateWait: asking for more replicas than exist reports how many acknowledged, durable false', async () => {
    const s = store(primary.url, { replicas: 2, timeoutMs: 200 });
    const { generation, result } = await createAndTerminate(s, 'short');
    expect(result).toEqual({ ok: true, generation, replication: { acknowledged: 1, requested: 2, durable: false } });
  });

  it('terminateWait: WAIT refused (ACL): the terminate is applied and reported, with the WAIT error attached', async () => {
    const url = await createAclUser(primary, 'nowait', ['~*', '&*', '+@all', '-wait']);
    const s = store(url, { replicas: 1, timeoutMs: 1_000 });
    const { generation, result } = await createAndTerminate(s, 'nowait');
    expect(result).toMatchObject({
      ok: true,
      generation,
      replication: { acknowledged: 0, requested: 1, durable: false },
    });
    const error = (result as { replication: { error?: unknown } }).replication.error;
    expect(isRedisFault(error)).toBe(true);
    expect((error as { code: string }).code).toBe('NOPERM');
    expect(await s.exists('nowait')).toBe(false);
    expect(await s.create('nowait')).toEqual({ ok: false, reason: 'terminated' });
  });
});
