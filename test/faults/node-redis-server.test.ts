/**
 * Server-side faults on node-redis (`createClient`): the same refusals as on
 * ioredis (function-flush.test.ts, restart.test.ts, oom.test.ts,
 * noperm.test.ts, readonly.test.ts), through node-redis's error classes
 * (`ErrorReply`/`SimpleError` instead of ioredis `ReplyError`):
 * - FUNCTION FLUSH, and a restart without persistence: "Function not found"
 *   ran nothing, the store loads the library and sends the call again;
 * - a restart with persistence: calls queued during the outage run once after it;
 * - OOM, NOPERM, READONLY: refused whole before anything is written, typed,
 *   not_applied.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type SessionStoreErrorCode } from '../../src/index.js';
import { uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, type NodeRedisOptions, nodeRedisClient } from '../infra/node-redis-clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import {
  adminClient,
  createAclUser,
  forceOom,
  functionFlush,
  libraryLoaded,
  setMaxmemory,
  startReplica,
} from '../infra/server-faults.js';
import { WRITE_OPS, type WriteOp, expectAppliedOnce, expectFault, plan, rejection, settled } from './fault-harness.js';
import { expectRefused } from './refused.js';

const opened: NodeRedis[] = [];
const admins: Redis[] = [];
afterAll(() => {
  for (const c of opened) c.close();
  for (const a of admins) a.disconnect();
});

async function nodeRedisStore(url: string, prefix: string, o: NodeRedisOptions = {}, options = {}) {
  const c = nodeRedisClient(url, o);
  opened.push(c);
  await c.ready();
  return new RedisSessionStore(c.client, { prefix, evictionPolicyCheck: 'off', ...options });
}

async function admin(url: string): Promise<Redis> {
  const a = await adminClient(url);
  admins.push(a);
  return a;
}

describe('node-redis: function library gone', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.kill());

  it.each(WRITE_OPS)('function-flush: %s after FUNCTION FLUSH reloads the library and applies once', async (op) => {
    const a = await admin(server.url);
    const store = await nodeRedisStore(server.url, uniquePrefix('nr-flush'));
    const p = await plan(op, store);
    await functionFlush(server.url);
    expect(await libraryLoaded(a)).toBe(false);
    await expectAppliedOnce(p, await settled(p.run(store)), a);
    expect(await libraryLoaded(a)).toBe(true);
  });

  it('function-flush: every write in flight at once after a flush (RESP2): all apply once', async () => {
    const a = await admin(server.url);
    const store = await nodeRedisStore(server.url, uniquePrefix('nr-flush-batch'), { RESP: 2 });
    const plans = await Promise.all(WRITE_OPS.map((op) => plan(op, store, `batch-${op}`)));
    await functionFlush(server.url);
    const results = await Promise.all(plans.map((p) => settled(p.run(store))));
    for (const [i, p] of plans.entries()) await expectAppliedOnce(p, results[i]!, a);
  });
});

describe('node-redis: restart', () => {
  it('restart without persistence: records are gone, the library is loaded again on first use', async () => {
    const s = await startRedisServer();
    try {
      const store = await nodeRedisStore(s.url, uniquePrefix('nr-volatile'), {
        options: { socket: { reconnectStrategy: () => 50 } },
      });
      const live = await store.create('live', { a: '1' });
      if (!live.ok) throw new Error('create');
      await s.restart();
      expect(await store.update('live', live.session.generation, {})).toEqual({ ok: false, reason: 'not_found' });
      const again = await store.create('live');
      expect(again.ok && again.session.generation > live.session.generation).toBe(true);
      expect(await libraryLoaded(await admin(s.url))).toBe(true);
    } finally {
      await s.kill();
    }
  });

  it('restart with persistence: writes sent during the outage wait in the offline queue and apply once after it', async () => {
    const s = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    try {
      const store = await nodeRedisStore(s.url, uniquePrefix('nr-restart'), {
        options: { socket: { reconnectStrategy: () => 50 } },
      });
      const plans = await Promise.all(WRITE_OPS.map((op) => plan(op, store)));
      await s.kill();
      const calls = plans.map((p) => settled(p.run(store), 30_000));
      await s.start();
      const a = await admin(s.url);
      for (const [i, p] of plans.entries()) await expectAppliedOnce(p, await calls[i]!, a);
      expect(await store.create(plans.find((p) => p.op === 'terminate')!.id)).toEqual({
        ok: false,
        reason: 'terminated',
      });
    } finally {
      await s.kill();
    }
  });
});

describe('node-redis: refusals (OOM, NOPERM, READONLY)', () => {
  let server: RedisServer;
  let healthy: RedisSessionStore;
  const prefix = uniquePrefix('nr-refused');
  beforeAll(async () => {
    server = await startRedisServer();
    healthy = await nodeRedisStore(server.url, prefix, {}, { eventsChannel: 'events' });
  });
  afterEach(() => setMaxmemory(server.url, 0));
  afterAll(() => server?.kill());

  const refused = (p: Awaited<ReturnType<typeof plan>>, store: RedisSessionStore, code: SessionStoreErrorCode) =>
    expectRefused(p, store, code, () => adminClient(server.url));

  it.each(['create', 'update', 'patch', 'mutate'] as WriteOp[])(
    'oom: %s fails whole with OOM and writes nothing',
    async (op) => {
      const p = await plan(op, healthy);
      await forceOom(server.url);
      await refused(p, healthy, 'OOM');
    },
  );

  it.each(['terminate', 'touch'] as WriteOp[])('oom: %s still succeeds (allow-oom)', async (op) => {
    const p = await plan(op, healthy);
    await forceOom(server.url);
    await expectAppliedOnce(p, await settled(p.run(healthy)), await admin(server.url));
  });

  it.each(WRITE_OPS)('noperm: %s by a user without FCALL/FCALL_RO is refused with NOPERM', async (op) => {
    const url = await createAclUser(server, 'nr-nofcall', ['~*', '&*', '+@all', '-fcall', '-fcall_ro']);
    const store = await nodeRedisStore(url, prefix);
    await refused(await plan(op, healthy), store, 'NOPERM');
  });

  it.each(['create', 'terminate'] as WriteOp[])(
    'noperm: %s with eventsChannel by a user who may not publish is refused whole with NOPERM',
    async (op) => {
      const url = await createAclUser(server, 'nr-nopublish', ['~*', '+@all']);
      const store = await nodeRedisStore(url, prefix, {}, { eventsChannel: 'events' });
      await refused(await plan(op, healthy), store, 'NOPERM');
    },
  );

  it('noperm: a user who may not FUNCTION LOAD, library absent: NOPERM saying how to load it', async () => {
    const url = await createAclUser(server, 'nr-noload', ['~*', '&*', '+@all', '-function']);
    const store = await nodeRedisStore(url, prefix);
    await functionFlush(server.url);
    const err = await rejection(store.create(`noload-${Date.now()}`));
    expectFault(err, 'NOPERM', 'not_applied');
    expect((err as Error).message).toMatch(/FUNCTION LOAD/);
    await healthy.loadLibrary();
  });

  it('noperm: a user with exactly the documented permissions can do everything (RESP3: HELLO needs no grant)', async () => {
    const url = await createAclUser(server, 'nr-minimal', [
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
    ]);
    const store = await nodeRedisStore(url, prefix, {}, { eventsChannel: 'events' });
    const a = await admin(server.url);
    for (const op of WRITE_OPS) {
      const p = await plan(op, healthy, `minimal-${op}`);
      await expectAppliedOnce(p, await settled(p.run(store)), a);
    }
  });

  describe('readonly', () => {
    let replica: RedisServer;
    let onReplica: RedisSessionStore;
    beforeAll(async () => {
      replica = await startReplica(server);
      onReplica = await nodeRedisStore(replica.url, prefix);
    });
    afterAll(() => replica?.kill());

    it.each(WRITE_OPS)('readonly: %s on a replica is refused with READONLY and applies nothing', async (op) => {
      const p = await plan(op, healthy);
      const a = await admin(server.url);
      expect(await a.call('WAIT', '1', '5000')).toBe(1);
      await expectRefused(p, onReplica, 'READONLY', () => adminClient(server.url));
      expect(await onReplica.exists(p.before ? p.id : 'nobody')).toBe(p.before !== null); // reads still answer
    });
  });
});
