/**
 * not-sent: the client throws while the call is being handed to it, before
 * any request can leave the process (the #16 case was a call stack overflow
 * while spreading the arguments). Whatever the write, the fault is
 * CONNECTION / not_applied, never OUTCOME_UNKNOWN, and the raw record shows
 * nothing applied. The throw is injected into the real client's send method
 * for one call; Redis is real, and the next call goes through.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type SupportedClient } from '../../src/index.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { nodeRedisForRun } from '../infra/node-redis-clients.js';
import { WRITE_OPS, expectFault, plan, rejection } from './fault-harness.js';

/** Reads raw records (a Cluster client under SESSION_CAS_TARGET=cluster; it routes HGETALL and PTTL by key). */
const admin = createClient(5) as Redis;
const closers: Array<() => void> = [() => admin.disconnect()];
afterAll(() => {
  for (const close of closers) close();
});

interface Target {
  readonly client: SupportedClient;
  /** The client method every function call goes through. */
  readonly method: 'fcall' | 'sendCommand';
  readonly ready?: () => Promise<void>;
}

const targets: Array<[string, () => Target]> = [
  ['ioredis 5', () => ({ client: track(createClient(5)), method: 'fcall' })],
  ['ioredis 6', () => ({ client: track(createClient(6)), method: 'fcall' })],
  [
    'node-redis',
    () => {
      const r = nodeRedisForRun();
      closers.push(() => r.close());
      return { client: r.client, method: 'sendCommand', ready: () => r.ready() };
    },
  ],
];

function track<C extends { disconnect(): void }>(c: C): C {
  closers.push(() => c.disconnect());
  return c;
}

/** Makes the client's next call of `method` throw synchronously, as a stack overflow would. */
function throwOnNextSend(t: Target): void {
  const c = t.client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = c[t.method]!;
  c[t.method] = function (): never {
    c[t.method] = original;
    throw new RangeError('Maximum call stack size exceeded');
  };
}

describe.each(targets)('not-sent (%s)', (_, makeTarget) => {
  const t = makeTarget();
  const prefix = uniquePrefix('not-sent');
  const store = new RedisSessionStore(t.client, { prefix, evictionPolicyCheck: 'off' });
  beforeAll(async () => {
    await t.ready?.();
  });

  it.each(WRITE_OPS)('not-sent: %s: CONNECTION / not_applied, nothing written, the next call applies', async (op) => {
    const p = await plan(op, store);
    const err = await rejection(p.run(store, () => throwOnNextSend(t)));
    expectFault(err, 'CONNECTION', 'not_applied', p);
    expect((err as Error).message).toMatch(/not sent \(failed before the request left the process\)/);
    expect((err as Error).cause).toBeInstanceOf(RangeError);
    expect(await p.applied(admin)).toBe('not');
    p.expectSuccess(await p.run(store));
  });

  it('not-sent: a create with a principal (its index step is the first call) is not_applied too', async () => {
    throwOnNextSend(t);
    expectFault(await rejection(store.create('with-p', { a: '1' }, { principal: 'ada' })), 'CONNECTION', 'not_applied');
    expect(await store.exists('with-p')).toBe(false);
  });
});
