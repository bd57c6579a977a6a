/**
 * The baselines, measured like the operations (same client, same server,
 * same concurrency and pipelining matrix, same rounds), so the ratios mean
 * something:
 *   bare-lua-cas      issue #11's bare Lua CAS (HGET, compare, HSET, PEXPIRE), called bare (the ceiling for update)
 *   hset-pexpire      a blind HSET + PEXPIRE pipeline (no CAS; the cheapest write a plain store does)
 *   watch-multi-cas   WATCH / HGET / MULTI / EXEC, one connection per in-flight transaction
 *   naive             HGETALL then HSET + PEXPIRE (not atomic: the store most services have)
 * @module
 */
import type { Redis } from 'ioredis';
import { NaiveSessionStore, bareCas, createPlainRecord, fieldArgs, hsetPexpire, watchCas } from '../baseline-stores.js';
import { type BenchContext, BENCH_TTL_MS, type Scenario, requireRedis, sharedClient } from '../bench-harness.js';
import type { BenchClient, Pipelining } from '../env.js';
import { PAYLOAD, incremented } from '../payload.js';
import { type Prepared, loadMatrix } from './measured.js';

export const BASELINES = ['bare-lua-cas', 'hset-pexpire', 'watch-multi-cas', 'naive'] as const;
export type BaselineName = (typeof BASELINES)[number];

export const REDIS_ONLY = 'a Redis-only baseline: it measures raw Redis commands, not a SessionStore';

const FIELDS = fieldArgs(PAYLOAD);

export function baselineScenarios(pipelining: readonly Pipelining[]): Scenario[] {
  const modes = pipelining.includes('n/a') ? (['on', 'off'] as const) : pipelining;
  return loadMatrix('baselines', BASELINES, modes, {
    redisOnly: REDIS_ONLY,
    prepare: (ctx, b, concurrency, p) => prepareBaseline(ctx, b, concurrency, p),
  });
}

async function prepareBaseline(
  ctx: BenchContext,
  name: BaselineName,
  concurrency: number,
  pipelining: Pipelining,
): Promise<Prepared> {
  const prefix = ctx.keyPrefix(name);
  const keys = Array.from({ length: concurrency }, (_, w) => `${prefix}{w${w}}`);
  const client = sharedClient(ctx, pipelining);
  switch (name) {
    case 'bare-lua-cas': {
      const gens = await plainRecords(client, keys);
      return {
        async call(w) {
          if ((await bareCas(client, keys[w]!, gens[w]!, BENCH_TTL_MS, FIELDS)) !== 1) return false;
          gens[w]!++;
          return true;
        },
      };
    }
    case 'hset-pexpire':
      return { call: (w) => hsetPexpire(client, keys[w]!, BENCH_TTL_MS, FIELDS) };
    case 'watch-multi-cas': {
      const gens = await plainRecords(client, keys);
      // WATCH state is per connection: one connection per in-flight transaction, to its key's node.
      const pool: Redis[] = [];
      for (const key of keys) pool.push(await requireRedis(ctx).clients.connectionFor(key, pipelining));
      await Promise.all(pool.map((c) => c.ping()));
      return {
        async call(w) {
          if ((await watchCas(pool[w]!, keys[w]!, gens[w]!, BENCH_TTL_MS, FIELDS)) !== 'ok') return false;
          gens[w]!++;
          return true;
        },
        close() {
          for (const c of pool) c.disconnect();
        },
      };
    }
    case 'naive': {
      const naive = new NaiveSessionStore(client, prefix, BENCH_TTL_MS);
      await Promise.all(keys.map((_, w) => naive.create(`{w${w}}`, PAYLOAD)));
      return {
        async call(w) {
          const loaded = await naive.load(`{w${w}}`);
          return loaded !== null && naive.save(`{w${w}}`, incremented(loaded));
        },
      };
    }
  }
}

async function plainRecords(client: BenchClient, keys: readonly string[]): Promise<number[]> {
  await Promise.all(keys.map((k) => createPlainRecord(client, k, BENCH_TTL_MS, FIELDS)));
  return keys.map(() => 1);
}
