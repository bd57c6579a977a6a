/** all, length and clear on a Redis Cluster: the SCAN of src/redis/listing.ts visits every primary. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CasSessionStore } from '../../src/express/index.js';
import { type RedisSessionStore, keySlot } from '../../src/index.js';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { uniquePrefix } from '../infra/clients.js';
import { call } from './express-targets.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 0 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe.each([5, 6] as const)('CasSessionStore listing on a Cluster (ioredis %i)', (major) => {
  it('lists, counts and clears the sessions of every primary, with a keyPrefix', async () => {
    const keyPrefix = uniquePrefix('ckp');
    const client = cluster.client(major, { keyPrefix });
    const prefix = uniquePrefix('clist');
    const store = new CasSessionStore(client as never, { prefix, scanCount: 3 });
    const ids = Array.from({ length: 24 }, (_, i) => `id-${i}{${i % 5}}`);
    const owners = new Set<string>();
    for (const id of ids) {
      await call((cb) => store.set(id, { cookie: { originalMaxAge: null, path: '/' }, id } as never, cb));
      const owner = await cluster.ownerOf(keySlot(keyPrefix + (store.sessions as RedisSessionStore).keyFor(id)));
      owners.add(`${owner.port}`);
    }
    expect(owners.size).toBe(3); // the ids really spread over every primary
    await call((cb) => store.destroy(ids[0]!, cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(ids.length - 1);
    const all = await call<Record<string, any>>((cb) => store.all(cb));
    expect(Object.keys(all!).sort()).toEqual(ids.slice(1).sort());
    expect(all![ids[1]!]!.id).toBe(ids[1]);
    await call((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
  }, 60_000);
});
