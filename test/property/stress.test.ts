/**
 * The stress property: real concurrency on Redis, every history checked.
 *
 * Four clients on their own connections, plus a fifth whose connection has a
 * command timeout of a few ms (so on a busy machine some of its operations
 * time out and become unknown-outcome history entries, as a real client's
 * would), run random operations on two ids. Sessions live 2-10 ms and
 * tombstones 3 ms, so expiry, terminate, re-create and CAS race for real.
 * Each history must be linearizable against the session model, keep
 * generations monotonic, and keep every key's TTL bounded (a monitor
 * connection polls PTTL throughout). A failing history is written to
 * `.test-artifacts/histories/` and its path printed.
 *
 * Expiry in the model: a write that sets a TTL of t somewhere in [call, ret]
 * makes the record vanish at an instant in [call + t - 2, ret + t + 3] ms of
 * the monotonic clock (Redis counts whole ms; see REDIS_TIMING in model.ts),
 * and the checker lets it vanish anywhere in that window, never outside.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { PROPERTY_TIMEOUT_MS, fcParams } from '../infra/budget.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { checkSessionHistory, checkerStats, checkerSummary, writeHistoryArtifact } from '../oracles/session-history.js';
import { REDIS_TIMING, type ModelConfig } from '../oracles/model.js';
import { generationBreach } from '../oracles/observations.js';
import { scanKeys } from '../oracles/race.js';
import { ALL_KINDS, runStress, stressPlan } from '../oracles/stress.js';

const CLIENTS = 4;
const IDS = ['a', 'b'];
const TTLS = [2, 5, 10];
const cfg: ModelConfig = { ttlMs: 5, tombstoneTtlMs: 3, touchOnGet: true, ...REDIS_TIMING };

const figures = {
  histories: 0,
  operations: 0,
  unknown: 0,
  notApplied: 0,
  expiredOrGone: 0,
  created: 0,
  casConflicts: 0,
  monitorPolls: 0,
};

const pool: Redis[] = [];
afterAll(() => {
  for (const c of pool) c.disconnect();
  console.log(
    `[stress] ${figures.histories} histories, ${figures.operations} operations ` +
      `(${figures.unknown} with unknown outcome, ${figures.notApplied} failed and not applied, ${figures.created} successful creates, ` +
      `${figures.expiredOrGone} replies finding no live session, ${figures.casConflicts} CAS conflicts), ` +
      `${figures.monitorPolls} PTTL polls`,
  );
  console.log(checkerSummary('test/property/stress.test.ts'));
});

describe('stress: real concurrency on Redis, every history checked', () => {
  it(
    'K clients, short TTLs, unknown outcomes: every history is linearizable, monotonic and TTL-bounded',
    async () => {
      const clients = Array.from({ length: CLIENTS }, () => createClient(5) as Redis);
      // Times out under load: its operations then have unknown outcomes (the command may still run).
      const impatient = createClient(5, undefined, { commandTimeout: 4 }) as Redis;
      const monitor = createClient(5) as Redis;
      pool.push(...clients, impatient, monitor);
      const before = checkerStats.histories;

      await fc.assert(
        fc.asyncProperty(stressPlan(ALL_KINDS, CLIENTS + 1, IDS.length, TTLS.length, 15, 40), async (plan) => {
          const prefix = uniquePrefix('stress');
          const run = await runStress(
            {
              clients: [...clients, impatient],
              prefix,
              ids: IDS,
              ttls: TTLS,
              cfg,
              monitor,
              makeStore: (c, p) =>
                new RedisSessionStore(c, { prefix: p, ttlMs: cfg.ttlMs, tombstoneTtlMs: cfg.tombstoneTtlMs }),
            },
            plan,
          );
          const entries = run.history.entries;
          figures.histories++;
          figures.operations += entries.length;
          figures.monitorPolls += run.monitorPolls;
          for (const e of entries) {
            const o = e.output as { ok?: boolean; reason?: string } | null | undefined;
            if (e.unknown) figures.unknown++;
            else if (e.notApplied) figures.notApplied++;
            else if (o === null || o?.reason === 'not_found' || o?.reason === 'terminated') figures.expiredOrGone++;
            else if (e.op.f === 'create' && o?.ok === true) figures.created++;
            else if (o?.reason === 'conflict') figures.casConflicts++;
          }
          const keys = await scanKeys(monitor, prefix);
          if (keys.length) await monitor.del(...keys);

          const verdict = checkSessionHistory('stress', entries, cfg, { extra: { plan } });
          const breach =
            generationBreach(entries) ??
            (run.ttlViolations.length ? `ttl-invariant: ${run.ttlViolations.join('; ')}` : undefined);
          if (breach) {
            const file = verdict.artifact ?? writeHistoryArtifact('stress', entries, cfg, verdict, { plan, breach });
            throw new Error(`stress: ${breach}; history written to ${file}`);
          }
          if (!verdict.ok) throw new Error(verdict.message);
        }),
        fcParams(80, { endOnFailure: true }),
      );

      expect(checkerStats.histories - before).toBe(figures.histories);
      // The run must have raced for real: sessions expired or were terminated under the clients.
      expect(figures.expiredOrGone).toBeGreaterThan(0);
      expect(figures.created).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );
});
