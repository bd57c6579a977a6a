/**
 * The fault proxy itself: each mode does what the scenarios rely on.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startProxy } from '../support/proxy.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { adminClient } from '../support/server-faults.js';

let server: RedisServer;
let proxy: FaultProxy;
let admin: Redis;
const clients: Redis[] = [];

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

async function viaProxy(options = {}): Promise<Redis> {
  const c = new Redis(proxy.url, { maxRetriesPerRequest: 1, ...options });
  c.on('error', () => undefined);
  clients.push(c);
  await c.ping();
  return c;
}

const outcome = (p: Promise<unknown>) => p.then((v) => ({ v }), (e: Error) => ({ e: e.message }));

describe('fault proxy', () => {
  it('pass forwards both ways', async () => {
    const c = await viaProxy();
    expect(await c.incr('p:pass')).toBe(1);
  });

  it('delay forwards both ways, late and in order', async () => {
    const c = await viaProxy();
    proxy.setMode('delay', { delayMs: 50 });
    const forwarded = proxy.stats.replyBytesForwarded;
    expect(await Promise.all([c.incr('p:delay'), c.incr('p:delay'), c.incr('p:delay')])).toEqual([1, 2, 3]);
    expect(proxy.stats.replyBytesForwarded).toBeGreaterThan(forwarded);
  });

  it('drop-request: Redis never sees the command', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    proxy.setMode('drop-request');
    expect(await outcome(c.set('p:dropreq', '1'))).toEqual({ e: 'Command timed out' });
    expect(await admin.exists('p:dropreq')).toBe(0);
  });

  it('drop-reply: Redis runs the command, the client never hears back', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    proxy.setMode('drop-reply');
    expect(await outcome(c.set('p:droprep', '1'))).toEqual({ e: 'Command timed out' });
    expect(await admin.get('p:droprep')).toBe('1');
  });

  it('blackhole: neither way', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    proxy.setMode('blackhole');
    expect(await outcome(c.set('p:hole', '1'))).toEqual({ e: 'Command timed out' });
    expect(await admin.exists('p:hole')).toBe(0);
    expect(proxy.stats.requestBytesDropped).toBeGreaterThan(0);
  });

  it('reset: open connections are reset and new ones refused until pass', async () => {
    const c = await viaProxy({ retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const closed = new Promise((r) => c.once('close', r));
    const errors: string[] = [];
    c.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    proxy.setMode('reset');
    await closed;
    expect(errors).toContain('ECONNRESET');
    const late = new Redis(proxy.url, { retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true });
    late.on('error', () => undefined);
    clients.push(late);
    expect(await outcome(late.connect().then(() => late.ping()))).toMatchObject({ e: expect.any(String) });
  });
});
