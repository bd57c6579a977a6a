/**
 * The checker on hand-made histories, linearizable and not. Times are in ms
 * on the history's clock; the model is the session model.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metadata } from '../../src/index.js';
import { type HistoryEntry, boundByConnectionOrder, checkSessionHistory } from '../oracles/session-history.js';
import { type Operation, checkHistory } from '../oracles/linearizability.js';
import {
  EXACT_TIMING,
  type ModelConfig,
  REDIS_TIMING,
  type SessionOp,
  type SessionOutput,
  sessionModel,
} from '../oracles/model.js';

const LONG = 1_000_000;
const cfg: ModelConfig = { ttlMs: LONG, tombstoneTtlMs: LONG, touchOnGet: false, ...EXACT_TIMING };

type Op = Operation<SessionOp, SessionOutput>;

const s = (generation: number, metadata: Metadata = {}) => ({ id: 'a', generation, metadata });
const ok = (generation: number, metadata: Metadata = {}) => ({ ok: true, session: s(generation, metadata) });
const fail = (reason: string) => ({ ok: false, reason });

function op(call: number, ret: number, input: SessionOp, output: SessionOutput, partition = 'a'): Op {
  return { partition, call, ret, input, output };
}
function unknown(call: number, input: SessionOp, partition = 'a'): Op {
  return { partition, call, ret: Infinity, input, unknown: true };
}

const create = (metadata: Metadata = {}, ttlMs = LONG): SessionOp => ({ f: 'create', metadata, ttlMs });
const update = (expected: number, metadata: Metadata = {}, ttlMs = LONG): SessionOp => ({
  f: 'update',
  expected,
  metadata,
  ttlMs,
});
const patch = (set: Metadata, expected?: number): SessionOp => ({
  f: 'patch',
  set,
  remove: [],
  ttlMs: LONG,
  ...(expected ? { expected } : {}),
});
const PEEK: SessionOp = { f: 'peek' };
const TERMINATE: SessionOp = { f: 'terminate' };
const EXPIRE: SessionOp = { f: 'expire' };

function check(history: Op[], c: ModelConfig = cfg, maxSteps?: number) {
  return checkHistory(sessionModel(c), history, maxSteps === undefined ? {} : { maxSteps });
}
const linearizable = (history: Op[], c?: ModelConfig) => check(history, c).ok;

describe('linearizability checker', () => {
  it('accepts a sequential history that follows the model', () => {
    expect(
      linearizable([
        op(0, 1, create({ u: 'ada' }), ok(100, { u: 'ada' })),
        op(2, 3, PEEK, s(100, { u: 'ada' })),
        op(4, 5, update(100, { u: 'bob' }), ok(101, { u: 'bob' })),
        op(6, 7, patch({ r: 'x' }), ok(102, { u: 'bob', r: 'x' })),
        op(8, 9, { f: 'touch', ttlMs: LONG }, { ok: true, generation: 102 }),
        op(10, 11, TERMINATE, { ok: true, generation: 102 }),
        op(12, 13, PEEK, null),
        op(14, 15, { f: 'exists' }, false),
        op(16, 17, create(), fail('terminated')),
        op(18, 19, update(102), fail('terminated')),
      ]),
    ).toBe(true);
  });

  it('rejects a reply the model never gives, even sequentially', () => {
    // A write's generation must rise (by any amount: Redis takes max(previous + 1, clock)).
    expect(linearizable([op(0, 1, create(), ok(100)), op(2, 3, update(100), ok(100))])).toBe(false);
    expect(linearizable([op(0, 1, create(), ok(100)), op(2, 3, update(100), ok(99))])).toBe(false);
    expect(linearizable([op(0, 1, create(), ok(100)), op(2, 3, update(100), ok(102))])).toBe(true);
    expect(
      linearizable([op(0, 1, create(), ok(100)), op(2, 3, update(100), ok(102)), op(4, 5, update(102), ok(101))]),
    ).toBe(false);
    expect(linearizable([op(0, 1, create(), ok(100)), op(2, 3, update(99), ok(100))])).toBe(false);
    expect(linearizable([op(0, 1, create(), ok(100)), op(2, 3, create(), ok(200))])).toBe(false);
    expect(linearizable([op(0, 1, update(1), ok(2))])).toBe(false);
  });

  it('rejects two successful CAS writes from the same generation (a lost update), however they overlap', () => {
    const base = op(0, 1, create(), ok(100));
    expect(
      linearizable([
        base,
        op(2, 6, update(100, { w: '1' }), ok(101, { w: '1' })),
        op(3, 5, update(100, { w: '2' }), ok(101, { w: '2' })),
      ]),
    ).toBe(false);
    expect(
      linearizable([
        base,
        op(2, 6, { f: 'mutate', set: { w: '1' }, ttlMs: LONG }, { ...ok(101, { w: '1' }), attempts: 1 }),
        op(3, 5, { f: 'mutate', set: { w: '2' }, ttlMs: LONG }, { ...ok(101, { w: '2' }), attempts: 1 }),
      ]),
    ).toBe(false);
    // One wins, the other reports the winner's record: fine in either real-time order.
    expect(
      linearizable([
        base,
        op(2, 6, update(100, { w: '1' }), ok(101, { w: '1' })),
        op(3, 5, update(100, { w: '2' }), { ok: false, reason: 'conflict', session: s(101, { w: '1' }) }),
      ]),
    ).toBe(true);
  });

  it('rejects a read that sees a terminated session after the terminate returned, accepts it while they overlap', () => {
    const base = [op(0, 1, create(), ok(100)), op(4, 6, TERMINATE, { ok: true, generation: 100 })];
    expect(linearizable([...base, op(7, 8, PEEK, s(100))])).toBe(false);
    expect(linearizable([...base, op(5, 8, PEEK, s(100))])).toBe(true);
    expect(linearizable([...base, op(7, 8, update(100), ok(101))])).toBe(false);
    // A write that overlaps the terminate may land first (the terminate then reports its
    // generation), but it cannot land after the terminate, and no later read sees it.
    expect(linearizable([...base, op(5, 9, update(100), ok(101))])).toBe(false);
    const late = [op(0, 1, create(), ok(100)), op(4, 6, TERMINATE, { ok: true, generation: 101 })];
    expect(linearizable([...late, op(5, 9, update(100), ok(101))])).toBe(true);
    expect(linearizable([...late, op(5, 9, update(100), ok(101)), op(10, 11, PEEK, s(101))])).toBe(false);
  });

  it('rejects a stale read after a write returned', () => {
    const base = [op(0, 1, create(), ok(100)), op(2, 5, update(100, { v: '2' }), ok(101, { v: '2' }))];
    expect(linearizable([...base, op(6, 7, PEEK, s(100))])).toBe(false);
    expect(linearizable([...base, op(4, 7, PEEK, s(100))])).toBe(true);
    expect(linearizable([...base, op(4, 7, PEEK, s(101, { v: '2' }))])).toBe(true);
  });

  it('needs the search: readers that disagree on the order of two concurrent writes', () => {
    const base = [
      op(0, 1, create(), ok(100)),
      op(2, 10, patch({ x: '1' }), ok(101, { x: '1' })),
      op(2, 10, patch({ y: '1' }), ok(102, { x: '1', y: '1' })),
    ];
    expect(linearizable([...base, op(3, 9, PEEK, s(101, { x: '1' }))])).toBe(true);
    expect(linearizable([...base, op(11, 12, PEEK, s(101, { x: '1' }))])).toBe(false);
    // Both patches claim to have been first.
    expect(
      linearizable([
        op(0, 1, create(), ok(100)),
        op(2, 10, patch({ x: '1' }), ok(101, { x: '1' })),
        op(2, 10, patch({ y: '1' }), ok(101, { y: '1' })),
      ]),
    ).toBe(false);
  });

  it('lets an unknown-outcome write apply at any point after its invocation, or never', () => {
    const base = [op(0, 1, create(), ok(100)), unknown(2, update(100, { v: 'u' }))];
    expect(linearizable([...base, op(10, 11, PEEK, s(101, { v: 'u' }))])).toBe(true);
    expect(linearizable([...base, op(10, 11, PEEK, s(100))])).toBe(true);
    expect(linearizable([...base, op(10, 11, PEEK, s(100)), op(12, 13, PEEK, s(101, { v: 'u' }))])).toBe(true);
    // ...but never before it was invoked, and once seen it cannot be undone.
    expect(
      linearizable([
        op(0, 1, create(), ok(100)),
        op(1.5, 1.8, PEEK, s(101, { v: 'u' })),
        unknown(2, update(100, { v: 'u' })),
      ]),
    ).toBe(false);
    expect(linearizable([...base, op(10, 11, PEEK, s(101, { v: 'u' })), op(12, 13, PEEK, s(100))])).toBe(false);
  });

  it('keeps an unknown-outcome write within its bound when one is known', () => {
    const bounded = (bound: number): Op => ({ ...unknown(2, update(100, { v: 'u' })), ret: bound });
    const base = [op(0, 1, create(), ok(100))];
    // Applied before the bound: a later read sees it; not applied: it never shows up.
    expect(linearizable([...base, bounded(5), op(10, 11, PEEK, s(101, { v: 'u' }))])).toBe(true);
    expect(linearizable([...base, bounded(5), op(10, 11, PEEK, s(100))])).toBe(true);
    // Seen unapplied after its bound, it cannot show up later.
    expect(linearizable([...base, bounded(5), op(10, 11, PEEK, s(100)), op(12, 13, PEEK, s(101, { v: 'u' }))])).toBe(
      false,
    );
    // Without a bound it could.
    expect(
      linearizable([
        ...base,
        unknown(2, update(100, { v: 'u' })),
        op(10, 11, PEEK, s(100)),
        op(12, 13, PEEK, s(101, { v: 'u' })),
      ]),
    ).toBe(true);
  });

  it('bounds unknown outcomes by connection order and leaves out faults that say "not applied"', () => {
    const entries: HistoryEntry[] = [
      { client: 'c1', id: 'a', op: create(), call: 0, ret: 1, output: ok(100) },
      { client: 'c1', id: 'a', op: update(100, { v: 'u' }), call: 2, ret: 3, unknown: true },
      // A timed-out read on the same connection: no reply, so it bounds nothing.
      { client: 'c1', id: 'a', op: PEEK, call: 4, ret: 5, notApplied: true },
      { client: 'c1', id: 'a', op: PEEK, call: 6, ret: 7, output: s(100) },
      { client: 'c1', id: 'a', op: PEEK, call: 8, ret: 9, output: s(100) },
      { client: 'c2', id: 'a', op: PEEK, call: 10, ret: 11, output: s(101, { v: 'u' }) },
    ];
    boundByConnectionOrder(entries);
    // Redis ran it before c1's next command, which replied at 7 (its exact point is not known: 7 is the bound).
    expect(entries[1]!.effectBy).toBe(7);
    // c1's reads after that showed it unapplied, so c2 cannot see it later.
    expect(checkSessionHistory('bound', entries, cfg, { quiet: true, artifact: false }).ok).toBe(false);
    expect(checkSessionHistory('bound', entries.slice(0, 5), cfg, { quiet: true, artifact: false }).ok).toBe(true);
    // A "not applied" fault that did apply is caught: the next read contradicts it.
    const lying: HistoryEntry[] = [
      { client: 'c1', id: 'a', op: create(), call: 0, ret: 1, output: ok(100) },
      { client: 'c1', id: 'a', op: update(100, { v: 'x' }), call: 2, ret: 3, notApplied: true },
      { client: 'c1', id: 'a', op: PEEK, call: 4, ret: 5, output: s(101, { v: 'x' }) },
    ];
    const v = checkSessionHistory('lying', lying, cfg, { quiet: true, artifact: false });
    expect(v.ok).toBe(false);
    expect(v.partitions[0]!.ok === false && v.partitions[0]!.longest).toEqual([0]);
  });

  it('learns the generation of a create whose outcome is unknown from later replies', () => {
    const base = [unknown(0, create({ k: 'v' }))];
    expect(linearizable([...base, op(5, 6, PEEK, s(77, { k: 'v' })), op(7, 8, update(77), ok(78))])).toBe(true);
    expect(linearizable([...base, op(5, 6, PEEK, s(77, { k: 'v' })), op(7, 8, PEEK, s(79, { k: 'v' }))])).toBe(false);
    expect(linearizable([...base, op(5, 6, PEEK, null)])).toBe(true);
    expect(
      linearizable([...base, op(5, 6, update(50, {}), { ok: false, reason: 'conflict', session: s(60, { k: 'v' }) })]),
    ).toBe(true);
  });

  it('generations: a re-create must exceed every generation the id had (no ABA)', () => {
    const base = [
      op(0, 1, create(), ok(100)),
      op(2, 3, update(100), ok(101)),
      op(4, 5, TERMINATE, { ok: true, generation: 101 }),
      op(6, 7, EXPIRE, undefined),
    ];
    expect(linearizable([...base, op(8, 9, create(), ok(500))])).toBe(true);
    expect(linearizable([...base, op(8, 9, create(), ok(101))])).toBe(false);
    expect(linearizable([...base, op(8, 9, create(), ok(50))])).toBe(false);
    // While the tombstone lives, create must say terminated.
    expect(linearizable(base.slice(0, 3).concat(op(8, 9, create(), ok(500))))).toBe(false);
  });

  it('expiry: only within the window the TTL and the timestamps allow (Redis timing)', () => {
    const redisCfg: ModelConfig = { ...cfg, ...REDIS_TIMING };
    // TTL 10 set by an op in [0, 1]: the key vanishes in [0 + 10 - 2, 1 + 10 + 1 + 2] = [8, 14].
    const base = [op(0, 1, create({}, 10), ok(100))];
    expect(linearizable([...base, op(5, 6, PEEK, null)], redisCfg)).toBe(false);
    expect(linearizable([...base, op(5, 6, PEEK, s(100))], redisCfg)).toBe(true);
    expect(linearizable([...base, op(11, 12, PEEK, null)], redisCfg)).toBe(true);
    expect(linearizable([...base, op(11, 12, PEEK, s(100))], redisCfg)).toBe(true);
    expect(linearizable([...base, op(20, 21, PEEK, s(100))], redisCfg)).toBe(false);
    expect(linearizable([...base, op(20, 21, update(100), fail('not_found'))], redisCfg)).toBe(true);
    // Once seen expired, it stays expired: an expired key never comes back without create.
    expect(linearizable([...base, op(11, 12, PEEK, null), op(12.5, 13, PEEK, s(100))], redisCfg)).toBe(false);
    // A write that refreshed the TTL moves the window.
    const touched = op(5, 6, { f: 'touch', ttlMs: 10 }, { ok: true, generation: 100 });
    expect(linearizable([...base, touched, op(13, 14, PEEK, s(100))], redisCfg)).toBe(true);
    // With the exact clock of the memory store, the instant is exact: live before, gone at ttl.
    const exactBase = [op(0, 0, create({}, 10), ok(100))];
    expect(linearizable([...exactBase, op(9, 9, PEEK, s(100))], { ...cfg, ...EXACT_TIMING })).toBe(true);
    expect(linearizable([...exactBase, op(10, 10, PEEK, s(100))], { ...cfg, ...EXACT_TIMING })).toBe(false);
    expect(linearizable([...exactBase, op(10, 10, PEEK, null)], { ...cfg, ...EXACT_TIMING })).toBe(true);
  });

  it('checks each id on its own and says which one failed', () => {
    const v = check([
      op(0, 1, create(), ok(100), 'a'),
      op(0, 1, create(), ok(100), 'b'),
      op(2, 3, PEEK, s(100), 'a'),
      op(2, 3, PEEK, null, 'b'),
    ]);
    expect(v.ok).toBe(false);
    expect(v.partitions.map((p) => [p.partition, p.ok])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    const failed = v.partitions.find((p) => !p.ok)!;
    expect(failed.ok === false && failed.reason).toBe('illegal');
    expect(failed.ok === false && failed.longest).toEqual([1]);
  });

  it('memoises: many overlapping reads and one impossible one are refuted without trying every order', () => {
    const reads = Array.from({ length: 14 }, () => op(2, 100, PEEK, s(100)));
    const history = [op(0, 1, create(), ok(100)), ...reads, op(2, 100, PEEK, s(999))];
    const v = check(history);
    expect(v.ok).toBe(false);
    // 14! orders without the cache; the cache bounds the search by the 2^15 subsets.
    expect(v.partitions[0]!.steps).toBeLessThan(2 ** 15 + 100);
    const starved = check(history, cfg, 100);
    expect(starved.partitions[0]!.ok === false && starved.partitions[0]!.reason).toBe('budget');
  });

  it('writes a failing history to .test-artifacts and names the file', () => {
    const entries: HistoryEntry[] = [
      { client: 'c1', id: 'a', op: create(), call: 0, ret: 1, output: ok(100) },
      { client: 'c1', id: 'a', op: TERMINATE, call: 2, ret: 3, output: { ok: true, generation: 100 } },
      { client: 'c2', id: 'a', op: PEEK, call: 4, ret: 5, output: s(100) },
    ];
    const v = checkSessionHistory('checker-selftest', entries, cfg, { quiet: true });
    expect(v.ok).toBe(false);
    expect(v.artifact).toBeDefined();
    expect(v.message).toContain(v.artifact!);
    expect(existsSync(v.artifact!)).toBe(true);
    const saved = JSON.parse(readFileSync(v.artifact!, 'utf8')) as { entries: unknown[]; label: string };
    expect(saved.label).toBe('checker-selftest');
    expect(saved.entries).toHaveLength(3);
    rmSync(v.artifact!);
  });
});
