/** The reply decoder, without Redis: every malformed reply becomes UNEXPECTED_REPLY. */
import { describe, expect, it } from 'vitest';
import { Code, decodeReply, parseGeneration, sessionFromFields } from '../../src/redis/decode.js';
import { isSessionStoreError } from '../../src/index.js';

const unexpected = (fn: () => unknown) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isSessionStoreError(err) && err.code === 'UNEXPECTED_REPLY', String(err)).toBe(true);
};

describe('decodeReply', () => {
  it('decodes every status with and without a generation', () => {
    expect(decodeReply([1, '1795889568628192', []])).toEqual({
      code: Code.OK,
      generation: 1795889568628192,
      fields: [],
    });
    expect(decodeReply([-2, '', []])).toEqual({ code: Code.NOT_FOUND, generation: null, fields: [] });
    expect(decodeReply([-1, '7', ['g', '7', 'ma', 'b']]).fields).toEqual(['g', '7', 'ma', 'b']);
    for (const code of Object.values(Code)) expect(decodeReply([code, '', []]).code).toBe(code);
    expect(decodeReply([-1, 7, ['g', '7']]).generation).toBe(7);
  });

  it('decodes the bulk-string OK reply: gen, gen:c, gen:c:p, gen::p, a principal holding colons', () => {
    expect(decodeReply('1795889568628192')).toEqual({ code: Code.OK, generation: 1795889568628192, fields: [] });
    expect(decodeReply('17:1795889568628').fields).toEqual(['c', '1795889568628']);
    expect(decodeReply('17:1795889568628:alice').fields).toEqual(['c', '1795889568628', 'p', 'alice']);
    expect(decodeReply('17::alice')).toEqual({ code: Code.OK, generation: 17, fields: ['p', 'alice'] });
    expect(decodeReply('17:5:a:b::c').fields).toEqual(['c', '5', 'p', 'a:b::c']);
    expect(decodeReply('17:5:').fields).toEqual(['c', '5', 'p', '']);
    for (const bad of ['', '0', '-1', 'x', '1.5', ':5', '9007199254740992', '017:5'])
      unexpected(() => decodeReply(bad));
  });

  it('decodes the two hot-path forms: an integer generation, and a record as HGETALL gives it', () => {
    expect(decodeReply(1795889568628192)).toEqual({ code: Code.OK, generation: 1795889568628192, fields: [] });
    expect(decodeReply(['g', '9', 'ma', 'b'])).toEqual({
      code: Code.OK,
      generation: null,
      fields: ['g', '9', 'ma', 'b'],
    });
  });

  it.each([
    ['not an array', 'OK'],
    ['null', null],
    ['too short', [1, '']],
    ['too long', [1, '', [], 'x']],
    ['unknown code', [99, '', []]],
    ['string code', ['1', '', []]],
    ['float code', [1.5, '', []]],
    ['fractional number generation', [1, 5.5, []]],
    ['unsafe number generation', [1, 2 ** 53, []]],
    ['zero integer reply', 0],
    ['negative integer reply', -3],
    ['fractional integer reply', 2.5],
    ['unsafe integer reply', 2 ** 53],
    ['record with odd fields', ['g', '1', 'ma']],
    ['record with a non-string value', ['g', 1]],
    ['empty array', []],
    ['negative generation', [1, '-5', []]],
    ['zero generation', [1, '0', []]],
    ['leading zero', [1, '05', []]],
    ['fraction', [1, '1.5', []]],
    ['exponent', [1, '1e+15', []]],
    ['beyond 2^53', [1, '9007199254740993', []]],
    ['17 digits', [1, '12345678901234567', []]],
    ['odd fields', [1, '1', ['g']]],
    ['non-string field', [1, '1', ['g', 1]]],
    ['fields not array', [1, '1', 'g']],
    ['Buffer field', [1, '1', [Buffer.from('g'), '1']]],
  ])('rejects %s', (_, raw) => unexpected(() => decodeReply(raw)));

  it('accepts the largest safe generation and nothing above', () => {
    expect(parseGeneration(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    unexpected(() => parseGeneration(String(Number.MAX_SAFE_INTEGER + 2)));
  });
});

describe('sessionFromFields', () => {
  it('takes g as the generation and m-prefixed fields as metadata, ignoring control fields', () => {
    const s = sessionFromFields('id', [
      'g',
      '42',
      'o3',
      'op',
      'ma',
      '1',
      'm',
      'empty name',
      'm__proto__',
      'p',
      'mg',
      'not gen',
    ]);
    expect(s.generation).toBe(42);
    expect(s.metadata).toEqual({ a: '1', '': 'empty name', g: 'not gen', ['__proto__']: 'p' });
    expect(Object.getPrototypeOf(s.metadata)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(s.metadata, '__proto__')).toBe(true);
    expect(Object.isFrozen(s.metadata)).toBe(true);
  });

  it('rejects a record without a generation', () => unexpected(() => sessionFromFields('id', ['ma', '1'])));
});
