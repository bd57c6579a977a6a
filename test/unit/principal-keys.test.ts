/**
 * The principal index key: injective over principals, never a session key,
 * and in the slot its hash tag names; change events round-trip the principal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keySlot, sessionKey } from '../../src/index.js';
import { encodeId, parseEventKey } from '../../src/redis/keys.js';
import { principalIndexKey } from '../../src/redis/principals.js';
import { parseChangeMessage } from '../../src/redis/change-feed.js';

const id = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });

describe('principalIndexKey', () => {
  it('is injective, and never equal to a session key, for any strings (braces and % included)', () => {
    fc.assert(
      fc.property(id, id, id, (a, b, s) => {
        if (a !== b) expect(principalIndexKey(a, 'scas:')).not.toBe(principalIndexKey(b, 'scas:'));
        expect(principalIndexKey(a, 'scas:')).not.toBe(sessionKey(s, 'scas:'));
        expect(principalIndexKey(a, 'scas:').endsWith('}:i')).toBe(true);
      }),
    );
    expect(principalIndexKey('{x}', 'p:')).toBe('p:{p:%7Bx%7D}:i');
  });

  it('hashes by its tag: the slot of {p:<encoded principal>}', () => {
    fc.assert(
      fc.property(id, (p) => {
        expect(keySlot(principalIndexKey(p, 'scas:'))).toBe(keySlot(`{p:${encodeId(p)}}`));
      }),
    );
  });
});

describe('change events with a principal', () => {
  it('parse back to the id and principal, for any strings', () => {
    fc.assert(
      fc.property(id, id, (s, p) => {
        const key = sessionKey(s, 'scas:');
        expect(parseChangeMessage(`created:17:${key}:p${p}`)).toEqual({
          kind: 'created',
          id: s,
          generation: 17,
          principal: p,
        });
        expect(parseChangeMessage(`updated:17:${key}`)).toEqual({ kind: 'updated', id: s, generation: 17 });
      }),
    );
  });

  it('refuse what this library never publishes', () => {
    expect(parseEventKey('scas:{a}:s:p', 0, 'scas:')).toBeNull(); // empty principal
    expect(parseEventKey('scas:{a}:s:x', 0, 'scas:')).toBeNull();
    expect(parseEventKey('scas:{a}:sx', 0, 'scas:')).toBeNull();
    expect(parseEventKey('scas:{a}:s:p\uD800', 0, 'scas:')).toBeNull();
    expect(parseEventKey('scas:{a}:s:pada', 0, 'scas:')).toEqual({ id: 'a', principal: 'ada' });
  });
});
