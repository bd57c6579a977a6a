/**
 * The change feed: the events the write scripts publish
 * (`<kind>:<generation>:<key>`), received on subscriber connections the store
 * owns, and the in-process fan-out both stores share.
 *
 * Transport: Redis pub/sub. It adds one PUBLISH (single node) or SPUBLISH
 * (Cluster, one shard channel per slot: see shard-channels.ts) to the write
 * script, in the same atomic step, keeps no memory, and delivers in well under
 * a millisecond on loopback. It is at-most-once: a subscriber that is
 * disconnected misses what was published meanwhile, for good. The feed turns
 * every such gap into an `interrupted` status, which is all a cache needs to
 * re-validate: a closed connection, a lost shard subscription (slot moved,
 * failover), and a connection that stopped answering without closing (a
 * missed heartbeat). A capped Stream would let a consumer resume after a gap,
 * but a script can only write keys of its own slot, so on a cluster it would
 * need one stream per slot, and every write would pay an XADD and the memory
 * to keep it. See README "Node-local cache and change feed".
 * @module
 */
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidArgumentError } from '../core/errors.js';
import { toFault } from './faults.js';
import { DEFAULT_PREFIX, parseEventKey } from './keys.js';
import type { Client } from './scripts.js';
import { Listeners, type Registration } from '../core/listeners.js';
import { ShardedSubscriber } from './shard-channels.js';
import { isReplyError } from './client-info.js';
import { GENERATION } from './decode.js';
import { isCluster } from './slots.js';
import type { ChangeEvent, ChangeKind, SubscribeOptions, Subscription } from '../core/types.js';
import { DEFAULTS } from '../core/defaults.js';

const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['created', 'updated', 'terminated']);

/**
 * Parses a message published by the write scripts:
 * `<kind>:<generation>:<key>[:p<principal>]`, where `<key>` is the session record's key as
 * Redis sees it, `<namespace>{<encodeId(id)>}:s`, and `namespace` is the
 * client's ioredis `keyPrefix` followed by the store's `prefix`.
 * @param namespace default `'scas:'` (the default prefix, no `keyPrefix`).
 * @returns the event, or null for a message of another namespace (another
 * store on the same channel), of the old `<kind>:<generation>:<id>` format, or
 * not published by this library.
 */
export function parseChangeMessage(message: string, namespace: string = DEFAULT_PREFIX): ChangeEvent | null {
  const first = message.indexOf(':');
  const second = first < 0 ? -1 : message.indexOf(':', first + 1);
  if (second < 0) return null;
  const kind = message.slice(0, first);
  const gen = message.slice(first + 1, second);
  if (!KINDS.has(kind) || !GENERATION.test(gen)) return null;
  const generation = Number(gen);
  if (!Number.isSafeInteger(generation)) return null;
  const parsed = parseEventKey(message, second + 1, namespace);
  if (parsed === null) return null;
  const event = { kind: kind as ChangeKind, id: parsed.id, generation };
  return parsed.principal === undefined ? event : { ...event, principal: parsed.principal };
}

// ---------------------------------------------------------------- options

/** Change-feed options of {@link RedisSessionStore} (see RedisSessionStoreOptions). */
export interface ChangeFeedOptions {
  /**
   * How often each subscriber connection is PINGed, in ms. A PING not
   * answered before the next one is due counts as a lost connection (a
   * half-open TCP connection sends no FIN and is otherwise noticed only by
   * keepalive, minutes later): the feed reports `interrupted`, drops the
   * connection and reconnects. So a silent connection is noticed within two
   * intervals. Default 1_000; 0 turns the heartbeat off; otherwise at least 10.
   */
  eventsHeartbeatMs?: number;
}

/** Default {@link ChangeFeedOptions.eventsHeartbeatMs}. */
export const DEFAULT_HEARTBEAT_MS = DEFAULTS.eventsHeartbeatMs;
const MAX_TIMER_MS = 2_147_483_647;

/** Checks the feed's options (the store calls it at construction, before any I/O). */
export function checkFeedOptions(options: ChangeFeedOptions): Required<ChangeFeedOptions> {
  return { eventsHeartbeatMs: checkHeartbeat(options.eventsHeartbeatMs) };
}

function checkHeartbeat(value: unknown): number {
  if (value === undefined) return DEFAULT_HEARTBEAT_MS;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    (value !== 0 && value < 10) ||
    value > MAX_TIMER_MS
  ) {
    throw new InvalidArgumentError(
      'options.eventsHeartbeatMs',
      `expected 0 (off) or an integer number of milliseconds in [10, ${MAX_TIMER_MS}], got ${String(value)}`,
    );
  }
  return value;
}

// ---------------------------------------------------------------- transports

/** What a transport tells the feed. */
export interface TransportHooks {
  /** A payload received on one of the feed's channels. */
  message(payload: string): void;
  /** Every channel (every slot's, on a cluster) is subscribed: events are delivered from now on. */
  up(): void;
  /** A subscription was lost: events published from about now until the next `up` are lost. */
  down(): void;
  /** Redis refused the subscription itself (e.g. an ACL without the channel): nothing will get better by waiting. */
  refused(error: unknown): void;
}

/** The subscriber connection(s) of one feed. */
export interface Transport {
  /** Connects and subscribes; reports through the hooks. */
  start(): void;
  /** Closes every connection; no hook is called afterwards. */
  close(): void;
}

/** A reply to PING on a subscriber connection: `PONG`, or `['pong', '']` in RESP2 subscriber mode. */
function isPong(reply: unknown): boolean {
  if (typeof reply === 'string' || Buffer.isBuffer(reply)) return String(reply).toLowerCase() === 'pong';
  return Array.isArray(reply) && String(reply[0]).toLowerCase() === 'pong';
}

/**
 * PINGs `conn` every `intervalMs` while it is ready; calls `onMiss` once when
 * a PING is still unanswered when the next is due, when it is answered with
 * something else than PONG (the reply stream is out of step), or when the
 * connection stays connected but not ready (its ready check unanswered) for two
 * intervals. Off when `intervalMs` is 0. The timer never keeps the process alive.
 */
export function watch(conn: Redis, intervalMs: number, onMiss: () => void): () => void {
  if (intervalMs === 0) return () => undefined;
  let outstanding = false;
  let stuck = 0;
  let stopped = false;
  const miss = (): void => {
    if (stopped) return;
    outstanding = false;
    stuck = 0;
    onMiss();
  };
  const timer = setInterval(() => {
    if (conn.status !== 'ready') {
      outstanding = false;
      if (conn.status === 'connect' && ++stuck >= 2) miss();
      return;
    }
    stuck = 0;
    if (outstanding) {
      miss();
      return;
    }
    outstanding = true;
    conn.ping().then(
      (reply: unknown) => {
        if (stopped) return;
        if (!isPong(reply)) miss();
        else outstanding = false;
      },
      () => {
        outstanding = false;
      },
    ); // closed: the close handler reports it
  }, intervalMs);
  timer.unref?.();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** Drops a connection at once, also one whose peer went away without a FIN; ioredis then reconnects as configured. */
export function dropConnection(conn: Redis): void {
  const stream = (conn as unknown as { stream?: { destroy(): void } }).stream;
  if (stream) stream.destroy();
  else conn.disconnect(true);
}

/**
 * Single node (and Sentinel): one connection, a `duplicate()` of the store's
 * client, SUBSCRIBEd to the channel. It waits for Redis instead of failing the
 * SUBSCRIBE (maxRetriesPerRequest null), and it does not resubscribe on its
 * own (autoResubscribe off): we do, to learn when it took effect.
 */
class ClassicSubscriber implements Transport {
  private sub: Redis | undefined;
  private subscribed = false;
  private subscribing: Promise<void> | undefined;
  private stopWatch: () => void = () => undefined;

  constructor(
    private readonly client: Redis,
    private readonly channel: string,
    private readonly hooks: TransportHooks,
    private readonly heartbeatMs: number,
  ) {}

  start(): void {
    const base = this.client.options as RedisOptions;
    const sub = this.client.duplicate({
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      connectionName: `${base.connectionName ?? 'session-cas'}:events`,
    });
    this.sub = sub;
    sub.on('error', () => undefined); // surfaces as 'close' and the interrupted status
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel && sub === this.sub) this.hooks.message(message);
    });
    sub.on('close', () => {
      if (sub === this.sub) this.lost();
    });
    sub.on('ready', () => {
      if (sub === this.sub && !this.subscribed && !this.subscribing) this.subscribe(sub);
    });
    this.stopWatch = watch(sub, this.heartbeatMs, () => {
      if (sub !== this.sub) return;
      this.lost();
      dropConnection(sub);
    });
    this.subscribe(sub); // queued until the connection is ready
  }

  close(): void {
    const sub = this.sub;
    this.sub = undefined;
    this.stopWatch();
    sub?.disconnect();
  }

  private lost(): void {
    this.subscribed = false;
    this.hooks.down();
  }

  private subscribe(sub: Redis): void {
    const p = sub.subscribe(this.channel).then(
      () => {
        if (this.subscribing !== p || sub !== this.sub) return;
        this.subscribing = undefined;
        // Also after a disconnect while it was in flight: ioredis re-sends it after reconnecting.
        this.subscribed = true;
        this.hooks.up();
      },
      (err: unknown) => {
        if (this.subscribing === p) this.subscribing = undefined;
        if (sub !== this.sub) return;
        if (isReplyError(err)) this.hooks.refused(err);
        // Otherwise the connection failed: 'close' followed, 'ready' subscribes again.
      },
    );
    this.subscribing = p;
  }
}

// ---------------------------------------------------------------- the feed

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The change feed of one {@link RedisSessionStore}: its subscriber
 * connections are opened at the first `subscribe` and closed when the last
 * subscription ends. A single-node or Sentinel client gets one connection
 * (a `duplicate()`, classic SUBSCRIBE on the events channel); a Cluster client
 * one connection per primary, SSUBSCRIBEd to the shard channel of every slot
 * that primary owns. Events whose key is not in this store's namespace
 * (client `keyPrefix` + store `prefix`) are ignored.
 */
export class RedisChangeFeed {
  private readonly listeners = new Listeners();
  private readonly heartbeatMs: number;
  private transport: Transport | undefined;
  private up = false;
  private waiters: Waiter[] = [];

  /**
   * No I/O.
   * @param namespace the client's `keyPrefix` followed by the store's prefix:
   * events of any other namespace on the channel are ignored.
   * @throws InvalidArgumentError for a bad `eventsHeartbeatMs`, or an
   * `eventsChannel` with `{` or `}` on a Cluster client (it would change the
   * slot of the shard channels).
   */
  constructor(
    private readonly client: Client,
    private readonly channel: string,
    readonly namespace: string,
    options: ChangeFeedOptions = {},
  ) {
    this.heartbeatMs = checkHeartbeat(options.eventsHeartbeatMs);
  }

  async subscribe(listener: (event: ChangeEvent) => void, opts: SubscribeOptions): Promise<Subscription> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const reg = this.listeners.add(listener, opts);
    if (!this.transport) this.startTransport();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([this.whenUp(), aborted]);
    } catch (err) {
      this.release(reg);
      throw signal?.aborted ? err : toFault(err, 'subscribe', this.channel, false);
    } finally {
      signal?.removeEventListener('abort', onAbort!);
    }
    this.listeners.status('subscribed', reg);
    return { unsubscribe: async () => this.release(reg) };
  }

  private whenUp(): Promise<void> {
    if (this.up) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private startTransport(): void {
    const namespace = this.namespace;
    // Assigned once below; the hooks close over it before, so it cannot be a const.
    // eslint-disable-next-line prefer-const
    let transport: Transport | undefined;
    const current = (): boolean => transport !== undefined && this.transport === transport;
    const hooks: TransportHooks = {
      message: (payload) => {
        if (!current()) return;
        const event = parseChangeMessage(payload, namespace);
        if (event) this.listeners.emit(event);
      },
      up: () => {
        if (!current()) return;
        this.up = true;
        const waiters = this.waiters;
        this.waiters = [];
        // Also reaches registrations told `interrupted`, and those still waiting in subscribe().
        this.listeners.status('subscribed');
        for (const w of waiters) w.resolve();
      },
      down: () => {
        if (!current()) return;
        this.up = false;
        this.listeners.status('interrupted');
      },
      refused: (error) => {
        if (!current()) return;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.reject(error);
      },
    };
    const heartbeatMs = this.heartbeatMs;
    transport = isCluster(this.client)
      ? new ShardedSubscriber(
          this.client,
          this.channel,
          hooks,
          (conn, onMiss) => watch(conn, heartbeatMs, onMiss),
          heartbeatMs,
        )
      : new ClassicSubscriber(this.client as Redis, this.channel, hooks, heartbeatMs);
    this.transport = transport;
    transport.start();
  }

  private release(reg: Registration): void {
    if (!this.listeners.remove(reg) || this.listeners.size > 0) return;
    const transport = this.transport;
    this.transport = undefined;
    this.up = false;
    const waiters = this.waiters;
    this.waiters = [];
    transport?.close();
    for (const w of waiters) w.reject(new Error('unsubscribed'));
  }
}
