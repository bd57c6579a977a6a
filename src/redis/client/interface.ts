/**
 * The small client interface the Redis layer is written against, so the
 * store, the feed, the library loader and the express listing run on ioredis
 * (5, 6) and node-redis (v5+) alike. One implementation per client
 * (ioredis.ts, node-redis.ts); detect.ts picks one by duck typing, without
 * importing the package the caller did not give us.
 *
 * This file holds only types.
 * @module
 */

/** One argument of a function call. Nested arrays are flattened by the adapter (no spread, no stack limit). */
export type Arg = string | number | readonly string[];

/** The public type of an ioredis client (`Redis` or `Cluster`, 5 or 6), structurally: no import of ioredis. */
export interface IoredisClientLike {
  defineCommand(...args: never[]): unknown;
}

/** The public type of a node-redis v5+ client (`createClient` or `createCluster`), structurally. */
export interface NodeRedisClientLike {
  sendCommand(...args: never[]): unknown;
  duplicate(...args: never[]): unknown;
}

/**
 * A client session-cas accepts: an ioredis `Redis` or `Cluster` (5 or 6), or a
 * node-redis v5+ client from `createClient` or `createCluster`. You own it:
 * session-cas never connects or closes it (a node-redis client must be
 * connected before its first command, as always with node-redis).
 */
export type SupportedClient = IoredisClientLike | NodeRedisClientLike;

/** One connection to one Redis node: a standalone server, or one primary of a Cluster. */
export interface NodeConnection {
  /** `host:port`, as a Cluster's slot map names the node. */
  readonly address: string;
  /** Sends one command on this node's connection (no key prefix applied). */
  call(args: ReadonlyArray<string | number>): Promise<unknown>;
  /**
   * A value that changes when the connection's socket is replaced (a
   * reconnect): WAIT counts only the writes made on its own socket.
   */
  socket(): unknown;
}

/** What a subscriber connection reports. */
export interface SubscriberEvents {
  /** A message on a channel (classic) or shard channel (sharded). */
  message(channel: string, payload: string): void;
  /**
   * The connection closed, or the server dropped a shard subscription (the
   * node lost the slot). A classic connection reconnects by itself and calls
   * `ready` again; a sharded one is given up.
   */
  lost(): void;
  /** Connected and ready for commands (again, after a reconnect of a classic connection). */
  ready(): void;
}

/** A subscriber connection the feed owns. */
export interface SubscriberConnection {
  /**
   * `'ready'` for commands, `'handshake'` when the socket is connected but the
   * client's own ready check has not answered yet, `'down'` otherwise.
   */
  state(): 'ready' | 'handshake' | 'down';
  /** SUBSCRIBE (classic) or SSUBSCRIBE (sharded) one channel; resolves when the server confirmed it. */
  subscribe(channel: string): Promise<void>;
  /** PING on the subscriber connection (allowed in subscriber mode by both clients). */
  ping(): Promise<unknown>;
  /** Drops the socket at once, also one whose peer went away without a FIN. */
  drop(): void;
  /** Closes for good; no event afterwards. */
  close(): void;
}

/** The connection events the fault mapping watches. */
export interface ConnectionEvents {
  error(err: unknown): void;
  ready(): void;
}

/** One client, seen through what session-cas needs of it. */
export interface ClientAdapter {
  /** Marks an adapter, so `adapt(adapter)` returns it unchanged. */
  readonly adapter: true;
  readonly kind: 'ioredis' | 'node-redis';
  /** The client the caller gave. */
  readonly client: object;
  /** Whether the client is a Cluster client. */
  readonly cluster: boolean;
  /** The client's own key prefix (ioredis `keyPrefix`, node-redis 6 `keyPrefix`): Redis sees it before every key. */
  readonly keyPrefix: string;
  /**
   * FCALL (or FCALL_RO) of function `name` with one key (given without the
   * client's key prefix; the call adds it), routed by that key on a Cluster.
   * Rejects with what the client rejects with. Throws synchronously only
   * before the request was handed to the client.
   */
  fcall(name: string, key: string, args: readonly Arg[], readOnly: boolean): Promise<unknown>;
  /**
   * A one-key command, `command key ...rest`, with the key given without the
   * client's key prefix (added as Redis sees it), routed by the key on a
   * Cluster: PTTL for the express store's cookie expiry.
   */
  keyed(command: 'PTTL', key: string): Promise<unknown>;
  /** A keyless command through the client's own routing (INFO, CONFIG GET: any node of a Cluster). */
  command(args: ReadonlyArray<string | number>): Promise<unknown>;
  /** The connection to each primary (the one node of a standalone client). */
  primaries(): Promise<NodeConnection[]>;
  /**
   * The connection a write to `key` (without the key prefix) was served on:
   * a standalone client's own, or the primary of the key's slot by the
   * Cluster client's slot map. `undefined` when the slot map names none.
   */
  forKey(key: string): Promise<NodeConnection | undefined>;
  /** Cluster only: the address of the primary the client's slot map names for `slot`. */
  slotOwner(slot: number): string | undefined;
  /** Cluster only: reloads the slot map (settles when done or after a bound). */
  refreshSlots(): Promise<void>;
  /** Whether `err` is an error reply from Redis (the server answered and refused). */
  isReplyError(err: unknown): boolean;
  /** Whether the client rejected `err` without sending the command (offline queue off, queue timeout...). */
  isNotSent(err: unknown): boolean;
  /** Registers connection listeners (once per client is the caller's business). */
  watch(events: ConnectionEvents): void;
  /**
   * Opens a subscriber connection the caller owns: a classic one (SUBSCRIBE)
   * like the client's own connection, or a sharded one (SSUBSCRIBE, no
   * reconnect) to the Cluster primary at `address`. `undefined` when the
   * client knows no such node.
   */
  openSubscriber(
    mode: 'classic' | 'sharded',
    address: string | undefined,
    events: SubscriberEvents,
  ): SubscriberConnection | undefined;
}
