/**
 * The {@link ClientAdapter} of node-redis v5+ (`createClient`,
 * `createCluster`), written against the few members it uses (structural
 * types below), so nothing of ioredis and no import of `redis` is involved.
 *
 * Calls are raw `sendCommand`s (FCALL, FCALL_RO, WAIT, SCAN...): node-redis
 * applies its `keyPrefix` (node-redis 6) only to its own typed commands, so
 * the adapter adds it to the session key itself. On a Cluster,
 * `sendCommand(key, readOnly, args)` routes by the key and follows MOVED/ASK.
 * @module
 */
import { keySlot } from '../slots.js';
import type {
  Arg,
  ClientAdapter,
  ConnectionEvents,
  NodeConnection,
  SubscriberConnection,
  SubscriberEvents,
} from './interface.js';

type Listener = (message: string, channel: string) => void;

/** The members of a node-redis client (`RedisClientType`) the adapter uses. */
interface NodeRedisClient {
  readonly options?: {
    socket?: { host?: string; port?: number; reconnectStrategy?: unknown };
    keyPrefix?: unknown;
    name?: string;
  };
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(args: readonly string[]): Promise<unknown>;
  duplicate(overrides?: object): NodeRedisClient;
  connect(): Promise<unknown>;
  destroy(): void;
  subscribe(channel: string, listener: Listener): Promise<void>;
  sSubscribe(channel: string, listener: Listener): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

interface MasterNode {
  readonly address: string;
  readonly client?: NodeRedisClient;
}

/** The members of a node-redis Cluster (`RedisClusterType`) the adapter uses. */
interface NodeRedisCluster {
  readonly _options?: { keyPrefix?: unknown };
  readonly slots: ReadonlyArray<{ master: MasterNode } | undefined>;
  readonly masters: readonly MasterNode[];
  readonly _slots?: { rediscover?: () => Promise<void> };
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: readonly string[]): Promise<unknown>;
  nodeClient(node: MasterNode): Promise<NodeRedisClient>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** node-redis errors raised before the command was written to a socket (see docs/node-redis.md). */
const NOT_SENT = new Set(['ClientOfflineError', 'ClientClosedError', 'TimeoutError', 'AbortError']);
const REFRESH_TIMEOUT_MS = 10_000;

/** Whether `x` looks like a node-redis client or cluster (and not ioredis, which the caller tests first). */
export function isNodeRedis(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  if (typeof c.sendCommand !== 'function' || typeof c.duplicate !== 'function') return false;
  return isNodeRedisCluster(x) || (typeof c.sSubscribe === 'function' && typeof c.isOpen === 'boolean');
}

function isNodeRedisCluster(x: object): boolean {
  const c = x as Partial<NodeRedisCluster>;
  return Array.isArray(c.masters) && typeof c.nodeClient === 'function';
}

/** The names of the classes on `err`'s prototype chain (node-redis errors set no `name`). */
function classNames(err: unknown): string[] {
  const names: string[] = [];
  for (
    let p = err as object | null;
    p !== null && typeof p === 'object';
    p = Object.getPrototypeOf(p) as object | null
  ) {
    const name = (p as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string') names.push(name);
    if (names.length > 8) break;
  }
  return names;
}

/** Whether node-redis rejected with a Redis error reply (`ErrorReply`: `SimpleError`, `BlobError`). */
export function isErrorReply(err: unknown): boolean {
  return err instanceof Error && classNames(err).includes('ErrorReply');
}

function flatten(args: readonly Arg[], out: string[]): void {
  for (const a of args) {
    if (typeof a === 'string') out.push(a);
    else if (typeof a === 'number') out.push(String(a));
    else for (const s of a) out.push(s);
  }
}

/** Counts a client's connects: a new count means a new socket. */
const connects = new WeakMap<object, { n: number }>();
function socketCounter(client: NodeRedisClient): { n: number } {
  let c = connects.get(client);
  if (!c) {
    const counter = { n: 0 };
    client.on('connect', () => counter.n++);
    connects.set(client, (c = counter));
  }
  return c;
}

function addressOf(client: NodeRedisClient): string {
  const s = client.options?.socket;
  return `${s?.host ?? 'localhost'}:${s?.port ?? 6379}`;
}

function connectionOf(client: NodeRedisClient, address = addressOf(client)): NodeConnection {
  const counter = socketCounter(client);
  return {
    address,
    call: (args) => client.sendCommand(args.map(String)),
    socket: () => counter.n,
  };
}

const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });

/** The adapter of a node-redis client or cluster (checked by the caller with {@link isNodeRedis}). */
export function nodeRedisAdapter(client: object): ClientAdapter {
  const cluster = isNodeRedisCluster(client);
  const single = client as NodeRedisClient;
  const nodes = client as NodeRedisCluster;
  const prefix = cluster ? nodes._options?.keyPrefix : single.options?.keyPrefix;
  const keyPrefix = typeof prefix === 'string' ? prefix : '';
  const send = (key: string | undefined, readOnly: boolean, args: readonly string[]): Promise<unknown> =>
    cluster ? nodes.sendCommand(key, readOnly, args) : single.sendCommand(args);
  return {
    adapter: true,
    kind: 'node-redis',
    client,
    cluster,
    keyPrefix,
    fcall(name, key, args, readOnly) {
      const full = keyPrefix + key;
      const out = [readOnly ? 'FCALL_RO' : 'FCALL', name, '1', full];
      flatten(args, out);
      return send(full, readOnly, out);
    },
    keyed: (command, key) => send(keyPrefix + key, true, [command, keyPrefix + key]),
    command: (args) => send(undefined, true, args.map(String)),
    async primaries() {
      if (!cluster) return [connectionOf(single)];
      return Promise.all(nodes.masters.map(async (m) => connectionOf(await nodes.nodeClient(m), m.address)));
    },
    async forKey(key) {
      if (!cluster) return connectionOf(single);
      const master = nodes.slots[keySlot(keyPrefix + key)]?.master;
      return master ? connectionOf(await nodes.nodeClient(master), master.address) : undefined;
    },
    slotOwner: (slot) => (cluster ? nodes.slots[slot]?.master.address : undefined),
    async refreshSlots() {
      const rediscover = nodes._slots?.rediscover;
      if (typeof rediscover !== 'function') return;
      await Promise.race([rediscover.call(nodes._slots).catch(() => undefined), delay(REFRESH_TIMEOUT_MS)]);
    },
    isReplyError: isErrorReply,
    isNotSent: (err) => classNames(err).some((n) => NOT_SENT.has(n)),
    watch(events: ConnectionEvents) {
      const on = (client as NodeRedisClient).on.bind(client);
      on('error', events.error);
      if (cluster) {
        on('node-error', events.error);
        on('node-ready', events.ready);
      } else on('ready', events.ready);
    },
    openSubscriber(mode, address, events) {
      if (mode === 'classic') return subscriber(single, 'classic', events);
      const master = nodes.masters.find((m) => m.address === address);
      if (!master?.client) {
        if (master) nodes.nodeClient(master).catch(() => undefined); // connect it for the next sync
        return undefined;
      }
      return subscriber(master.client, 'sharded', events);
    },
  };
}

/** Reconnect delays of a classic subscriber connection when the client has no strategy of its own. */
function backoff(retries: number): number {
  return Math.min(50 * 2 ** retries, 2_000);
}

/**
 * A subscriber connection: a `duplicate()` of `base` (host, auth, TLS, RESP
 * version carry over). node-redis resubscribes by itself after a reconnect
 * and emits `ready` once that is done; a classic connection keeps the base's
 * reconnect strategy (or, without one, reconnects with backoff, also after a
 * socket timeout, where node-redis's default would give up), a sharded one has none (the feed replaces it after
 * refreshing the slot map). node-redis has no public way to drop the socket
 * and reconnect, so `drop` on a classic connection replaces the duplicate.
 */
function subscriber(
  base: NodeRedisClient,
  mode: 'classic' | 'sharded',
  events: SubscriberEvents,
): SubscriberConnection {
  const name = `${base.options?.name ?? 'session-cas'}:events`;
  const own = base.options?.socket?.reconnectStrategy;
  // node-redis's default strategy gives up after a socket timeout; a feed connection keeps reconnecting.
  const reconnectStrategy = mode === 'sharded' ? false : (own ?? backoff);
  const socket = { ...base.options?.socket, reconnectStrategy };
  let closed = false;
  let current: { sub: NodeRedisClient; connected: Promise<unknown>; handshake: boolean } | undefined;
  const listener: Listener = (message, channel) => {
    if (!closed) events.message(channel, message);
  };
  const open = (): void => {
    const sub = base.duplicate({ name, socket, keyPrefix: undefined, readonly: false, disableOfflineQueue: false });
    const me = { sub, connected: Promise.resolve() as Promise<unknown>, handshake: false };
    const mine = (): boolean => !closed && current === me;
    sub.on('error', () => {
      me.handshake = false; // down until the next 'connect', as ioredis's 'reconnecting' status
      if (mine()) events.lost();
    });
    sub.on('connect', () => {
      me.handshake = true;
    });
    sub.on('ready', () => {
      me.handshake = false;
      if (mine()) events.ready();
    });
    sub.on('end', () => {
      me.handshake = false;
      if (mine()) events.lost();
    });
    // The node lost the slot of a shard channel (migration, failover): node-redis dropped the listener.
    sub.on('sharded-channel-moved', () => {
      if (mine()) events.lost();
    });
    me.connected = sub.connect();
    me.connected.catch(() => undefined);
    current = me;
  };
  open();
  return {
    state() {
      const c = current!;
      if (c.sub.isReady) return 'ready';
      return c.handshake && c.sub.isOpen ? 'handshake' : 'down';
    },
    async subscribe(channel) {
      const c = current!;
      await c.connected;
      await (mode === 'classic' ? c.sub.subscribe(channel, listener) : c.sub.sSubscribe(channel, listener));
    },
    ping: () => current!.sub.sendCommand(['PING']),
    drop() {
      const old = current!;
      if (mode === 'sharded') {
        old.sub.destroy();
        return;
      }
      // Replaced first, so the old one's 'end' is not reported.
      open();
      old.sub.destroy();
      events.lost();
    },
    close() {
      closed = true;
      current?.sub.destroy();
    },
  };
}
