/**
 * Shared pieces of the fault scenarios: every write operation as a plan
 * (prepare a session with a healthy store, run the call under the fault,
 * recognise its success outcome, and read from the raw record whether it
 * applied once, not at all, or twice).
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type FaultProxy, startProxy } from '../infra/proxy.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient } from '../infra/server-faults.js';
import {
  RedisSessionStore,
  type Session,
  type SessionStore,
  type SessionStoreErrorCode,
  isRedisFault,
  isSessionStoreError,
} from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { createClient, uniquePrefix } from '../infra/clients.js';

export const WRITE_OPS = ['create', 'update', 'patch', 'touch', 'terminate', 'mutate'] as const;
export type WriteOp = (typeof WRITE_OPS)[number];

/** A record as Redis holds it: its hash fields and PTTL (-2: no key, -1: no TTL). */
export interface RawRecord {
  readonly fields: Readonly<Record<string, string>>;
  readonly pttl: number;
}

export async function rawRecord(admin: Redis, key: string): Promise<RawRecord> {
  const [fields, pttl] = await Promise.all([admin.hgetall(key), admin.pttl(key)]);
  return { fields, pttl };
}

/** How many times Redis ran a function of the library (FCALL + FCALL_RO calls that executed). */
export async function scriptRuns(admin: Redis): Promise<number> {
  const text = await admin.info('commandstats');
  let n = 0;
  for (const m of text.matchAll(/^cmdstat_(?:fcall|fcall_ro):calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

const TTL = 60_000;
/** touch: the session starts with a short TTL and the touch sets a long one, so PTTL shows whether it applied. */
const SHORT_TTL = 20_000;
const LONG_TTL = 600_000;

export type Applied = 'once' | 'not';

export interface Plan {
  readonly op: WriteOp;
  readonly id: string;
  readonly key: string;
  /** The session before the call (null for create). */
  readonly before: Session | null;
  /** Script runs a successful call makes (mutate reads, then writes). */
  readonly scriptRuns: number;
  /**
   * Runs the call on `store`. `arm` switches the fault on right before the
   * write is sent (for mutate: inside fn, after its read).
   */
  run(store: SessionStore, arm?: () => void): Promise<unknown>;
  /** Asserts `result` is exactly the outcome of a call that applied once. */
  expectSuccess(result: unknown): void;
  /** Reads the raw record: applied once, or not at all. Fails on anything else (twice, half-written, no TTL). */
  applied(admin: Redis): Promise<Applied>;
}

/**
 * Prepares `op` on a fresh id with `healthy` (a store with the same prefix as
 * the store under test, on a connection without faults).
 */
export async function plan(op: WriteOp, healthy: RedisSessionStore, label: string = op): Promise<Plan> {
  const id = `${label}:${Math.random().toString(36).slice(2)}`;
  const key = healthy.keyFor(id);
  let before: Session | null = null;
  if (op !== 'create') {
    const r = await healthy.create(id, { n: '0' }, { ttlMs: op === 'touch' ? SHORT_TTL : TTL });
    if (!r.ok) throw new Error(`plan: create failed: ${JSON.stringify(r)}`);
    before = r.session;
  }
  const g = before?.generation ?? 0;
  const run = (store: SessionStore, armFault: () => void = () => undefined): Promise<unknown> => {
    let armed = false;
    const arm = () => {
      if (!armed) armFault();
      armed = true;
    }; // once, even if mutate retries
    if (op === 'mutate') {
      return store.mutate(id, (cur) => {
        arm();
        return { n: String(Number(cur.metadata.n) + 1) };
      });
    }
    arm();
    switch (op) {
      case 'create':
        return store.create(id, { n: 'new' });
      case 'update':
        return store.update(id, g, { n: '1' });
      case 'patch':
        return store.patch(id, { set: { n: '1' } }); // no expectedGeneration: a second apply would show
      case 'touch':
        return store.touch(id, { ttlMs: LONG_TTL });
      case 'terminate':
        return store.terminate(id);
    }
  };
  const expectSuccess = (result: unknown): void => {
    switch (op) {
      case 'create':
        expect(result).toMatchObject({ ok: true, session: { id, metadata: { n: 'new' } } });
        expect(Number.isSafeInteger((result as { session: Session }).session.generation)).toBe(true);
        return;
      case 'update':
      case 'patch':
        expect(result).toEqual({
          ok: true,
          session: { id, generation: expect.any(Number), createdAt: expect.any(Number), metadata: { n: '1' } },
        });
        expect((result as { session: Session }).session.generation).toBeGreaterThan(g);
        return;
      case 'mutate':
        expect(result).toEqual({
          ok: true,
          session: { id, generation: expect.any(Number), createdAt: expect.any(Number), metadata: { n: '1' } },
          attempts: 1,
        });
        expect((result as { session: Session }).session.generation).toBeGreaterThan(g);
        return;
      case 'touch':
      case 'terminate':
        expect(result).toEqual({ ok: true, generation: g });
    }
  };
  const applied = async (admin: Redis): Promise<Applied> => {
    const raw = await rawRecord(admin, key);
    const f = raw.fields;
    const shown = JSON.stringify({ op, g, raw: { ...raw, fields: Object.keys(f).length } });
    if (raw.pttl === -1) throw new Error(`key without a TTL: ${shown}`);
    if (op === 'create') {
      if (raw.pttl === -2) return 'not';
      expect(f.mn, shown).toBe('new');
      expect(f.t, shown).toBeUndefined();
      return 'once';
    }
    expect(raw.pttl, shown).toBeGreaterThan(0);
    switch (op) {
      case 'update':
      case 'patch':
      case 'mutate':
        expect(f.t, shown).toBeUndefined();
        if (f.g === String(g) && f.mn === '0') return 'not';
        expect(f.mn, shown).toBe('1');
        expect(Number(f.g), shown).toBeGreaterThan(g);
        // The op-id ring holds one entry per generation-changing write: the
        // create's and exactly one more. A second application would add another.
        expect(f.r?.length, shown).toBe(16);
        return 'once';
      case 'touch':
        expect({ g: f.g, n: f.mn, t: f.t }, shown).toEqual({ g: String(g), n: '0', t: undefined });
        return raw.pttl > SHORT_TTL ? 'once' : 'not';
      case 'terminate':
        expect(f.g, shown).toBe(String(g));
        if (f.t === undefined) {
          expect(f.mn, shown).toBe('0');
          return 'not';
        }
        expect(f.t, shown).toBe('1');
        expect(f.mn, shown).toBeUndefined(); // a tombstone keeps no metadata
        return 'once';
    }
  };
  return { op, id, key, before, scriptRuns: op === 'mutate' ? 2 : 1, run, expectSuccess, applied };
}

/** Awaits `p`, failing the test if it is still pending after `ms` (a hang detector, not a timing assertion). */
export async function settled<T>(p: Promise<T>, ms = 20_000): Promise<{ value: T } | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`promise still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asserts a settled call succeeded with exactly the outcome of one
 * application and, given `admin`, that the raw record shows it applied once.
 */
export async function expectAppliedOnce(
  p: Plan,
  r: { value: unknown } | { error: unknown },
  admin?: Redis,
): Promise<void> {
  if ('error' in r) throw r.error;
  p.expectSuccess(r.value);
  if (admin) expect(await p.applied(admin)).toBe('once');
}

/** Asserts `err` is a RedisFaultError with this code and outcome, naming the operation and session. */
export function expectFault(
  err: unknown,
  code: SessionStoreErrorCode,
  outcome: 'not_applied' | 'unknown',
  p?: Plan,
): void {
  expect(isSessionStoreError(err), String(err)).toBe(true);
  expect(isRedisFault(err), String(err)).toBe(true);
  const e = err as { code: string; outcome: string; operation: string; sessionId: string; message: string };
  expect({ code: e.code, outcome: e.outcome }, e.message).toEqual({ code, outcome });
  if (p) {
    expect(e.sessionId).toBe(p.id);
    expect(e.operation).toMatch(p.op === 'mutate' ? /^(update|peek)/ : new RegExp(`^${p.op}`));
  }
}

/** Expects the call to reject (within a hang bound) and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  const r = await settled(p);
  if ('value' in r) throw new Error(`expected a rejection, got ${JSON.stringify(r.value).slice(0, 300)}`);
  return r.error;
}

/**
 * Back to `pass`, reset every connection, and wait until `client` is ready
 * again on a new one. Without the wait, a command sent right after the reset
 * can go out on the dying socket (ioredis still says 'ready') and, with
 * autoResendUnfulfilledCommands off, be dropped.
 */
export async function resetAndReconnect(
  proxy: FaultProxy,
  client: { once(ev: 'ready', fn: () => void): unknown },
): Promise<void> {
  const ready = new Promise<void>((resolve) => client.once('ready', resolve));
  proxy.setMode('pass');
  proxy.resetConnections();
  const r = await settled(ready);
  if ('error' in r) throw r.error;
}

/** A file's throwaway redis-server with a store on one ioredis 5 client (no proxy). */
export function useServerWithStore(label: string): { readonly server: RedisServer; readonly store: RedisSessionStore } {
  const env = {} as { server: RedisServer; store: RedisSessionStore };
  let client: Client | undefined;
  beforeAll(async () => {
    env.server = await startRedisServer();
    client = createClient(5, env.server.url);
    env.store = new RedisSessionStore(client, { prefix: uniquePrefix(label) });
  });
  afterAll(async () => {
    client?.disconnect();
    await env.server?.kill();
  });
  return env;
}

/** A file's throwaway redis-server behind a fault proxy, with an admin connection (straight to the server). */
export interface ProxiedServer {
  readonly server: RedisServer;
  readonly proxy: FaultProxy;
  readonly admin: Redis;
  /** Clients a test opened; disconnected after the file. */
  readonly clients: Array<{ disconnect(): void }>;
}

/**
 * Starts the server and proxy before the file's tests, puts the proxy back to
 * `pass` (and drops its connections) after each test, and tears everything
 * down after the file. Read the fields inside tests: they are set in beforeAll.
 */
export function useProxiedServer(): ProxiedServer {
  const env = { clients: [] } as unknown as { -readonly [K in keyof ProxiedServer]: ProxiedServer[K] };
  beforeAll(async () => {
    env.server = await startRedisServer();
    env.proxy = await startProxy({ port: env.server.port });
    env.admin = await adminClient(env.server.url);
  });
  afterEach(() => {
    env.proxy.setMode('pass');
    env.proxy.resetConnections();
  });
  afterAll(async () => {
    for (const c of env.clients) c.disconnect();
    env.admin?.disconnect();
    await env.proxy?.close();
    await env.server?.kill();
  });
  return env;
}
