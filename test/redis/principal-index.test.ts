/**
 * The principal index as Redis holds it (raw state, as the STYLE asks): a
 * TTL that outlives its members, kept up when they slide, and entries of
 * ended sessions dropped by the next read once older than the grace.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisSessionStore, type SessionStoreOptions } from '../../src/index.js';
import { INDEX_TIMING, principalIndexKey } from '../../src/redis/principals.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());
const grace = INDEX_TIMING.pendingGraceMs;
afterEach(() => {
  INDEX_TIMING.pendingGraceMs = grace;
});

function make(options: SessionStoreOptions = {}) {
  const prefix = uniquePrefix('principal-index');
  const store = new RedisSessionStore(client, { ...options, prefix });
  const index = principalIndexKey('ada', prefix);
  const raw = client as unknown as {
    pttl(k: string): Promise<number>;
    zrange(k: string, a: number, b: number, w: 'WITHSCORES'): Promise<string[]>;
  };
  return { store, index, pttl: () => raw.pttl(index), entries: () => raw.zrange(index, 0, -1, 'WITHSCORES') };
}

describe('principal index (raw)', () => {
  it('has a TTL of three session TTLs at a create, and a touch keeps it at least two ahead', async () => {
    const { store, pttl, entries } = make({ ttlMs: 2_000 });
    expect((await store.create('a', {}, { principal: 'ada' })).ok).toBe(true);
    expect(await pttl()).toBeGreaterThan(5_000);
    expect(await pttl()).toBeLessThanOrEqual(6_000);
    const [id, score] = await entries();
    expect(id).toBe('a');
    expect(Number(score)).toBeGreaterThan(0); // uncapped: entered confirmed
    // A touch while the index has more than 2 TTLs left writes nothing to it...
    await sleep(900);
    expect((await store.touch('a')).ok).toBe(true);
    await sleep(20);
    expect(await pttl()).toBeLessThan(5_500);
    // ...one when it has less gives it 3 TTLs again (the session, touched at 0.9 s, lives until 2.9 s).
    await sleep(1_300);
    expect((await store.touch('a')).ok).toBe(true);
    await sleep(20); // the keep is not awaited by touch
    expect(await pttl()).toBeGreaterThan(5_000);
  });

  it('with maxLifetimeMs: the lifetime plus the clock margin, and no keep is needed', async () => {
    const { store, pttl } = make({ ttlMs: 1_000, maxLifetimeMs: 5_000 });
    expect((await store.create('a', {}, { principal: 'ada' })).ok).toBe(true);
    expect(await pttl()).toBeGreaterThan(5_000 + INDEX_TIMING.clockSkewMs - 1_000);
    expect(await pttl()).toBeLessThanOrEqual(5_000 + INDEX_TIMING.clockSkewMs);
  });

  it('entries of expired and terminated sessions go at the next read once older than the grace', async () => {
    INDEX_TIMING.pendingGraceMs = 300;
    const { store, entries } = make();
    expect((await store.create('short', {}, { principal: 'ada', ttlMs: 50 })).ok).toBe(true);
    expect((await store.create('ended', {}, { principal: 'ada' })).ok).toBe(true);
    expect((await store.create('live', {}, { principal: 'ada' })).ok).toBe(true);
    expect((await store.terminate('ended')).ok).toBe(true);
    await sleep(100);
    // Too young to drop: a create could still be between its two steps.
    expect((await store.sessionsOf('ada')).map((s) => s.id)).toEqual(['live']);
    expect((await entries()).filter((_, i) => i % 2 === 0).sort()).toEqual(['ended', 'live', 'short']);
    await sleep(300);
    expect((await store.sessionsOf('ada')).map((s) => s.id)).toEqual(['live']);
    expect((await entries()).filter((_, i) => i % 2 === 0)).toEqual(['live']);
  });

  it('a capped create enters its id pending and confirms it', async () => {
    const { store, entries } = make({ maxSessionsPerPrincipal: 3 });
    expect((await store.create('a', {}, { principal: 'ada' })).ok).toBe(true);
    const [, score] = await entries();
    expect(Number(score)).toBeGreaterThan(0);
  });
});
