/**
 * The {@link ClientAdapter} of ioredis 5 and 6 (`Redis`, `Cluster`; Sentinel
 * is a `Redis`). Function calls go through ioredis's own `fcall`/`fcall_ro`,
 * so they take part in auto-pipelining, in Cluster routing by the key, and
 * in the client's `keyPrefix`.
 * @module
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { keySlot } from '../slots.js';
import type {
  Arg,
  ClientAdapter,
  ConnectionEvents,
  NodeConnection,
  SubscriberConnection,
  SubscriberEvents,
} from './interface.js';

type FcallMethod = (name: string, numKeys: number, key: string, ...args: Arg[]) => Promise<unknown>;

/** What the adapter needs of an ioredis Cluster client beyond its typings (5 and 6 alike). */
interface ClusterInternals {
  readonly status: string;
  /** slot -> [primary node key, replica keys...], node key `host:port`. */
  readonly slots: string[][];
  /** Not in the typings, present in ioredis 5 and 6: reloads `slots` (CLUSTER SLOTS), calls back when done. */
  refreshSlotsCache?: (callback?: (err?: Error) => void) => void;
}

/** ioredis's message when `enableOfflineQueue: false` rejects a command it never sent. */
const NOT_SENT = /enableOfflineQueue options is false|Connection in subscriber mode/;
/** A slot map reload that gets no answer is abandoned after this long (the caller retries). */
const REFRESH_TIMEOUT_MS = 10_000;

/** Whether `x` looks like an ioredis client (`defineCommand` is ioredis's alone). */
export function isIoredis(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as { defineCommand?: unknown }).defineCommand === 'function';
}

function isIoredisCluster(client: object): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

function addressOf(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

function connectionOf(node: Redis): NodeConnection {
  return {
    address: addressOf(node),
    call: (args) => node.call(String(args[0]), ...args.slice(1)),
    socket: () => node.stream,
  };
}

const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });

/** The adapter of an ioredis client (checked by the caller with {@link isIoredis}). */
export function ioredisAdapter(client: Redis | Cluster): ClientAdapter {
  const cluster = isIoredisCluster(client);
  // A Cluster's own keyPrefix, else the one of its redisOptions.
  const o = (client as { options?: { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } } }).options;
  const keyPrefix = o?.keyPrefix ?? o?.redisOptions?.keyPrefix;
  const internals = client as unknown as ClusterInternals;
  const nodes = (role: 'all' | 'master'): Redis[] => (cluster ? (client as Cluster).nodes(role) : [client as Redis]);
  return {
    adapter: true,
    kind: 'ioredis',
    client,
    cluster,
    keyPrefix: typeof keyPrefix === 'string' ? keyPrefix : '',
    fcall(name, key, args, readOnly) {
      const method = (client as unknown as Record<string, FcallMethod>)[readOnly ? 'fcall_ro' : 'fcall']!;
      // ioredis flattens nested arrays itself.
      return method.call(client, name, 1, key, ...(args as Arg[]));
    },
    // The typed method, so ioredis adds its keyPrefix to the key.
    keyed: (command, key) =>
      (client as unknown as Record<string, (k: string) => Promise<unknown>>)[command.toLowerCase()]!(key),
    command: (args) => client.call(String(args[0]), ...args.slice(1)),
    primaries: async () => nodes('master').map(connectionOf),
    async forKey(key) {
      if (!cluster) return connectionOf(client as Redis);
      const owner = internals.slots[keySlot(this.keyPrefix + key)]?.[0];
      if (owner === undefined) return undefined;
      const node = nodes('all').find((n) => addressOf(n) === owner);
      return node ? connectionOf(node) : undefined;
    },
    slotOwner: (slot) => internals.slots[slot]?.[0],
    async refreshSlots() {
      if (internals.status === 'wait') (client as Cluster).connect().catch(() => undefined);
      const refresh = internals.refreshSlotsCache;
      if (typeof refresh !== 'function') return;
      await Promise.race([
        new Promise<void>((resolve) => refresh.call(client, () => resolve())),
        delay(REFRESH_TIMEOUT_MS),
      ]);
    },
    isReplyError,
    isNotSent: (err) => err instanceof Error && NOT_SENT.test(err.message),
    watch(events: ConnectionEvents) {
      client.on('error', events.error);
      client.on('node error', events.error);
      client.on('ready', events.ready);
    },
    openSubscriber(mode, address, events) {
      if (mode === 'classic') return classic(client as Redis, events);
      // The slot map names the primaries; a node ioredis has not yet re-labelled after a failover is under 'all'.
      const node = nodes('all').find((n) => addressOf(n) === address);
      return node ? sharded(node, events) : undefined;
    },
  };
}

/** Whether ioredis rejected with a Redis error reply (not a connection problem). */
export function isReplyError(err: unknown): boolean {
  const e = err as { name?: unknown; constructor?: { name?: unknown } } | null;
  return e !== null && typeof e === 'object' && (e.name === 'ReplyError' || e.constructor?.name === 'ReplyError');
}

function subscriberOf(sub: Redis, subscribe: (channel: string) => Promise<unknown>): SubscriberConnection {
  return {
    state: () => (sub.status === 'ready' ? 'ready' : sub.status === 'connect' ? 'handshake' : 'down'),
    subscribe: (channel) => subscribe(channel).then(() => undefined),
    ping: () => sub.ping(),
    drop() {
      const stream = (sub as unknown as { stream?: { destroy(): void } }).stream;
      if (stream) stream.destroy();
      else sub.disconnect(true);
    },
    close() {
      sub.removeAllListeners('message');
      sub.removeAllListeners('smessage');
      sub.disconnect();
    },
  };
}

/**
 * A `duplicate()` of the store's client. It waits for Redis instead of
 * failing the SUBSCRIBE (maxRetriesPerRequest null), and it does not
 * resubscribe on its own (autoResubscribe off): the feed does, to learn when
 * it took effect.
 */
function classic(client: Redis, events: SubscriberEvents): SubscriberConnection {
  const base = client.options as RedisOptions;
  const sub = client.duplicate({
    autoResubscribe: false,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectionName: `${base.connectionName ?? 'session-cas'}:events`,
  });
  sub.on('error', () => undefined); // surfaces as 'close' and the interrupted status
  sub.on('message', (channel: string, message: string) => events.message(channel, message));
  sub.on('close', () => events.lost());
  sub.on('ready', () => events.ready());
  return subscriberOf(sub, (channel) => sub.subscribe(channel));
}

/**
 * A `duplicate()` of the Cluster client's own connection to the primary, so
 * host, auth, TLS and natMap carry over; no keyPrefix, since ioredis would
 * prefix shard channels like keys; no reconnect: the feed replaces a lost
 * connection after refreshing the slot map.
 */
function sharded(node: Redis, events: SubscriberEvents): SubscriberConnection {
  const base = node.options as RedisOptions;
  const sub = node.duplicate({
    keyPrefix: '',
    lazyConnect: false,
    autoResubscribe: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    retryStrategy: () => null,
    readOnly: false,
    connectionName: `${base.connectionName ?? 'session-cas'}:events`,
  });
  sub.on('smessage', (channel: string, message: string) => events.message(channel, message));
  sub.on('ready', () => events.ready());
  sub.on('close', () => events.lost());
  sub.on('end', () => events.lost());
  // ioredis 6: an unsolicited sunsubscribe (the node lost a slot) or a MOVED reply to SSUBSCRIBE.
  sub.on('moved', () => events.lost());
  sub.on('error', (err: Error) => {
    // ioredis 5 has no handler for an unsolicited sunsubscribe: it reports a reply without a command.
    if (/Command queue state error/.test(err?.message ?? '')) events.lost();
  });
  return subscriberOf(sub, (channel) => sub.ssubscribe(channel));
}
