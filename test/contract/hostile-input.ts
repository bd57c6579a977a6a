/**
 * Hostile input, part of the contract (every store runs it): ids that look
 * like key syntax, glob patterns or protocol framing; keys that never
 * collide and share one slot per id; metadata names that are JavaScript
 * landmines; multi-megabyte values; and a fuzz property feeding arbitrary
 * values to every public method.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ID_LENGTH,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
  isInvalidArgument,
  isSessionStoreError,
  keySlot,
  sessionKey,
} from '../../src/index.js';
import { encodeId } from '../../src/redis/keys.js';
import type { ContractTarget } from './contract-targets.js';

type Mk = (o?: SessionStoreOptions) => SessionStore;

function expectOk<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  expect(r.ok, JSON.stringify(r)?.slice(0, 300)).toBe(true);
  return r as Extract<T, { ok: true }>;
}

/** Ids every store must accept and keep apart, by class. */
const ACCEPTED_IDS: Array<[string, string[]]> = [
  [
    'braces and colons',
    [
      '{',
      '}',
      '{}',
      '}{',
      '{a}',
      'a',
      '%7Ba%7D',
      '%',
      '%25',
      '%7B',
      'a{b}c',
      '{{a}}',
      'a:b',
      ':',
      '::',
      '{x}:s',
      'x}:s{',
    ],
  ],
  ['glob characters', ['*', '?', '[a]', '[^a]', 'a*b', 'a?b', '\\*', '[', ']', '**', '?*[]', 'ab', 'a']],
  ['NUL', ['\u0000', 'a\u0000b', '\u0000\u0000', 'a\u0000', 'a', 'ab']],
  ['CR/LF', ['\r', '\n', '\r\n', 'a\r\nb', 'a\r\n*3\r\n$3\r\nDEL\r\n', '\r\n$1\r\n', 'ab']],
  [
    'astral characters',
    ['😀', '𝄞', 'a😀b', '😀😀', '\u{10FFFF}', '\u{1F468}\u200D\u{1F469}', '😀'.repeat(MAX_ID_LENGTH / 2)],
  ],
  ['exactly the length cap', ['x'.repeat(MAX_ID_LENGTH), 'x'.repeat(MAX_ID_LENGTH - 1)]],
];

/** Well-formed strings of any code points, with braces, percent signs and control characters made likely. */
const anyId = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
  fc.string({
    unit: fc.constantFrom('{', '}', '%', '7', 'B', 'D', ':', '*', '?', '[', 'a', '\u0000', '\r', '\n', '😀'),
    minLength: 1,
    maxLength: 12,
  }),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 20 })
    .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s), // well-formed UTF-16,
);

// --- valid outcome shapes, for the fuzz property ---------------------------

function isSession(v: unknown, id: unknown): v is Session {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Session;
  return (
    s.id === id &&
    Number.isSafeInteger(s.generation) &&
    s.generation > 0 &&
    typeof s.metadata === 'object' &&
    s.metadata !== null &&
    Object.isFrozen(s.metadata) &&
    Object.values(s.metadata).every((x) => typeof x === 'string')
  );
}

function isOutcome(method: string, v: unknown, id: unknown): boolean {
  const r = v as { ok?: unknown; reason?: unknown; session?: unknown; generation?: unknown; attempts?: unknown };
  switch (method) {
    case 'get':
    case 'peek':
      return v === null || isSession(v, id);
    case 'exists':
      return typeof v === 'boolean';
    case 'create':
      return r.ok === true ? isSession(r.session, id) : r.reason === 'exists' || r.reason === 'terminated';
    case 'update':
    case 'patch':
    case 'mutate': {
      if (method === 'mutate' && !(Number.isSafeInteger(r.attempts) && (r.attempts as number) >= 1)) return false;
      if (r.ok === true) return isSession(r.session, id);
      if (r.reason === 'conflict') return isSession(r.session, id);
      return r.reason === 'not_found' || r.reason === 'terminated';
    }
    case 'touch':
    case 'terminate':
      if (r.ok === true) return Number.isSafeInteger(r.generation) && (r.generation as number) > 0;
      if (r.reason === 'conflict') return isSession(r.session, id);
      return r.reason === 'not_found' || r.reason === 'terminated';
  }
  return false;
}

export function hostileInput(target: ContractTarget, mk: Mk): void {
  /** The key a store really uses in Redis (memory: the layout it would use). */
  const keyOf = (store: SessionStore, id: string): string => target.keyOf?.(store, id) ?? sessionKey(id);

  describe('hostile input', () => {
    it.each(ACCEPTED_IDS)('id: %s', async (_, ids) => {
      const store = mk();
      const created = new Map<string, Session>();
      for (const id of ids) created.set(id, expectOk(await store.create(id, { id })).session);
      for (const id of ids) {
        expect(await store.peek(id)).toEqual(created.get(id));
        expect(await store.exists(id)).toBe(true);
      }
      // Writes to one id leave every other one alone.
      const [first, second] = ids as [string, string];
      const updated = expectOk(
        await store.update(first, created.get(first)!.generation, { id: first, v: '2' }),
      ).session;
      expectOk(await store.terminate(second));
      expect(await store.get(first)).toEqual(updated);
      expect(await store.get(second)).toBeNull();
      for (const id of ids.slice(2)) {
        expect(await store.peek(id)).toEqual(created.get(id));
        const patched = expectOk(await store.patch(id, { set: { p: id } })).session;
        expect(patched.metadata).toEqual({ id, p: id });
        expect(patched.generation).toBeGreaterThan(created.get(id)!.generation);
        expect(await store.touch(id)).toEqual({ ok: true, generation: patched.generation });
      }
      expect(new Set(ids.map((id) => keyOf(store, id))).size).toBe(ids.length);
    });

    it('id: keys of different ids never collide (arbitrary unicode)', async () => {
      const store = mk();
      let n = 0;
      await fc.assert(
        fc.asyncProperty(anyId, anyId, async (a, b) => {
          fc.pre(a !== b);
          // A fresh namespace per run: ids repeat across runs.
          const tag = `${n++}|`;
          const [ia, ib] = [tag + a, tag + b];
          expect(keyOf(store, ia)).not.toBe(keyOf(store, ib));
          expectOk(await store.create(ia, { who: 'a' }));
          const sb = expectOk(await store.create(ib, { who: 'b' })).session;
          expectOk(await store.terminate(ia));
          expect(await store.peek(ib)).toEqual(sb);
          expect(await store.peek(ia)).toBeNull();
        }),
        { numRuns: 40 },
      );
    });

    it('id: all keys of one id share a cluster slot: the hash tag is the encoded id (arbitrary unicode)', async () => {
      const store = mk();
      fc.assert(
        fc.property(anyId, fc.string({ maxLength: 6 }), (id, role) => {
          const key = keyOf(store, id);
          expect(keySlot(key)).toBe(keySlot(encodeId(id))); // the encoded id has no braces: hashed whole
          // Any further key of this session (another role after the tag) hashes the same.
          expect(keySlot(key.replace(/:s$/, `:${role}`))).toBe(keySlot(key));
        }),
        { numRuns: 1_000 },
      );
      // And the key the property talks about is the one the store writes.
      const id = 'slot{check}😀';
      expectOk(await store.create(id));
      expect(await target.pttl(store, id)).toBeGreaterThan(0);
    });

    it('metadata: empty keys, __proto__ and constructor keys round-trip through every write', async () => {
      const store = mk();
      const hostile = JSON.parse('{"__proto__":"p","constructor":"c","":"e","prototype":"q","toString":"t"}') as Record<
        string,
        string
      >;
      expect(Object.keys(hostile)).toHaveLength(5);
      const s = expectOk(await store.create('s', hostile)).session;
      expect(Object.keys(s.metadata).sort()).toEqual(['', '__proto__', 'constructor', 'prototype', 'toString']);
      expect(Object.getPrototypeOf(s.metadata)).toBe(Object.prototype);
      const u = expectOk(await store.update('s', s.generation, hostile)).session;
      expect(u.metadata).toEqual(s.metadata);
      const changes = JSON.parse('{"set":{"__proto__":"P2"},"remove":["constructor",""]}') as {
        set: Record<string, string>;
        remove: string[];
      };
      const p = expectOk(await store.patch('s', changes)).session;
      expect(Object.getOwnPropertyDescriptor(p.metadata, '__proto__')?.value).toBe('P2');
      expect(Object.keys(p.metadata).sort()).toEqual(['__proto__', 'prototype', 'toString']);
      const read = await store.get('s');
      expect(read).toEqual(p);
      expect(Object.getPrototypeOf(read!.metadata)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).P2).toBeUndefined(); // nothing leaked into Object.prototype
    });

    it('metadata: exactly the size cap and one byte over, with multi-byte characters, on every write', async () => {
      const store = mk({ maxMetadataBytes: 64 });
      const exact = { '😀': 'x'.repeat(60) }; // 4 + 60 bytes
      const over = { '😀': 'x'.repeat(61) };
      const s = expectOk(await store.create('s', exact)).session;
      expect((await store.peek('s'))?.metadata).toEqual(exact);
      for (const call of [
        () => store.create('t', over),
        () => store.update('s', s.generation, over),
        () => store.patch('s', { set: over }),
      ]) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isInvalidArgument(err), String(err)).toBe(true);
      }
      expect(await store.peek('s')).toEqual(s);
      expect(await store.exists('t')).toBe(false);
    });

    it('metadata: multi-megabyte values: over the cap rejected before any I/O; under a raised cap stored byte-exact', async () => {
      const chunk = 'a\u0000b\r\n😀\u{10FFFF}é*?[{}]%';
      const big = chunk.repeat(Math.ceil(3_000_000 / chunk.length)); // ~3.8 MB of UTF-8
      const dflt = mk();
      const s = expectOk(await dflt.create('s', { a: '1' })).session;
      const before = target.commandsSent();
      for (const call of [
        () => dflt.create('big', { v: big }),
        () => dflt.update('s', s.generation, { v: big }),
        () => dflt.patch('s', { set: { v: big } }),
      ]) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isInvalidArgument(err), String(err)).toBe(true);
      }
      expect(target.commandsSent()).toBe(before);

      const roomy = mk({ maxMetadataBytes: 16 * 1024 * 1024 });
      const c = expectOk(await roomy.create('big', { v: big, w: 'small' })).session;
      expect((await roomy.peek('big'))?.metadata.v === big).toBe(true);
      const big2 = big
        .split('')
        .reverse()
        .join('')
        .replace(/[\uD800-\uDFFF]/g, '?');
      const u = expectOk(await roomy.update('big', c.generation, { v: big2 })).session;
      expect((await roomy.get('big'))?.metadata.v === big2).toBe(true);
      expectOk(await roomy.patch('big', { set: { w: big } }, { expectedGeneration: u.generation }));
      const read = await roomy.peek('big');
      expect(read?.metadata.v === big2 && read.metadata.w === big).toBe(true);
    });

    it('fuzz: arbitrary values to every public method give a valid outcome or INVALID_ARGUMENT, and never touch a canary', async () => {
      const store = mk({ maxMetadataBytes: 4096 });
      const canaryId = 'canary\u0000🐤';
      const canary = expectOk(await store.create(canaryId, { keep: 'me' })).session;
      const canaryTtl = await target.pttl(store, canaryId);

      const junk = fc.anything({
        maxDepth: 2,
        maxKeys: 4,
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withSparseArray: true,
        withNullPrototype: true,
        withBoxedValues: true,
        withObjectString: true,
        withUnicodeString: true,
      });
      const special = fc.constantFrom<unknown>(
        undefined,
        null,
        NaN,
        -0,
        0,
        -1,
        1.5,
        Infinity,
        -Infinity,
        2 ** 53,
        1e21,
        '10',
        '',
        '\uD800',
        '__proto__',
        [],
        {},
        Object.create(null),
        Symbol('s'),
        () => 1,
        new Date(0),
        Buffer.from('x'),
      );
      const val = fc.oneof(junk, special);
      // Plausible values too, so some calls get through validation and reach the store.
      const id = fc.oneof(fc.constantFrom('f1', 'f2', 'f{3}', 'f\u0000'), val);
      const metadata = fc.oneof(
        fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        val,
      );
      const gen = fc.oneof(fc.integer({ min: 1, max: 2 ** 53 - 1 }), val);
      const ttl = fc.oneof(fc.integer({ min: 1, max: 10 ** 9 }), val);
      const opts = fc.oneof(
        fc.record(
          { ttlMs: ttl, expectedGeneration: gen, maxAttempts: fc.oneof(fc.integer({ min: 1, max: 3 }), val) },
          { requiredKeys: [] },
        ),
        val,
      );
      const changes = fc.oneof(
        fc.record(
          { set: metadata, remove: fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), val) },
          { requiredKeys: [] },
        ),
        val,
      );
      const fn = fc.oneof(fc.func(fc.oneof(metadata, fc.constant(undefined))), val);
      const call = fc.oneof(
        fc.tuple(fc.constant('create'), id, metadata, opts),
        fc.tuple(fc.constant('get'), id),
        fc.tuple(fc.constant('peek'), id),
        fc.tuple(fc.constant('exists'), id),
        fc.tuple(fc.constant('update'), id, gen, metadata, opts),
        fc.tuple(fc.constant('patch'), id, changes, opts),
        fc.tuple(fc.constant('touch'), id, opts),
        fc.tuple(fc.constant('terminate'), id, opts),
        fc.tuple(fc.constant('mutate'), id, fn, opts),
      );

      await fc.assert(
        fc.asyncProperty(call, async ([method, ...args]) => {
          fc.pre(args[0] !== canaryId);
          let value: unknown;
          try {
            value = await (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
          } catch (err) {
            expect(isSessionStoreError(err), `${method} threw an untyped ${String(err)}`).toBe(true);
            expect((err as { code: string }).code, String(err)).toBe('INVALID_ARGUMENT');
            return;
          }
          expect(isOutcome(method, value, args[0]), `${method} -> ${JSON.stringify(value)?.slice(0, 200)}`).toBe(true);
        }),
        { numRuns: 300 },
      );

      expect(await store.peek(canaryId)).toEqual(canary);
      const ttlAfter = await target.pttl(store, canaryId);
      expect(ttlAfter).toBeGreaterThan(0);
      expect(ttlAfter).toBeLessThanOrEqual(canaryTtl);
    });
  });
}
