/**
 * A crash between the steps of a create with a principal or of terminateAll:
 * the connection to Redis goes dead (the fault proxy swallows every byte)
 * right before a given step is sent, so that step and every later one never
 * run, as when the process dies there. What is left never breaks the
 * guarantees, and the next call repairs the index.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type SessionStoreOptions } from '../../src/index.js';
import { INDEX_TIMING, principalIndexKey } from '../../src/redis/principals.js';
import { FUNCTIONS } from '../../src/redis/generated/lua.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { useProxiedServer } from './fault-harness.js';

const env = useProxiedServer();
const GRACE = 400;
const original = INDEX_TIMING.pendingGraceMs;
beforeAll(() => {
  INDEX_TIMING.pendingGraceMs = GRACE;
});
afterAll(() => {
  INDEX_TIMING.pendingGraceMs = original;
});

const clients: Client[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});
let disarm: (() => void) | undefined;
afterEach(() => disarm?.());

/**
 * A store whose connection dies just before its `nth` call of function
 * `script` (counting from 1) is sent, and a healthy store on the same data.
 */
function stores(options: SessionStoreOptions = {}) {
  const prefix = uniquePrefix('principal-faults');
  const faulty = createClient(5, env.proxy.url, {
    maxRetriesPerRequest: 0,
    commandTimeout: 300,
    autoResendUnfulfilledCommands: false,
  });
  const healthy = createClient(5, env.server.url);
  clients.push(faulty, healthy);
  const store = new RedisSessionStore(faulty, { ...options, prefix, evictionPolicyCheck: 'off' });
  const good = new RedisSessionStore(healthy, { ...options, prefix, evictionPolicyCheck: 'off' });
  const crashBefore = (script: keyof typeof FUNCTIONS, nth = 1) => {
    const c = faulty as unknown as Record<string, (...a: unknown[]) => unknown>;
    const name = FUNCTIONS[script].name;
    let seen = 0;
    for (const method of ['fcall', 'fcall_ro']) {
      const real = c[method]!;
      c[method] = function (this: unknown, ...args: unknown[]) {
        if (args[0] === name && ++seen === nth) env.proxy.setMode('blackhole');
        return real.apply(this, args);
      };
    }
    disarm = () => {
      env.proxy.setMode('pass');
      env.proxy.resetConnections();
    };
  };
  const indexSize = (principal: string) => healthy.zcard(principalIndexKey(principal, prefix));
  return { store, good, crashBefore, indexSize, healthy, prefix };
}

describe('a crash between the steps of create (principal index first, then the session)', () => {
  it('leaves an index entry without a session: invisible, and dropped by a later sessionsOf', async () => {
    const { store, good, crashBefore, indexSize } = stores();
    await store.exists('warm-up');
    expect((await good.create('kept', {}, { principal: 'ada' })).ok).toBe(true);
    crashBefore('create');
    await expect(store.create('lost', {}, { principal: 'ada' })).rejects.toThrow();
    // The index has the entry, no session exists: sessionsOf shows only the live one.
    expect(await indexSize('ada')).toBe(2);
    expect(await good.exists('lost')).toBe(false);
    expect((await good.sessionsOf('ada')).map((s) => s.id)).toEqual(['kept']);
    // Once the entry is older than the grace, the next read drops it.
    await sleep(GRACE + 50);
    expect((await good.sessionsOf('ada')).map((s) => s.id)).toEqual(['kept']);
    expect(await indexSize('ada')).toBe(1);
    // The id is free: a retried create works and is listed.
    expect((await good.create('lost', {}, { principal: 'ada' })).ok).toBe(true);
    expect((await good.sessionsOf('ada')).map((s) => s.id).sort()).toEqual(['kept', 'lost']);
  });

  it('with a cap, the pending entry holds a place only until the grace runs out', async () => {
    const { store, good, crashBefore } = stores({ maxSessionsPerPrincipal: 1, onPrincipalLimit: 'refuse' });
    await store.exists('warm-up');
    crashBefore('create');
    await expect(store.create('lost', {}, { principal: 'ada' })).rejects.toThrow();
    // A create in flight (or crashed) may still land: the cap counts it for now.
    expect(await good.create('a', {}, { principal: 'ada' })).toEqual({ ok: false, reason: 'limit' });
    await sleep(GRACE + 50);
    expect((await good.create('a', {}, { principal: 'ada' })).ok).toBe(true);
    expect((await good.sessionsOf('ada')).map((s) => s.id)).toEqual(['a']);
  });

  it('a crash after the session was written (before the confirm of a capped create) leaves it listed', async () => {
    const { store, good, crashBefore } = stores({ maxSessionsPerPrincipal: 2 });
    await store.exists('warm-up');
    crashBefore('principalConfirm');
    await expect(store.create('s', {}, { principal: 'ada' })).rejects.toThrow();
    expect((await good.sessionsOf('ada')).map((s) => s.id)).toEqual(['s']);
    expect((await good.terminateAll('ada')).terminated).toEqual(['s']);
    expect(await good.exists('s')).toBe(false);
  });
});

describe('a crash in the middle of terminateAll', () => {
  it('leaves each session either terminated or live and listed; the next terminateAll ends the rest', async () => {
    const { store, good, crashBefore, indexSize } = stores();
    for (const id of ['s1', 's2', 's3', 's4']) expect((await good.create(id, {}, { principal: 'ada' })).ok).toBe(true);
    await store.exists('warm-up');
    crashBefore('terminate', 3);
    await expect(store.terminateAll('ada')).rejects.toThrow();
    const live = (await good.sessionsOf('ada')).map((s) => s.id);
    for (const id of ['s1', 's2', 's3', 's4']) {
      const alive = await good.exists(id);
      expect(alive).toBe(live.includes(id));
    }
    expect(live.length).toBeGreaterThan(0);
    const second = await good.terminateAll('ada');
    expect([...second.terminated].sort()).toEqual([...live].sort());
    expect(await good.sessionsOf('ada')).toEqual([]);
    // The index is repaired: entries of ended sessions go (at once for those this call ended, the others
    // once they are older than the grace).
    await sleep(GRACE + 50);
    await good.sessionsOf('ada');
    expect(await indexSize('ada')).toBe(0);
  });

  it('before the index cleanup step: the index still names ended sessions; they are never listed', async () => {
    const { store, good, crashBefore, indexSize } = stores();
    for (const id of ['s1', 's2']) expect((await good.create(id, {}, { principal: 'ada' })).ok).toBe(true);
    await store.exists('warm-up');
    crashBefore('principalDrop');
    // The drop step is best effort: terminateAll resolves once every session is ended.
    const r = await store.terminateAll('ada');
    expect([...r.terminated].sort()).toEqual(['s1', 's2']);
    expect(await indexSize('ada')).toBe(2);
    expect(await good.sessionsOf('ada')).toEqual([]);
    await sleep(GRACE + 50);
    expect(await good.sessionsOf('ada')).toEqual([]);
    expect(await indexSize('ada')).toBe(0);
  });
});
