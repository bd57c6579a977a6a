/**
 * Every operation survives FUNCTION FLUSH and a server restart without
 * persistence: the store loads the library again on "Function not found".
 * Uses its own throwaway server, since it flushes functions and restarts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';

describe.each([5, 6] as const)('function library reload (ioredis %i)', (major) => {
  let server: RedisServer;
  let client: Client;
  beforeAll(async () => {
    server = await startRedisServer();
    client = createClient(major, server.url, { maxRetriesPerRequest: 20, retryStrategy: () => 50 });
  });
  afterAll(async () => {
    client.disconnect();
    await server.kill();
  });

  const flushScripts = () =>
    (client as unknown as { call(...a: string[]): Promise<unknown> }).call('FUNCTION', 'FLUSH');

  it('every operation works after FUNCTION FLUSH', async () => {
    const store = new RedisSessionStore(client, { prefix: 'flush:' });
    const s = await store.create('s', { a: '1' });
    if (!s.ok) throw new Error('create failed');
    const ops: Array<() => Promise<unknown>> = [
      () => store.get('s'),
      () => store.peek('s'),
      () => store.exists('s'),
      () => store.update('s', s.session.generation, { a: '2' }),
      () => store.patch('s', { set: { b: '3' } }),
      () => store.touch('s'),
      () => store.mutate('s', (cur) => ({ ...cur.metadata, c: '4' })),
      () => store.create('t'),
      () => store.terminate('t'),
    ];
    for (const op of ops) {
      await flushScripts();
      await op();
    }
    expect((await store.peek('s'))?.metadata).toEqual({ a: '2', b: '3', c: '4' });
    expect(await store.exists('t')).toBe(false);
    expect(await store.create('t')).toEqual({ ok: false, reason: 'terminated' });
  });

  it('works after FUNCTION FLUSH with many calls in flight (auto-pipelined batch)', async () => {
    const pipelined = createClient(major, server.url, { enableAutoPipelining: true });
    try {
      const store = new RedisSessionStore(pipelined, { prefix: 'flush-pipe:' });
      await store.create('warm');
      await flushScripts();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`s${i}`, { i: String(i) })));
      expect(results.every((r) => r.ok)).toBe(true);
      await flushScripts();
      const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => store.peek(`s${i}`)));
      expect(reads.map((r) => r?.metadata.i)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    } finally {
      pipelined.disconnect();
    }
  });

  it('works after the server restarts (library and data gone)', async () => {
    const store = new RedisSessionStore(client, { prefix: 'restart:' });
    expect((await store.create('before')).ok).toBe(true);
    await server.restart();
    // Data is gone (no persistence); the library is loaded again on first use.
    expect(await store.peek('before')).toBeNull();
    const created = await store.create('after', { x: 'y' });
    expect(created.ok).toBe(true);
    expect((await store.get('after'))?.metadata).toEqual({ x: 'y' });
  });
});
