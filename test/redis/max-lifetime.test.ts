/**
 * maxLifetimeMs on real Redis time: a session that get, touch, update and
 * patch keep busy in a tight loop (each asking for a long TTL) still ends at
 * createdAt + maxLifetimeMs by the server's clock, and no call succeeds on it
 * after that instant.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { createClient, uniquePrefix } from '../infra/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());
const LIFETIME = 1_500;
/** Redis expires by its own ms clock; this covers rounding and the time between TIME and our Date.now(). */
const SLACK = 25;

describe('maxLifetimeMs', () => {
  it('get/touch/update/patch in a loop never keep a session past createdAt + maxLifetimeMs', async () => {
    const store = new RedisSessionStore(client, { prefix: uniquePrefix('lifetime'), maxLifetimeMs: LIFETIME });
    const created = await store.create('s', { n: '0' }, { principal: 'ada', ttlMs: 600_000 });
    if (!created.ok) throw new Error('create failed');
    const [sec, usec] = (await client.time()) as unknown as [string, string];
    // How far our clock is from the server's (same machine: about 0), to place its deadline on our clock.
    const skew = Date.now() - (Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
    const deadline = created.session.createdAt + LIFETIME + skew;
    let generation = created.session.generation;
    let lastSuccess = 0;
    let calls = 0;
    for (let i = 0; calls < 100_000 && Date.now() < deadline + 500; i++) {
      calls += 4;
      const before = Date.now();
      const got = await store.get('s');
      const touched = await store.touch('s', { ttlMs: 600_000 });
      const updated = await store.update('s', generation, { n: String(i) }, { ttlMs: 600_000 });
      const patched = await store.patch('s', { set: { p: String(i) } }, { ttlMs: 600_000 });
      if (updated.ok) generation = updated.session.generation;
      if (patched.ok) generation = patched.session.generation;
      if (got || touched.ok || updated.ok || patched.ok) lastSuccess = before;
      const pttl = await client.pttl(store.keyFor('s'));
      if (pttl > 0) expect(Date.now() + pttl).toBeLessThanOrEqual(deadline + SLACK);
    }
    // Writes kept working until close to the deadline, and none after it.
    expect(lastSuccess).toBeGreaterThan(deadline - 300);
    expect(lastSuccess).toBeLessThanOrEqual(deadline + SLACK);
    expect(await store.peek('s')).toBeNull();
    expect(await store.touch('s')).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.sessionsOf('ada')).toEqual([]);
  }, 20_000);
});
