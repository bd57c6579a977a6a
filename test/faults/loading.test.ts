/**
 * loading: the server is loading its dataset (after a restart, or DEBUG
 * RELOAD here, slowed down with key-load-delay) and answers LOADING to every
 * command that needs data. Each write is refused: code LOADING, outcome
 * not_applied; once loading ends the data is there and a retry applies.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/scripts.js';
import { createClient, uniquePrefix } from '../support/clients.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { adminClient, startLoading } from '../support/server-faults.js';
import { expectAppliedOnce, plan, settled, WRITE_OPS } from './harness.js';
import { expectRefused } from './refused.js';

let server: RedisServer;
let client: Client;
let store: RedisSessionStore;

beforeAll(async () => {
  server = await startRedisServer();
  client = createClient(5, server.url);
  store = new RedisSessionStore(client, { prefix: uniquePrefix('loading') });
});
afterAll(async () => {
  client?.disconnect();
  await server?.kill();
});

describe('loading', () => {
  it.each(WRITE_OPS)('loading: %s is refused with LOADING and applies nothing; after the load a retry applies once', async (op) => {
    const p = await plan(op, store);
    await store.exists('connected'); // connected before the load starts
    const loading = await startLoading(server.url, { keys: 1_000, perKeyDelayUs: 1_000 });
    try {
      await expectRefused(p, store, 'LOADING', async () => {
        await loading.done;
        return adminClient(server.url);
      });
    } finally {
      await loading.done;
    }
    await expectAppliedOnce(p, await settled(p.run(store)));
  });
});
