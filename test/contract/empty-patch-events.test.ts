/**
 * An empty patch writes nothing, so it publishes no change event either (and
 * so makes no SessionCache on another node refetch): on the memory store's
 * feed and on a Redis store with an eventsChannel.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type ChangeFeed,
  MemorySessionStore,
  RedisSessionStore,
  type SessionStore,
} from '../../src/index.js';
import { createClient, sleep, uniquePrefix } from '../infra/clients.js';

const client = createClient(5);
afterAll(() => client.disconnect());

const stores: Array<[string, () => SessionStore & ChangeFeed]> = [
  ['MemorySessionStore', () => new MemorySessionStore()],
  [
    'RedisSessionStore',
    () =>
      new RedisSessionStore(client, {
        prefix: uniquePrefix('empty-patch'),
        eventsChannel: uniquePrefix('empty-patch-events'),
      }),
  ],
];

describe.each(stores)('empty patch (%s)', (_, make) => {
  it('an empty patch publishes no change event; the next real write does', async () => {
    const store = make();
    const events: ChangeEvent[] = [];
    const sub = await store.subscribe((e) => events.push(e));
    try {
      const created = await store.create('s', { a: '1' });
      if (!created.ok) throw new Error(created.reason);
      const g = created.session.generation;
      expect(await store.patch('s', {})).toEqual({ ok: true, session: created.session });
      expect(await store.patch('s', { set: {}, remove: [] }, { expectedGeneration: g })).toEqual({
        ok: true,
        session: created.session,
      });
      const real = await store.patch('s', { set: { b: '2' } });
      if (!real.ok) throw new Error(real.reason);
      expect(real.session.generation).toBeGreaterThan(g);
      for (let i = 0; i < 100 && events.length < 2; i++) await sleep(10);
      await sleep(20); // an event of the empty patches would have arrived by now, in publish order before the update's
      expect(events).toEqual([
        { kind: 'created', id: 's', generation: g },
        { kind: 'updated', id: 's', generation: real.session.generation },
      ]);
    } finally {
      await sub.unsubscribe();
    }
  });
});
