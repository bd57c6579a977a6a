/**
 * request-lost: the request never reaches Redis (the proxy drops it). Nothing
 * is applied, so a retry is safe: ioredis's own re-send after the reconnect
 * applies it once, and without re-send the caller gets OUTCOME_UNKNOWN (from
 * commandTimeout) and its own retry applies once.
 */
import { describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import {
  expectAppliedOnce,
  expectFault,
  plan,
  rejection,
  resetAndReconnect,
  scriptRuns,
  settled,
  useProxiedServer,
  WRITE_OPS,
} from './fault-harness.js';

const prefix = uniquePrefix('request-lost');

const env = useProxiedServer();

function stores(clientOptions = {}) {
  const faulty = createClient(5, env.proxy.url, { maxRetriesPerRequest: 5, ...clientOptions });
  const healthy = createClient(5, env.server.url);
  env.clients.push(faulty, healthy);
  return {
    faulty,
    store: new RedisSessionStore(faulty, { prefix }),
    healthy: new RedisSessionStore(healthy, { prefix }),
  };
}

describe('request-lost', () => {
  it.each(WRITE_OPS)(
    'request-lost: %s applies nothing; ioredis re-sends after the reconnect and it applies once',
    async (op) => {
      const { store, healthy } = stores();
      await store.exists('warm-up');
      const p = await plan(op, healthy);
      const runsBefore = await scriptRuns(env.admin);
      const dropped = env.proxy.stats.requestBytesDropped;
      const call = p.run(store, () => env.proxy.setMode('drop-request'));
      await env.proxy.waitFor((s) => s.requestBytesDropped > dropped);
      expect(await p.applied(env.admin)).toBe('not');
      env.proxy.setMode('pass');
      env.proxy.resetConnections();
      await expectAppliedOnce(p, await settled(call), env.admin);
      expect((await scriptRuns(env.admin)) - runsBefore).toBe(p.scriptRuns); // the lost request never ran
    },
  );

  it.each(WRITE_OPS)(
    "request-lost: %s without re-send: OUTCOME_UNKNOWN, nothing applied, the caller's retry applies once",
    async (op) => {
      const { faulty, store, healthy } = stores({ autoResendUnfulfilledCommands: false, commandTimeout: 400 });
      await store.exists('warm-up');
      const p = await plan(op, healthy);
      const err = await rejection(p.run(store, () => env.proxy.setMode('drop-request')));
      expectFault(err, 'OUTCOME_UNKNOWN', 'unknown', p);
      await resetAndReconnect(env.proxy, faulty);
      await store.exists('after-reconnect'); // the connection is back and nothing was re-sent before this
      expect(await p.applied(env.admin)).toBe('not');
      const retry = await settled(p.run(store));
      if ('error' in retry) throw retry.error;
      p.expectSuccess(retry.value);
      expect(await p.applied(env.admin)).toBe('once');
    },
  );
});
