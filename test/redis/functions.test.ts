/**
 * The function library: loaded on first use, again after FUNCTION FLUSH or a
 * restart without persistence (also in the middle of a load), side by side
 * with another version of the library, and refused loudly to a user who may
 * not load it. Its own throwaway server, since it flushes and restarts it.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBRARY } from '../../src/redis/generated/lua.js';
import { RedisSessionStore, functionLibrary, isSessionStoreError } from '../../src/index.js';
import type { Client } from '../../src/redis/scripts.js';
import { type IoredisMajor, createClient, uniquePrefix } from '../infra/clients.js';
import { type RedisServer, startRedisServer } from '../../harness/redis-server.js';
import { adminClient, createAclUser, libraryLoaded } from '../infra/server-faults.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = await adminClient(server.url);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.kill();
});

function client(major: IoredisMajor, url = server.url, options = {}): Client {
  const c = createClient(major, url, { maxRetriesPerRequest: 50, retryStrategy: () => 20, ...options });
  clients.push(c);
  return c;
}

describe.each([5, 6] as IoredisMajor[])('function library (ioredis %i)', (major) => {
  it('is loaded on first use under a versioned name, and functionLibrary() gives its source', async () => {
    await admin.call('FUNCTION', 'FLUSH');
    const store = new RedisSessionStore(client(major), { prefix: uniquePrefix('first') });
    expect(await libraryLoaded(admin)).toBe(false);
    expect((await store.create('a', { x: '1' })).ok).toBe(true);
    expect(await libraryLoaded(admin)).toBe(true);
    expect(LIBRARY.name).toMatch(/^sessioncas_[0-9a-f]{10}$/);
    expect(functionLibrary()).toEqual({ name: LIBRARY.name, source: LIBRARY.source });
    const names = ((await admin.call('FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY.name)) as unknown[][])[0]!;
    expect(JSON.stringify(names)).toContain(`${LIBRARY.name}_update`);
  });

  it('another version of the library on the same server: both work, neither calls the other', async () => {
    const otherTag = (LIBRARY.tag as string) === 'aaaaaaaaaa' ? 'bbbbbbbbbb' : 'aaaaaaaaaa';
    // Another version: other names, and an update that refuses every call, so a mix-up would show.
    const other = LIBRARY.source
      .replaceAll(LIBRARY.tag, otherTag)
      .replace(
        'local ttl = parseTtlString(ARGV[2])\nlocal expected = parseExpectedString(ARGV[3], false)',
        "local ttl = parseTtlString(ARGV[2])\nlocal expected = parseExpectedString(ARGV[3], false)\nfail('other version')",
      );
    expect(other).toContain("fail('other version')");
    await admin.call('FUNCTION', 'LOAD', 'REPLACE', other);
    try {
      const store = new RedisSessionStore(client(major), { prefix: uniquePrefix('two-versions') });
      const c = await store.create('s', { v: '1' });
      if (!c.ok) throw new Error('create failed');
      expect(await store.update('s', c.session.generation, { v: '2' })).toMatchObject({ ok: true });
      await expect(
        admin.fcall(`sessioncas_${otherTag}_update`, 1, store.keyFor('s'), 'opid0001', '1000', '2', '', ''),
      ).rejects.toThrow(/other version/);
      expect((await store.peek('s'))?.metadata).toEqual({ v: '2' });
    } finally {
      await admin.call('FUNCTION', 'DELETE', `sessioncas_${otherTag}`);
    }
  });

  it('a user who may not run FUNCTION LOAD gets NOPERM saying how to load it; store.loadLibrary() as an admin fixes it', async () => {
    await admin.call('FUNCTION', 'FLUSH');
    const url = await createAclUser(server, `noload${major}`, ['~*', '&*', '+@all', '-function']);
    const prefix = uniquePrefix('noload');
    const limited = new RedisSessionStore(client(major, url), { prefix });
    const err = await limited.create('a').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isSessionStoreError(err) && err.code).toBe('NOPERM');
    expect((err as Error).message).toMatch(/FUNCTION LOAD refused[\s\S]*loadLibrary/);
    expect(await admin.exists(limited.keyFor('a'))).toBe(0);
    await new RedisSessionStore(client(major), { prefix }).loadLibrary();
    expect((await limited.create('a')).ok).toBe(true);
  });

  it('a restart without persistence in the middle of a load: every call resolves or fails typed, the library comes back', async () => {
    const store = new RedisSessionStore(client(major, server.url, { enableAutoPipelining: true }), {
      prefix: uniquePrefix('restart'),
    });
    const untyped: unknown[] = [];
    let ok = 0;
    let faults = 0;
    let okAfterRestart = 0;
    let restarted = false;
    const deadline = Date.now() + 8_000;
    const worker = async (w: number) => {
      for (let i = 0; Date.now() < deadline && (!restarted || okAfterRestart < 200); i++) {
        const id = `w${w}-${i}`;
        try {
          const c = await store.create(id, { n: '0' });
          if (!c.ok) continue; // exists: a create acknowledged before the restart may not be; both outcomes are values
          const u = await store.update(id, c.session.generation, { n: '1' });
          if (u.ok) {
            expect(u.session.metadata).toEqual({ n: '1' });
            ok++;
            if (restarted) okAfterRestart++;
          }
        } catch (e) {
          if (isSessionStoreError(e)) faults++;
          else untyped.push(e);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    restarted = true;
    await Promise.all(workers);
    admin.disconnect();
    admin = await adminClient(server.url);
    expect(untyped).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(okAfterRestart).toBeGreaterThan(0);
    expect(await libraryLoaded(admin)).toBe(true);
    console.info(
      `[functions] restart mid-load (ioredis ${major}): ${ok} updates ok, ${okAfterRestart} after the restart, ${faults} typed faults`,
    );
  });
});
