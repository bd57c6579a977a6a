/**
 * Key layout properties, without Redis: distinct ids never share a key, and
 * every key of one id hashes to one cluster slot, for arbitrary strings
 * (unicode, braces, percent signs) and prefixes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFIX, keySlot, sessionKey } from '../../src/index.js';
import { decodeId, encodeId } from '../../src/redis/keys.js';

/** Well-formed strings of any code points, braces and percent signs made likely. */
const anyId = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('{', '}', '%', '7', 'B', 'D', '2', '5', ':', 'a', '\u0000', '\r', '\n', '😀'),
    minLength: 1,
    maxLength: 20,
  }),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 30 })
    .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s), // well-formed UTF-16,
);
const anyPrefix = fc.oneof(
  fc.constant(DEFAULT_PREFIX),
  fc.constantFrom('', 'app:', 'a{b}:', 'x{', '}y', '{}'),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);

describe('keySlot matches the cluster spec', () => {
  // Slots as CLUSTER KEYSLOT on Redis 7.0 answers them (test/cluster/keyslot.test.ts
  // also compares keySlot with CLUSTER KEYSLOT on arbitrary keys).
  it('CRC16 check value and the documented hash tag examples', () => {
    expect(keySlot('123456789')).toBe(12739); // CRC16 check value 0x31C3
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).toBe(8363); // empty tag: the whole key is hashed
    expect(keySlot('foo{{bar}}zap')).toBe(4015);
    expect(keySlot('{bar')).toBe(4015);
    expect(keySlot('foo{bar}{zap}')).toBe(5061);
    expect(keySlot('bar')).toBe(5061);
  });
});

describe('session keys', () => {
  it('encodeId is reversible, so the id -> key mapping is injective', () => {
    fc.assert(
      fc.property(anyId, (id) => decodeId(encodeId(id)) === id),
      { numRuns: 2_000 },
    );
  });

  it('keys of different ids never collide (same prefix), whatever the prefix', () => {
    fc.assert(
      fc.property(anyId, anyId, anyPrefix, (a, b, prefix) => {
        fc.pre(a !== b);
        expect(sessionKey(a, prefix)).not.toBe(sessionKey(b, prefix));
        // Redis sees UTF-8 bytes: distinct well-formed strings stay distinct there too.
        expect(Buffer.from(sessionKey(a, prefix)).equals(Buffer.from(sessionKey(b, prefix)))).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('all keys of one id share a cluster slot: the hash tag is exactly the encoded id', () => {
    fc.assert(
      fc.property(anyId, fc.string({ maxLength: 8 }), (id, role) => {
        const key = sessionKey(id);
        const tag = encodeId(id);
        expect(keySlot(key)).toBe(keySlot(tag)); // tag has no braces: hashed whole
        // Any further key of the session (another role suffix after the tag) lands in the same slot.
        expect(keySlot(`${DEFAULT_PREFIX}{${tag}}:${role}`)).toBe(keySlot(key));
      }),
      { numRuns: 2_000 },
    );
  });

  // A prefix with braces takes the hash tag away from the id: 'a{b}:' puts every
  // session in one slot, and '{}' (an empty tag) makes Redis hash the whole
  // key, so two keys of one id could land in different slots. Today a session
  // has one key, so nothing breaks, but only brace-free prefixes keep the
  // property for any future second key.
  it('with any brace-free prefix, keys of one id share a slot', () => {
    const braceFree = anyPrefix.filter((p) => !/[{}]/.test(p));
    fc.assert(
      fc.property(anyId, braceFree, fc.string({ maxLength: 8 }), (id, prefix, role) => {
        const key = sessionKey(id, prefix);
        const sibling = `${prefix}{${encodeId(id)}}:${role}`;
        expect(keySlot(sibling)).toBe(keySlot(key));
      }),
      { numRuns: 2_000 },
    );
  });
});
