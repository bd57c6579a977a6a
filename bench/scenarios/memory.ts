/**
 * Memory per session in Redis (MEMORY USAGE ... SAMPLES 0, exact, asked of the
 * key's node) for 1, 10 and 100 metadata entries: the session-cas hash right after create and
 * with its op-id ring full (8 writes later), against the same metadata as
 * one JSON string, the layout connect-redis and most session stores use.
 * @module
 */
import type { RedisSessionStore } from '../../src/index.js';
import {
  type BenchContext,
  BENCH_TTL_MS,
  type MemoryData,
  type Scenario,
  requireRedis,
  sharedClient,
} from '../bench-harness.js';
import { PAYLOAD_FIELD_COUNTS, metadataOf } from '../payload.js';

export const MEMORY_FIELD_COUNTS = PAYLOAD_FIELD_COUNTS;
const RING = 8;

export function memoryId(fields: number): string {
  return `memory:${fields}-fields`;
}

export function memoryScenarios(): Scenario[] {
  return MEMORY_FIELD_COUNTS.map((fields) => ({
    id: memoryId(fields),
    section: 'memory' as const,
    redisOnly: 'MEMORY USAGE is a Redis figure',
    run: (ctx: BenchContext) => measureMemory(ctx, fields),
  }));
}

async function measureMemory(ctx: BenchContext, fields: number): Promise<MemoryData> {
  const admin = requireRedis(ctx).admin;
  const metadata = metadataOf(fields);
  const usage = (key: string): Promise<number> => admin.memoryUsage(key);
  const store = ctx.makeStore('on', 'memory') as RedisSessionStore;
  const created = await store.create('s', metadata);
  if (!created.ok) throw new Error(`bench setup: create returned ${created.reason}`);
  const sessionCasFresh = await usage(store.keyFor('s'));
  let generation = created.session.generation;
  for (let i = 0; i < RING; i++) {
    const r = await store.update('s', generation, metadata);
    if (!r.ok) throw new Error(`bench setup: update returned ${r.reason}`);
    generation = r.session.generation;
  }
  const sessionCasRingFull = await usage(store.keyFor('s'));
  const jsonKey = `${ctx.keyPrefix('memory-json')}s`;
  await sharedClient(ctx, 'on').set(jsonKey, JSON.stringify(metadata), 'PX', BENCH_TTL_MS);
  const jsonString = await usage(jsonKey);
  return { kind: 'memory', fields, bytes: { sessionCasFresh, sessionCasRingFull, jsonString } };
}
