/**
 * The shape shared by the scenarios where Redis refuses a command with an
 * error reply before running it (busy, readonly, loading, noperm): every
 * write rejects with a RedisFaultError of one documented code, outcome
 * not_applied, and the raw record is unchanged.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { RedisSessionStore, SessionStoreErrorCode } from '../../src/index.js';
import { WRITE_OPS, type Plan, expectFault, plan, rawRecord, rejection } from './fault-harness.js';

/** Prepares one plan per write op with `healthy` (before the fault starts). */
export async function planAll(healthy: RedisSessionStore, label: string): Promise<Plan[]> {
  return Promise.all(WRITE_OPS.map((op) => plan(op, healthy, `${label}-${op}`)));
}

/** Runs `p` on `store` under the fault and checks the refusal; `admin` reads the record afterwards. */
export async function expectRefused(
  p: Plan,
  store: RedisSessionStore,
  code: SessionStoreErrorCode,
  admin: () => Promise<Redis>,
): Promise<void> {
  const err = await rejection(p.run(store));
  expectFault(err, code, 'not_applied', p);
  const a = await admin();
  try {
    expect(await p.applied(a)).toBe('not');
    if (p.before) expect((await rawRecord(a, p.key)).fields.g).toBe(String(p.before.generation));
  } finally {
    a.disconnect();
  }
}
