/**
 * The property and linearizability suites on node-redis: the six named race
 * properties (fc.scheduler over read -> modify -> CAS, mutate, terminate,
 * expiry; every history checked) with the store on a node-redis client, and
 * the stress run (real concurrency on separate node-redis connections, short
 * TTLs, every history linearizable, monotonic and TTL-bounded).
 *
 * RESP3 (node-redis 6's default) gets the race budgets of properties.test.ts
 * and the stress run the budget of stress.test.ts; RESP2 a smaller race
 * budget. The real-concurrency runs per property stay on ioredis
 * (properties.test.ts): the store's logic is the same, what this file checks
 * is the node-redis path (argument encoding, replies in RESP3 and RESP2,
 * error mapping) under races. Raw keys are read and expired through an
 * ioredis connection, as there.
 *
 * node-redis's command timeout only rejects a command still waiting to be
 * written, so the impatient client's timeouts are not-applied entries, never
 * unknown outcomes (ioredis's `commandTimeout` gives unknown ones).
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { PROPERTY_TIMEOUT_MS, fcParams } from '../infra/budget.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, nodeRedisClient } from '../infra/node-redis-clients.js';
import { REDIS_TIMING, type ModelConfig } from '../oracles/model.js';
import { generationBreach } from '../oracles/observations.js';
import { redisRaceTarget, scanKeys } from '../oracles/race.js';
import {
  casExclusive,
  generationMonotonic,
  noLostUpdate,
  noResurrectionAfterExpiry,
  noResurrectionAfterTerminate,
  ttlInvariantRace,
} from '../oracles/race-properties.js';
import { checkSessionHistory, checkerSummary, writeHistoryArtifact } from '../oracles/session-history.js';
import { ALL_KINDS, runStress, stressPlan } from '../oracles/stress.js';

const T = PROPERTY_TIMEOUT_MS;
const opened: NodeRedis[] = [];
let raw: Redis | undefined;
const rawConn = (): Redis => (raw ??= createClient(5) as Redis);
afterAll(() => {
  for (const c of opened) c.close();
  raw?.disconnect();
  console.log(checkerSummary('test/property/properties-node-redis.test.ts'));
});

function nodeRedis(o: Parameters<typeof nodeRedisClient>[1] = {}): NodeRedis {
  const c = nodeRedisClient(undefined, o);
  opened.push(c);
  return c;
}

for (const [RESP, runs] of [
  [3, 100],
  [2, 30],
] as const) {
  describe(`properties: RedisSessionStore on node-redis (RESP${RESP})`, () => {
    let nr: NodeRedis | undefined;
    const target = redisRaceTarget(
      rawConn,
      () => (nr ??= nodeRedis({ RESP })).client,
      `RedisSessionStore (node-redis RESP${RESP})`,
    );
    it('no-resurrection-after-terminate', () => noResurrectionAfterTerminate(target, runs), T);
    it('no-resurrection-after-expiry', () => noResurrectionAfterExpiry(target, runs), T);
    it('cas-exclusive', () => casExclusive(target, runs), T);
    it('no-lost-update', () => noLostUpdate(target, runs), T);
    it('generation-monotonic', () => generationMonotonic(target, runs), T);
    it('ttl-invariant', () => ttlInvariantRace(target, Math.ceil(runs * 0.6)), T);
  });
}

describe('stress on node-redis: real concurrency, every history checked', () => {
  const CLIENTS = 4;
  const IDS = ['a', 'b'];
  const TTLS = [2, 5, 10];
  const cfg: ModelConfig = { ttlMs: 5, tombstoneTtlMs: 3, touchOnGet: true, ...REDIS_TIMING };

  it(
    'K node-redis clients (RESP3 and RESP2), short TTLs, queue timeouts: every history is linearizable, monotonic and TTL-bounded',
    async () => {
      const clients = Array.from({ length: CLIENTS }, (_, i) => nodeRedis({ RESP: i % 2 === 0 ? 3 : 2 }));
      // When the machine is busy its commands time out while waiting to be written: not applied, by node-redis's rule.
      const impatient = nodeRedis({ options: { commandOptions: { timeout: 4 } } });
      await Promise.all([...clients, impatient].map((c) => c.ready()));
      const monitor = rawConn();
      const figures = { histories: 0, operations: 0, unknown: 0, notApplied: 0, expiredOrGone: 0, created: 0 };
      await fc.assert(
        fc.asyncProperty(stressPlan(ALL_KINDS, CLIENTS + 1, IDS.length, TTLS.length, 15, 40), async (plan) => {
          const prefix = uniquePrefix('nr-stress');
          const run = await runStress(
            {
              clients: [...clients, impatient].map((c) => c.client as unknown as NodeRedisEmitter),
              prefix,
              ids: IDS,
              ttls: TTLS,
              cfg,
              monitor,
              makeStore: (c, p) =>
                new RedisSessionStore(c as unknown as NodeRedis['client'], {
                  prefix: p,
                  ttlMs: cfg.ttlMs,
                  tombstoneTtlMs: cfg.tombstoneTtlMs,
                  evictionPolicyCheck: 'off',
                }),
            },
            plan,
          );
          const entries = run.history.entries;
          figures.histories++;
          figures.operations += entries.length;
          for (const e of entries) {
            const o = e.output as { ok?: boolean; reason?: string } | null | undefined;
            if (e.unknown) figures.unknown++;
            else if (e.notApplied) figures.notApplied++;
            else if (o === null || o?.reason === 'not_found' || o?.reason === 'terminated') figures.expiredOrGone++;
            else if (e.op.f === 'create' && o?.ok === true) figures.created++;
          }
          const keys = await scanKeys(monitor, prefix);
          if (keys.length) await monitor.del(...keys);
          const verdict = checkSessionHistory('nr-stress', entries, cfg, { extra: { plan } });
          const breach =
            generationBreach(entries) ??
            (run.ttlViolations.length ? `ttl-invariant: ${run.ttlViolations.join('; ')}` : undefined);
          if (breach) {
            const file = verdict.artifact ?? writeHistoryArtifact('nr-stress', entries, cfg, verdict, { plan, breach });
            throw new Error(`nr-stress: ${breach}; history written to ${file}`);
          }
          if (!verdict.ok) throw new Error(verdict.message);
        }),
        fcParams(80, { endOnFailure: true }),
      );
      console.log(
        `[stress node-redis] ${figures.histories} histories, ${figures.operations} operations ` +
          `(${figures.unknown} unknown, ${figures.notApplied} not applied, ${figures.created} creates, ` +
          `${figures.expiredOrGone} finding no live session)`,
      );
      expect(figures.unknown).toBe(0); // no connection fault here, and node-redis timeouts are never unknown
      expect(figures.expiredOrGone).toBeGreaterThan(0);
      expect(figures.created).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );
});

type NodeRedisEmitter = {
  on(event: 'reconnecting', listener: () => void): unknown;
  off(event: 'reconnecting', listener: () => void): unknown;
};
