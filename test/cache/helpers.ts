/** Helpers of the cache tests: two "nodes" on separate connections, call counting, bounded waits. */
import { randomBytes } from 'node:crypto';
import type { Cluster, RedisOptions } from 'ioredis';
import { afterAll, expect } from 'vitest';
import {
  type ChangeEvent,
  type EvictionReason,
  type FeedStatus,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type Session,
  type SessionStore,
  keySlot,
  sessionKey,
} from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { shardChannel } from '../../src/redis/shard-channels.js';
import { type IoredisMajor, createClient, sleep, uniquePrefix } from '../infra/clients.js';

/** Wraps a store so every method call is counted by name (`calls.get`, `calls.generationOf`...). */
export function counting<S extends SessionStore>(store: S): { store: S; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

/** Records onEvict calls. */
export function evictions(): {
  onEvict: (session: Session, reason: EvictionReason) => void;
  list: Array<{ id: string; generation: number; reason: EvictionReason }>;
  count(id: string): number;
} {
  const list: Array<{ id: string; generation: number; reason: EvictionReason }> = [];
  return {
    onEvict: (s, reason) => {
      list.push({ id: s.id, generation: s.generation, reason });
    },
    list,
    count: (id) => list.filter((e) => e.id === id).length,
  };
}

/** Polls `cond` every 5 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
}

export interface Node {
  readonly name: string;
  readonly client: Client;
  readonly store: RedisSessionStore;
}

/** A change event as the write scripts publish it: `<kind>:<generation>:<full Redis key>`. */
export function eventMessage(
  kind: string,
  generation: number | string,
  id: string,
  prefix: string,
  keyPrefix = '',
): string {
  return `${kind}:${generation}:${keyPrefix}${sessionKey(id, prefix)}`;
}

function publishRaw(client: Client, channel: string, message: string, sharded: boolean): Promise<unknown> {
  const c = client as unknown as Record<'publish' | 'spublish', (ch: string, m: string) => Promise<unknown>>;
  return sharded ? c.spublish(channel, message) : c.publish(channel, message);
}

/**
 * Publishes a change event (a duplicate, a foreign one, one of a write that
 * is not made) the way the write functions do: PUBLISH on the
 * channel (single node), SPUBLISH on the shard channel of the key's slot
 * (Cluster client). `client` must have no keyPrefix.
 */
export function publishEvent(client: Client, channel: string, message: string): Promise<unknown> {
  const sharded = (client as { isCluster?: boolean }).isCluster === true;
  if (!sharded) return publishRaw(client, channel, message, false);
  const key = message.slice(message.indexOf(':', message.indexOf(':') + 1) + 1);
  return publishRaw(client, shardChannel(channel, keySlot(key)), message, true);
}

/**
 * Stores on separate connections standing for separate nodes, sharing one key
 * prefix and one events channel. Every client gets a unique connectionName so a
 * test can find (and CLIENT KILL) exactly its own connections.
 */
export function cluster(major: IoredisMajor = 5) {
  const clients: Client[] = [];
  const prefix = uniquePrefix('cache');
  const channel = `${prefix}events`;
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });
  return {
    prefix,
    channel,
    node(label: string, options: RedisSessionStoreOptions = {}, clientOptions: RedisOptions = {}): Node {
      const name = `scas-${label}-${randomBytes(4).toString('hex')}`;
      const client = createClient(major, undefined, { connectionName: name, ...clientOptions });
      clients.push(client);
      return { name, client, store: new RedisSessionStore(client, { prefix, eventsChannel: channel, ...options }) };
    },
  };
}

/** CLIENT LIST entries as maps. */
export async function clientList(client: Client): Promise<Array<Record<string, string>>> {
  const raw = (await (client as unknown as { call(...a: string[]): Promise<string> }).call('CLIENT', 'LIST')) as string;
  return raw
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(
        line.split(' ').map((kv) => {
          const i = kv.indexOf('=');
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      ),
    );
}

/**
 * Kills the connections named `name` (by id, never by type) on the admin's
 * server, or on every node of a Cluster admin client (the Cluster feed has one
 * per primary); returns how many were killed.
 */
export async function killConnection(admin: Client, name: string): Promise<number> {
  const servers = (admin as { isCluster?: boolean }).isCluster === true ? (admin as Cluster).nodes('all') : [admin];
  // Find them all first, then kill them together, so a Cluster feed loses its connections at one moment.
  const victims = (
    await Promise.all(
      servers.map(async (server) =>
        (await clientList(server)).filter((c) => c.name === name).map((c) => ({ server, id: c.id! })),
      ),
    )
  ).flat();
  await Promise.all(
    victims.map(({ server, id }) =>
      (server as unknown as { call(...a: string[]): Promise<unknown> }).call('CLIENT', 'KILL', 'ID', id),
    ),
  );
  return victims.length;
}

export const uid = (label: string): string => `${label}-${randomBytes(5).toString('hex')}`;

/**
 * Wraps a store so calls to `methods` run at once on the store but their
 * results are held back while `holding` is set, until `release()`: a slow
 * network in a bottle, to stage races deterministically.
 */
export function gated<S extends object>(store: S, methods: readonly string[]) {
  let waiters: Array<() => void> = [];
  const state = {
    holding: false,
    /** Calls currently held. */
    get held(): number {
      return waiters.length;
    },
    release(): void {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || !methods.includes(prop)) {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const hold = state.holding;
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (hold) await new Promise<void>((resolve) => waiters.push(resolve));
        return result;
      };
    },
  });
  return { store: proxy, state };
}

/**
 * The feed's promise after a failover: the event of the write on `id` arrives, or the feed reports
 * the gap it fell into (`interrupted` beyond `gapsBefore`), and then the next write's event arrives.
 * An unreported loss fails.
 */
export async function expectDeliveredOrReportedGap(
  spy: { events: ChangeEvent[]; count(status: FeedStatus): number; last(): FeedStatus | undefined },
  store: SessionStore,
  id: string,
  gapsBefore: number,
): Promise<void> {
  const seen = () => spy.events.some((e) => e.id === id);
  expect(await waitFor(() => seen() || spy.count('interrupted') > gapsBefore, 10_000)).toBe(true);
  if (seen()) return;
  expect(await waitFor(() => spy.last() === 'subscribed', 15_000)).toBe(true);
  const again = await store.patch(id, { set: { v: '1' } });
  if (!again.ok) throw new Error('patch after the gap');
  const g = again.session.generation;
  expect(await waitFor(() => spy.events.some((e) => e.id === id && e.generation === g), 10_000)).toBe(true);
}
