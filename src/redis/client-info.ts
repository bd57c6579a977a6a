/**
 * What the library reads off an error without calling Redis: one copy of the
 * test, shared by the store, the change feed, the shard subscriber and the
 * eviction-policy check, for ioredis and node-redis alike (the client's own
 * `keyPrefix` is the adapter's: client/interface.ts).
 * @module
 */
import { isReplyError as isIoredisReplyError } from './client/ioredis.js';
import { isErrorReply } from './client/node-redis.js';

/**
 * Whether the client rejected with a Redis error reply (the server refused;
 * the connection is fine): ioredis `ReplyError`, node-redis `ErrorReply`
 * (`SimpleError`, `BlobError`).
 */
export function isReplyError(err: unknown): err is Error {
  // By class name, not instanceof: the two ioredis majors have distinct ReplyError classes.
  return err instanceof Error && (isIoredisReplyError(err) || isErrorReply(err));
}
