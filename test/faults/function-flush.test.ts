/**
 * function-flush: FUNCTION FLUSH between or during writes. After the flush
 * Redis answers FCALL with "Function not found" before running anything;
 * the store loads the library again and sends the call again, so nothing
 * can apply twice. Checked one call at a time and with enableAutoPipelining,
 * where the misses come back inside a pipeline.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, functionFlush, libraryLoaded } from '../infra/server-faults.js';
import { expectAppliedOnce, plan, settled, type WriteOp, WRITE_OPS } from './fault-harness.js';

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

/** FCALLs that failed ("Function not found" is the only failure these tests cause). */
async function missedCalls(): Promise<number> {
  const text = await admin.info('commandstats');
  let n = 0;
  for (const m of text.matchAll(/^cmdstat_fcall(?:_ro)?:.*failed_calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

const cases = ([5, 6] as IoredisMajor[]).flatMap((major) => [false, true].map((ap) => [major, ap] as const));

describe.each(cases)('function-flush (ioredis %i, enableAutoPipelining %s)', (major, autoPipelining) => {
  const prefix = uniquePrefix(`flush-${major}-${autoPipelining}`);
  const stores = () => {
    const c = createClient(major, server.url, { enableAutoPipelining: autoPipelining });
    clients.push(c);
    return new RedisSessionStore(c, { prefix });
  };

  /** Runs every write once, so the library is loaded before the flush. */
  async function warm(store: RedisSessionStore): Promise<void> {
    for (const op of WRITE_OPS) {
      const p = await plan(op, store, `warm-${op}`);
      const r = await p.run(store);
      p.expectSuccess(r);
    }
  }

  it.each(WRITE_OPS)(
    'function-flush: %s after FUNCTION FLUSH reloads the library and applies once',
    async (op: WriteOp) => {
      const store = stores();
      await warm(store);
      const p = await plan(op, store);
      await functionFlush(server.url);
      expect(await libraryLoaded(admin)).toBe(false);
      const before = await missedCalls();
      await expectAppliedOnce(p, await settled(p.run(store)), admin);
      expect(await missedCalls()).toBeGreaterThan(before); // the FCALL really met "Function not found"
      expect(await libraryLoaded(admin)).toBe(true);
    },
  );

  it('function-flush: a batch of every write in flight (one pipeline when auto-pipelining) all apply once', async () => {
    const store = stores();
    await warm(store);
    const plans = await Promise.all(WRITE_OPS.map((op) => plan(op, store, `batch-${op}`)));
    await functionFlush(server.url);
    const before = await missedCalls();
    const results = await Promise.all(plans.map((p) => settled(p.run(store))));
    for (const [i, p] of plans.entries()) {
      await expectAppliedOnce(p, results[i]!, admin);
    }
    expect(await missedCalls()).toBeGreaterThan(before);
  });

  it('function-flush: repeated flushes while writers run mid-run: every call succeeds, every write applies once', async () => {
    const store = stores();
    await warm(store);
    let flushing = true;
    const flusher = (async () => {
      for (let i = 0; i < 50 && flushing; i++) {
        await functionFlush(server.url);
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
