/** The session-cas stores the Fastify tests run CasSessionStore on, and how to expire a record on each. */
import { afterAll } from 'vitest';
import { CasSessionStore, type CasSessionStoreOptions } from '../../src/fastify/index.js';
import { MemorySessionStore, RedisSessionStore, type SessionStore, type SessionStoreOptions } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, sleep, uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, nodeRedisClient } from '../infra/node-redis-clients.js';

export type StoreOptions = Pick<CasSessionStoreOptions, 'serializer' | 'sameField' | 'maxAttempts'>;

export interface CasTarget {
  readonly name: string;
  /** A fresh CasSessionStore on its own key space. */
  make(fastify?: StoreOptions, core?: SessionStoreOptions): { store: CasSessionStore; sessions: SessionStore };
  /** Makes the id's record expire now (Redis: PEXPIRE 1 and wait until it is gone; memory: move the clock). */
  expire(sessions: SessionStore, sid: string): Promise<void>;
}

/** Makes a Redis record expire now and waits until it is gone. */
export async function expireNow(client: Client, sessions: SessionStore, sid: string): Promise<void> {
  const key = (sessions as RedisSessionStore).keyFor(sid);
  await client.pexpire(key, 1);
  for (let i = 0; i < 200 && (await client.exists(key)) === 1; i++) await sleep(5);
  if ((await client.exists(key)) === 1) throw new Error('record did not expire');
}

export function redisCasTarget(major: IoredisMajor): CasTarget & { client(): Client } {
  let client: Client | undefined;
  const getClient = (): Client => (client ??= createClient(major));
  afterAll(() => {
    client?.disconnect();
  });
  return {
    name: `CasSessionStore on RedisSessionStore (ioredis ${major})`,
    client: getClient,
    make(fastify = {}, core = {}) {
      const sessions = new RedisSessionStore(getClient(), { ...core, prefix: uniquePrefix('fastify') });
      return { store: new CasSessionStore(sessions, fastify), sessions };
    },
    expire: (sessions, sid) => expireNow(getClient(), sessions, sid),
  };
}

/** CasSessionStore built straight from a node-redis client (`new CasSessionStore(client, options)`). */
export function nodeRedisCasTarget(): CasTarget {
  let nr: NodeRedis | undefined;
  let raw: Client | undefined;
  const getRaw = (): Client => (raw ??= createClient(5));
  afterAll(() => {
    nr?.close();
    raw?.disconnect();
  });
  return {
    name: 'CasSessionStore on a node-redis client',
    make(fastify = {}, core = {}) {
      const client = (nr ??= nodeRedisClient()).client;
      const store = new CasSessionStore(client, { ...fastify, ...core, prefix: uniquePrefix('fastify-nr') });
      return { store, sessions: store.sessions };
    },
    expire: (sessions, sid) => expireNow(getRaw(), sessions, sid),
  };
}

export function memoryCasTarget(): CasTarget {
  let now = Date.now();
  return {
    name: 'CasSessionStore on MemorySessionStore',
    make(fastify = {}, core = {}) {
      const sessions = new MemorySessionStore({ ...core, now: () => now });
      return { store: new CasSessionStore(sessions, fastify), sessions };
    },
    async expire(sessions) {
      now += (sessions as MemorySessionStore).options.ttlMs + 1;
    },
  };
}
