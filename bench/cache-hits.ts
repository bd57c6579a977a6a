/**
 * Cache hit throughput: `store.get` (the baseline, one full read per call)
 * against SessionCache hits in 'always' mode (one generation-only round trip
 * per hit) and in 'events' mode (no round trip while the entry is fresh).
 *
 * Bounded: each scenario runs a fixed number of gets (BENCH_OPS, default
 * 20_000) or stops after BENCH_MAX_MS (default 5_000) per scenario, whichever
 * comes first, at concurrency 1 and BENCH_CONCURRENCY (default 32).
 *
 * Run: node --import tsx bench/cache-hits.ts
 * Redis: REDIS_URL, else a throwaway redis-server, else Docker (as the tests).
 * It writes only keys under a fresh random prefix (they expire in 10 minutes).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisSessionStore, type Session, SessionCache } from '../src/index.js';
import { provideRedis } from '../test/support/provision.js';

const OPS = Number(process.env.BENCH_OPS ?? 20_000);
const MAX_MS = Number(process.env.BENCH_MAX_MS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SESSIONS = 1_000;
const METADATA_ENTRIES = 20; // a realistic session: ~20 entries of ~40 bytes

interface Result {
  scenario: string;
  concurrency: number;
  ops: number;
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(scenario: string, concurrency: number, ids: string[], get: (id: string) => Promise<Session | null>): Promise<Result> {
  // Warm-up: fill caches, load scripts, settle the connection.
  for (const id of ids) await get(id);
  const latencies = new Float64Array(OPS);
  let issued = 0;
  let done = 0;
  const start = performance.now();
  const deadline = start + MAX_MS;
  const worker = async (): Promise<void> => {
    while (issued < OPS && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      const s = await get(ids[i % ids.length]!);
      latencies[i] = performance.now() - t0;
      if (s === null) throw new Error(`${scenario}: session vanished`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  const sorted = latencies.slice(0, done).sort();
  return {
    scenario,
    concurrency,
    ops: done,
    opsPerSec: Math.round((done / elapsed) * 1000),
    p50us: Math.round(quantile(sorted, 0.5) * 10_000) / 10,
    p99us: Math.round(quantile(sorted, 0.99) * 10_000) / 10,
  };
}

async function main(): Promise<void> {
  const redis = await provideRedis();
  const prefix = `bench-cache:${randomBytes(4).toString('hex')}:`;
  const channel = `${prefix}events`;
  const writer = new Redis(redis.url);
  const reader = new Redis(redis.url);
  try {
    const writerStore = new RedisSessionStore(writer, { prefix, eventsChannel: channel, ttlMs: 600_000 });
    const store = new RedisSessionStore(reader, { prefix, eventsChannel: channel, ttlMs: 600_000 });
    const metadata: Record<string, string> = {};
    for (let i = 0; i < METADATA_ENTRIES; i++) metadata[`vmcp.backend.session.workload-${i}`] = randomBytes(12).toString('hex');
    const ids = Array.from({ length: SESSIONS }, (_, i) => `bench-${i}`);
    await Promise.all(ids.map((id) => writerStore.create(id, metadata)));

    const always = new SessionCache(store, { validate: 'always', maxEntries: SESSIONS });
    const events = new SessionCache(store, { validate: 'events', maxEntries: SESSIONS, maxStaleMs: 60_000 });
    await events.ready;

    const results: Result[] = [];
    for (const concurrency of [1, CONCURRENCY]) {
      results.push(await measure('store.get', concurrency, ids, (id) => store.get(id)));
      results.push(await measure("cache 'always' hit", concurrency, ids, (id) => always.get(id)));
      results.push(await measure("cache 'events' hit", concurrency, ids, (id) => events.get(id)));
    }
    console.log(`Redis from ${redis.source} (${redis.url}); ${SESSIONS} sessions of ${METADATA_ENTRIES} entries; ` +
      `up to ${OPS} gets or ${MAX_MS} ms per row; one connection for the reader\n`);
    console.log('| scenario | concurrency | gets | gets/s | p50 µs | p99 µs |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of results) {
      console.log(`| ${r.scenario} | ${r.concurrency} | ${r.ops} | ${r.opsPerSec} | ${r.p50us} | ${r.p99us} |`);
    }
    console.log(`\n${JSON.stringify({ bench: 'cache-hits', results })}`);
    await always.close();
    await events.close();
    await Promise.all(ids.map((id) => writerStore.terminate(id)));
  } finally {
    writer.disconnect();
    reader.disconnect();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
