/**
 * noperm: the ACL user lacks a command or key the store needs. The write is
 * refused before anything is written: code NOPERM, outcome not_applied.
 *
 * Redis checks a command's permissions only when a script calls it, so a
 * user who may run EVAL but not, say, PUBLISH (Redis 7 users start with no
 * channel permissions) or PEXPIRE would see the script fail after its first
 * write. The write scripts ask `redis.acl_check_cmd` about every write they
 * will make before making any; these tests hold them to that.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, createAclUser } from '../infra/server-faults.js';
import { WRITE_OPS, type WriteOp, expectFault, plan, rejection, settled } from './fault-harness.js';
import { expectRefused } from './refused.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];
const prefix = uniquePrefix('noperm');
let healthy: RedisSessionStore;

beforeAll(async () => {
  server = await startRedisServer();
  admin = await adminClient(server.url);
  const c = createClient(5, server.url);
  clients.push(c);
  healthy = new RedisSessionStore(c, { prefix, eventsChannel: 'events' });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.kill();
});

async function storeAs(major: IoredisMajor, name: string, rules: string[], options = {}): Promise<RedisSessionStore> {
  const url = await createAclUser(server, name, rules);
  const c = createClient(major, url);
  clients.push(c);
  return new RedisSessionStore(c, { prefix, ...options });
}

const PUBLISHING: WriteOp[] = ['create', 'update', 'patch', 'terminate', 'mutate'];

describe.each([5, 6] as IoredisMajor[])('noperm (ioredis %i)', (major) => {
  it.each(WRITE_OPS)('noperm: %s by a user without FCALL/FCALL_RO is refused with NOPERM', async (op) => {
    const store = await storeAs(major, 'nofcall', ['~*', '&*', '+@all', '-fcall', '-fcall_ro']);
    const p = await plan(op, healthy);
    await expectRefused(p, store, 'NOPERM', () => adminClient(server.url));
  });

  it.each(WRITE_OPS)('noperm: %s by a user without access to the session keys is refused with NOPERM', async (op) => {
    const store = await storeAs(major, 'otherkeys', ['~other:*', '&*', '+@all']);
    const p = await plan(op, healthy);
    await expectRefused(p, store, 'NOPERM', () => adminClient(server.url));
  });

  it.each(PUBLISHING)(
    'noperm: %s with eventsChannel by a user who may not publish is refused whole with NOPERM',
    async (op) => {
      // Redis 7 ACL users start with no channel permissions: no '&' pattern here.
      const store = await storeAs(major, 'nopublish', ['~*', '+@all'], { eventsChannel: 'events' });
      const p = await plan(op, healthy);
      await expectRefused(p, store, 'NOPERM', () => adminClient(server.url));
    },
  );

  it.each(PUBLISHING)('noperm: %s by a user without PEXPIRE is refused whole: no key without a TTL', async (op) => {
    const store = await storeAs(major, 'nopexpire', ['~*', '&*', '+@all', '-pexpire']);
    const p = await plan(op, healthy);
    await expectRefused(p, store, 'NOPERM', () => adminClient(server.url));
  });

  it('noperm: touch and get by a user without PEXPIRE are refused with NOPERM', async () => {
    const store = await storeAs(major, 'nopexpire', ['~*', '&*', '+@all', '-pexpire']);
    const p = await plan('touch', healthy);
    await expectRefused(p, store, 'NOPERM', () => adminClient(server.url));
    expectFault(await rejection(store.get(p.id)), 'NOPERM', 'not_applied');
  });

  it('noperm: a user with exactly the documented permissions can do everything', async () => {
    const store = await storeAs(
      major,
      'minimal',
      [
        `~${prefix}*`,
        '&events',
        '+fcall',
        '+fcall_ro',
        '+hmget',
        '+hgetall',
        '+hkeys',
        '+hlen',
        '+hset',
        '+hdel',
        '+pexpire',
        '+time',
        '+publish',
        '+info',
        '+wait',
      ],
      { eventsChannel: 'events', terminateWait: { replicas: 1, timeoutMs: 10 } },
    );
    for (const op of WRITE_OPS) {
      const p = await plan(op, healthy, `minimal-${op}`);
      const r = await settled(p.run(store));
      if ('error' in r) throw r.error;
      if (op === 'terminate') {
        // No replica here: WAIT answers 0 within its timeout.
        expect(r.value).toEqual({
          ok: true,
          generation: p.before!.generation,
          replication: { acknowledged: 0, requested: 1, durable: false },
        });
      } else {
        p.expectSuccess(r.value);
      }
      expect(await p.applied(admin)).toBe('once');
    }
    expect(await store.get('nobody')).toBeNull();
  });
});
