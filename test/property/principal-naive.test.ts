/**
 * The principal properties must be able to fail: the naive store (a plain
 * set per principal, load-then-store terminate, the cap checked before the
 * create) breaks them under the same schedules.
 */
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PROPERTY_TIMEOUT_MS } from '../infra/budget.js';
import { createClient } from '../infra/clients.js';
import { naiveRaceTarget } from '../oracles/race.js';
import { PrincipalViolation, capRace, terminateAllRace } from './principal-races.js';

let client: Redis | undefined;
const conn = (): Redis => (client ??= createClient(5) as Redis);
afterAll(() => client?.disconnect());

const RUNS = 300;
const T = PROPERTY_TIMEOUT_MS;

async function expectCaught(run: () => Promise<void>, message: RegExp): Promise<void> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the property passed on the naive store').toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/seed: -?\d+, path: "[\d:]+"/); // replayable
  expect((err as Error).cause).toBeInstanceOf(PrincipalViolation);
  expect(((err as Error).cause as Error).message).toMatch(message);
}

describe('naive store: the principal properties catch it', () => {
  const target = naiveRaceTarget(conn);
  it(
    'terminate-all: by its assertions',
    () =>
      expectCaught(
        () => terminateAllRace(target, RUNS, { checks: 'assertions', expectFailure: true, fc: { endOnFailure: true } }),
        /^terminate-all: .*(live after terminateAll|late write)/,
      ),
    T,
  );
  it(
    'terminate-all: by the linearizability checker alone',
    () =>
      expectCaught(
        () => terminateAllRace(target, RUNS, { checks: 'checker', expectFailure: true, fc: { endOnFailure: true } }),
        /^terminate-all: history is not linearizable/,
      ),
    T,
  );
  it(
    'principal-cap (refuse)',
    () =>
      expectCaught(
        () => capRace(target, 'refuse', RUNS, { endOnFailure: true }),
        /^principal-cap \(refuse\): .*over the cap/,
      ),
    T,
  );
  it(
    'principal-cap (evict-oldest)',
    () =>
      expectCaught(
        () => capRace(target, 'evict-oldest', RUNS, { endOnFailure: true }),
        /^principal-cap \(evict-oldest\): .*over the cap/,
      ),
    T,
  );
});
