/**
 * readonly: the client talks to a read-only replica (after a failover that
 * ioredis has not followed, or a misconfigured URL). Every write script is
 * refused before it runs: code READONLY, outcome not_applied. The read-only
 * scripts (peek, exists) carry `no-writes` and still answer from the replica.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, startReplica } from '../infra/server-faults.js';
import { WRITE_OPS, plan } from './fault-harness.js';
import { expectRefused } from './refused.js';

let primary: RedisServer;
let replica: RedisServer;
const clients: Client[] = [];
let onPrimary: RedisSessionStore;
let onReplica: RedisSessionStore;

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startReplica(primary);
  const prefix = uniquePrefix('readonly');
  const p = createClient(5, primary.url);
  const r = createClient(5, replica.url);
  clients.push(p, r);
  onPrimary = new RedisSessionStore(p, { prefix });
  onReplica = new RedisSessionStore(r, { prefix });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await replica?.kill();
  await primary?.kill();
});

/** Waits until the replica has everything the primary wrote so far. */
async function replicated(): Promise<void> {
  const a = await adminClient(primary.url);
  try {
    expect(await a.call('WAIT', '1', '5000')).toBe(1);
  } finally {
    a.disconnect();
  }
}

describe('readonly', () => {
  it.each(WRITE_OPS)('readonly: %s on a replica is refused with READONLY and applies nothing', async (op) => {
    const p = await plan(op, onPrimary);
    await replicated();
    await expectRefused(p, onReplica, 'READONLY', () => adminClient(primary.url));
  });

  it('readonly: peek and exists still answer from the replica', async () => {
    const created = await onPrimary.create('readable', { a: '1' });
    expect(created.ok).toBe(true);
    await replicated();
    expect((await onReplica.peek('readable'))?.metadata).toEqual({ a: '1' });
    expect(await onReplica.exists('readable')).toBe(true);
  });
});
