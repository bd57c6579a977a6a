/**
 * The stores the contract suite runs against. A target makes isolated stores
 * and knows how to move time and read a record's remaining TTL: the memory
 * store through its injected clock, Redis through real time and PTTL.
 */
import { Cluster as Cluster5, type ClusterOptions, type RedisOptions } from 'ioredis';
import { Cluster as Cluster6 } from 'ioredis6';
import { afterAll, inject } from 'vitest';
import { MemorySessionStore, RedisSessionStore, type SessionStore, type SessionStoreOptions } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, sleep, uniquePrefix } from '../infra/clients.js';

export interface ContractTarget {
  readonly name: string;
  /** True when the store is Redis (real time passes in advance()). */
  readonly realTime: boolean;
  makeStore(options?: SessionStoreOptions): SessionStore;
  /** Lets ms pass for the store (memory: moves the clock; Redis: sleeps ms + margin). */
  advance(ms: number): Promise<void>;
  /** Remaining TTL of the id's record in ms; -2 when there is no record, -1 when it has no TTL. */
  pttl(store: SessionStore, id: string): Promise<number>;
  /** Commands sent to Redis so far (always 0 for memory). */
  commandsSent(): number;
  /** The key Redis holds the id's record under (ioredis keyPrefix included); absent for memory. */
  keyOf?(store: SessionStore, id: string): string;
}

export function memoryTarget(): ContractTarget {
  let now = 1_000_000;
  return {
    name: 'MemorySessionStore',
    realTime: false,
    makeStore: (options) => new MemorySessionStore({ ...options, now: () => now }),
    advance: async (ms) => {
      now += ms;
    },
    async pttl(store, id) {
      const rec = (store as unknown as { records: Map<string, { expiresAt: number }> }).records.get(id);
      if (!rec || rec.expiresAt <= now) return -2;
      return rec.expiresAt - now;
    },
    commandsSent: () => 0,
  };
}

/** A target over one lazily made ioredis client (Redis or Cluster) whose sent commands are counted. */
function ioredisTarget(name: string, makeClient: () => Client, keyPrefix = ''): ContractTarget {
  let client: Client | undefined;
  let sent = 0;
  const getClient = (): Client => {
    if (!client) {
      client = makeClient();
      const c = client as unknown as { sendCommand: (...a: unknown[]) => unknown };
      const original = c.sendCommand;
      c.sendCommand = function (this: unknown, ...args: unknown[]) {
        sent++;
        return original.apply(this, args);
      };
    }
    return client;
  };
  afterAll(() => {
    client?.disconnect();
  });
  return {
    name,
    realTime: true,
    // Each store gets its own prefix: isolation from other files, and spread over every cluster primary.
    makeStore: (options) => new RedisSessionStore(getClient(), { ...options, prefix: uniquePrefix('contract') }),
    // Redis expires keys by its own clock; the margin covers its 1 ms resolution and a busy machine.
    advance: (ms) => sleep(ms + 30),
    async pttl(store, id) {
      const s = store as RedisSessionStore;
      return (s.client as unknown as { pttl(k: string): Promise<number> }).pttl(s.keyFor(id));
    },
    commandsSent: () => sent,
    keyOf: (store, id) => keyPrefix + (store as RedisSessionStore).keyFor(id),
  };
}

export function redisTarget(major: IoredisMajor, clientOptions: RedisOptions = {}): ContractTarget {
  const cluster = inject('redisCluster').length > 0 ? 'SESSION_CAS_TARGET=cluster, ' : '';
  return ioredisTarget(
    `RedisSessionStore (${cluster}ioredis ${major}${clientOptions.keyPrefix ? ', keyPrefix' : ''})`,
    () => createClient(major, undefined, clientOptions),
    clientOptions.keyPrefix,
  );
}

/**
 * A Redis Cluster client (ioredis 5 or 6) on a cluster the test file starts
 * (`getNodes` is read lazily, when the first store is made inside a test).
 */
export function clusterTarget(
  getNodes: () => Array<{ host: string; port: number }>,
  major: IoredisMajor,
  clusterOptions: ClusterOptions = {},
): ContractTarget {
  return ioredisTarget(
    `RedisSessionStore (Cluster, ioredis ${major}${clusterOptions.keyPrefix ? ', keyPrefix' : ''})`,
    () => {
      const Ctor = (major === 5 ? Cluster5 : Cluster6) as unknown as new (n: unknown, o: ClusterOptions) => Client;
      const client = new Ctor(getNodes(), {
        ...clusterOptions,
        redisOptions: { maxRetriesPerRequest: 3, ...clusterOptions.redisOptions },
      });
      client.on('error', () => undefined);
      return client;
    },
    clusterOptions.keyPrefix,
  );
}
