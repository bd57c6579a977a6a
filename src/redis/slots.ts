/**
 * Redis Cluster hash slots, and whether a client is a Cluster client. Which
 * connection served a key (WAIT must run on the primary that owns the session
 * key's slot) is the client adapter's `forKey` (client/interface.ts).
 * @module
 */
import { adapt } from './client/detect.js';

/** Number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster uses. */
export const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/**
 * The cluster slot of a key, by Redis's rule: when the key has a `{` followed
 * later by a `}` with at least one byte between them, only the bytes between
 * the first `{` and the first `}` after it are hashed; otherwise the whole key.
 * Strings are hashed as their UTF-8 bytes, as both clients send them.
 * Include the client's `keyPrefix`: Redis sees the prefixed key.
 */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(OPEN);
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(bytes, start, end) % SLOT_COUNT;
}

/** Whether the client is a Cluster client, ioredis or node-redis (the one test of it in the package). */
export function isCluster(client: unknown): boolean {
  return adapt(client)?.cluster === true;
}
