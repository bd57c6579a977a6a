/** The session-cas stores the express tests run CasSessionStore on, and raw access to their records. */
import { afterAll } from 'vitest';
import { CasSessionStore, type CasSessionStoreOptions } from '../../src/express/index.js';
import { MemorySessionStore, RedisSessionStore, type SessionStore, type SessionStoreOptions } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, sleep, uniquePrefix } from '../infra/clients.js';

export type StoreOptions = Pick<CasSessionStoreOptions, 'serializer' | 'sameField' | 'maxAttempts' | 'scanCount'>;

export interface CasTarget {
  readonly name: string;
  /** A fresh CasSessionStore on its own key space. */
  make(express?: StoreOptions, core?: SessionStoreOptions): { store: CasSessionStore; sessions: SessionStore };
  /** Makes the id's record expire now (Redis: PEXPIRE 1 and wait until it is gone; memory: move the clock). */
  expire(sessions: SessionStore, sid: string): Promise<void>;
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
    make(express = {}, core = {}) {
      const sessions = new RedisSessionStore(getClient(), { ...core, prefix: uniquePrefix('express') });
      return { store: new CasSessionStore(sessions, express), sessions };
    },
    async expire(sessions, sid) {
      const key = (sessions as RedisSessionStore).keyFor(sid);
      await getClient().pexpire(key, 1);
      for (let i = 0; i < 200 && (await getClient().exists(key)) === 1; i++) await sleep(5);
      if ((await getClient().exists(key)) === 1) throw new Error('record did not expire');
    },
  };
}

export function memoryCasTarget(): CasTarget {
  let now = Date.now();
  return {
    name: 'CasSessionStore on MemorySessionStore',
    make(express = {}, core = {}) {
      const sessions = new MemorySessionStore({ ...core, now: () => now });
      return { store: new CasSessionStore(sessions, express), sessions };
    },
    async expire(sessions) {
      now += (sessions as MemorySessionStore).options.ttlMs + 1;
    },
  };
}

/** Promisified store calls, for tests that drive the store without HTTP. */
export function call<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}
