/**
 * Shard channels of the change feed on a Redis Cluster. A write function can
 * only publish to a shard channel of its own key's slot (SPUBLISH is routed
 * like a key), so the feed has one channel per slot:
 * `<eventsChannel>{<tag>}`, where `<tag>` for slot s is the decimal string of
 * the smallest non-negative integer n with keySlot(String(n)) === s. The
 * rule is fixed, so every version of this package, and any other consumer,
 * names the same channels.
 * @module
 */
import { SLOT_COUNT, keySlot } from './slots.js';

let tags: string[] | undefined;

/** The hash tag of each slot, computed once (a few hundred thousand CRC16s: tens of milliseconds). */
function slotTags(): string[] {
  if (tags) return tags;
  const found: Array<string | undefined> = new Array(SLOT_COUNT);
  let missing = SLOT_COUNT;
  for (let n = 0; missing > 0; n++) {
    const s = String(n);
    const slot = keySlot(s);
    if (found[slot] === undefined) {
      found[slot] = s;
      missing--;
    }
  }
  tags = found as string[];
  return tags;
}

/** The shard channel of `slot` for the store's `eventsChannel`. */
export function shardChannel(eventsChannel: string, slot: number): string {
  return `${eventsChannel}{${slotTags()[slot]!}}`;
}
