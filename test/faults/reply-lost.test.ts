/**
 * reply-lost: the request reaches Redis and runs, the reply never comes back,
 * the connection resets, ioredis reconnects and re-sends the same command
 * (autoResendUnfulfilledCommands, its default). The script sees the op id it
 * already applied and reports that first application: the write applies
 * exactly once and the caller gets the original outcome, not a false
 * conflict / exists / terminated.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { expectAppliedOnce, plan, scriptRuns, settled, useProxiedServer, WRITE_OPS } from './fault-harness.js';

const env = useProxiedServer();

describe.each([5, 6] as IoredisMajor[])('reply-lost (ioredis %i)', (major) => {
  const clients: Client[] = [];
  const prefix = uniquePrefix(`reply-lost-${major}`);
  const stores = (clientOptions = {}) => {
    const faulty = createClient(major, env.proxy.url, { maxRetriesPerRequest: 5, ...clientOptions });
    const healthy = createClient(major, env.server.url);
    clients.push(faulty, healthy);
    return { store: new RedisSessionStore(faulty, { prefix }), healthy: new RedisSessionStore(healthy, { prefix }) };
  };
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  it.each(WRITE_OPS)('reply-lost: %s applies exactly once and returns the original outcome', async (op) => {
    const { store, healthy } = stores();
    await store.exists('warm-up'); // connected, scripts loaded on this socket
    const p = await plan(op, healthy);
    const runsBefore = await scriptRuns(env.admin);
    const dropped = env.proxy.stats.replyBytesDropped;
    const call = p.run(store, () => env.proxy.setMode('drop-reply'));
    // The reply was dropped, so Redis ran the script; now cut the connection.
    await env.proxy.waitFor((s) => s.replyBytesDropped > dropped);
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
    await expectAppliedOnce(p, await settled(call), env.admin);
    // The write script really ran twice: once before the reset, once re-sent.
    expect((await scriptRuns(env.admin)) - runsBefore).toBe(p.scriptRuns + 1);
  });

  it('reply-lost: several writes in flight on one auto-pipelined connection each apply once', async () => {
    const { store, healthy } = stores({ enableAutoPipelining: true });
    await store.exists('warm-up');
    const plans = await Promise.all(
      WRITE_OPS.filter((op) => op !== 'mutate').map((op) => plan(op, healthy, `ap-${op}`)),
    );
    const dropped = env.proxy.stats.replyBytesDropped;
    env.proxy.setMode('drop-reply');
    const calls = plans.map((p) => p.run(store)); // one tick: one pipeline
    await env.proxy.waitFor((s) => s.replyBytesDropped > dropped);
    // Let every reply of the pipeline arrive (and be dropped) before the reset.
    await waitForAllApplied(plans);
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
    for (const [i, p] of plans.entries()) {
      await expectAppliedOnce(p, await settled(calls[i]!), env.admin);
    }
  });
});

async function waitForAllApplied(plans: Array<Awaited<ReturnType<typeof plan>>>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(plans.map((p) => p.applied(env.admin)));
    if (states.every((s) => s === 'once')) return;
    if (Date.now() > deadline) throw new Error(`not all applied: ${states.join(',')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
