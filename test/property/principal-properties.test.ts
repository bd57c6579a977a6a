/**
 * Race properties of principals (see principal-races.ts) on the memory store
 * and on Redis: they must hold on every schedule fast-check tries.
 */
import type { Redis } from 'ioredis';
import { afterAll, describe, it } from 'vitest';
import { PROPERTY_TIMEOUT_MS } from '../infra/budget.js';
import { createClient } from '../infra/clients.js';
import { memoryRaceTarget, redisRaceTarget } from '../oracles/race.js';
import { capRace, terminateAllRace } from './principal-races.js';

let client: Redis | undefined;
const conn = (): Redis => (client ??= createClient(5) as Redis);
afterAll(() => client?.disconnect());

const T = PROPERTY_TIMEOUT_MS;
const targets = [memoryRaceTarget(), redisRaceTarget(conn)];

describe.each(targets)('principal races on $name', (target) => {
  it(
    'terminate-all: interleaved with create, update, touch, patch, get and expiry',
    () => terminateAllRace(target, 60),
    T,
  );
  it('principal-cap: evict-oldest', () => capRace(target, 'evict-oldest', 40), T);
  it('principal-cap: refuse', () => capRace(target, 'refuse', 40), T);
});
