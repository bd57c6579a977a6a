/**
 * Key layout on a real cluster: for arbitrary ids (full Unicode, braces,
 * empty tags, percent signs), every key of a session hashes to one slot,
 * chosen by the id alone (so sessions spread over the primaries), the store's
 * slot computation agrees with CLUSTER KEYSLOT, and no script ever meets
 * CROSSSLOT.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, keySlot } from '../../src/index.js';
import { encodeId } from '../../src/redis/keys.js';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { uniquePrefix } from '../infra/clients.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** Ids made of pieces that stress hash tags and the escaping, mixed with arbitrary code points. */
const trickyPiece = fc.constantFrom(
  '{',
  '}',
  '{}',
  '}{',
  '{{',
  '}}',
  '%',
  '%7B',
  '%7D',
  '%25',
  ':s',
  '{x}',
  'a',
  'é',
  '😀',
  '\u0000',
);
const idArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc
    .array(fc.oneof(trickyPiece, fc.string({ unit: 'binary', maxLength: 4 })), { minLength: 1, maxLength: 12 })
    .map((parts) => parts.join(''))
    .filter((s) => s.length > 0),
);

/** Role suffixes a session key might ever get; all must share the record's slot. */
const ROLES = [':s', ':x', ':ops', ':events', ''];

describe('key layout on Redis Cluster', () => {
  it('every key of a session lands in the slot of its encoded id, as CLUSTER KEYSLOT computes it', async () => {
    const store = new RedisSessionStore(cluster.client(5), { prefix: 'scas:' });
    await fc.assert(
      fc.asyncProperty(idArb, async (id) => {
        const key = store.keyFor(id);
        const slot = await cluster.keySlot(key);
        expect(keySlot(key)).toBe(slot);
        // The tag is exactly the encoded id: the slot depends on the id alone.
        expect(slot).toBe(await cluster.keySlot(encodeId(id)));
        const tagged = `scas:{${encodeId(id)}}`;
        for (const role of ROLES) expect(await cluster.keySlot(tagged + role)).toBe(slot);
      }),
      { numRuns: 150 },
    );
  });

  it('keySlot agrees with CLUSTER KEYSLOT for arbitrary keys, braces and ioredis keyPrefix included', async () => {
    const anyKey = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.array(fc.oneof(trickyPiece, fc.string({ maxLength: 3 })), { maxLength: 10 }).map((p) => p.join('')),
    );
    await fc.assert(
      fc.asyncProperty(anyKey, async (key) => {
        expect(keySlot(key)).toBe(await cluster.keySlot(key));
      }),
      { numRuns: 200 },
    );
  });

  it('runs every operation on arbitrary ids without CROSSSLOT, and the record is on the owner of its slot', async () => {
    const prefix = uniquePrefix('slots');
    const client = cluster.client(5, { keyPrefix: 'kp:' });
    const store = new RedisSessionStore(client, { prefix, ttlMs: 60_000 });
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(idArb, async (id) => {
        if (seen.has(id)) return;
        seen.add(id);
        const created = await store.create(id, { a: '1' });
        if (!created.ok) throw new Error(`create ${JSON.stringify(id)}: ${created.reason}`);
        const updated = await store.update(id, created.session.generation, { a: '2' });
        expect(updated.ok).toBe(true);
        expect((await store.patch(id, { set: { b: '3' }, remove: ['a'] })).ok).toBe(true);
        expect((await store.touch(id)).ok).toBe(true);
        expect((await store.get(id))?.metadata).toEqual({ b: '3' });
        expect(await store.exists(id)).toBe(true);
        const fullKey = `kp:${store.keyFor(id)}`;
        const owner = await cluster.ownerOf(keySlot(fullKey));
        expect(await owner.admin.exists(fullKey)).toBe(1);
        expect((await store.terminate(id)).ok).toBe(true);
        expect(await store.peek(id)).toBeNull();
        expect(await owner.admin.hexists(fullKey, 't')).toBe(1); // the tombstone stays in the same slot
      }),
      { numRuns: 60 },
    );
  });

  it('spreads sessions over all primaries (the prefix is outside the hash tag)', async () => {
    const primaries = await cluster.primaries();
    expect(primaries).toHaveLength(3);
    const ranges = (await cluster.nodes[0]!.admin.call('CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number, string]]
    >;
    const ownerOfSlot = (slot: number) => ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][2];
    const counts = new Map<string, number>();
    const ids = fc.sample(idArb, { numRuns: 3000, seed: 42 });
    const store = new RedisSessionStore(cluster.client(5), { prefix: 'p:' });
    for (const id of ids) {
      const owner = ownerOfSlot(keySlot(store.keyFor(id)));
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    // Expected ~1000 each; ids are arbitrary strings, not uniform, so the bound is loose.
    for (const n of counts.values()) expect(n).toBeGreaterThan(600);
  });
});
