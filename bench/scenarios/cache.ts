/**
 * SessionCache hit throughput against `store.get`, on the same store, the
 * same sessions and the same read pattern as the `get` operation:
 *   uncached-get       store.get through the store (one full read per call)
 *   cache-hit-always   SessionCache 'always': a hit costs one generation-only round trip
 *   cache-hit-events   SessionCache 'events': a hit is a memory read while the feed is up
 * Every session is loaded into the cache before the first slice, and nothing
 * writes to them, so every measured get is a hit; the cache counters go into
 * the result, and a hit that was not one (a load, or a validation in
 * 'events' mode) is reported as a problem.
 * @module
 */
import { type SessionCacheStats, SessionCache, type SessionStore } from '../../src/index.js';
import { type BenchContext, type LoadData, type Scenario } from '../bench-harness.js';
import type { Pipelining } from '../env.js';
import { forEachLimited } from '../load.js';
import { type Prepared, loadMatrix } from './measured.js';
import { READ_POOL, createSessions, readPoolId } from './operations.js';

export const CACHE_SUBJECTS = ['uncached-get', 'cache-hit-always', 'cache-hit-events'] as const;
export type CacheSubject = (typeof CACHE_SUBJECTS)[number];

/**
 * Long enough that no entry goes stale by age during any run (the watchdog
 * ends a run long before), so 'events' hits stay memory reads; the sessions'
 * TTL is longer still, so none expires under a cache that does not slide it.
 */
const EVENTS_MAX_STALE_MS = 3_600_000;
const CACHE_SESSION_TTL_MS = 2 * EVENTS_MAX_STALE_MS;

export function cacheScenarios(pipelining: readonly Pipelining[]): Scenario[] {
  return loadMatrix('cache', CACHE_SUBJECTS, pipelining, {
    prepare: (ctx, subject, _concurrency, p) => prepareCache(ctx, subject, p),
  });
}

async function prepareCache(ctx: BenchContext, subject: CacheSubject, pipelining: Pipelining): Promise<Prepared> {
  const events = subject === 'cache-hit-events';
  const store: SessionStore = ctx.makeStore(pipelining, subject, {
    ttlMs: CACHE_SESSION_TTL_MS,
    ...(events && ctx.store === 'redis' ? { eventsChannel: `${ctx.keyPrefix('cache-events')}channel` } : {}),
  });
  await createSessions(store, 'r', READ_POOL);
  if (subject === 'uncached-get') {
    return { call: async (w, seq) => (await store.get(readPoolId(w, seq))) !== null };
  }
  const cache = new SessionCache(store, {
    validate: events ? 'events' : 'always',
    maxEntries: READ_POOL,
    ...(events ? { maxStaleMs: EVENTS_MAX_STALE_MS } : {}),
  });
  try {
    await cache.ready;
    await forEachLimited(READ_POOL, 16, async (i) => {
      if ((await cache.get(`r${i}`)) === null) throw new Error(`bench setup: r${i} not found through the cache`);
    });
    if (cache.size !== READ_POOL)
      throw new Error(`bench setup: the cache holds ${cache.size} of ${READ_POOL} sessions`);
  } catch (err) {
    await cache.close();
    throw err;
  }
  const filled = cache.stats();
  return {
    call: async (w, seq) => (await cache.get(readPoolId(w, seq))) !== null,
    cacheCounters: () => since(filled, cache.stats()),
    close: () => cache.close(),
  };
}

function since(from: SessionCacheStats, to: SessionCacheStats): NonNullable<LoadData['cache']> {
  return { hits: to.hits - from.hits, validations: to.validations - from.validations, loads: to.loads - from.loads };
}

/** Why a cache scenario's figure is not a pure hit figure, or undefined. */
export function cacheProblem(r: LoadData): string | undefined {
  if (!r.cache) return undefined;
  if (r.cache.loads > 0) return `${r.cache.loads} gets reloaded a session (a hit must not)`;
  if (r.subject === 'cache-hit-events' && r.cache.validations > 0) {
    return `${r.cache.validations} gets were validated against the store ('events' hits must be memory reads; was the feed interrupted?)`;
  }
  return undefined;
}
