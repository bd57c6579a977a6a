/**
 * The two store capabilities the cache builds on: generationOf (one small
 * round trip, TTL slid like get) and subscribe (the change feed), on both stores.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type FeedStatus,
  MemorySessionStore,
  RedisSessionStore,
  isInvalidArgument,
  parseChangeMessage,
  sessionKey,
} from '../../src/index.js';
import { createClient, sleep } from '../infra/clients.js';
import { clientList, cluster, uid, waitFor } from './helpers.js';

describe('parseChangeMessage', () => {
  it('parses kind, generation and the id out of the full key; ids with colons, braces and % round-trip', () => {
    expect(parseChangeMessage('updated:42:scas:{a:b::c}:s')).toEqual({ kind: 'updated', generation: 42, id: 'a:b::c' });
    expect(parseChangeMessage('terminated:1712345678901234:scas:{x}:s')).toEqual({
      kind: 'terminated',
      generation: 1712345678901234,
      id: 'x',
    });
    for (const id of ['{tag}', '%7B', '}{', '100%', 'ü:{}:s', 'scas:{x}:s']) {
      expect(parseChangeMessage(`created:7:app:${sessionKey(id, 'p:')}`, 'app:p:'), id).toEqual({
        kind: 'created',
        generation: 7,
        id,
      });
    }
    const ns = 'app:scas:';
    for (const id of ['{', '}', '%7B', '}:s', 'a{b}c', '%']) {
      expect(parseChangeMessage(`created:1:${ns}${sessionKey(id, '')}`, ns), id).toEqual({
        kind: 'created',
        generation: 1,
        id,
      });
    }
  });
  it('rejects messages this library does not publish', () => {
    for (const m of [
      '',
      'updated',
      'updated:1',
      'updated:1:',
      'touched:1:scas:{x}:s',
      'updated:0:scas:{x}:s',
      'updated:01:scas:{x}:s',
      'updated:-1:scas:{x}:s',
      'updated:1.5:scas:{x}:s',
      'updated:99999999999999999:scas:{x}:s',
    ]) {
      expect(parseChangeMessage(m), m).toBeNull();
    }
    const ns = 'app:scas:';
    for (const m of [
      'updated:1:x',
      'updated:1:other:{x}:s',
      `updated:1:${ns}x:s`,
      `updated:1:${ns}{x}:t`,
      `updated:1:${ns}{}:s`,
      `updated:1:${ns}{a}b}:s`,
      `updated:1:app:{x}:s`,
      `updated:1:xapp:scas:{x}:s`,
    ]) {
      expect(parseChangeMessage(m, ns), m).toBeNull();
    }
  });
  it('ignores other namespaces, the old <kind>:<generation>:<id> format, and keys that are not a session record', () => {
    for (const m of [
      'updated:5:x', // old format
      'updated:5:scas:x', // old format, an id that starts with the prefix
      'updated:5:other:{x}:s',
      'updated:5:scasx{x}:s',
      'updated:5:app:scas:{x}:s', // another namespace
      'updated:5:scas:{x}:t',
      'updated:5:scas:{x}',
      'updated:5:scas:{}:s',
      'updated:5:scas:{x}y}:s',
      'updated:5:scas:{x{y}:s',
      'updated:5:scas:{x}:s:',
      'updated:5:scas:{%7b}:s',
      'updated:5:scas:{%41}:s',
      'updated:5:scas:{\ud800}:s', // not encodeId's
      `updated:5:scas:{${'x'.repeat(1025)}}:s`, // over MAX_ID_LENGTH
    ]) {
      expect(parseChangeMessage(m), m).toBeNull();
    }
    expect(parseChangeMessage('updated:5:scas:{x}:s', 'app:scas:')).toBeNull();
    expect(parseChangeMessage('updated:5:app:scas:{x}:s', 'app:scas:')).toEqual({
      kind: 'updated',
      generation: 5,
      id: 'x',
    });
  });
});

describe('generationOf', () => {
  it('Redis: returns the generation, slides the TTL like get, and tells not_found from terminated', async () => {
    const c = cluster();
    const { store, client } = c.node('gen', { ttlMs: 60_000 });
    const id = uid('g');
    const created = await store.create(id, { a: '1' }, { ttlMs: 5_000 });
    if (!created.ok) throw new Error('create failed');
    const pttl = () => (client as unknown as { pttl(k: string): Promise<number> }).pttl(store.keyFor(id));
    expect(await pttl()).toBeLessThanOrEqual(5_000);
    expect(await store.generationOf(id, { touch: false })).toEqual({
      ok: true,
      generation: created.session.generation,
    });
    expect(await pttl()).toBeLessThanOrEqual(5_000);
    expect(await store.generationOf(id)).toEqual({ ok: true, generation: created.session.generation });
    expect(await pttl()).toBeGreaterThan(5_000); // touchOnGet (default): slid to ttlMs
    const patched = await store.patch(id, { set: { b: '2' } });
    if (!patched.ok) throw new Error('patch failed');
    expect(patched.session.generation).toBeGreaterThan(created.session.generation);
    expect(await store.generationOf(id)).toEqual({ ok: true, generation: patched.session.generation });
    await store.terminate(id);
    expect(await store.generationOf(id)).toEqual({ ok: false, reason: 'terminated' });
    expect(await store.generationOf(uid('none'))).toEqual({ ok: false, reason: 'not_found' });
  });

  it('Redis: with touchOnGet false it never slides the TTL unless asked', async () => {
    const c = cluster();
    const { store, client } = c.node('gen2', { ttlMs: 60_000, touchOnGet: false });
    const id = uid('g');
    await store.create(id, {}, { ttlMs: 5_000 });
    const pttl = () => (client as unknown as { pttl(k: string): Promise<number> }).pttl(store.keyFor(id));
    await store.generationOf(id);
    expect(await pttl()).toBeLessThanOrEqual(5_000);
    await store.generationOf(id, { touch: true });
    expect(await pttl()).toBeGreaterThan(5_000);
  });

  it('memory: same answers and TTL behaviour', async () => {
    let now = 0;
    const store = new MemorySessionStore({ ttlMs: 1_000, now: () => now });
    const created = await store.create('m', {}, { ttlMs: 100 });
    if (!created.ok) throw new Error('create failed');
    now = 90;
    expect(await store.generationOf('m', { touch: false })).toEqual({
      ok: true,
      generation: created.session.generation,
    });
    now = 101;
    expect(await store.generationOf('m')).toEqual({ ok: false, reason: 'not_found' });
    await store.create('n', {}, { ttlMs: 100 });
    now = 190;
    await store.generationOf('n'); // slides to 1_000
    now = 1_000;
    expect((await store.generationOf('n')).ok).toBe(true);
    await store.terminate('n');
    expect(await store.generationOf('n')).toEqual({ ok: false, reason: 'terminated' });
  });

  it('validates its arguments before any I/O', async () => {
    const store = new MemorySessionStore();
    await expect(store.generationOf('')).rejects.toSatisfy(isInvalidArgument);
    await expect(store.generationOf('x', { touch: 'yes' as unknown as boolean })).rejects.toSatisfy(isInvalidArgument);
  });
});

describe('subscribe', () => {
  for (const major of [5, 6] as const) {
    it(`Redis (ioredis ${major}): one event per successful write, with kind, id and generation; none for reads/touch`, async () => {
      const c = cluster(major);
      const a = c.node('writer');
      const b = c.node('reader');
      const events: ChangeEvent[] = [];
      const statuses: FeedStatus[] = [];
      const sub = await b.store.subscribe((e) => events.push(e), { onStatus: (s) => statuses.push(s) });
      expect(statuses).toEqual(['subscribed']);
      const id = `with:colons:${uid('s')}`;
      const created = await a.store.create(id, { a: '1' });
      if (!created.ok) throw new Error('create failed');
      const g = created.session.generation;
      const gens: number[] = [g];
      const record = (r: { ok: boolean; session?: { generation: number } }) => {
        if (r.ok) gens.push(r.session!.generation);
      };
      record(await a.store.update(id, g, { a: '2' }));
      record(await a.store.patch(id, { set: { b: '1' } }));
      record(await a.store.mutate(id, (s) => ({ ...s.metadata, c: '1' })));
      await a.store.touch(id);
      await a.store.get(id);
      await a.store.generationOf(id);
      await a.store.update(id, g, { stale: '1' }); // conflict: no event
      await a.store.terminate(id);
      await a.store.patch(id, { set: { late: '1' } }); // terminated: no event
      expect(await waitFor(() => events.length >= 5)).toBe(true);
      await sleep(50); // nothing more arrives
      expect(gens).toHaveLength(4);
      expect(events).toEqual([
        { kind: 'created', id, generation: gens[0] },
        { kind: 'updated', id, generation: gens[1] },
        { kind: 'updated', id, generation: gens[2] },
        { kind: 'updated', id, generation: gens[3] },
        { kind: 'terminated', id, generation: gens[3] },
      ]);
      await sub.unsubscribe();
      await sub.unsubscribe(); // idempotent
    });
  }

  it('Redis: the store owns one named subscriber connection, closed with the last subscription', async () => {
    const c = cluster();
    const a = c.node('owner');
    const admin = createClient(5);
    try {
      const subName = `${a.name}:events`;
      const count = async () => (await clientList(admin)).filter((x) => x.name === subName).length;
      const s1 = await a.store.subscribe(() => undefined);
      const s2 = await a.store.subscribe(() => undefined);
      expect(await count()).toBe(1);
      expect((await clientList(admin)).find((x) => x.name === subName)?.flags).toContain('P'); // pubsub
      await s1.unsubscribe();
      expect(await count()).toBe(1);
      await s2.unsubscribe();
      expect(await waitFor(async () => (await count()) === 0)).toBe(true);
      // The client passed in is untouched and still usable.
      expect(await a.store.create(uid('after'))).toMatchObject({ ok: true });
    } finally {
      admin.disconnect();
    }
  });

  it('Redis: an unsubscribed listener gets nothing more; others keep receiving', async () => {
    const c = cluster();
    const a = c.node('w');
    const seen1: string[] = [];
    const seen2: string[] = [];
    const s1 = await a.store.subscribe((e) => seen1.push(e.id));
    const s2 = await a.store.subscribe((e) => seen2.push(e.id));
    await a.store.create('one');
    expect(await waitFor(() => seen1.length === 1 && seen2.length === 1)).toBe(true);
    await s1.unsubscribe();
    await a.store.create('two');
    expect(await waitFor(() => seen2.length === 2)).toBe(true);
    expect(seen1).toEqual(['one']);
    await s2.unsubscribe();
  });

  it('Redis: the events channel is not affected by an ioredis keyPrefix', async () => {
    const c = cluster();
    const a = c.node('kp', {}, { keyPrefix: 'app9:' });
    const seen: ChangeEvent[] = [];
    const sub = await a.store.subscribe((e) => seen.push(e));
    await a.store.create('kp1');
    expect(await waitFor(() => seen.length === 1)).toBe(true);
    await sub.unsubscribe();
  });

  it('Redis: subscribe without eventsChannel, or with a bad listener, throws synchronously', () => {
    const client = createClient(5);
    try {
      const store = new RedisSessionStore(client);
      expect(() => store.subscribe(() => undefined)).toThrow(/eventsChannel/);
      const withFeed = new RedisSessionStore(client, { eventsChannel: 'x' });
      expect(() => withFeed.subscribe('no' as unknown as () => void)).toThrow(/listener/);
    } finally {
      client.disconnect();
    }
  });

  it('memory: exactly once, in write order, after the write; never interrupted', async () => {
    const store = new MemorySessionStore();
    const events: ChangeEvent[] = [];
    const statuses: FeedStatus[] = [];
    const sub = await store.subscribe((e) => events.push(e), { onStatus: (s) => statuses.push(s) });
    const pending = store.create('m'); // the write runs synchronously...
    expect(events).toEqual([]); // ...and its event follows on a microtask, never inside it
    const created = await pending;
    if (!created.ok) throw new Error('create failed');
    await store.patch('m', { set: { a: '1' } });
    await store.touch('m');
    await store.terminate('m');
    await sleep(0);
    expect(events.map((e) => `${e.kind}:${e.generation - created.session.generation}`)).toEqual([
      'created:0',
      'updated:1',
      'terminated:1',
    ]);
    expect(statuses).toEqual(['subscribed']);
    await sub.unsubscribe();
    await store.create('m2');
    await sleep(0);
    expect(events).toHaveLength(3);
  });
});
