/**
 * What session-cas is measured against, on the same client and server:
 * the bare Lua CAS and bare get of issue #11 (the ceilings), the WATCH/MULTI
 * CAS most services would write themselves, and the naive load-then-store
 * session store.
 * @module
 */
import type { Redis } from 'ioredis';
import type { Metadata } from '../src/index.js';
import type { BenchClient } from './env.js';

/** A session's metadata as the flat field/value list the bench writes (names 'm'-prefixed like session-cas). */
export function fieldArgs(metadata: Metadata): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(metadata)) out.push(`m${k}`, v);
  return out;
}

/**
 * The bare Lua CAS of issue #11, the reference of the server-cost and
 * throughput targets: read the generation, compare, write the new
 * generation and the fields, reset the TTL. No DEL (so names dropped from the
 * metadata would stay; the bench always writes the same names), no op id,
 * no tombstone, no validation, no event, no decoding.
 */
export const BARE_CAS_LUA = `#!lua
-- KEYS[1] record key; ARGV[1] expected generation; ARGV[2] new generation;
-- ARGV[3] TTL ms; ARGV[4..] field, value pairs. Reply: 1 applied, 0 conflict.
if redis.call('HGET', KEYS[1], 'g') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'g', ARGV[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** The bare read `get` is measured against: the whole hash, then the TTL reset. */
export const BARE_GET_LUA = `#!lua
-- KEYS[1] record key; ARGV[1] TTL ms. Reply: the flat field/value list (empty when absent).
local record = redis.call('HGETALL', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return record
`;

const BARE_CAS = 'benchBareCas';
const BARE_GET = 'benchBareGet';

type Caller<R> = (key: string, ...args: Array<string | number>) => Promise<R>;

/** Calls the bench's own script `name` on `client` (EVALSHA through ioredis defineCommand, as a store would). */
function callScript<R>(
  client: BenchClient,
  name: string,
  lua: string,
  key: string,
  args: Array<string | number>,
): Promise<R> {
  const c = client as unknown as Record<string, Caller<R> | undefined>;
  if (!c[name]) client.defineCommand(name, { numberOfKeys: 1, lua });
  return c[name]!.call(client, key, ...args);
}

/** Calls the bare CAS at generation `expected` (writing `expected + 1`). Resolves 1 (applied) or 0 (conflict). */
export function bareCas(
  client: BenchClient,
  key: string,
  expected: number,
  ttlMs: number,
  fields: readonly string[],
): Promise<number> {
  return callScript<number>(client, BARE_CAS, BARE_CAS_LUA, key, [expected, expected + 1, ttlMs, ...fields]);
}

/** Calls the bare get. Resolves the flat field/value list, `g` included; empty when the key is absent. */
export function bareGet(client: BenchClient, key: string, ttlMs: number): Promise<string[]> {
  return callScript<string[]>(client, BARE_GET, BARE_GET_LUA, key, [ttlMs]);
}

/** A record the bare scripts and the WATCH CAS work on: generation 1 and the fields. */
export async function createPlainRecord(
  client: BenchClient,
  key: string,
  ttlMs: number,
  fields: readonly string[],
): Promise<void> {
  await client
    .pipeline()
    .hset(key, 'g', '1', ...fields)
    .pexpire(key, ttlMs)
    .exec();
}

/** HSET + PEXPIRE sent as one ioredis pipeline: a blind write (no CAS, no read), what a plain store does. */
export async function hsetPexpire(
  client: BenchClient,
  key: string,
  ttlMs: number,
  fields: readonly string[],
): Promise<boolean> {
  const replies = await client
    .pipeline()
    .hset(key, ...fields)
    .pexpire(key, ttlMs)
    .exec();
  return replies !== null && replies.every(([err]) => err === null);
}

/**
 * The usual hand-written CAS: WATCH, read the generation, MULTI/EXEC a
 * replace of the record (DEL, HSET, PEXPIRE). `conn` must carry no other transaction while this runs (WATCH is
 * per connection), so concurrent callers each need their own connection.
 */
export async function watchCas(
  conn: Redis,
  key: string,
  expected: number,
  ttlMs: number,
  fields: readonly string[],
): Promise<'ok' | 'conflict'> {
  await conn.watch(key);
  const g = await conn.hget(key, 'g');
  if (g !== String(expected)) {
    await conn.unwatch();
    return 'conflict';
  }
  const res = await conn
    .multi()
    .del(key)
    .hset(key, 'g', String(expected + 1), ...fields)
    .pexpire(key, ttlMs)
    .exec();
  return res === null ? 'conflict' : 'ok';
}

/** WATCH-based read-modify-write of a counter field: one attempt. */
export async function watchIncrement(
  conn: Redis,
  key: string,
  field: string,
  ttlMs: number,
): Promise<'ok' | 'conflict'> {
  await conn.watch(key);
  const current = Number(await conn.hget(key, field));
  const res = await conn
    .multi()
    .hset(key, field, String(current + 1))
    .pexpire(key, ttlMs)
    .exec();
  return res === null ? 'conflict' : 'ok';
}

/**
 * The session store most services have: load the whole record (HGETALL),
 * change it in memory, write it back (HSET + HDEL of removed entries +
 * PEXPIRE). Nothing ties the write to what was read, so a terminate between
 * the two is undone, and of two writers the last one wins.
 */
export class NaiveSessionStore {
  constructor(
    private readonly client: BenchClient,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  key(id: string): string {
    return `${this.prefix}${id}`;
  }

  async create(id: string, metadata: Metadata): Promise<void> {
    await this.save(id, metadata);
  }

  /** The metadata, or null when the session does not exist. */
  async load(id: string): Promise<Metadata | null> {
    const raw = await this.client.hgetall(this.key(id));
    return Object.keys(raw).length === 0 ? null : raw;
  }

  /** Writes `metadata` back; `removed` names entries to delete. */
  async save(id: string, metadata: Metadata, removed: readonly string[] = []): Promise<boolean> {
    const key = this.key(id);
    const p = this.client.pipeline().hset(key, metadata);
    if (removed.length > 0) p.hdel(key, ...removed);
    const replies = await p.pexpire(key, this.ttlMs).exec();
    return replies !== null && replies.every(([err]) => err === null);
  }

  async terminate(id: string): Promise<boolean> {
    return (await this.client.del(this.key(id))) === 1;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.client.exists(this.key(id))) === 1;
  }
}
