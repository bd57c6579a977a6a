/**
 * The throughput targets of issue #11: `update` and `get` through the store
 * against the bare scripts of bench/baseline-stores.ts, 64 calls in flight on one
 * ioredis client (the store's and the bare scripts' client are the same),
 * one-field metadata, auto-pipelining on and off:
 *   update-1-field     store.update, each worker on its own session
 *   bare-cas-1-field   the bare CAS (HGET, compare, HSET, PEXPIRE), each worker on its own plain record
 *   get-1-field        store.get (touchOnGet: the TTL is reset) over the read pool
 *   bare-get-1-field   the bare get (HGETALL + PEXPIRE) over as many plain records, same read pattern
 * The scenarios join the `c64:ap-*` groups of the operations and baselines,
 * so each round measures them back to back.
 * @module
 */
import { bareCas, bareGet, createPlainRecord, fieldArgs } from '../baseline-stores.js';
import { type BenchContext, BENCH_TTL_MS, type Scenario, sharedClient } from '../bench-harness.js';
import type { Pipelining } from '../env.js';
import { forEachLimited } from '../load.js';
import { metadataOf } from '../payload.js';
import { type Prepared, loadScenario } from './measured.js';
import { READ_POOL, createSessions, readPoolId, readPoolIndex } from './operations.js';

export const BARE_THROUGHPUT_SUBJECTS = [
  'update-1-field',
  'bare-cas-1-field',
  'get-1-field',
  'bare-get-1-field',
] as const;
export type BareThroughputSubject = (typeof BARE_THROUGHPUT_SUBJECTS)[number];
export const BARE_THROUGHPUT_CONCURRENCY = 64;

const METADATA = metadataOf(1);
const FIELDS = fieldArgs(METADATA);

export function bareThroughputScenarios(): Scenario[] {
  return BARE_THROUGHPUT_SUBJECTS.flatMap((subject) =>
    (['on', 'off'] as const).map((p) =>
      loadScenario({
        section: 'bare-throughput',
        subject,
        concurrency: BARE_THROUGHPUT_CONCURRENCY,
        pipelining: p,
        redisOnly: 'compares the store with bare Redis scripts',
        prepare: (ctx) => prepare(ctx, subject, p),
      }),
    ),
  );
}

async function prepare(ctx: BenchContext, subject: BareThroughputSubject, pipelining: Pipelining): Promise<Prepared> {
  switch (subject) {
    case 'update-1-field': {
      const store = ctx.makeStore(pipelining, subject);
      const generations = await createSessions(store, 'w', BARE_THROUGHPUT_CONCURRENCY, METADATA);
      return {
        async call(w) {
          const r = await store.update(`w${w}`, generations[w]!, METADATA);
          if (!r.ok) return false;
          generations[w] = r.session.generation;
          return true;
        },
      };
    }
    case 'get-1-field': {
      const store = ctx.makeStore(pipelining, subject);
      await createSessions(store, 'r', READ_POOL, METADATA);
      return { call: async (w, seq) => (await store.get(readPoolId(w, seq))) !== null };
    }
    case 'bare-cas-1-field': {
      const client = sharedClient(ctx, pipelining);
      const keys = await plainRecords(ctx, subject, BARE_THROUGHPUT_CONCURRENCY);
      const gens = keys.map(() => 1);
      return {
        async call(w) {
          if ((await bareCas(client, keys[w]!, gens[w]!, BENCH_TTL_MS, FIELDS)) !== 1) return false;
          gens[w]!++;
          return true;
        },
      };
    }
    case 'bare-get-1-field': {
      const client = sharedClient(ctx, pipelining);
      const keys = await plainRecords(ctx, subject, READ_POOL);
      return { call: async (w, seq) => (await bareGet(client, keys[readPoolIndex(w, seq)]!, BENCH_TTL_MS)).length > 0 };
    }
  }
}

async function plainRecords(ctx: BenchContext, subject: BareThroughputSubject, n: number): Promise<string[]> {
  const client = sharedClient(ctx, 'on');
  const prefix = ctx.keyPrefix(subject);
  const keys = Array.from({ length: n }, (_, i) => `${prefix}{r${i}}`);
  await forEachLimited(n, 64, (i) => createPlainRecord(client, keys[i]!, BENCH_TTL_MS, FIELDS));
  return keys;
}
