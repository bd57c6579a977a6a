/**
 * The fault proxy itself: each mode does what the scenarios rely on.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useProxiedServer } from './fault-harness.js';

const env = useProxiedServer();

async function viaProxy(options = {}): Promise<Redis> {
  const c = new Redis(env.proxy.url, { maxRetriesPerRequest: 1, ...options });
  c.on('error', () => undefined);
  env.clients.push(c);
  await c.ping();
  return c;
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    (v) => ({ v }),
    (e: Error) => ({ e: e.message }),
  );

describe('fault proxy', () => {
  it('pass forwards both ways', async () => {
    const c = await viaProxy();
    expect(await c.incr('p:pass')).toBe(1);
  });

  it('delay forwards both ways, late and in order', async () => {
    const c = await viaProxy();
    env.proxy.setMode('delay', { delayMs: 50 });
    const forwarded = env.proxy.stats.replyBytesForwarded;
    expect(await Promise.all([c.incr('p:delay'), c.incr('p:delay'), c.incr('p:delay')])).toEqual([1, 2, 3]);
    expect(env.proxy.stats.replyBytesForwarded).toBeGreaterThan(forwarded);
  });

  it('drop-request: Redis never sees the command', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    env.proxy.setMode('drop-request');
    expect(await outcome(c.set('p:dropreq', '1'))).toEqual({ e: 'Command timed out' });
    expect(await env.admin.exists('p:dropreq')).toBe(0);
  });

  it('drop-reply: Redis runs the command, the client never hears back', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    env.proxy.setMode('drop-reply');
    expect(await outcome(c.set('p:droprep', '1'))).toEqual({ e: 'Command timed out' });
    expect(await env.admin.get('p:droprep')).toBe('1');
  });

  it('blackhole: neither way', async () => {
    const c = await viaProxy({ commandTimeout: 200 });
    env.proxy.setMode('blackhole');
    expect(await outcome(c.set('p:hole', '1'))).toEqual({ e: 'Command timed out' });
    expect(await env.admin.exists('p:hole')).toBe(0);
    expect(env.proxy.stats.requestBytesDropped).toBeGreaterThan(0);
  });

  it('reset: open connections are reset and new ones refused until pass', async () => {
    const c = await viaProxy({ retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const closed = new Promise((r) => c.once('close', r));
    const errors: string[] = [];
    c.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    env.proxy.setMode('reset');
    await closed;
    expect(errors).toContain('ECONNRESET');
    const late = new Redis(env.proxy.url, { retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true });
    late.on('error', () => undefined);
    env.clients.push(late);
    expect(await outcome(late.connect().then(() => late.ping()))).toMatchObject({ e: expect.any(String) });
  });
});
