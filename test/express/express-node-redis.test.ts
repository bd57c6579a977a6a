/**
 * session-cas/express on node-redis: `CasSessionStore` takes a node-redis
 * client (either constructor form) as it takes an ioredis one, and lists its
 * sessions with SCAN on the client's node, or on every primary of a
 * node-redis Cluster, with the node-redis `keyPrefix` added to the pattern
 * and stripped from the replies (node-redis applies it to neither).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CasSessionStore } from '../../src/express/index.js';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { uniquePrefix } from '../infra/clients.js';
import { type NodeRedis, nodeRedisClient, nodeRedisCluster } from '../infra/node-redis-clients.js';
import { call } from './express-targets.js';

const opened: NodeRedis[] = [];
afterAll(() => {
  for (const c of opened) c.close();
});
async function connected(c: NodeRedis): Promise<NodeRedis['client']> {
  opened.push(c);
  await c.ready();
  return c.client;
}

const cookie = () => ({ originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: '/' });
const set = (store: CasSessionStore, sid: string, sess: any) => call((cb) => store.set(sid, sess, cb));

async function listing(store: CasSessionStore, neighbour: CasSessionStore): Promise<void> {
  const ids = ['a', 'b{c}', 'd%7B', 'e', 'f'];
  for (const id of ids) await set(store, id, { cookie: cookie(), id });
  await set(neighbour, 'n', { cookie: cookie(), id: 'n' });
  await call((cb) => store.destroy('e', cb));
  expect(await call<number>((cb) => store.length(cb))).toBe(4);
  const all = await call<Record<string, any>>((cb) => store.all(cb));
  expect(Object.keys(all!).sort()).toEqual(['a', 'b{c}', 'd%7B', 'f']);
  expect(all!['b{c}'].id).toBe('b{c}');
  await call((cb) => store.clear(cb));
  expect(await call<number>((cb) => store.length(cb))).toBe(0);
  expect(await store.sessions.peek('a')).toBeNull();
  expect(await call<number>((cb) => neighbour.length(cb))).toBe(1);
}

describe('CasSessionStore on node-redis', () => {
  it('takes a node-redis client in both constructor forms; get, set, touch and destroy work through it', async () => {
    const client = await connected(nodeRedisClient());
    const prefix = uniquePrefix('nr-express');
    for (const store of [new CasSessionStore(client, { prefix }), new CasSessionStore({ client, prefix })]) {
      const sid = `s-${Math.random().toString(36).slice(2)}`;
      await set(store, sid, { cookie: cookie(), user: 'ada' });
      expect(await call((cb) => store.get(sid, cb))).toMatchObject({ user: 'ada' });
      await call((cb) => store.touch(sid, { cookie: cookie() } as never, cb));
      await call((cb) => store.destroy(sid, cb));
      expect(await call((cb) => store.get(sid, cb))).toBeNull();
    }
  });

  it.each([3, 2] as const)(
    'RESP%i: all, length and clear list live sessions under this prefix only, with a node-redis keyPrefix and glob characters',
    async (RESP) => {
      const keyed = await connected(nodeRedisClient(undefined, { RESP, keyPrefix: uniquePrefix('kp') }));
      const prefix = `${uniquePrefix('scan')}[*?]\\`;
      await listing(
        new CasSessionStore(keyed, { prefix, scanCount: 2 }),
        new CasSessionStore(keyed, { prefix: `${prefix}x` }),
      );
    },
  );
});

describe('CasSessionStore on a node-redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicas: 0 });
  });
  afterAll(() => cluster?.stop());

  it('all, length and clear SCAN every primary', async () => {
    const client = await connected(nodeRedisCluster(cluster.startupNodes, { keyPrefix: 'app1:' }));
    const prefix = uniquePrefix('cscan');
    await listing(
      new CasSessionStore(client, { prefix, scanCount: 2 }),
      new CasSessionStore(client, { prefix: `${prefix}x` }),
    );
  });
});
