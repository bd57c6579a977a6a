/**
 * The change feed: the events the write scripts PUBLISH (`<kind>:<gen>:<id>`)
 * received on a dedicated subscriber connection, and the in-process fan-out
 * both stores share.
 *
 * Transport: Redis pub/sub. It adds one PUBLISH to the write script (same
 * atomic step, no key, no memory kept) and delivers in well under a
 * millisecond on loopback. It is at-most-once: a subscriber that is
 * disconnected misses what was published meanwhile, for good. The feed turns
 * every such gap into an `interrupted` status, which is all a cache needs to
 * re-validate. A capped Stream would let a consumer resume after a gap, but a
 * script can only write keys of its own slot, so on a cluster it would need
 * one stream per slot (16384 streams to read), and every write would pay an
 * XADD and the memory to keep it. See README "Node-local cache and change feed".
 * @module
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { InvalidArgumentError } from './errors.js';
import { decodeId } from './keys.js';
import { toFault } from './faults.js';
import type { Client } from './scripts.js';
import type { ChangeEvent, ChangeKind, FeedStatus, SubscribeOptions, Subscription } from './types.js';

const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['created', 'updated', 'terminated']);

/**
 * Parses a message published by the write functions:
 * `<kind>:<generation>:<key>`, where `<key>` is the session record's key as
 * the server sees it (client `keyPrefix` + store prefix + `{<encoded id>}:s`).
 * @param namespace the client's `keyPrefix` followed by the store's prefix:
 * events of any other namespace sharing the channel are not this store's.
 * @returns the event, or null for a message of another namespace or one this
 * library did not publish (including the `<kind>:<generation>:<id>` payloads
 * of session-cas 0.1).
 */
export function parseChangeMessage(message: string, namespace: string): ChangeEvent | null {
  const first = message.indexOf(':');
  const second = first < 0 ? -1 : message.indexOf(':', first + 1);
  if (second < 0) return null;
  const kind = message.slice(0, first);
  const gen = message.slice(first + 1, second);
  if (!KINDS.has(kind) || !/^[1-9][0-9]{0,15}$/.test(gen)) return null;
  const generation = Number(gen);
  if (!Number.isSafeInteger(generation)) return null;
  const id = idOfKey(message.slice(second + 1), namespace);
  return id === null ? null : { kind: kind as ChangeKind, id, generation };
}

/** The session id of a record key of `namespace`, or null (see {@link sessionKey}). */
function idOfKey(key: string, namespace: string): string | null {
  if (!key.startsWith(namespace) || !key.endsWith('}:s') || key.charCodeAt(namespace.length) !== 0x7b /* { */) return null;
  const encoded = key.slice(namespace.length + 1, -3);
  if (encoded === '' || /[{}]/.test(encoded)) return null;
  return decodeId(encoded);
}

interface Registration {
  readonly listener: (event: ChangeEvent) => void;
  readonly onStatus: ((status: FeedStatus) => void) | undefined;
  status: FeedStatus | 'pending';
  active: boolean;
}

/** A listener's exception must not stop delivery to the others: rethrow it outside the feed. */
function callSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => { throw err; });
  }
}

/** Checks `subscribe`'s arguments (shared by both stores). */
export function checkSubscribeArgs(listener: unknown, opts: unknown): SubscribeOptions {
  if (typeof listener !== 'function') throw new InvalidArgumentError('listener', `expected a function, got ${typeof listener}`);
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('opts', 'expected an object');
  const { onStatus, signal } = opts as SubscribeOptions;
  if (onStatus !== undefined && typeof onStatus !== 'function') throw new InvalidArgumentError('opts.onStatus', 'expected a function');
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function')) {
    throw new InvalidArgumentError('opts.signal', 'expected an AbortSignal');
  }
  return { onStatus, signal };
}

/** The registrations of one store and their fan-out; transport-agnostic. */
export class Listeners {
  private readonly regs = new Set<Registration>();

  get size(): number {
    return this.regs.size;
  }

  add(listener: (event: ChangeEvent) => void, opts: SubscribeOptions): Registration {
    const reg: Registration = { listener, onStatus: opts.onStatus, status: 'pending', active: true };
    this.regs.add(reg);
    return reg;
  }

  remove(reg: Registration): boolean {
    reg.active = false;
    return this.regs.delete(reg);
  }

  emit(event: ChangeEvent): void {
    for (const reg of this.regs) if (reg.active) callSafely(() => reg.listener(event));
  }

  /** Moves registrations to `status`; `interrupted` only reaches those that were told `subscribed`. */
  status(status: FeedStatus, only?: Registration): void {
    for (const reg of only ? [only] : this.regs) {
      if (!reg.active || reg.status === status) continue;
      if (status === 'interrupted' && reg.status !== 'subscribed') continue;
      reg.status = status;
      if (reg.onStatus) callSafely(() => reg.onStatus!(status));
    }
  }
}

function isCluster(client: Client): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * One subscriber connection per store, opened at the first `subscribe` and
 * closed when the last subscription ends. It is a `duplicate()` of the
 * store's client, so it inherits host, auth and TLS; the store owns it.
 */
export class RedisChangeFeed {
  private readonly listeners = new Listeners();
  private sub: Client | undefined;
  private subscribed = false;
  private subscribing: Promise<void> | undefined;

  /** @param namespace the client's `keyPrefix` + the store's prefix: events of other namespaces are ignored. */
  constructor(private readonly client: Client, private readonly channel: string, private readonly namespace: string) {}

  async subscribe(listener: (event: ChangeEvent) => void, opts: SubscribeOptions): Promise<Subscription> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const reg = this.listeners.add(listener, opts);
    const sub = this.connection();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([this.ensureSubscribed(sub), aborted]);
    } catch (err) {
      this.release(reg);
      throw signal?.aborted ? err : toFault(err, 'subscribe', this.channel, false);
    } finally {
      signal?.removeEventListener('abort', onAbort!);
    }
    this.listeners.status('subscribed', reg);
    return { unsubscribe: async () => this.release(reg) };
  }

  private release(reg: Registration): void {
    if (!this.listeners.remove(reg) || this.listeners.size > 0) return;
    const sub = this.sub;
    this.sub = undefined;
    this.subscribed = false;
    this.subscribing = undefined;
    sub?.disconnect();
  }

  private connection(): Client {
    if (this.sub) return this.sub;
    const sub = duplicateForEvents(this.client);
    sub.on('error', () => undefined); // surfaces as 'close' and the interrupted status
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || sub !== this.sub) return;
      const event = parseChangeMessage(message, this.namespace);
      if (event) this.listeners.emit(event);
    });
    sub.on('close', () => {
      if (sub !== this.sub) return;
      this.subscribed = false;
      this.listeners.status('interrupted');
    });
    sub.on('ready', () => {
      // Re-subscribe ourselves (autoResubscribe is off) so we know when it took effect.
      if (sub !== this.sub || this.subscribed || this.subscribing) return;
      this.ensureSubscribed(sub).catch(() => undefined); // failed again: 'close' follows, then 'ready'
    });
    this.sub = sub;
    return sub;
  }

  private ensureSubscribed(sub: Client): Promise<void> {
    if (this.subscribed) return Promise.resolve();
    if (this.subscribing) return this.subscribing;
    const p = (sub as Redis).subscribe(this.channel).then(
      () => {
        if (this.subscribing !== p || sub !== this.sub) return;
        this.subscribing = undefined;
        this.subscribed = true;
        // Also reaches registrations told `interrupted` when a SUBSCRIBE that
        // was in flight at a disconnect is re-sent and confirmed after it.
        this.listeners.status('subscribed');
      },
      (err: unknown) => {
        if (this.subscribing === p) this.subscribing = undefined;
        throw err;
      },
    );
    this.subscribing = p;
    return p;
  }
}

/**
 * The subscriber connection: same server and credentials, but it waits for
 * Redis instead of failing the SUBSCRIBE (maxRetriesPerRequest null), and it
 * does not resubscribe on its own (we do, to learn when it took effect).
 */
function duplicateForEvents(client: Client): Client {
  if (isCluster(client)) {
    // Untested here: ioredis Cluster routes SUBSCRIBE to one node, and PUBLISH
    // from a script is broadcast to every node of the cluster.
    return client.duplicate();
  }
  const base = (client as Redis).options as RedisOptions;
  const override: Partial<RedisOptions> = {
    autoResubscribe: false,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectionName: `${base.connectionName ?? 'session-cas'}:events`,
  };
  return (client as Redis).duplicate(override);
}
