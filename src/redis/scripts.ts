/**
 * The script layer: one Redis Functions library (lua/*.lua, embedded in
 * src/generated/lua.ts), called with FCALL (FCALL_RO for the read-only
 * functions) through ioredis's own `fcall`, so calls take part in
 * auto-pipelining and Cluster routing by the session key.
 *
 * Functions are defined once when the library loads, not on every call (an
 * EVALSHA runs the whole script body, helpers included, each time). The
 * library is loaded on first use and again whenever a server answers
 * "Function not found" (FUNCTION FLUSH, a restart without persistence, a
 * failover to a node that lacks it): such a call ran nothing, so it is sent
 * again once the library is there. The library and function names carry a
 * hash of the whole library, so two versions of this package on one server
 * never call each other's code.
 *
 * Each function has one typed argument builder below ({@link ARGS}), in the
 * order its lua/<name>.lua header documents, so a wrong or missing argument
 * fails at compile time.
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { RedisFaultError } from '../core/errors.js';
import { FUNCTIONS, LIBRARY, type ScriptName } from './generated/lua.js';
import { isReplyError } from './client-info.js';
import { isCluster } from './slots.js';

/** What session-cas needs of a client: `Redis` or `Cluster`, ioredis 5 or 6. */
export type Client = Redis | Cluster;

export type { ScriptName };

/** One argument as ioredis sends it. Nested arrays are flattened by ioredis (no spread, no stack limit). */
type Arg = string | number | readonly string[];

/** Where a write publishes its change event: nowhere (`''`, `''`), a channel, or a shard channel. */
export interface EventTarget {
  readonly channel: string;
  readonly command: '' | 'PUBLISH' | 'SPUBLISH';
}

/** No events. */
export const NO_EVENTS: EventTarget = { channel: '', command: '' };

interface WriteArgs {
  /** 8-character op id (see `nextOpId`). */
  readonly opId: string;
  readonly ttlMs: number;
  readonly events: EventTarget;
}

/** `'m'`-prefixed metadata names and values, flat: name, value, name, value... */
export type FieldArgs = readonly string[];

/** The argument list of each function, in the order of its lua/<name>.lua header. */
export const ARGS = {
  create: (a: WriteArgs & { principal: string; lifetimeMs: number | undefined; fields: FieldArgs }): Arg[] => [
    a.opId,
    a.ttlMs,
    a.events.channel,
    a.events.command,
    a.principal,
    a.lifetimeMs ?? '',
    a.fields,
  ],
  update: (a: WriteArgs & { expected: number; fields: FieldArgs }): Arg[] => [
    a.opId,
    a.ttlMs,
    a.expected,
    a.events.channel,
    a.events.command,
    a.fields,
  ],
  patch: (
    a: WriteArgs & { expected: number | undefined; maxBytes: number; set: FieldArgs; remove: readonly string[] },
  ): Arg[] => [
    a.opId,
    a.ttlMs,
    a.expected ?? '',
    a.maxBytes,
    a.events.channel,
    a.events.command,
    a.set.length,
    a.set,
    a.remove,
  ],
  touch: (a: { ttlMs: number; expected: number | undefined }): Arg[] => [a.ttlMs, a.expected ?? ''],
  terminate: (a: WriteArgs & { expected: number | undefined }): Arg[] => [
    a.opId,
    a.ttlMs,
    a.expected ?? '',
    a.events.channel,
    a.events.command,
  ],
  get: (a: { ttlMs: number }): Arg[] => [a.ttlMs],
  peek: (): Arg[] => [],
  exists: (): Arg[] => [],
  generation: (a: { ttlMs: number | undefined }): Arg[] => [a.ttlMs ?? ''],
  principalAdd: (a: { id: string; ttlMs: number; pending: boolean }): Arg[] => [a.id, a.ttlMs, a.pending ? '1' : ''],
  principalConfirm: (a: { id: string; score: string }): Arg[] => [a.id, a.score],
  principalList: (): Arg[] => [],
  principalDrop: (a: { entries: readonly string[] }): Arg[] => [a.entries],
  principalKeep: (a: { minMs: number; setMs: number }): Arg[] => [a.minMs, a.setMs],
} as const satisfies Record<ScriptName, (a: never) => Arg[]>;

/** The argument object of function `N`. */
export type ArgsOf<N extends ScriptName> = Parameters<(typeof ARGS)[N]>[0];

type FcallMethod = (name: string, numKeys: number, key: string, ...args: Arg[]) => Promise<unknown>;

const FUNCTION_MISSING = /^ERR Function not found/;
const ALREADY_LOADED = /^ERR Library '[^']*' already exists/;
const NO_FUNCTIONS = /^ERR unknown command .?fcall/i;
/** Sends after a "Function not found" before giving up (a replica may lag behind its primary's FUNCTION LOAD). */
const MAX_LOADS = 3;

/**
 * An exception raised while the call was being built or handed to the
 * client, before any request could leave the process: the write cannot have
 * applied. Its `cause` is what was thrown.
 */
export class NotSentError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'NotSentError';
  }
}

function send(client: Client, name: ScriptName, key: string, args: Arg[]): Promise<unknown> {
  const fn = FUNCTIONS[name];
  const method = (client as unknown as Record<string, FcallMethod>)[fn.readOnly ? 'fcall_ro' : 'fcall']!;
  let reply: Promise<unknown>;
  try {
    reply = method.call(client, fn.name, 1, key, ...args);
  } catch (err) {
    // ioredis queues or writes a command only once it is built, and reports
    // everything after that through the promise.
    return Promise.reject(new NotSentError(err));
  }
  return reply;
}

/**
 * Calls function `name` on `key` with its typed arguments.
 * @throws what ioredis rejects with (the caller turns it into a typed fault),
 * or RedisFaultError when the library cannot be loaded.
 */
export function callScript<N extends ScriptName>(
  client: Client,
  name: N,
  key: string,
  args: ArgsOf<N>,
): Promise<unknown> {
  return callScriptRaw(client, name, key, (ARGS[name] as (a: ArgsOf<N>) => Arg[])(args));
}

/**
 * Calls a function with an argument list built elsewhere (tests of the Lua argument checks).
 * @throws NotSentError for an exception raised before the request left the process.
 */
export async function callScriptRaw(client: Client, name: ScriptName, key: string, args: Arg[]): Promise<unknown> {
  for (let loads = 0; ; loads++) {
    try {
      return await send(client, name, key, args);
    } catch (err) {
      if (!isReplyError(err)) throw err;
      if (NO_FUNCTIONS.test(err.message)) {
        throw new RedisFaultError(
          'REDIS_ERROR',
          'session-cas needs Redis 7.0 or later (Redis Functions): ' + err.message,
          {
            outcome: 'not_applied',
            operation: name,
            sessionId: '',
            cause: err,
          },
        );
      }
      // "Function not found" is answered before anything runs: sending again is safe.
      if (!FUNCTION_MISSING.test(err.message) || loads >= MAX_LOADS) throw err;
      await loadLibrary(client);
    }
  }
}

/** FUNCTION LOADs in flight, per connection, so a burst of misses loads once. */
const loading = new WeakMap<object, Promise<void>>();

/**
 * Loads the library on a standalone client's server, or on every primary of
 * a Cluster: a miss may come from a node the slot map does not name for the
 * key yet (the importing node of a migrating slot, reached by ASK), and
 * FUNCTION LOAD on the others only answers "already exists". Replicas get the
 * library from their primary. A library of this version already there counts
 * as loaded.
 * @throws RedisFaultError `NOPERM` when the user may not run FUNCTION LOAD.
 */
export async function loadLibrary(client: Client): Promise<void> {
  const nodes = targetNodes(client);
  await Promise.all(
    nodes.map((node) => {
      let p = loading.get(node);
      if (!p) {
        p = loadOn(node).finally(() => loading.delete(node));
        loading.set(node, p);
      }
      return p;
    }),
  );
}

async function loadOn(node: Redis): Promise<void> {
  try {
    await node.call('FUNCTION', 'LOAD', LIBRARY.source);
  } catch (err) {
    if (isReplyError(err) && ALREADY_LOADED.test(err.message)) return;
    if (isReplyError(err) && /^NOPERM\b/.test(err.message)) {
      throw new RedisFaultError(
        'NOPERM',
        `the session-cas function library ${LIBRARY.name} is not loaded on this server ` +
          'and this user may not load it (FUNCTION LOAD refused). Load it once as a user that may, with ' +
          '`store.loadLibrary()` or FUNCTION LOAD of `functionLibrary().source`.',
        {
          outcome: 'not_applied',
          operation: 'FUNCTION LOAD',
          sessionId: '',
          cause: err,
        },
      );
    }
    throw err;
  }
}

function targetNodes(client: Client): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** The library session-cas loads: its name and source, for a deploy step or an admin who loads it by hand. */
export function functionLibrary(): { readonly name: string; readonly source: string } {
  return { name: LIBRARY.name, source: LIBRARY.source };
}
