/**
 * eviction-policy: under any maxmemory-policy but noeviction Redis may evict
 * session keys, tombstones included (allkeys-* evict any key; volatile-*
 * evict keys with a TTL, and every session key has one), and an evicted
 * tombstone lets a terminated id be created again early. The store checks
 * the policy on its first call: 'warn' (default) emits a process warning,
 * 'error' refuses every call with UNSAFE_CONFIG, 'off' does not look.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  RedisSessionStore,
  type RedisSessionStoreOptions,
  isInvalidArgument,
  isSessionStoreError,
} from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, uniquePrefix } from '../infra/clients.js';
import { freePort, type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, createAclUser } from '../infra/server-faults.js';
import { rejection, scriptRuns } from './fault-harness.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];
const warnings: Error[] = [];
const onWarning = (w: Error) => {
  warnings.push(w);
};

beforeAll(async () => {
  server = await startRedisServer();
  admin = await adminClient(server.url);
  process.on('warning', onWarning);
});
afterEach(async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  warnings.length = 0;
});
afterAll(async () => {
  process.off('warning', onWarning);
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.kill();
});

function client(url = server.url, options = {}): Client {
  const c = createClient(5, url, options);
  clients.push(c);
  return c;
}

function store(options: RedisSessionStoreOptions = {}, c: Client = client()): RedisSessionStore {
  return new RedisSessionStore(c, { prefix: uniquePrefix('evict'), ...options });
}

/** Warnings emitted so far from this library (emitWarning delivers them on a later tick). */
async function ourWarnings(): Promise<Error[]> {
  await new Promise((r) => setImmediate(r));
  return warnings.filter((w) => (w as { code?: string }).code === 'SESSION_CAS_EVICTION_POLICY');
}

const EVICTING = [
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
];

describe('eviction-policy', () => {
  it('eviction-policy: noeviction is safe: no warning in warn mode, calls work in error mode', async () => {
    expect(await store().checkEvictionPolicy()).toEqual({
      policy: 'noeviction',
      maxmemory: 0,
      canEvictTombstones: false,
    });
    const warn = store();
    expect((await warn.create('a')).ok).toBe(true);
    const strict = store({ evictionPolicyCheck: 'error' });
    expect((await strict.create('a')).ok).toBe(true);
    expect(await ourWarnings()).toEqual([]);
  });

  it.each(EVICTING)('eviction-policy: %s can evict tombstones', async (policy) => {
    await admin.config('SET', 'maxmemory-policy', policy);
    expect(await store().checkEvictionPolicy()).toMatchObject({ policy, canEvictTombstones: true });
  });

  it('eviction-policy: warn (the default) lets calls through and warns once per store', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const s = store();
    expect((await s.create('a')).ok).toBe(true);
    expect(await s.exists('a')).toBe(true);
    expect((await s.terminate('a')).ok).toBe(true);
    const got = await ourWarnings();
    expect(got).toHaveLength(1);
    expect(got[0]!.name).toBe('SessionCasWarning');
    expect(got[0]!.message).toMatch(/maxmemory-policy is allkeys-lru.*noeviction/);
  });

  it('eviction-policy: error refuses every call with UNSAFE_CONFIG and runs no script', async () => {
    await admin.config('SET', 'maxmemory-policy', 'volatile-ttl');
    const s = store({ evictionPolicyCheck: 'error' });
    const runs = await scriptRuns(admin);
    for (const call of [() => s.create('a'), () => s.get('a'), () => s.update('a', 1, {}), () => s.terminate('a')]) {
      const err = await rejection(call());
      expect(isSessionStoreError(err)).toBe(true);
      expect((err as { code: string }).code).toBe('UNSAFE_CONFIG');
      expect((err as Error).message).toMatch(/volatile-ttl/);
    }
    expect(await scriptRuns(admin)).toBe(runs);
    expect(await admin.exists(s.keyFor('a'))).toBe(0);
  });

  it('eviction-policy: off does not look', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-random');
    const c = client();
    const info = vi.spyOn(c as unknown as { info: (...a: unknown[]) => unknown }, 'info');
    const s = store({ evictionPolicyCheck: 'off' }, c);
    expect((await s.create('a')).ok).toBe(true);
    expect(info).toHaveBeenCalled(); // ioredis's own ready check: the spy works
    expect(info).not.toHaveBeenCalledWith('memory');
    expect(await ourWarnings()).toEqual([]);
  });

  it('eviction-policy: a user refused INFO and CONFIG: unknown policy, a warning, and calls still work in error mode', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const url = await createAclUser(server, 'noinfo', ['~*', '&*', '+@all', '-info', '-config']);
    const s = store({ evictionPolicyCheck: 'error' }, client(url));
    expect(await s.checkEvictionPolicy()).toEqual({ policy: null, maxmemory: null, canEvictTombstones: null });
    expect((await s.create('a')).ok).toBe(true);
    const got = await ourWarnings();
    expect(got).toHaveLength(1);
    expect(got[0]!.message).toMatch(/could not read/);
  });

  it('eviction-policy: a connection failure during the check is a typed CONNECTION fault, checked again next call', async () => {
    const port = await freePort(); // nothing listens here
    const c = client(`redis://127.0.0.1:${port}`, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const s = store({ evictionPolicyCheck: 'error' }, c);
    for (let i = 0; i < 2; i++) {
      const err = await rejection(s.exists('a'));
      expect((err as { code: string }).code).toBe('CONNECTION');
    }
  });

  it('eviction-policy: the option is validated', () => {
    let err: unknown;
    try {
      store({ evictionPolicyCheck: 'sometimes' as never });
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as { argument: string }).argument).toBe('options.evictionPolicyCheck');
  });
});
