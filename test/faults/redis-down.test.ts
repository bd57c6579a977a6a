/**
 * redis-down: the client points at a closed port (bound, then closed). Every
 * call fails with a fault that names the connection refusal: the store
 * listens to the client's `error` events, and the last connection error is
 * the fault's `cause` (ioredis's own error, "Command timed out", is in the
 * message). Writes, `get`
 * (it refreshes the TTL) and `generationOf` with touch are writes
 * (OUTCOME_UNKNOWN while the offline queue may still send them); peek,
 * exists, mutate's read and `generationOf` without touch are reads
 * (CONNECTION); with `enableOfflineQueue: false` nothing is ever queued, so
 * every call is CONNECTION / not_applied at once. The store's listener also
 * keeps ioredis from printing "Unhandled error event" for the client.
 */
import { Redis as Redis5, type RedisOptions } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type GenerationReader, RedisSessionStore, type SessionStoreErrorCode, isRedisFault } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, sleep } from '../infra/clients.js';
import { type RedisServer, freePort, startRedisServer } from '../../harness/redis-server.js';

const clients: Client[] = [];
const servers: RedisServer[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) await s.kill();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** A client without an error listener of its own (ioredis would print every error). */
function client(major: IoredisMajor, port: number, options: RedisOptions): Client {
  const Ctor = (major === 5 ? Redis5 : Redis6) as unknown as new (o: RedisOptions) => Client;
  const c = new Ctor({ host: '127.0.0.1', port, ...options });
  clients.push(c);
  return c;
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e instanceof Error && chain.length < 10; e = e.cause) chain.push(e);
  return chain;
}

function expectRefusalFault(err: unknown, code: SessionStoreErrorCode, label = ''): void {
  expect(isRedisFault(err), `${label}: ${String(err)}`).toBe(true);
  const fault = err as { code: string; outcome: string; message: string };
  expect(fault.code, `${label}: ${fault.message}`).toBe(code);
  expect(fault.outcome, label).toBe(code === 'OUTCOME_UNKNOWN' ? 'unknown' : 'not_applied');
  expect(fault.message, label).toMatch(/last connection error \(\d+ ms ago\): connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  const cause = (err as Error).cause as { code?: unknown; message?: unknown } | undefined;
  expect(cause?.code, `${label}: cause chain: ${causes(err).map(String).join(' <- ')}`).toBe('ECONNREFUSED');
  expect(String(cause?.message)).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
}

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => {
      throw new Error(`expected a fault, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );

type Call = [name: string, run: (s: RedisSessionStore) => Promise<unknown>];
const WRITES: Call[] = [
  ['create', (s) => s.create('c', { a: '1' })],
  ['create with a principal', (s) => s.create('cp', { a: '1' }, { principal: 'ada' })],
  ['update', (s) => s.update('u', 1, { a: '1' })],
  ['patch', (s) => s.patch('p', { set: { a: '1' } })],
  ['touch', (s) => s.touch('t')],
  ['terminate', (s) => s.terminate('x')],
  ['get (refreshes the TTL)', (s) => s.get('g')],
  ['generationOf (touch)', (s) => (s as RedisSessionStore & GenerationReader).generationOf('g')],
];
const READS: Call[] = [
  ['peek', (s) => s.peek('r')],
  ['exists', (s) => s.exists('r')],
  ['mutate (its read fails first)', (s) => s.mutate('m', () => ({ a: '1' }))],
  ['sessionsOf', (s) => s.sessionsOf('ada')],
  ['terminateAll (its listing fails first)', (s) => s.terminateAll('ada')],
  ['generationOf ({ touch: false })', (s) => s.generationOf('g', { touch: false })],
  [
    'get with touchOnGet: false',
    (s) => new RedisSessionStore(s.client, { touchOnGet: false, evictionPolicyCheck: 'off' }).get('g'),
  ],
];

describe.each([5, 6] as IoredisMajor[])('redis-down (ioredis %i)', (major) => {
  it('redis-down: commandTimeout, offline queue on: writes OUTCOME_UNKNOWN, reads CONNECTION, each naming ECONNREFUSED', async () => {
    const c = client(major, await freePort(), { commandTimeout: 300 });
    const store = new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    for (const [name, run] of WRITES) expectRefusalFault(await failure(run(store)), 'OUTCOME_UNKNOWN', name);
    for (const [name, run] of READS) expectRefusalFault(await failure(run(store)), 'CONNECTION', name);
    // The connection error is the cause; what ioredis said of the call is in the message.
    const err = (await failure(store.create('c2'))) as Error;
    expect(err.message).toMatch(/: Command timed out; last connection error/);
    const emitted = await new Promise((resolve) => c.once('error', resolve)); // the next reconnect attempt's
    expect(emitted).toBeInstanceOf(Error);
    expect(((await failure(store.peek('r'))) as Error).cause).toBe(emitted);
  });

  it('redis-down: enableOfflineQueue false: every call fails at once with CONNECTION / not_applied, naming ECONNREFUSED', async () => {
    const c = client(major, await freePort(), { enableOfflineQueue: false });
    const store = new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    await new Promise((resolve) => c.once('error', resolve));
    for (const [name, run] of [...WRITES, ...READS]) {
      const started = performance.now();
      expectRefusalFault(await failure(run(store)), 'CONNECTION', name);
      expect(performance.now() - started, name).toBeLessThan(200);
    }
  });

  it('redis-down: no commandTimeout, maxRetriesPerRequest 1: a write fails within a second, naming ECONNREFUSED', async () => {
    const c = client(major, await freePort(), { maxRetriesPerRequest: 1 });
    const store = new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    const started = performance.now();
    const err = await failure(store.create('c'));
    expect(performance.now() - started).toBeLessThan(1_000);
    expectRefusalFault(err, 'OUTCOME_UNKNOWN');
    expect((err as Error).message).toMatch(/max retries per request/);
  });

  it('redis-down: the store\'s error listener keeps ioredis from printing "Unhandled error event"', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const [barePort, storePort] = [await freePort(), await freePort()];
    const bare = client(major, barePort, { enableOfflineQueue: false }); // no store, no listener: ioredis prints each error
    const c = client(major, storePort, { enableOfflineQueue: false });
    const store = new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    await sleep(400); // several reconnect attempts, each an error event
    const unhandled = (port: number) =>
      printed.mock.calls.filter(
        (args) => String(args[0]).includes('Unhandled error event') && String(args[1]).includes(`:${port}`),
      ).length;
    expect(unhandled(barePort), 'the bare client printed its errors (the control)').toBeGreaterThanOrEqual(2);
    expect(unhandled(storePort), "the store's client printed nothing").toBe(0);
    bare.disconnect();
    expectRefusalFault(await failure(store.peek('r')), 'CONNECTION'); // and its errors did happen
    expect(c.listenerCount('error')).toBe(1);
    // Two stores on one client share one listener.
    new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    expect(c.listenerCount('error')).toBe(1);
  });

  it('redis-down: once the client is ready again, a later fault carries no stale connection error', async () => {
    const port = await freePort();
    const c = client(major, port, { commandTimeout: 300, retryStrategy: () => 50 });
    const store = new RedisSessionStore(c, { evictionPolicyCheck: 'off' });
    expectRefusalFault(await failure(store.peek('r')), 'CONNECTION');
    const ready = new Promise((resolve) => c.once('ready', resolve));
    const server = await startRedisServer({ port });
    servers.push(server);
    await ready;
    expect(await store.exists('r')).toBe(false);
    // A stall, not a refusal: the timeout is the whole story.
    const stall = c.call('DEBUG', 'SLEEP', '0.6').catch(() => undefined);
    const err = await failure(store.create('late'));
    expect(isRedisFault(err) && (err as { code: string }).code).toBe('OUTCOME_UNKNOWN');
    expect((err as Error).message).not.toMatch(/last connection error/);
    expect(causes(err)).toHaveLength(2); // the fault and ioredis's "Command timed out"
    await stall;
  });
});
