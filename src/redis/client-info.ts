/**
 * What the library reads off an ioredis client or error without calling Redis:
 * one copy of each test, shared by the store, the change feed and the shard
 * subscriber.
 * @module
 */

/** Whether ioredis rejected with a Redis error reply (the server refused; the connection is fine). */
export function isReplyError(err: unknown): err is Error {
  // By name, not instanceof: the two ioredis majors have distinct ReplyError classes.
  return err instanceof Error && (err.name === 'ReplyError' || err.constructor?.name === 'ReplyError');
}

/**
 * The client's ioredis `keyPrefix` (Redis sees it before every key): a Redis
 * client's `options.keyPrefix`, or a Cluster's, else its `redisOptions.keyPrefix`.
 */
export function keyPrefixOf(client: unknown): string {
  const o = (client as { options?: { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } } }).options;
  const p = o?.keyPrefix ?? o?.redisOptions?.keyPrefix;
  return typeof p === 'string' ? p : '';
}
