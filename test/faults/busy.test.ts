/**
 * busy: another client's script runs past busy-reply-threshold, so Redis
 * answers every other command with BUSY until it ends or SCRIPT KILL stops
 * it. Each write is refused before running: code BUSY, outcome not_applied.
 * A retry after the script ends applies normally.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisSessionStore } from '../../src/index.js';
import type { Client } from '../../src/scripts.js';
import { createClient, uniquePrefix } from '../support/clients.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { adminClient, startBusyScript } from '../support/server-faults.js';
import { expectAppliedOnce, plan, settled, WRITE_OPS } from './harness.js';
import { expectRefused } from './refused.js';

let server: RedisServer;
let client: Client;
let store: RedisSessionStore;

beforeAll(async () => {
  server = await startRedisServer();
  client = createClient(5, server.url);
  store = new RedisSessionStore(client, { prefix: uniquePrefix('busy') });
});
afterAll(async () => {
  client?.disconnect();
  await server?.kill();
});

describe('busy', () => {
  it.each(WRITE_OPS)('busy: %s is refused with BUSY and applies nothing; a retry afterwards applies once', async (op) => {
    const p = await plan(op, store);
    await store.exists('connected'); // the connection is up before the server turns busy
    const busy = await startBusyScript(server.url);
    try {
      await expectRefused(p, store, 'BUSY', () => adminAfter(busy));
    } finally {
      await busy.stop();
    }
    await expectAppliedOnce(p, await settled(p.run(store)));
  });
});

/** The record can only be read once the script is gone. */
async function adminAfter(busy: { stop(): Promise<void> }) {
  await busy.stop();
  return adminClient(server.url);
}
