/**
 * Redis Cluster's key -> slot mapping, written out from the cluster spec so
 * tests can check key layouts without a cluster: CRC16-CCITT (XMODEM: poly
 * 0x1021, init 0, no reflection) of the key's bytes, or of its hash tag (the
 * bytes between the first `{` and the first `}` after it, when non-empty),
 * modulo 16384.
 */

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The part of the key that is hashed: its hash tag if it has a non-empty one, else all of it. */
export function hashedPart(key: Uint8Array): Uint8Array {
  const open = key.indexOf(0x7b); // {
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1); // }
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The cluster slot of a key; strings are hashed as UTF-8, as ioredis sends them. */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return crc16(hashedPart(bytes)) % 16384;
}
