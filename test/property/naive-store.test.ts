/**
 * The tests must be able to fail. The naive store (load -> decide -> store
 * unconditionally, like the usual session stores) is run through the same
 * properties as the real stores, once with only the property's own
 * assertions and once with only the linearizability checker: each must catch
 * it. A property suite that passed here would be broken.
 *
 * The naive store keeps every key's TTL (its store is one MULTI), so
 * `ttl-invariant` is not expected to fail on it; that property is about the
 * key layout, not about concurrency control.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PROPERTY_TIMEOUT_MS, fcParams } from '../infra/budget.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { checkSessionHistory, checkerSummary } from '../oracles/session-history.js';
import { REDIS_TIMING, type ModelConfig } from '../oracles/model.js';
import { NaiveRedisStore } from '../oracles/naive-store.js';
import { naiveRaceTarget, scanKeys } from '../oracles/race.js';
import {
  PropertyViolation,
  type RaceOptions,
  casExclusive,
  generationMonotonic,
  noLostUpdate,
  noResurrectionAfterExpiry,
  noResurrectionAfterTerminate,
} from '../oracles/race-properties.js';
import { ALL_KINDS, runStress, stressPlan } from '../oracles/stress.js';

const T = PROPERTY_TIMEOUT_MS;
/** Runs allowed to find the bug; fast-check stops at the first failure (then shrinks it). */
const RUNS = 300;

const pool: Redis[] = [];
const conn = (i: number): Redis => (pool[i] ??= createClient(5) as Redis);
afterAll(() => {
  for (const c of pool) c.disconnect();
  console.log(checkerSummary('test/property/naive-store.test.ts (failures expected)'));
});

type Property = (target: ReturnType<typeof naiveRaceTarget>, numRuns: number, opts?: RaceOptions) => Promise<void>;

/** Runs `property` on the naive store twice: its assertions must fail, and the checker alone must too. */
async function expectCaught(property: Property, name: string, assertion: RegExp): Promise<void> {
  const target = naiveRaceTarget(() => conn(0));
  const quiet: RaceOptions = { expectFailure: true, fc: { endOnFailure: true } };
  const byAssertions = await property(target, RUNS, { ...quiet, checks: 'assertions' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(byAssertions, `${name}: the property's assertions passed on the naive store`).toBeInstanceOf(Error);
  const message = (byAssertions as Error).message;
  expect(message).toMatch(/seed: -?\d+, path: "[\d:]+"/); // replayable
  expect((byAssertions as Error).cause).toBeInstanceOf(PropertyViolation);
  expect(((byAssertions as Error).cause as Error).message).toMatch(new RegExp(`^${name}: ${assertion.source}`));

  const byChecker = await property(target, RUNS, { ...quiet, checks: 'checker' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(byChecker, `${name}: the checker accepted every naive-store history`).toBeInstanceOf(Error);
  expect(((byChecker as Error).cause as Error).message).toMatch(new RegExp(`^${name}: .*history is not linearizable`));
}

describe('naive store: the properties and the checker catch it', () => {
  it(
    'no-resurrection-after-terminate',
    () => expectCaught(noResurrectionAfterTerminate, 'no-resurrection-after-terminate', /resurrection/),
    T,
  );
  it(
    'no-resurrection-after-expiry',
    () => expectCaught(noResurrectionAfterExpiry, 'no-resurrection-after-expiry', /.*after (the session )?expir/),
    T,
  );
  it(
    'cas-exclusive',
    () => expectCaught(casExclusive, 'cas-exclusive', /\d+ of \d+ writers at generation \d+ succeeded/),
    T,
  );
  it(
    'no-lost-update',
    () =>
      expectCaught(
        noLostUpdate,
        'no-lost-update',
        /(lost update|two acknowledged writes share a generation|\d+ writes acknowledged)/,
      ),
    T,
  );
  it('generation-monotonic', () => expectCaught(generationMonotonic, 'generation-monotonic', /.*generation/), T);

  it(
    'linearizability checker: real-concurrency histories of the naive store are not linearizable',
    async () => {
      const cfg: ModelConfig = { ttlMs: 40, tombstoneTtlMs: 40, touchOnGet: true, ...REDIS_TIMING };
      const clients = [conn(1), conn(2), conn(3), conn(4)];
      let caught: string | undefined;
      let tried = 0;
      await fc
        .assert(
          fc.asyncProperty(stressPlan(ALL_KINDS, clients.length, 2, 2, 20, 40), async (plan) => {
            tried++;
            const prefix = uniquePrefix('naive-stress');
            const run = await runStress(
              {
                clients,
                prefix,
                ids: ['a', 'b'],
                ttls: [20, 40],
                cfg,
                makeStore: (c, p) =>
                  new NaiveRedisStore(c, { prefix: p, ttlMs: cfg.ttlMs, tombstoneTtlMs: cfg.tombstoneTtlMs }),
              },
              plan,
            );
            const keys = await scanKeys(conn(1), prefix);
            if (keys.length) await conn(1).del(...keys);
            const v = checkSessionHistory('naive-stress', run.history.entries, cfg, { quiet: true, artifact: false });
            if (!v.ok) caught = v.message;
            return v.ok;
          }),
          fcParams(40, { endOnFailure: true }),
        )
        .catch(() => undefined);
      expect(caught, `no naive-store history out of ${tried} was caught`).toMatch(/not linearizable/);
    },
    T,
  );
});
