/**
 * oom: the server is over maxmemory (noeviction). Scripts that may grow
 * memory (create, update, patch) carry no allow-oom flag, so Redis refuses
 * them whole before they run: OOM, outcome not_applied, no half-written
 * record, no key without a TTL. terminate and touch carry allow-oom: a logout
 * or a keep-alive is never refused for lack of memory. Reads keep working.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, forceOom, infoField, setMaxmemory } from '../infra/server-faults.js';
import { expectAppliedOnce, expectFault, plan, rawRecord, rejection, settled, type WriteOp } from './fault-harness.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];
const prefix = uniquePrefix('oom');

beforeAll(async () => {
  server = await startRedisServer();
  admin = await adminClient(server.url);
});
afterEach(() => setMaxmemory(server.url, 0));
afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.kill();
});

/** Every key of this store has a TTL. */
async function expectAllKeysHaveTtl(): Promise<number> {
  const keys = await admin.keys(`${prefix}*`);
  for (const k of keys) expect(await admin.pttl(k), k).toBeGreaterThan(0);
  return keys.length;
}

describe.each([5, 6] as IoredisMajor[])('oom (ioredis %i)', (major) => {
  let store: RedisSessionStore;
  beforeAll(() => {
    const client = createClient(major, server.url);
    clients.push(client);
    store = new RedisSessionStore(client, { prefix: `${prefix}${major}:`, evictionPolicyCheck: 'off' });
  });
  const REFUSED: WriteOp[] = ['create', 'update', 'patch', 'mutate'];
  it.each(REFUSED)('oom: %s fails whole with OOM and writes nothing', async (op) => {
    const p = await plan(op, store);
    const before = await rawRecord(admin, p.key);
    await forceOom(server.url);
    const err = await rejection(p.run(store));
    expectFault(err, 'OOM', 'not_applied', p);
    expect(await rawRecord(admin, p.key)).toEqual({ ...before, pttl: expect.any(Number) });
    expect(await p.applied(admin)).toBe('not');
    await expectAllKeysHaveTtl();
  });

  it.each(['terminate', 'touch'] as WriteOp[])('oom: %s still succeeds (allow-oom)', async (op) => {
    const p = await plan(op, store);
    await forceOom(server.url);
    await expectAppliedOnce(p, await settled(p.run(store)), admin);
  });

  it('oom: reads still work (get, peek, exists)', async () => {
    const created = await store.create('readable', { a: '1' });
    expect(created.ok).toBe(true);
    await forceOom(server.url);
    expect((await store.get('readable'))?.metadata).toEqual({ a: '1' });
    expect((await store.peek('readable'))?.metadata).toEqual({ a: '1' });
    expect(await store.exists('readable')).toBe(true);
  });

  it('oom: filling memory with creates: each either completes whole (with TTL) or is refused, and logout still works', async () => {
    const used = Number(await infoField(admin, 'memory', 'used_memory'));
    await setMaxmemory(server.url, used + 4 * 1024 * 1024);
    const value = 'v'.repeat(256 * 1024);
    const created: string[] = [];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const id = `fill-${i}`;
      const r = await store.create(id, { a: value, b: value }).catch((e: unknown) => {
        refused = e;
        return undefined;
      });
      if (r) {
        expect(r.ok).toBe(true);
        created.push(id);
      } else {
        expect(await admin.exists(store.keyFor(id))).toBe(0); // nothing half-written
      }
    }
    expectFault(refused, 'OOM', 'not_applied');
    expect(created.length).toBeGreaterThan(0);
    for (const id of created) {
      const raw = await rawRecord(admin, store.keyFor(id));
      expect(raw.fields.ma?.length).toBe(value.length);
      expect(raw.fields.mb?.length).toBe(value.length);
    }
    // Held over the limit (the refused request's own query buffer counted
    // towards it, so usage may have dropped back): updates are refused,
    // every logout still goes through.
    await forceOom(server.url);
    const s = await store.peek(created[0]!);
    expectFault(await rejection(store.update(created[0]!, s!.generation, { a: 'small' })), 'OOM', 'not_applied');
    for (const id of created) expect((await store.terminate(id)).ok).toBe(true);
    expect(await expectAllKeysHaveTtl()).toBeGreaterThan(0);
  });
});
