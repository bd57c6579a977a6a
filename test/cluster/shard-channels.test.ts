/** Shard channel names: one per slot, `<eventsChannel>{<smallest n in that slot>}`, and their inverse. No Redis. */
import { describe, expect, it } from 'vitest';
import { SLOT_COUNT, keySlot } from '../../src/index.js';
import { shardChannel, shardTag, slotOfShardChannel } from '../../src/redis/shard-channels.js';

describe('shard channels', () => {
  it('the tag of each slot is the smallest non-negative integer in that slot; the table builds in well under a second', () => {
    const t0 = performance.now();
    shardTag(0);
    const ms = performance.now() - t0;
    const firstOf = new Map<number, number>();
    for (let n = 0; firstOf.size < SLOT_COUNT && n < 1_000_000; n++) {
      const s = keySlot(String(n));
      if (!firstOf.has(s)) firstOf.set(s, n);
    }
    let max = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      expect(shardTag(slot)).toBe(String(firstOf.get(slot)));
      max = Math.max(max, Number(shardTag(slot)));
    }
    expect(max).toBe(109_757);
    expect(ms).toBeLessThan(1_000);
    console.log(`[shard channels] tag table: ${ms.toFixed(1)} ms, largest tag ${max}`);
  });

  it('each channel hashes to its slot and maps back to it; anything else maps to -1', () => {
    for (const ch of ['events', 'scas:ev', '']) {
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        const name = shardChannel(ch, slot);
        if (keySlot(name) !== slot || slotOfShardChannel(ch, name) !== slot)
          throw new Error(`${ch} slot ${slot}: ${name}`);
      }
    }
    expect(shardChannel('events', keySlot('0'))).toBe('events{0}');
    for (const other of [
      'events',
      'events{}',
      'events{01}',
      'events{1',
      'events{x}',
      'other{0}',
      'events{0}x',
      'events{-1}',
      `events{${Number(shardTag(5)) + SLOT_COUNT * 50}}`,
      'events{9999999}',
    ]) {
      expect(slotOfShardChannel('events', other), other).toBe(-1);
    }
    expect(slotOfShardChannel('events', `events{${shardTag(77)}}`)).toBe(77);
  });

  it('refuses a slot outside [0, 16384)', () => {
    for (const bad of [-1, SLOT_COUNT, 1.5, Number.NaN]) expect(() => shardChannel('e', bad)).toThrow(RangeError);
  });
});
