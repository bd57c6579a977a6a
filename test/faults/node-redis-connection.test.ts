/**
 * Connection faults on node-redis (`createClient`), through the loopback
 * fault proxy. What the caller sees differs from ioredis (docs/node-redis.md):
 * - reply lost, then the connection resets: node-redis rejects the command
 *   that was in flight and never sends it again (ioredis re-sends it, and
 *   the op id turns that into the first outcome). The write applied once;
 *   the caller gets OUTCOME_UNKNOWN, and nothing lands later.
 * - request lost: the same rejection; nothing applied, then or later.
 * - no reply at all: node-redis has no timeout for a command once written;
 *   `socket.socketTimeout` closes the idle socket and rejects what was in
 *   flight: OUTCOME_UNKNOWN. Its default reconnect strategy does not
 *   reconnect after a socket timeout: the client is closed for good.
 * - a command that waits in the offline queue past its `timeout` (node-redis
 *   command option), or is refused with `disableOfflineQueue`, was never
 *   written: CONNECTION, not_applied, and it never runs. (A queued command
 *   still in the queue when the socket connects is written right behind the
 *   handshake, before `ready`: if that socket fails, OUTCOME_UNKNOWN.)
 */
import type { Redis } from 'ioredis';
import { createClient as createNodeRedisClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, type NodeRedisOptions, nodeRedisClient } from '../infra/node-redis-clients.js';
import { startRedisServer } from '../../harness/redis-server.js';
import { WRITE_OPS, expectFault, plan, rejection, scriptRuns, useProxiedServer } from './fault-harness.js';

const env = useProxiedServer();

/** A node-redis store through the proxy, and an ioredis store straight to the server (same prefix). */
async function stores(label: string, o: NodeRedisOptions = {}) {
  const prefix = uniquePrefix(label);
  const nr: NodeRedis = nodeRedisClient(env.proxy.url, {
    ...o,
    options: { ...o.options, socket: { reconnectStrategy: () => 50, ...o.options?.socket } },
  });
  env.clients.push({ disconnect: () => nr.close() });
  await nr.ready();
  const healthyClient = createClient(5, env.server.url);
  env.clients.push(healthyClient);
  const store = new RedisSessionStore(nr.client, { prefix, evictionPolicyCheck: 'off' });
  await store.exists('warm-up'); // connected, library loaded
  return { nr, store, healthy: new RedisSessionStore(healthyClient, { prefix }) };
}

/** Resolves when the node-redis client is ready again (after a reset). */
function readyAgain(nr: NodeRedis): Promise<void> {
  return new Promise((resolve) =>
    (nr.client as unknown as { once(e: string, f: () => void): void }).once('ready', resolve),
  );
}

describe.each([3, 2] as const)('node-redis RESP%i: lost replies and requests', (RESP) => {
  it.each(WRITE_OPS)('reply-lost: %s rejects OUTCOME_UNKNOWN, applied once, never re-sent', async (op) => {
    const { nr, store, healthy } = await stores(`nr-reply-${RESP}`, { RESP });
    const p = await plan(op, healthy);
    const runsBefore = await scriptRuns(env.admin);
    const dropped = env.proxy.stats.replyBytesDropped;
    const call = p.run(store, () => env.proxy.setMode('drop-reply'));
    await env.proxy.waitFor((s) => s.replyBytesDropped > dropped);
    const ready = readyAgain(nr);
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
    const err = await rejection(call);
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(await p.applied(env.admin)).toBe('once');
    await ready;
    await store.exists('after-reconnect');
    expect(await p.applied(env.admin)).toBe('once');
    // Ran once: node-redis did not send it again after reconnecting.
    expect((await scriptRuns(env.admin)) - runsBefore).toBe(p.scriptRuns + 1); // + the exists above
  });

  it.each(WRITE_OPS)('request-lost: %s rejects OUTCOME_UNKNOWN, not applied, then or later', async (op) => {
    const { nr, store, healthy } = await stores(`nr-request-${RESP}`, { RESP });
    const p = await plan(op, healthy);
    const dropped = env.proxy.stats.requestBytesDropped;
    const call = p.run(store, () => env.proxy.setMode('drop-request'));
    await env.proxy.waitFor((s) => s.requestBytesDropped > dropped);
    const ready = readyAgain(nr);
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
    expectFault(await rejection(call), 'OUTCOME_UNKNOWN', 'unknown', p);
    await ready;
    await store.exists('after-reconnect');
    expect(await p.applied(env.admin)).toBe('not');
  });
});

describe('node-redis: timeouts and the offline queue', () => {
  it.each(WRITE_OPS)(
    'socketTimeout: %s whose request never arrives (blackhole) rejects OUTCOME_UNKNOWN, not applied',
    async (op) => {
      const { nr, store, healthy } = await stores('nr-timeout', { options: { socket: { socketTimeout: 300 } } });
      const p = await plan(op, healthy);
      const ready = readyAgain(nr);
      const t0 = Date.now();
      const err = await rejection(p.run(store, () => env.proxy.setMode('blackhole')));
      expect(Date.now() - t0).toBeLessThan(5_000);
      expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
      env.proxy.setMode('pass');
      env.proxy.resetConnections();
      await ready;
      await store.exists('after-reconnect');
      expect(await p.applied(env.admin)).toBe('not'); // node-redis never re-sends it
    },
  );

  it.each(WRITE_OPS)('socketTimeout: %s whose reply is lost rejects OUTCOME_UNKNOWN, applied once', async (op) => {
    const { store, healthy } = await stores('nr-timeout-reply', { options: { socket: { socketTimeout: 300 } } });
    const p = await plan(op, healthy);
    const err = await rejection(p.run(store, () => env.proxy.setMode('drop-reply')));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(await p.applied(env.admin)).toBe('once');
  });

  it('a write that waits in the offline queue past its command timeout (server down): CONNECTION, not_applied, and it never runs', async () => {
    // Persistent, so the record survives the restart and shows whether the write ran.
    const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const nr = nodeRedisClient(server.url, {
      options: { commandOptions: { timeout: 200 }, socket: { reconnectStrategy: () => 50 } },
    });
    const healthyClient = createClient(5, server.url);
    env.clients.push({ disconnect: () => nr.close() }, healthyClient);
    try {
      await nr.ready();
      const prefix = uniquePrefix('nr-queue-timeout');
      const store = new RedisSessionStore(nr.client, { prefix, evictionPolicyCheck: 'off' });
      const healthy = new RedisSessionStore(healthyClient, { prefix });
      await store.exists('warm-up');
      const p = await plan('update', healthy);
      await server.kill(); // reconnect attempts are refused: the client stays offline, the write waits in its queue
      await sleep(100);
      const err = await rejection(p.run(store));
      expectFault(err, 'CONNECTION', 'not_applied', p);
      expect((err as Error).message).toMatch(/not sent or not answered/);
      const ready = readyAgain(nr);
      await server.start();
      await ready;
      await store.exists('after-reconnect');
      const admin = createClient(5, server.url) as Redis;
      env.clients.push(admin);
      expect(await p.applied(admin)).toBe('not');
    } finally {
      await server.kill();
    }
  });

  it("socketTimeout with node-redis's default reconnect strategy: after the timeout the client is closed for good", async () => {
    const nr = nodeRedisClient(env.proxy.url, { options: { socket: { socketTimeout: 200 } } });
    env.clients.push({ disconnect: () => nr.close() });
    await nr.ready();
    const prefix = uniquePrefix('nr-timeout-final');
    const store = new RedisSessionStore(nr.client, { prefix, evictionPolicyCheck: 'off' });
    const healthyClient = createClient(5, env.server.url);
    env.clients.push(healthyClient);
    const p = await plan('update', new RedisSessionStore(healthyClient, { prefix }));
    expectFault(await rejection(p.run(store, () => env.proxy.setMode('blackhole'))), 'OUTCOME_UNKNOWN', 'unknown', p);
    env.proxy.setMode('pass');
    // node-redis does not reconnect after a SocketTimeoutError unless reconnectStrategy says so:
    // every later call is refused before it is written.
    await sleep(300);
    expectFault(await rejection(store.peek(p.id)), 'CONNECTION', 'not_applied');
    expect((nr.client as unknown as { isOpen: boolean }).isOpen).toBe(false);
  });

  it('a client never connected (or closed): CONNECTION, not_applied, before anything is written', async () => {
    const never = createNodeRedisClient({ url: env.server.url });
    const store = new RedisSessionStore(never, { prefix: uniquePrefix('nr-closed'), evictionPolicyCheck: 'off' });
    const err = await rejection(store.create('a'));
    expectFault(err, 'CONNECTION', 'not_applied');
    expect(String((err as Error).cause)).toMatch(/closed/i);
  });

  it('disableOfflineQueue: a write while reconnecting is refused at once: CONNECTION, not_applied', async () => {
    const { nr, store, healthy } = await stores('nr-offline', { options: { disableOfflineQueue: true } });
    const p = await plan('terminate', healthy);
    env.proxy.setMode('reset');
    env.proxy.resetConnections();
    await sleep(50);
    expectFault(await rejection(p.run(store)), 'CONNECTION', 'not_applied', p);
    const ready = readyAgain(nr);
    env.proxy.setMode('pass');
    await ready;
    expect(await p.applied(env.admin)).toBe('not');
    p.expectSuccess(await p.run(store)); // and works once connected again
  });
});
