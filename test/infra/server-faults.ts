/**
 * Faults a test can cause on a throwaway redis-server it started (see
 * redis-server.ts): script cache loss, memory pressure, a busy script, a
 * read-only replica, a dataset load, an ACL user without permissions.
 * Every helper talks to the server on its own admin connection and every
 * wait is bounded.
 */
import { LIBRARY } from '../../src/redis/generated/lua.js';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An admin connection that never retries and never queues. */
export async function adminClient(url: string): Promise<Redis> {
  const c = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  c.on('error', () => undefined);
  await c.ping();
  return c;
}

async function withAdmin<T>(url: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = await adminClient(url);
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** Polls `check` every 10 ms until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** One field of `INFO <section>`. */
export async function infoField(c: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await c.info(section);
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** FUNCTION FLUSH: the server forgets every function library (as after a restart without persistence). */
export function functionFlush(url: string): Promise<void> {
  return withAdmin(url, async (c) => {
    await c.call('FUNCTION', 'FLUSH');
  });
}

/** Whether the server (through `admin`) has this version's function library. */
export async function libraryLoaded(admin: { call(...args: string[]): Promise<unknown> }): Promise<boolean> {
  const list = (await admin.call('FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY.name)) as unknown[];
  return list.length > 0;
}

/** CONFIG SET maxmemory (bytes, 0 = no limit) and maxmemory-policy. */
export function setMaxmemory(url: string, bytes: number, policy = 'noeviction'): Promise<void> {
  return withAdmin(url, async (c) => {
    await c.config('SET', 'maxmemory-policy', policy);
    await c.config('SET', 'maxmemory', String(bytes));
  });
}

/**
 * Puts the server over its memory limit: maxmemory a little below what it
 * uses now, with `noeviction`, so every command that may grow memory gets an
 * OOM error. Undo with `setMaxmemory(url, 0)`.
 */
export function forceOom(url: string): Promise<void> {
  return withAdmin(url, async (c) => {
    const used = Number(await infoField(c, 'memory', 'used_memory'));
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    await c.config('SET', 'maxmemory', String(Math.floor(used * 0.9)));
    // A write that grows memory must now be refused.
    const refused = await c.set('scas:oom-probe', 'x').then(
      () => false,
      (e: Error) => /^OOM/.test(e.message),
    );
    if (!refused) throw new Error('forceOom: the server still accepts writes');
  });
}

/**
 * DEBUG SLEEP: the server stalls (answers nothing) for `seconds`. Resolves
 * when the server answers again.
 */
export function debugSleep(url: string, seconds: number): Promise<void> {
  return withAdmin(url, async (c) => {
    await c.call('DEBUG', 'SLEEP', String(seconds));
  });
}

export interface BusyScript {
  /** SCRIPT KILL, then waits until the server answers PING again. */
  stop(): Promise<void>;
}

/**
 * Runs a read-only Lua loop for up to `maxSeconds` after lowering
 * busy-reply-threshold to `thresholdMs`, so every other client gets a BUSY
 * error. Resolves once the server answers BUSY.
 */
export async function startBusyScript(
  url: string,
  opts: { thresholdMs?: number; maxSeconds?: number } = {},
): Promise<BusyScript> {
  const { thresholdMs = 50, maxSeconds = 10 } = opts;
  await withAdmin(url, (c) => c.config('SET', 'busy-reply-threshold', String(thresholdMs)));
  const runner = await adminClient(url);
  const probe = await adminClient(url); // connected before the server turns busy
  const loop = `#!lua flags=no-writes
local start = tonumber(redis.call('TIME')[1])
while tonumber(redis.call('TIME')[1]) - start < ${maxSeconds} do end
return 1`;
  const running = runner.eval(loop, 0).catch(() => undefined);
  try {
    await waitUntil(
      'BUSY',
      () =>
        probe.ping().then(
          () => false,
          (e: Error) => /^BUSY/.test(e.message),
        ),
      maxSeconds * 1000,
    );
  } finally {
    probe.disconnect();
  }
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        // No ready check: its INFO would get BUSY too.
        const killer = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
        killer.on('error', () => undefined);
        try {
          await killer.script('KILL').catch(() => undefined);
        } finally {
          killer.disconnect();
        }
        await running;
        runner.disconnect();
        await withAdmin(url, (c) => c.config('SET', 'busy-reply-threshold', '5000'));
      })()),
  };
}

/** Starts a replica of `primary` (read-only, the default) and waits until its link is up. */
export async function startReplica(primary: RedisServer): Promise<RedisServer> {
  // The default waits 5 s for more replicas before a diskless full sync.
  await withAdmin(primary.url, (c) => c.config('SET', 'repl-diskless-sync-delay', '0'));
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await withAdmin(replica.url, (c) =>
    waitUntil('replica link up', async () => (await infoField(c, 'replication', 'master_link_status')) === 'up'),
  );
  await withAdmin(primary.url, (c) =>
    waitUntil(
      'primary sees its replica',
      async () => Number(await infoField(c, 'replication', 'connected_slaves')) >= 1,
    ),
  );
  return replica;
}

export interface Loading {
  /** Resolves when DEBUG RELOAD has finished and the server serves commands again. */
  readonly done: Promise<void>;
}

/**
 * Makes the server load its dataset for a while: DEBUG POPULATE `keys` filler
 * keys, slow each key's load by `perKeyDelayUs` (the hidden `key-load-delay`
 * config Redis's own tests use), then DEBUG RELOAD, which saves and reloads
 * the RDB. During the load every connected client gets LOADING for any
 * command that needs data. Resolves once the server reports `loading:1`.
 */
export async function startLoading(
  url: string,
  opts: { keys?: number; perKeyDelayUs?: number } = {},
): Promise<Loading> {
  const { keys = 2_000, perKeyDelayUs = 1_000 } = opts;
  await withAdmin(url, async (c) => {
    await c.call('DEBUG', 'POPULATE', String(keys), 'loadfill', '16');
    await c.config('SET', 'loading-process-events-interval-bytes', '1024');
    await c.config('SET', 'key-load-delay', String(perKeyDelayUs));
  });
  const reloader = await adminClient(url);
  // Connected before the load: a new ioredis connection would wait it out in its ready check.
  const probe = await adminClient(url);
  const done = reloader.call('DEBUG', 'RELOAD').then(async () => {
    reloader.disconnect();
    await withAdmin(url, async (c) => {
      await c.config('SET', 'key-load-delay', '0');
    });
  });
  try {
    await waitUntil('loading:1', async () => (await infoField(probe, 'persistence', 'loading')) === '1');
  } finally {
    probe.disconnect();
  }
  return { done };
}

/**
 * ACL SETUSER `name` with password `pw` and exactly `rules` (after `reset`),
 * e.g. ['~*', '&*', '+@all', '-eval', '-evalsha']. Returns a URL that logs in as it.
 */
export async function createAclUser(
  server: { url: string; port: number },
  name: string,
  rules: string[],
): Promise<string> {
  await withAdmin(server.url, (c) => c.call('ACL', 'SETUSER', name, 'reset', 'on', '>pw', ...rules));
  return `redis://${encodeURIComponent(name)}:pw@127.0.0.1:${server.port}`;
}
