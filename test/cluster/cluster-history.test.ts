/** The history checks catch what they claim to catch (no Redis needed). */
import { describe, expect, it } from 'vitest';
import { History, type Op, checkHistory } from './cluster-history.js';

function historyOf(ops: Array<Partial<Op> & Pick<Op, 'kind' | 'start' | 'end'>>): History {
  const h = new History();
  for (const o of ops) h.ops.push({ worker: 'w', id: 's', status: 'ok', ...o });
  return h;
}

describe('checkHistory', () => {
  it('accepts a clean history: create, read, update, terminate, read nothing, re-create', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'peek', start: 2, end: 3, generation: 100 },
      { kind: 'update', start: 4, end: 5, expected: 100, generation: 101 },
      { kind: 'update', start: 4, end: 6, expected: 100, status: 'refused', reason: 'conflict', generation: 101 },
      { kind: 'terminate', start: 7, end: 8, generation: 101 },
      { kind: 'peek', start: 9, end: 10, generation: null },
      { kind: 'create', start: 11, end: 12, generation: 500 },
      { kind: 'peek', start: 13, end: 14, generation: 500 },
    ]);
    expect(checkHistory(h)).toEqual([]);
  });

  it('flags a lost update: two acknowledged writes of one generation', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'update', start: 2, end: 3, expected: 100, generation: 101 },
      { kind: 'update', start: 2, end: 4, expected: 100, generation: 101 },
    ]);
    expect(checkHistory(h).join('\n')).toMatch(/two acknowledged writes of generation 101/);
  });

  it('flags resurrection: a read of the terminated generation after the terminate', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'terminate', start: 2, end: 3, generation: 100 },
      { kind: 'peek', start: 4, end: 5, generation: 100 },
    ]);
    expect(checkHistory(h).join('\n')).toMatch(/read generation 100 after terminate of 100/);
  });

  it('flags an update acknowledged after an acknowledged terminate', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'terminate', start: 2, end: 3, generation: 100 },
      { kind: 'update', start: 4, end: 5, expected: 100, generation: 101 },
    ]);
    expect(checkHistory(h).join('\n')).toMatch(/update after terminate of 100/);
  });

  it('flags a lost acknowledged write: an older generation, or nothing, read later without a terminate', () => {
    const older = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'update', start: 2, end: 3, expected: 100, generation: 101 },
      { kind: 'peek', start: 4, end: 5, generation: 100 },
    ]);
    expect(checkHistory(older).join('\n')).toMatch(/read 100 after acknowledged write of 101/);
    const vanished = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'peek', start: 4, end: 5, generation: null },
    ]);
    expect(checkHistory(vanished).join('\n')).toMatch(/acknowledged write of 100 vanished/);
  });

  it('flags phantom generations and updates that did not raise the generation', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'peek', start: 2, end: 3, generation: 777 },
      { kind: 'update', start: 4, end: 5, expected: 100, generation: 100 },
    ]);
    const v = checkHistory(h).join('\n');
    expect(v).toMatch(/saw generation 777 that no write produced/);
    expect(v).toMatch(/update wrote 100, not above expected 100/);
  });

  it('lets a write that failed with a fault explain a generation above the one it expected, and no other', () => {
    const base = [
      { kind: 'create' as const, start: 0, end: 1, generation: 100 },
      { kind: 'update' as const, start: 2, end: 3, expected: 100, status: 'error' as const, reason: 'OUTCOME_UNKNOWN' },
    ];
    expect(checkHistory(historyOf([...base, { kind: 'peek', start: 4, end: 5, generation: 150 }]))).toEqual([]);
    expect(checkHistory(historyOf([...base, { kind: 'peek', start: 4, end: 5, generation: 90 }])).join('\n')).toMatch(
      /saw generation 90 that no write produced/,
    );
  });

  it('does not count writes that failed, or were not confirmed replicated, as acknowledged', () => {
    const h = historyOf([
      { kind: 'create', start: 0, end: 1, generation: 100 },
      { kind: 'update', start: 2, end: 3, expected: 100, generation: 101, durable: false },
      { kind: 'terminate', start: 4, end: 5, generation: 101, durable: false },
      { kind: 'update', start: 4, end: 6, expected: 100, status: 'error', reason: 'OUTCOME_UNKNOWN' },
      { kind: 'peek', start: 7, end: 8, generation: 100 },
    ]);
    expect(checkHistory(h)).toEqual([]);
  });
});
