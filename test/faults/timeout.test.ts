/**
 * timeout: with ioredis `commandTimeout`, a write whose reply does not come in
 * time rejects with OUTCOME_UNKNOWN (outcome 'unknown'), with
 * autoResendUnfulfilledCommands on or off, and no promise is left pending.
 * "Unknown" is honest both ways: a request that never reached Redis is not
 * applied, one whose reply was lost is. And with re-send on, ioredis still
 * holds the timed-out command and sends it again after a reconnect, so a
 * write can land after the caller saw the timeout: never twice, though.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../support/clients.js';
import { type FaultProxy, startProxy } from '../support/proxy.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { adminClient } from '../support/server-faults.js';
import { WRITE_OPS, expectFault, plan, rejection, resetAndReconnect } from './harness.js';

let server: RedisServer;
let proxy: FaultProxy;
let admin: Redis;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startProxy({ port: server.port });
  admin = await adminClient(server.url);
});
afterEach(() => {
  proxy.setMode('pass');
  proxy.resetConnections();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await proxy?.close();
  await server?.kill();
});

const RESEND = [true, false];
const cases = ([5, 6] as IoredisMajor[]).flatMap((major) => RESEND.map((resend) => [major, resend] as const));

describe.each(cases)('timeout (ioredis %i, autoResendUnfulfilledCommands %s)', (major, resend) => {
  const prefix = uniquePrefix(`timeout-${major}-${resend}`);
  const stores = () => {
    const faulty = createClient(major, proxy.url, { commandTimeout: 300, autoResendUnfulfilledCommands: resend, maxRetriesPerRequest: 5 });
    const healthy = createClient(major, server.url);
    clients.push(faulty, healthy);
    return { faulty, store: new RedisSessionStore(faulty, { prefix }), healthy: new RedisSessionStore(healthy, { prefix }) };
  };

  it.each(WRITE_OPS)('timeout: %s whose request never arrives: OUTCOME_UNKNOWN, not applied', async (op) => {
    const { faulty, store, healthy } = stores();
    await store.exists('warm-up');
    const p = await plan(op, healthy);
    const err = await rejection(p.run(store, () => proxy.setMode('blackhole')));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(await p.applied(admin)).toBe('not');
    await resetAndReconnect(proxy, faulty);
    await store.exists('after-reconnect'); // anything ioredis re-sends goes before this
    // With re-send on, the timed-out write lands now, after the caller gave up: once.
    expect(await p.applied(admin)).toBe(resend ? 'once' : 'not');
  });

  it.each(WRITE_OPS)('timeout: %s whose reply is lost: OUTCOME_UNKNOWN, applied once', async (op) => {
    const { faulty, store, healthy } = stores();
    await store.exists('warm-up');
    const p = await plan(op, healthy);
    const dropped = proxy.stats.replyBytesDropped;
    const err = await rejection(p.run(store, () => proxy.setMode('drop-reply')));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(proxy.stats.replyBytesDropped).toBeGreaterThan(dropped);
    expect(await p.applied(admin)).toBe('once');
    await resetAndReconnect(proxy, faulty);
    await store.exists('after-reconnect');
    expect(await p.applied(admin)).toBe('once'); // a re-send finds its op id and does not apply again
  });
});

describe('timeout (server stalled by DEBUG SLEEP)', () => {
  const prefix = uniquePrefix('timeout-stall');
  it.each(WRITE_OPS)('timeout: %s queued behind a stalled server: OUTCOME_UNKNOWN, then applied once when it wakes', async (op) => {
    const faulty = createClient(5, server.url, { commandTimeout: 300 });
    const healthy = createClient(5, server.url);
    clients.push(faulty, healthy);
    const store = new RedisSessionStore(faulty, { prefix });
    await store.exists('warm-up');
    const p = await plan(op, new RedisSessionStore(healthy, { prefix }));
    // On the same connection right before the write (for mutate: after its
    // read), so the write surely waits behind the sleep.
    let stall: Promise<unknown> = Promise.resolve();
    const err = await rejection(p.run(store, () => { stall = faulty.call('DEBUG', 'SLEEP', '1').catch(() => undefined); }));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    await stall;
    await admin.ping(); // answered once the server is awake and has run what was queued
    expect(await p.applied(admin)).toBe('once');
  });
});
