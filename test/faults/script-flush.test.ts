/**
 * script-flush: SCRIPT FLUSH between or during writes. ioredis sends EVALSHA
 * once a script is known on a socket; after the flush Redis answers NOSCRIPT
 * and ioredis re-sends the script with EVAL. Nothing ran, so nothing can
 * apply twice. Checked one call at a time and with enableAutoPipelining,
 * where the NOSCRIPT replies come back inside a pipeline.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../support/clients.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { adminClient, scriptFlush } from '../support/server-faults.js';
import { expectAppliedOnce, plan, settled, type WriteOp, WRITE_OPS } from './harness.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = await adminClient(server.url);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.kill();
});

async function noscriptErrors(): Promise<number> {
  const text = await admin.info('errorstats');
  return Number(/^errorstat_NOSCRIPT:count=(\d+)/m.exec(text)?.[1] ?? 0);
}

const cases = ([5, 6] as IoredisMajor[]).flatMap((major) => [false, true].map((ap) => [major, ap] as const));

describe.each(cases)('script-flush (ioredis %i, enableAutoPipelining %s)', (major, autoPipelining) => {
  const prefix = uniquePrefix(`flush-${major}-${autoPipelining}`);
  const stores = () => {
    const c = createClient(major, server.url, { enableAutoPipelining: autoPipelining });
    clients.push(c);
    return new RedisSessionStore(c, { prefix });
  };

  /** Runs every write once so each script is known on the socket (ioredis then sends EVALSHA). */
  async function warm(store: RedisSessionStore): Promise<void> {
    for (const op of WRITE_OPS) {
      const p = await plan(op, store, `warm-${op}`);
      const r = await p.run(store);
      p.expectSuccess(r);
    }
  }

  it.each(WRITE_OPS)('script-flush: %s after SCRIPT FLUSH reloads the script and applies once', async (op: WriteOp) => {
    const store = stores();
    await warm(store);
    const p = await plan(op, store);
    await scriptFlush(server.url);
    const before = await noscriptErrors();
    await expectAppliedOnce(p, await settled(p.run(store)), admin);
    expect(await noscriptErrors()).toBeGreaterThan(before); // the EVALSHA really hit NOSCRIPT
  });

  it('script-flush: a batch of every write in flight (one pipeline when auto-pipelining) all apply once', async () => {
    const store = stores();
    await warm(store);
    const plans = await Promise.all(WRITE_OPS.map((op) => plan(op, store, `batch-${op}`)));
    await scriptFlush(server.url);
    const before = await noscriptErrors();
    const results = await Promise.all(plans.map((p) => settled(p.run(store))));
    for (const [i, p] of plans.entries()) {
      await expectAppliedOnce(p, results[i]!, admin);
    }
    expect(await noscriptErrors()).toBeGreaterThan(before);
  });

  it('script-flush: repeated flushes while writers run mid-run: every call succeeds, every write applies once', async () => {
    const store = stores();
    await warm(store);
    let flushing = true;
    const flusher = (async () => {
      for (let i = 0; i < 50 && flushing; i++) {
        await scriptFlush(server.url);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      for (let round = 0; round < 5; round++) {
        const plans = await Promise.all(WRITE_OPS.map((op) => plan(op, store, `mid-${round}-${op}`)));
        const results = await Promise.all(plans.map((p) => settled(p.run(store))));
        for (const [i, p] of plans.entries()) {
          await expectAppliedOnce(p, results[i]!, admin);
        }
      }
    } finally {
      flushing = false;
      await flusher;
    }
  });
});
