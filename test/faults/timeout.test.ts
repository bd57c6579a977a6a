/**
 * timeout: with ioredis `commandTimeout`, a write whose reply does not come in
 * time rejects with OUTCOME_UNKNOWN (outcome 'unknown'), with
 * autoResendUnfulfilledCommands on or off, and no promise is left pending.
 * "Unknown" is honest both ways: a request that never reached Redis is not
 * applied, one whose reply was lost is. And with re-send on, ioredis still
 * holds the timed-out command and sends it again after a reconnect, so a
 * write can land after the caller saw the timeout: never twice, though.
 */
import { describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { expectFault, plan, rejection, resetAndReconnect, useProxiedServer, WRITE_OPS } from './fault-harness.js';

const env = useProxiedServer();

const RESEND = [true, false];
const cases = ([5, 6] as IoredisMajor[]).flatMap((major) => RESEND.map((resend) => [major, resend] as const));

describe.each(cases)('timeout (ioredis %i, autoResendUnfulfilledCommands %s)', (major, resend) => {
  const prefix = uniquePrefix(`timeout-${major}-${resend}`);
  const stores = () => {
    const faulty = createClient(major, env.proxy.url, {
      commandTimeout: 300,
      autoResendUnfulfilledCommands: resend,
      maxRetriesPerRequest: 5,
    });
    const healthy = createClient(major, env.server.url);
    env.clients.push(faulty, healthy);
    return {
      faulty,
      store: new RedisSessionStore(faulty, { prefix }),
      healthy: new RedisSessionStore(healthy, { prefix }),
    };
  };

  it.each(WRITE_OPS)('timeout: %s whose request never arrives: OUTCOME_UNKNOWN, not applied', async (op) => {
    const { faulty, store, healthy } = stores();
    await store.exists('warm-up');
    const p = await plan(op, healthy);
    const err = await rejection(p.run(store, () => env.proxy.setMode('blackhole')));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(await p.applied(env.admin)).toBe('not');
    await resetAndReconnect(env.proxy, faulty);
    await store.exists('after-reconnect'); // anything ioredis re-sends goes before this
    // With re-send on, the timed-out write lands now, after the caller gave up: once.
    expect(await p.applied(env.admin)).toBe(resend ? 'once' : 'not');
  });

  it.each(WRITE_OPS)('timeout: %s whose reply is lost: OUTCOME_UNKNOWN, applied once', async (op) => {
    const { faulty, store, healthy } = stores();
    await store.exists('warm-up');
    const p = await plan(op, healthy);
    const dropped = env.proxy.stats.replyBytesDropped;
    const err = await rejection(p.run(store, () => env.proxy.setMode('drop-reply')));
    expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
    expect(env.proxy.stats.replyBytesDropped).toBeGreaterThan(dropped);
    expect(await p.applied(env.admin)).toBe('once');
    await resetAndReconnect(env.proxy, faulty);
    await store.exists('after-reconnect');
    expect(await p.applied(env.admin)).toBe('once'); // a re-send finds its op id and does not apply again
  });
});

describe('timeout (server stalled by DEBUG SLEEP)', () => {
  const prefix = uniquePrefix('timeout-stall');
  it.each(WRITE_OPS)(
    'timeout: %s queued behind a stalled server: OUTCOME_UNKNOWN, then applied once when it wakes',
    async (op) => {
      const faulty = createClient(5, env.server.url, { commandTimeout: 300 });
      const healthy = createClient(5, env.server.url);
      env.clients.push(faulty, healthy);
      const store = new RedisSessionStore(faulty, { prefix });
      await store.exists('warm-up');
      const p = await plan(op, new RedisSessionStore(healthy, { prefix }));
      // On the same connection right before the write (for mutate: after its
      // read), so the write surely waits behind the sleep.
      let stall: Promise<unknown> = Promise.resolve();
      const err = await rejection(
        p.run(store, () => {
          stall = faulty.call('DEBUG', 'SLEEP', '1').catch(() => undefined);
        }),
      );
      expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
      await stall;
      await env.admin.ping(); // answered once the server is awake and has run what was queued
      expect(await p.applied(env.admin)).toBe('once');
    },
  );
});
