/**
 * The contract: one body, run against every store (see *.test.ts beside it).
 * Every outcome of every method, each TTL rule, tombstones, the ABA rule
 * across terminate and expiry, and each class of bad input.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChangeFeed,
  type GenerationReader,
  MAX_ID_LENGTH,
  type Session,
  type SessionStore,
  isInvalidArgument,
} from '../../src/index.js';
import { hostileInput } from './hostile-input.js';
import { principalsSuite } from './principals-suite.js';
import type { ContractTarget } from './contract-targets.js';

const TTL = 60_000;
/** Slack for TTL checks: time passes between the write and the PTTL read. */
const SLACK = 5_000;
const SHORT = 60; // ms: a TTL meant to run out during the test

function expectOk<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r as Extract<T, { ok: true }>;
}

async function created(store: SessionStore, id: string, metadata: Record<string, string> = {}): Promise<Session> {
  return expectOk(await store.create(id, metadata)).session;
}

/** The default cap: what every store must accept in full. */
const CAP = 1024 * 1024;
/** Small fields at the cap: well past what one spread call can take (the bug behind issue #16, item 2). */
const MANY = 120_000;
/** A test at the cap does a few megabytes of I/O; bounded so a regression fails instead of hanging. */
const CAP_TEST_MS = 30_000;

/** `count` fields of 4-character names whose names + values total exactly `cap` UTF-8 bytes. */
function fieldsAtCap(count: number, cap = CAP): Record<string, string> {
  const each = Math.floor(cap / count);
  const m: Record<string, string> = {};
  for (let i = 0; i < count; i++) m[i.toString(36).padStart(4, '0')] = 'v'.repeat(each - 4);
  const last = (count - 1).toString(36).padStart(4, '0');
  m[last] += 'w'.repeat(cap - each * count);
  return m;
}

/** One field whose name + value total exactly `cap` UTF-8 bytes (multi-byte characters included). */
function bytesAtCap(cap = CAP): Record<string, string> {
  const name = 'big';
  const room = cap - name.length;
  return { [name]: 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2) };
}

function utf8Size(m: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const [k, v] of Object.entries(m)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Same entries (order aside), without a deep-equality walk over 100k keys in the matcher. */
function expectSameMetadata(
  got: Readonly<Record<string, string>> | undefined,
  want: Readonly<Record<string, string>>,
): void {
  expect(got).toBeDefined();
  const keys = Object.keys(want);
  expect(Object.keys(got!).length).toBe(keys.length);
  const wrong = keys.filter((k) => got![k] !== want[k]);
  expect(wrong.slice(0, 5)).toEqual([]);
}

export function contractSuite(target: ContractTarget): void {
  describe(`contract: ${target.name}`, () => {
    const mk = (o: Parameters<ContractTarget['makeStore']>[0] = {}) => target.makeStore({ ttlMs: TTL, ...o });
    const expectTtl = async (store: SessionStore, id: string, ttl: number) => {
      const left = await target.pttl(store, id);
      expect(left).toBeGreaterThan(ttl - SLACK);
      expect(left).toBeLessThanOrEqual(ttl);
    };

    describe('create', () => {
      it('creates a live session with a positive safe integer generation and a copy of the metadata', async () => {
        const store = mk();
        const input = { user: 'ada', role: 'admin' };
        const r = expectOk(await store.create('s1', input));
        expect(r.session.id).toBe('s1');
        expect(Number.isSafeInteger(r.session.generation) && r.session.generation > 0).toBe(true);
        expect(r.session.metadata).toEqual(input);
        input.user = 'changed';
        expect(r.session.metadata.user).toBe('ada');
        expect(Object.isFrozen(r.session.metadata)).toBe(true);
        expect(await store.get('s1')).toEqual(r.session);
      });

      it('defaults metadata to {}', async () => {
        const store = mk();
        expect((await created(store, 's')).metadata).toEqual({});
        expect((await store.peek('s'))?.metadata).toEqual({});
      });

      it('returns exists for a live id and leaves it unchanged', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        expect(await store.create('s', { a: '2' })).toEqual({ ok: false, reason: 'exists' });
        expect(await store.peek('s')).toEqual(s);
      });

      it('returns terminated while the tombstone lives', async () => {
        const store = mk();
        await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.create('s')).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.exists('s')).toBe(false);
      });

      it('sets the TTL to the store default, or opts.ttlMs', async () => {
        const store = mk();
        await created(store, 'a');
        await expectTtl(store, 'a', TTL);
        expectOk(await store.create('b', {}, { ttlMs: 20_000 }));
        await expectTtl(store, 'b', 20_000);
      });

      it('stores metadata byte-exact, whatever the names', async () => {
        const store = mk();
        const metadata: Record<string, string> = {
          '': 'empty name',
          g: 'looks like a control field',
          t: '1',
          x: 'x',
          o0: 'o',
          m: 'm',
          mm: 'mm',
          constructor: 'c',
          toString: 'ts',
          hasOwnProperty: 'h',
          'ünï cödé ☃ 🎉': 'astral 𝄞 value',
          'nul\u0000name': 'nul\u0000value',
          'crlf\r\n': 'line\r\nbreak',
          'vmcp.backend.session.{w1}': '*?[glob]',
          big: 'v'.repeat(100_000),
          emptyValue: '',
        };
        Object.defineProperty(metadata, '__proto__', {
          value: 'proto',
          enumerable: true,
          writable: true,
          configurable: true,
        });
        const s = await created(store, 'bytes', metadata);
        expect(s.metadata).toEqual(metadata);
        const read = await store.peek('bytes');
        expect(read?.metadata).toEqual(metadata);
        expect(Object.keys(read!.metadata).sort()).toEqual(Object.keys(metadata).sort());
        expect(Object.getPrototypeOf(read!.metadata)).toBe(Object.prototype);
        expect(Object.getOwnPropertyDescriptor(read!.metadata, '__proto__')?.value).toBe('proto');
      });
    });

    describe('get / peek / exists', () => {
      it('return null / false for an id never created', async () => {
        const store = mk();
        expect(await store.get('none')).toBeNull();
        expect(await store.peek('none')).toBeNull();
        expect(await store.exists('none')).toBe(false);
      });

      it('get refreshes the TTL (touchOnGet default); peek and exists never do', async () => {
        const store = mk();
        await created(store, 's');
        expectOk(await store.touch('s', { ttlMs: 10_000 }));
        await expectTtl(store, 's', 10_000);
        await store.peek('s');
        await store.exists('s');
        await expectTtl(store, 's', 10_000);
        await store.get('s');
        await expectTtl(store, 's', TTL);
      });

      it('get does not refresh the TTL when touchOnGet is false', async () => {
        const store = mk({ touchOnGet: false });
        await created(store, 's');
        expectOk(await store.touch('s', { ttlMs: 10_000 }));
        expect(await store.get('s')).not.toBeNull();
        await expectTtl(store, 's', 10_000);
      });

      it('never changes the generation', async () => {
        const store = mk();
        const s = await created(store, 's');
        await store.get('s');
        await store.peek('s');
        await store.exists('s');
        expect((await store.get('s'))?.generation).toBe(s.generation);
      });

      it('read a terminated id as absent', async () => {
        const store = mk();
        await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.get('s')).toBeNull();
        expect(await store.peek('s')).toBeNull();
        expect(await store.exists('s')).toBe(false);
      });

      it('read an expired id as absent', async () => {
        const store = mk();
        expectOk(await store.create('s', {}, { ttlMs: SHORT }));
        await target.advance(SHORT * 2);
        expect(await store.get('s')).toBeNull();
        expect(await store.peek('s')).toBeNull();
        expect(await store.exists('s')).toBe(false);
        expect(await target.pttl(store, 's')).toBe(-2);
      });
    });

    describe('update', () => {
      it('replaces all metadata and adds 1 to the generation', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1', b: '2' });
        const r = expectOk(await store.update('s', s.generation, { c: '3' }));
        expect(r.session).toEqual({
          id: 's',
          generation: expect.any(Number),
          createdAt: expect.any(Number),
          metadata: { c: '3' },
        });
        expect(r.session.generation).toBeGreaterThan(s.generation);
        expect(await store.peek('s')).toEqual(r.session);
      });

      it('returns conflict with the current session on a stale generation, writing nothing', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        const cur = expectOk(await store.update('s', s.generation, { a: '2' })).session;
        const r = await store.update('s', s.generation, { a: 'stale' });
        expect(r).toEqual({ ok: false, reason: 'conflict', session: cur });
        expect(await store.peek('s')).toEqual(cur);
      });

      it('returns conflict for a generation from the future', async () => {
        const store = mk();
        const s = await created(store, 's');
        const r = await store.update('s', s.generation + 1, {});
        expect(r).toEqual({ ok: false, reason: 'conflict', session: s });
      });

      it('returns not_found for an unknown or expired id and creates nothing', async () => {
        const store = mk();
        expect(await store.update('none', 1, { a: '1' })).toEqual({ ok: false, reason: 'not_found' });
        expect(await store.exists('none')).toBe(false);
        expect(await target.pttl(store, 'none')).toBe(-2);
        const s = expectOk(await store.create('exp', {}, { ttlMs: SHORT })).session;
        await target.advance(SHORT * 2);
        expect(await store.update('exp', s.generation, { a: '1' })).toEqual({ ok: false, reason: 'not_found' });
        expect(await target.pttl(store, 'exp')).toBe(-2);
      });

      it('returns terminated after terminate, even with the last generation', async () => {
        const store = mk();
        const s = await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.update('s', s.generation, { a: '1' })).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.peek('s')).toBeNull();
      });

      it('sets the TTL to the default or opts.ttlMs', async () => {
        const store = mk();
        const s = await created(store, 's');
        const r = expectOk(await store.update('s', s.generation, {}, { ttlMs: 7_000 }));
        await expectTtl(store, 's', 7_000);
        expectOk(await store.update('s', r.session.generation, {}));
        await expectTtl(store, 's', TTL);
      });
    });

    describe('patch', () => {
      it('sets and removes entries, keeps the rest, adds 1 to the generation', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1', b: '2', c: '3' });
        const r = expectOk(await store.patch('s', { set: { a: 'A', d: '4' }, remove: ['b', 'missing'] }));
        expect(r.session).toEqual({
          id: 's',
          generation: expect.any(Number),
          createdAt: expect.any(Number),
          metadata: { a: 'A', c: '3', d: '4' },
        });
        expect(r.session.generation).toBeGreaterThan(s.generation);
        expect(await store.peek('s')).toEqual(r.session);
      });

      it('remove takes a readonly (frozen) array of names', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1', b: '2' });
        // Type-checked by `npm run typecheck`: PatchChanges.remove is a readonly string[].
        const names: readonly string[] = Object.freeze(['a']);
        const r = expectOk(await store.patch('s', { remove: names }));
        expect(r.session).toEqual({
          id: 's',
          generation: expect.any(Number),
          createdAt: expect.any(Number),
          metadata: { b: '2' },
        });
        expect(r.session.generation).toBeGreaterThan(s.generation);
      });

      it('with expectedGeneration: applies on a match, conflict otherwise', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        const r = expectOk(await store.patch('s', { set: { b: '2' } }, { expectedGeneration: s.generation }));
        expect(await store.patch('s', { set: { c: '3' } }, { expectedGeneration: s.generation })).toEqual({
          ok: false,
          reason: 'conflict',
          session: r.session,
        });
        expect(await store.peek('s')).toEqual(r.session);
      });

      it('an empty patch writes nothing: the current session, same generation, TTL not refreshed', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        expectOk(await store.touch('s', { ttlMs: 10_000 }));
        for (const empty of [
          {},
          { set: {} },
          { remove: [] },
          { set: {}, remove: [] },
          { set: undefined, remove: undefined },
        ]) {
          expect(await store.patch('s', empty)).toEqual({ ok: true, session: s });
          expect(await store.patch('s', empty, { ttlMs: 50_000 })).toEqual({ ok: true, session: s });
        }
        await expectTtl(store, 's', 10_000);
        expect(await store.peek('s')).toEqual(s);
        // The next real write moves the generation on.
        expect(expectOk(await store.patch('s', { set: { b: '2' } })).session.generation).toBeGreaterThan(s.generation);
      });

      it('an empty patch checks expectedGeneration and reports not_found / terminated as usual', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        expect(await store.patch('s', {}, { expectedGeneration: s.generation })).toEqual({ ok: true, session: s });
        expect(await store.patch('s', {}, { expectedGeneration: s.generation + 1 })).toEqual({
          ok: false,
          reason: 'conflict',
          session: s,
        });
        expect(await store.patch('none', {})).toEqual({ ok: false, reason: 'not_found' });
        expect(await target.pttl(store, 'none')).toBe(-2);
        expectOk(await store.terminate('s'));
        expect(await store.patch('s', {}, { expectedGeneration: s.generation })).toEqual({
          ok: false,
          reason: 'terminated',
        });
      });

      it('returns not_found / terminated and writes nothing', async () => {
        const store = mk();
        expect(await store.patch('none', { set: { a: '1' } })).toEqual({ ok: false, reason: 'not_found' });
        expect(await target.pttl(store, 'none')).toBe(-2);
        await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.patch('s', { set: { a: '1' } })).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.peek('s')).toBeNull();
      });

      it('sets the TTL to the default or opts.ttlMs', async () => {
        const store = mk();
        await created(store, 's');
        expectOk(await store.patch('s', { set: { a: '1' } }, { ttlMs: 9_000 }));
        await expectTtl(store, 's', 9_000);
        expectOk(await store.patch('s', { remove: ['a'] }));
        await expectTtl(store, 's', TTL);
      });

      it('rejects a patch whose result exceeds maxMetadataBytes, writing nothing', async () => {
        const store = mk({ maxMetadataBytes: 100 });
        const s = await created(store, 's', { a: 'x'.repeat(60) });
        // 1 + 60 + 1 + 39 = 101 bytes: one over the cap.
        await expect(store.patch('s', { set: { b: 'y'.repeat(39) } })).rejects.toSatisfy(isInvalidArgument);
        expect(await store.peek('s')).toEqual(s);
        // Exactly at the cap is fine; replacing an entry counts its new size only.
        expectOk(await store.patch('s', { set: { b: 'y'.repeat(38) } }));
        expectOk(await store.patch('s', { set: { a: 'z'.repeat(60) } }));
      });

      it('rejects a name that is both set and removed', async () => {
        const store = mk();
        await created(store, 's');
        await expect(store.patch('s', { set: { a: '1' }, remove: ['a'] })).rejects.toSatisfy(isInvalidArgument);
      });
    });

    describe('touch', () => {
      it('resets the TTL and keeps the generation', async () => {
        const store = mk();
        const s = await created(store, 's');
        expect(await store.touch('s', { ttlMs: 12_000 })).toEqual({ ok: true, generation: s.generation });
        await expectTtl(store, 's', 12_000);
        expect(await store.touch('s')).toEqual({ ok: true, generation: s.generation });
        await expectTtl(store, 's', TTL);
        expect((await store.peek('s'))?.generation).toBe(s.generation);
      });

      it('with expectedGeneration: conflict with the current session on a mismatch', async () => {
        const store = mk();
        const s = await created(store, 's');
        const cur = expectOk(await store.update('s', s.generation, { a: '1' })).session;
        expect(await store.touch('s', { expectedGeneration: s.generation })).toEqual({
          ok: false,
          reason: 'conflict',
          session: cur,
        });
        expect(await store.touch('s', { expectedGeneration: cur.generation })).toEqual({
          ok: true,
          generation: cur.generation,
        });
      });

      it('returns not_found / terminated and never creates a key', async () => {
        const store = mk();
        expect(await store.touch('none')).toEqual({ ok: false, reason: 'not_found' });
        expect(await target.pttl(store, 'none')).toBe(-2);
        await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.touch('s')).toEqual({ ok: false, reason: 'terminated' });
      });
    });

    describe('terminate', () => {
      it('returns the last generation; afterwards the id is absent and every write is terminated', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        const u = expectOk(await store.update('s', s.generation, { a: '2' })).session;
        expect(await store.terminate('s')).toEqual({ ok: true, generation: u.generation });
        expect(await store.get('s')).toBeNull();
        expect(await store.update('s', u.generation, {})).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.patch('s', {})).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.touch('s')).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.terminate('s')).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.create('s')).toEqual({ ok: false, reason: 'terminated' });
        expect(await store.mutate('s', () => ({ a: '3' }))).toMatchObject({ ok: false, reason: 'terminated' });
      });

      it('keeps the tombstone for tombstoneTtlMs (default ttlMs)', async () => {
        const store = mk({ tombstoneTtlMs: 15_000 });
        await created(store, 's');
        expectOk(await store.terminate('s'));
        await expectTtl(store, 's', 15_000);
        const dflt = mk();
        await created(dflt, 'd');
        expectOk(await dflt.terminate('d'));
        await expectTtl(dflt, 'd', TTL);
      });

      it('with expectedGeneration: conflict with the current session on a mismatch', async () => {
        const store = mk();
        const s = await created(store, 's');
        expect(await store.terminate('s', { expectedGeneration: s.generation + 5 })).toEqual({
          ok: false,
          reason: 'conflict',
          session: s,
        });
        expect(await store.exists('s')).toBe(true);
        expect(await store.terminate('s', { expectedGeneration: s.generation })).toEqual({
          ok: true,
          generation: s.generation,
        });
      });

      it('returns not_found for an unknown or expired id', async () => {
        const store = mk();
        expect(await store.terminate('none')).toEqual({ ok: false, reason: 'not_found' });
        expectOk(await store.create('exp', {}, { ttlMs: SHORT }));
        await target.advance(SHORT * 2);
        expect(await store.terminate('exp')).toEqual({ ok: false, reason: 'not_found' });
      });

      it('after the tombstone expires: writes are not_found and create works again', async () => {
        const store = mk({ tombstoneTtlMs: SHORT });
        const s = await created(store, 's');
        expectOk(await store.terminate('s'));
        await target.advance(SHORT * 2);
        expect(await store.update('s', s.generation, {})).toEqual({ ok: false, reason: 'not_found' });
        expectOk(await store.create('s'));
      });
    });

    describe('generations never repeat (no ABA)', () => {
      it('across terminate and re-create', async () => {
        const store = mk({ tombstoneTtlMs: SHORT });
        let s = await created(store, 's');
        for (let i = 0; i < 3; i++) s = expectOk(await store.update('s', s.generation, { i: String(i) })).session;
        const last = expectOk(await store.terminate('s')).generation;
        await target.advance(SHORT * 2);
        const again = await created(store, 's');
        expect(again.generation).toBeGreaterThan(last);
        // The stale writer's generations never match the new incarnation.
        for (let g = last - 3; g <= last; g++) {
          expect(await store.update('s', g, { stale: '1' })).toMatchObject({ ok: false, reason: 'conflict' });
        }
      });

      it('across expiry and re-create', async () => {
        const store = mk();
        let s = expectOk(await store.create('s', {}, { ttlMs: 5_000 })).session;
        for (let i = 0; i < 3; i++) s = expectOk(await store.update('s', s.generation, {}, { ttlMs: SHORT })).session;
        await target.advance(SHORT * 2);
        const again = await created(store, 's');
        expect(again.generation).toBeGreaterThan(s.generation);
        expect(await store.update('s', s.generation, {})).toMatchObject({ ok: false, reason: 'conflict' });
      });
    });

    describe('mutate', () => {
      it('reads, applies fn and writes with CAS', async () => {
        const store = mk();
        const s = await created(store, 's', { n: '1' });
        const r = await store.mutate('s', (cur) => ({ ...cur.metadata, n: String(Number(cur.metadata.n) + 1) }));
        expect(r).toEqual({
          ok: true,
          session: { id: 's', generation: expect.any(Number), createdAt: expect.any(Number), metadata: { n: '2' } },
          attempts: 1,
        });
        expect(r.ok && r.session.generation).toBeGreaterThan(s.generation);
      });

      it('writes nothing when fn returns undefined', async () => {
        const store = mk();
        const s = await created(store, 's', { n: '1' });
        const r = await store.mutate('s', () => undefined);
        expect(r).toEqual({ ok: true, session: s, attempts: 1 });
        expect((await store.peek('s'))?.generation).toBe(s.generation);
      });

      it('retries on conflict with the current session', async () => {
        const store = mk();
        const s = await created(store, 's', { n: '0' });
        const seen: number[] = [];
        const r = await store.mutate('s', async (cur) => {
          seen.push(cur.generation);
          if (seen.length === 1) expectOk(await store.update('s', cur.generation, { n: '10' }));
          return { n: String(Number(cur.metadata.n) + 1) };
        });
        expect(r).toMatchObject({ ok: true, attempts: 2, session: { metadata: { n: '11' } } });
        expect(seen[1]).toBeGreaterThan(s.generation);
        expect(r.ok && r.session.generation).toBeGreaterThan(seen[1]!);
        expect(seen[0]).toBe(s.generation);
      });

      it('gives up after maxAttempts with the last conflict', async () => {
        const store = mk();
        await created(store, 's');
        let calls = 0;
        const r = await store.mutate(
          's',
          async (cur) => {
            calls++;
            expectOk(await store.update('s', cur.generation, { bump: String(calls) }));
            return { mine: '1' };
          },
          { maxAttempts: 3 },
        );
        expect(r).toMatchObject({ ok: false, reason: 'conflict', attempts: 3 });
        expect(calls).toBe(3);
        expect((await store.peek('s'))?.metadata).toEqual({ bump: '3' });
      });

      it('returns not_found / terminated without calling fn', async () => {
        const store = mk();
        let called = false;
        const fn = () => {
          called = true;
          return {};
        };
        expect(await store.mutate('none', fn)).toMatchObject({ ok: false, reason: 'not_found' });
        await created(store, 's');
        expectOk(await store.terminate('s'));
        expect(await store.mutate('s', fn)).toMatchObject({ ok: false, reason: 'terminated' });
        expect(called).toBe(false);
      });

      it('returns terminated when the session is terminated while fn runs', async () => {
        const store = mk();
        await created(store, 's');
        const r = await store.mutate('s', async () => {
          expectOk(await store.terminate('s'));
          return { late: 'write' };
        });
        expect(r).toMatchObject({ ok: false, reason: 'terminated' });
        expect(await store.peek('s')).toBeNull();
      });

      it('propagates an error thrown by fn unchanged', async () => {
        const store = mk();
        await created(store, 's');
        const boom = new Error('boom');
        await expect(
          store.mutate('s', () => {
            throw boom;
          }),
        ).rejects.toBe(boom);
      });
    });

    describe('concurrent writers', () => {
      it('many writers CAS on one generation: exactly one wins', async () => {
        const store = mk();
        const s = await created(store, 's');
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.update('s', s.generation, { writer: String(i) })),
        );
        const winners = results.filter((r) => r.ok);
        expect(winners).toHaveLength(1);
        const losers = results.filter((r) => !r.ok);
        expect(losers.every((r) => !r.ok && r.reason === 'conflict')).toBe(true);
        expect((await store.peek('s'))?.metadata).toEqual((winners[0] as { session: Session }).session.metadata);
      });

      it('concurrent mutate increments lose nothing', async () => {
        const store = mk();
        await created(store, 's', { n: '0' });
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            store.mutate('s', (cur) => ({ n: String(Number(cur.metadata.n) + 1) }), { maxAttempts: 100 }),
          ),
        );
        expect(results.every((r) => r.ok)).toBe(true);
        expect((await store.peek('s'))?.metadata.n).toBe('10');
      });
    });

    describe('at the metadata size cap (the default maxMetadataBytes, 1 MiB)', () => {
      const fields = fieldsAtCap(MANY);
      const bytes = bytesAtCap();
      it('the fixtures are exactly at the cap', () => {
        expect(Object.keys(fields)).toHaveLength(MANY);
        expect(utf8Size(fields)).toBe(CAP);
        expect(utf8Size(bytes)).toBe(CAP);
      });

      for (const [shape, metadata] of [
        [`${MANY.toLocaleString('en-US')} fields`, fields],
        ['bytes (one value)', bytes],
      ] as const) {
        it(
          `size cap, ${shape}: create`,
          async () => {
            const store = mk();
            const s = await created(store, 's', metadata);
            expectSameMetadata(s.metadata, metadata);
            expectSameMetadata((await store.peek('s'))?.metadata, metadata);
          },
          CAP_TEST_MS,
        );

        it(
          `size cap, ${shape}: update`,
          async () => {
            const store = mk();
            const s = await created(store, 's', { a: '1' });
            const u = expectOk(await store.update('s', s.generation, metadata)).session;
            expect(u.generation).toBeGreaterThan(s.generation);
            expectSameMetadata((await store.peek('s'))?.metadata, metadata);
          },
          CAP_TEST_MS,
        );

        it(
          `size cap, ${shape}: patch sets every entry, then removes every entry`,
          async () => {
            const store = mk();
            const s = await created(store, 's');
            const p = expectOk(await store.patch('s', { set: metadata }, { expectedGeneration: s.generation })).session;
            expectSameMetadata(p.metadata, metadata);
            expectSameMetadata((await store.peek('s'))?.metadata, metadata);
            const r = expectOk(await store.patch('s', { remove: Object.keys(metadata) })).session;
            expect(r).toEqual({ id: 's', generation: expect.any(Number), createdAt: expect.any(Number), metadata: {} });
            expect(r.generation).toBeGreaterThan(p.generation);
            expect(p.generation).toBeGreaterThan(s.generation);
            expect((await store.peek('s'))?.metadata).toEqual({});
          },
          CAP_TEST_MS,
        );

        it(
          `size cap, ${shape}: create with a principal, then get, touch and terminate the session at the cap`,
          async () => {
            const store = mk();
            const c = await store.create('s', metadata, { principal: 'ada' });
            const s = expectOk(c).session;
            expect(s.principal).toBe('ada');
            expectSameMetadata(s.metadata, metadata);
            const got = await store.get('s');
            expect(got?.generation).toBe(s.generation);
            expectSameMetadata(got?.metadata, metadata);
            expect(await store.touch('s', { ttlMs: 50_000 })).toEqual({ ok: true, generation: s.generation });
            expect(await store.terminate('s')).toEqual({ ok: true, generation: s.generation });
            expect(await store.peek('s')).toBeNull();
            expect(await store.create('s', { a: '1' })).toEqual({ ok: false, reason: 'terminated' });
          },
          CAP_TEST_MS,
        );

        it(
          `size cap, ${shape}: mutate reads a session at the cap and writes one at the cap`,
          async () => {
            const store = mk();
            const s = await created(store, 's', metadata);
            // Same size, every value changed: the whole record is rewritten.
            const next = Object.fromEntries(
              Object.entries(metadata).map(([k, v]) => [k, v.replace(/^./u, (c) => (c === 'é' ? 'ü' : 'u'))]),
            );
            const r = await store.mutate('s', (cur) => {
              expectSameMetadata(cur.metadata, metadata);
              return next;
            });
            expect(r.ok && r.session.generation).toBeGreaterThan(s.generation);
            expectSameMetadata((await store.peek('s'))?.metadata, next);
          },
          CAP_TEST_MS,
        );
      }

      it(
        'size cap: one byte more is INVALID_ARGUMENT on every write, before any I/O',
        async () => {
          const store = mk();
          const s = await created(store, 's');
          const first = Object.keys(fields)[0]!;
          const over = { ...fields, [first]: `${fields[first]}v` };
          expect(utf8Size(over)).toBe(CAP + 1);
          const before = target.commandsSent();
          for (const call of [
            () => store.create('n', over),
            () => store.update('s', s.generation, over),
            () => store.patch('s', { set: over }),
          ]) {
            const err = await call().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(isInvalidArgument(err), String(err)).toBe(true);
          }
          expect(target.commandsSent()).toBe(before);
          // mutate reads first; its write is refused before it is sent.
          expect(isInvalidArgument(await store.mutate('s', () => over).catch((e: unknown) => e))).toBe(true);
          expect(await store.peek('s')).toEqual(s);
        },
        CAP_TEST_MS,
      );
    });

    hostileInput(target, mk);
    principalsSuite(target);

    describe('bad input is rejected before any I/O, naming the argument', () => {
      const badIds: Array<[string, unknown]> = [
        ['empty', ''],
        ['number', 42],
        ['null', null],
        ['undefined', undefined],
        ['object', {}],
        ['lone high surrogate', 'a\uD800b'],
        ['lone low surrogate', '\uDC00'],
        ['lone surrogates, swapped pair', '\uDC00\uD800'],
        ['lone surrogate at the end', 'abc\uD83D'],
        ['boolean', true],
        ['Buffer', Buffer.from('id')],
        ['String object', new String('id')],
        ['over the length cap', 'x'.repeat(MAX_ID_LENGTH + 1)],
        ['1 MB', 'x'.repeat(1_000_000)],
      ];
      const badTtls: Array<[string, unknown]> = [
        ['0', 0],
        ['-1', -1],
        ['-0', -0],
        ['1.5', 1.5],
        ['NaN', NaN],
        ['Infinity', Infinity],
        ['-Infinity', -Infinity],
        ['"10"', '10'],
        ['2^53', 2 ** 53],
        ['1e21', 1e21],
        ['null', null],
      ];
      const badMetadata: Array<[string, unknown]> = [
        ['null', null],
        ['array', ['a']],
        ['string', 'a'],
        ['number value', { a: 1 }],
        ['undefined value', { a: undefined }],
        ['bigint value', { a: 1n }],
        ['Date value', { a: new Date(0) }],
        ['Buffer value', { a: Buffer.from('x') }],
        ['nested object', { a: { b: 'c' } }],
        ['Date', new Date()],
        ['Map', new Map([['a', 'b']])],
        [
          'class instance',
          new (class X {
            a = '1';
          })(),
        ],
        ['lone surrogate value', { a: '\uD800' }],
        ['lone surrogate name', { '\uDFFF': 'v' }],
        ['symbol key', { [Symbol('s')]: 'v' }],
        ['number', 42],
        ['boolean', true],
        ['empty array', []],
        ['function', () => ({})],
        ['Set', new Set(['a'])],
        ['null value', { a: null }],
        ['boolean value', { a: true }],
        ['symbol value', { a: Symbol('v') }],
        ['array value', { a: ['x'] }],
        ['function value', { a: () => 'x' }],
        ['String object value', { a: new String('x') }],
        ['null-prototype object with a number value', Object.assign(Object.create(null) as object, { a: 1 })],
      ];

      async function expectInvalid(store: SessionStore, argument: RegExp, call: () => Promise<unknown>) {
        const before = target.commandsSent();
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isInvalidArgument(err), String(err)).toBe(true);
        expect((err as { argument: string }).argument).toMatch(argument);
        expect((err as Error).message).toContain(`\`${(err as { argument: string }).argument}\``);
        expect(target.commandsSent()).toBe(before);
      }

      it.each(badIds)('id: %s', async (_, id) => {
        const store = mk();
        const bad = id as string;
        await expectInvalid(store, /^id$/, () => store.create(bad));
        await expectInvalid(store, /^id$/, () => store.get(bad));
        await expectInvalid(store, /^id$/, () => store.peek(bad));
        await expectInvalid(store, /^id$/, () => store.exists(bad));
        await expectInvalid(store, /^id$/, () => store.update(bad, 1, {}));
        await expectInvalid(store, /^id$/, () => store.patch(bad, {}));
        await expectInvalid(store, /^id$/, () => store.touch(bad));
        await expectInvalid(store, /^id$/, () => store.terminate(bad));
        await expectInvalid(store, /^id$/, () => store.mutate(bad, () => undefined));
      });

      it.each(badTtls)('TTL: %s', async (_, ttl) => {
        const store = mk();
        const s = await created(store, 's');
        const bad = ttl as number;
        await expectInvalid(store, /ttlMs/, () => store.create('n', {}, { ttlMs: bad }));
        await expectInvalid(store, /ttlMs/, () => store.update('s', s.generation, {}, { ttlMs: bad }));
        await expectInvalid(store, /ttlMs/, () => store.patch('s', {}, { ttlMs: bad }));
        await expectInvalid(store, /ttlMs/, () => store.touch('s', { ttlMs: bad }));
        await expectInvalid(store, /ttlMs/, () => store.mutate('s', () => undefined, { ttlMs: bad }));
        expect(() => target.makeStore({ ttlMs: bad })).toThrow(/options\.ttlMs/);
        expect(() => target.makeStore({ tombstoneTtlMs: bad })).toThrow(/options\.tombstoneTtlMs/);
        expect(await store.peek('s')).toEqual(s);
        expect(await store.exists('n')).toBe(false);
      });

      it.each(badTtls)('generation: %s', async (_, gen) => {
        const store = mk();
        const s = await created(store, 's');
        const bad = gen as number;
        await expectInvalid(store, /^expectedGeneration$/, () => store.update('s', bad, {}));
        await expectInvalid(store, /expectedGeneration/, () => store.patch('s', {}, { expectedGeneration: bad }));
        await expectInvalid(store, /expectedGeneration/, () => store.touch('s', { expectedGeneration: bad }));
        await expectInvalid(store, /expectedGeneration/, () => store.terminate('s', { expectedGeneration: bad }));
        expect(await store.peek('s')).toEqual(s);
      });

      it.each(badMetadata)('metadata: %s', async (_, metadata) => {
        const store = mk();
        const s = await created(store, 's', { keep: 'me' });
        const bad = metadata as Record<string, string>;
        await expectInvalid(store, /^metadata$/, () => store.create('n', bad));
        await expectInvalid(store, /^metadata$/, () => store.update('s', s.generation, bad));
        await expectInvalid(store, /^changes\.set$/, () => store.patch('s', { set: bad }));
        expect(await store.peek('s')).toEqual(s);
        expect(await store.exists('n')).toBe(false);
      });

      it('metadata: accepts exactly maxMetadataBytes and rejects one byte more', async () => {
        const store = mk({ maxMetadataBytes: 64 });
        const exact = { é: 'x'.repeat(62) }; // 2 + 62 bytes
        expectOk(await store.create('s', exact));
        expect((await store.peek('s'))?.metadata).toEqual(exact);
        await expectInvalid(store, /^metadata$/, () => store.create('t', { é: 'x'.repeat(63) }));
        await expectInvalid(store, /^metadata$/, () => store.update('s', 1, { é: 'x'.repeat(63) }));
      });

      it('metadata: a null-prototype object is accepted', async () => {
        const store = mk();
        const m = Object.assign(Object.create(null) as Record<string, string>, { a: '1' });
        expect(expectOk(await store.create('s', m)).session.metadata).toEqual({ a: '1' });
      });

      it('patch changes and options objects', async () => {
        const store = mk();
        await created(store, 's');
        await expectInvalid(store, /^changes$/, () => store.patch('s', null as never));
        await expectInvalid(store, /^changes\.remove$/, () => store.patch('s', { remove: 'a' as never }));
        await expectInvalid(store, /^changes\.remove$/, () => store.patch('s', { remove: [1 as never] }));
        // A hole in a sparse array is not a name (it used to remove the entry named "undefined").
        // eslint-disable-next-line no-sparse-arrays
        await expectInvalid(store, /^changes\.remove$/, () => store.patch('s', { remove: [, 'a'] as never }));
        await expectInvalid(store, /^opts$/, () => store.touch('s', 5 as never));
        await expectInvalid(store, /^opts$/, () => store.create('n', {}, [] as never));
        await expectInvalid(store, /^fn$/, () => store.mutate('s', 'nope' as never));
        await expectInvalid(store, /^opts\.maxAttempts$/, () => store.mutate('s', () => undefined, { maxAttempts: 0 }));
      });

      it('patch: a sparse remove array is rejected and removes nothing', async () => {
        const store = mk();
        const s = await created(store, 's', { undefined: 'keep', a: '1' });
        // eslint-disable-next-line no-sparse-arrays
        await expectInvalid(store, /^changes\.remove$/, () => store.patch('s', { remove: ['a', ,] as never }));
        expect(await store.peek('s')).toEqual(s);
      });

      it('store options', () => {
        expect(() => target.makeStore({ maxMetadataBytes: 0 })).toThrow(/options\.maxMetadataBytes/);
        expect(() => target.makeStore({ touchOnGet: 'yes' as never })).toThrow(/options\.touchOnGet/);
      });

      it('unknown keys: a typo in any options object or in patch changes is refused, naming the key, whatever its value', async () => {
        const store = mk();
        const s = await created(store, 's', { a: '1' });
        const typo = <T>(o: object) => o as T;
        await expectInvalid(store, /^opts\.ttlMS$/, () => store.create('n', {}, typo({ ttlMS: 1000 })));
        await expectInvalid(store, /^opts\.ttl$/, () => store.update('s', s.generation, {}, typo({ ttl: 1000 })));
        await expectInvalid(store, /^changes\.sett$/, () => store.patch('s', typo({ sett: { a: '2' } })));
        await expectInvalid(store, /^changes\.delete$/, () =>
          store.patch('s', typo({ set: { a: '2' }, delete: ['a'] })),
        );
        await expectInvalid(store, /^opts\.expectedGen$/, () =>
          store.patch('s', { set: { a: '2' } }, typo({ expectedGen: 1 })),
        );
        await expectInvalid(store, /^opts\.expected$/, () => store.touch('s', typo({ expected: s.generation })));
        await expectInvalid(store, /^opts\.force$/, () => store.terminate('s', typo({ force: true })));
        await expectInvalid(store, /^opts\.maxAttempt$/, () =>
          store.mutate('s', () => ({ b: '2' }), typo({ maxAttempt: 3 })),
        );
        await expectInvalid(store, /^opts\.touched$/, () =>
          (store as SessionStore & GenerationReader).generationOf('s', typo({ touched: false })),
        );
        await expectInvalid(store, /^opts\.wait\.timeout$/, () =>
          store.update('s', s.generation, {}, typo({ wait: { replicas: 1, timeout: 10 } })),
        );
        await expectInvalid(store, /^opts\.exept$/, () => store.terminateAll('p', typo({ exept: ['s'] })));
        // subscribe throws synchronously (before a Redis store even checks for its eventsChannel).
        await expectInvalid(store, /^opts\.onstatus$/, async () =>
          (store as SessionStore & ChangeFeed).subscribe(() => undefined, typo({ onstatus: () => undefined })),
        );
        // An unknown key is a typo even when its value is undefined.
        await expectInvalid(store, /^opts\.ttlMS$/, () => store.touch('s', typo({ ttlMS: undefined })));
        expect(await store.peek('s')).toEqual(s);
        expect(await store.exists('n')).toBe(false);
        const err = await store.create('n', {}, typo({ ttlMS: 1000 })).catch((e: unknown) => e as Error);
        expect((err as Error).message).toMatch(/unknown option \(did you mean ttlMs\?\)/);
      });

      it('unknown keys: store constructor options (for JavaScript callers)', () => {
        for (const [options, argument] of [
          [{ ttlMS: 1000 }, 'options.ttlMS'],
          [{ tombstoneTtl: 1000 }, 'options.tombstoneTtl'],
          [{ maxMetadataBytes: 10, extra: undefined }, 'options.extra'],
        ] as const) {
          let err: unknown;
          try {
            target.makeStore(options as never);
          } catch (e) {
            err = e;
          }
          expect(isInvalidArgument(err), String(err)).toBe(true);
          expect((err as { argument: string }).argument).toBe(argument);
        }
        expect(() => target.makeStore({ TTLMS: 1 } as never)).toThrow(/did you mean ttlMs\?/);
      });
    });
  });
}
