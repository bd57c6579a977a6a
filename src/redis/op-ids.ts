/**
 * Op ids: 8 base64url characters from 6 random bytes (48 bits), drawn from a
 * pool refilled 1024 at a time. A write carries its op id into its function,
 * which remembers the last 8 per session, so a call that ioredis re-sends
 * after a reconnect reports its first application instead of applying
 * twice. Two different writes on one session share an id with probability
 * about 8 / 2^48 per write.
 * @module
 */
import { randomFillSync } from 'node:crypto';

const OP_ID_BYTES = 6;
const pool = Buffer.alloc(OP_ID_BYTES * 1024);
let offset = pool.length;

/** A fresh random op id (8 characters, as the functions' `parseOpId` expects). */
export function nextOpId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + OP_ID_BYTES);
  offset += OP_ID_BYTES;
  return id;
}
