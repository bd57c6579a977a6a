/**
 * The change feed on Redis Cluster: one sharded pub/sub channel per hash slot.
 *
 * Classic PUBLISH on a cluster is broadcast to every node over the cluster
 * bus, so every write pays traffic proportional to the number of nodes. On a
 * Cluster client the write scripts instead SPUBLISH (Redis 7.0+) to the shard
 * channel of the session key's slot, which stays on the shard that owns the
 * slot (its primary and replicas). A script may only SPUBLISH to a channel of
 * its own slot: Redis 7.0 refuses another slot of the same node with "ERR
 * Script attempted to access keys that do not hash to the same slot" (FCALL,
 * and EVAL with a `#!lua` line) and a slot of another node with "ERR Script
 * attempted to access a non local key in a cluster node".
 *
 * Channel names: `<eventsChannel>{<tag>}`, where `<tag>` is the decimal string
 * of the smallest non-negative integer whose slot is the channel's slot, so
 * the hash tag alone decides the slot (the store refuses an `eventsChannel`
 * with `{` or `}` on Cluster clients).
 *
 * The subscriber ({@link ShardedSubscriber}) keeps one connection per primary,
 * SSUBSCRIBEd to the channels of the slots that primary owns (SSUBSCRIBE with
 * several channels needs them all in one slot: one channel per call,
 * pipelined), and follows slot moves and failovers.
 * @module
 */
import type { TransportHooks } from './change-feed.js';
import type { ClientAdapter, SubscriberConnection } from './client/interface.js';
import { CRC16_TABLE, SLOT_COUNT } from './slots.js';

// ---------------------------------------------------------------- channel names

let tags: Uint32Array | undefined;

/** CRC16-XMODEM of the decimal digits of `n` (what keySlot(String(n)) hashes), without allocating. */
function digitsSlot(n: number, table: Uint16Array): number {
  let div = 1;
  while (div * 10 <= n) div *= 10;
  let crc = 0;
  for (; div >= 1; div /= 10) {
    const byte = 0x30 + (Math.floor(n / div) % 10);
    crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  }
  return crc % SLOT_COUNT;
}

/**
 * The tag of every slot, computed once on first use: CRCs of the digit
 * strings 0 to 109,757 (the largest tag), 9 to 13 ms on the development
 * machine; 64 KiB.
 */
function tagTable(): Uint32Array {
  if (tags) return tags;
  const table = crcTableOnce();
  const out = new Uint32Array(SLOT_COUNT).fill(0xffffffff);
  let missing = SLOT_COUNT;
  for (let n = 0; missing > 0; n++) {
    const slot = digitsSlot(n, table);
    if (out[slot] === 0xffffffff) {
      out[slot] = n;
      missing--;
    }
  }
  tags = out;
  return out;
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT)
    throw new RangeError(`slot must be an integer in [0, ${SLOT_COUNT}), got ${slot}`);
}

/** The hash tag of `slot`: the decimal string of the smallest n >= 0 with keySlot(String(n)) === slot. */
export function shardTag(slot: number): string {
  checkSlot(slot);
  return String(tagTable()[slot]);
}

/**
 * The sharded pub/sub channel that carries the change events of keys in
 * `slot`: `<eventsChannel>{<tag>}`. Its slot is `slot` whenever
 * `eventsChannel` has no `{`.
 * @throws RangeError for a slot outside [0, 16384).
 */
export function shardChannel(eventsChannel: string, slot: number): string {
  return `${eventsChannel}{${shardTag(slot)}}`;
}

/** The slot whose shard channel `channel` is, or -1 if it is not one of `eventsChannel`'s. */
export function slotOfShardChannel(eventsChannel: string, channel: string): number {
  const open = eventsChannel.length;
  if (
    channel.length < open + 3 ||
    !channel.startsWith(eventsChannel) ||
    channel[open] !== '{' ||
    !channel.endsWith('}')
  )
    return -1;
  const tag = channel.slice(open + 1, -1);
  if (!/^(0|[1-9][0-9]{0,5})$/.test(tag)) return -1;
  const n = Number(tag);
  const slot = digitsSlot(n, crcTableOnce());
  return tagTable()[slot] === n ? slot : -1;
}

function crcTableOnce(): Uint16Array {
  return CRC16_TABLE;
}

// ---------------------------------------------------------------- the subscriber

/** One subscriber connection, to one primary. */
interface ShardConn {
  readonly key: string;
  readonly conn: SubscriberConnection;
  /** Slots whose channel this connection has confirmed SSUBSCRIBEd. */
  readonly slots: Set<number>;
  dead: boolean;
  /** Resolves when the connection is given up (so nothing waits on a reply that will never come). */
  readonly lost: Promise<void>;
  markLost(): void;
  stopWatch(): void;
}

/** An SSUBSCRIBE that got no reply: ioredis 5 never settles one answered with MOVED (it emits 'moved'). */
const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Slot map checks against the client's (which the client refreshes on MOVED, ioredis also on a timer). */
const MAP_CHECK_MS = 1_000;
/** After a loss, each tick re-reads the slot map this long: a re-sync mid-failover can see the demoted
 * primary as owner, and node-redis (no refresh on READONLY) would keep that map and a dead subscription. */
const CONFIRM_MS = 10_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;
/** Redis error replies that say "not here, not now", not "never". */
const TRANSIENT_REPLY = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN)\b/;

class NotCovered extends Error {}

const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });

/**
 * The Cluster transport of the change feed: one connection per primary
 * (the adapter's `openSubscriber('sharded')`: a `duplicate()` of the Cluster
 * client's own connection to it, so host, auth, TLS and address maps carry
 * over; no key prefix), SSUBSCRIBEd to the shard channel of each slot the
 * primary owns, by the client's slot map.
 *
 * It is `up` while every one of the 16384 slots is confirmed subscribed on the
 * connection to the primary the slot map names. Any loss goes `down` at once
 * and starts a re-sync (slot map refreshed first): a connection that closes,
 * misses a heartbeat, or receives a `sunsubscribe` push (Redis sends one for
 * each channel of a slot the node loses: migration, or failover of a primary
 * that becomes a replica; ioredis 6 reports it as a 'moved' event, ioredis 5
 * as a "Command queue state error", node-redis as 'sharded-channel-moved'),
 * an SSUBSCRIBE that fails or gets no
 * reply, and a slot map that no longer matches what is subscribed. The
 * connection concerned is given up whole (its replies may be out of step) and
 * the re-sync opens a new one.
 *
 * ioredis 5.11 / 6.0 have their own sharded subscribers (`shardedSubscribers:
 * true`), not used here: it is an option of the application's client, it
 * reports neither a lost subscription nor a failed resubscription (errors go
 * to a debug log), and it cannot tell when every slot is covered. The same
 * holds for node-redis's `cluster.sSubscribe`, which resubscribes a moved
 * channel silently.
 */
export class ShardedSubscriber {
  private readonly conns = new Map<string, ShardConn>();
  /** slot -> the connection it is confirmed on. */
  private readonly bySlot: Array<ShardConn | undefined> = new Array<ShardConn | undefined>(SLOT_COUNT).fill(undefined);
  private covered = 0;
  private up = false;
  private closed = false;
  private everUp = false;
  private syncing = false;
  private again = false;
  private refreshWanted = false;
  private failures = 0;
  private mapTimer: ReturnType<typeof setInterval> | undefined;
  private readonly mapCheckMs: number;
  /** Until when each tick reads the slot map from the servers (see CONFIRM_MS). */
  private confirmUntil = 0;
  private confirming = false;

  constructor(
    private readonly client: ClientAdapter,
    private readonly channel: string,
    private readonly hooks: TransportHooks,
    private readonly watchConn: (conn: SubscriberConnection, onMiss: () => void) => () => void,
    heartbeatMs: number,
  ) {
    this.mapCheckMs = heartbeatMs === 0 ? MAP_CHECK_MS : Math.min(MAP_CHECK_MS, heartbeatMs);
  }

  start(): void {
    this.mapTimer = setInterval(() => this.checkMap(), this.mapCheckMs);
    this.mapTimer.unref?.();
    this.resync(false);
  }

  close(): void {
    this.closed = true;
    if (this.mapTimer) clearInterval(this.mapTimer);
    for (const c of [...this.conns.values()]) this.discard(c);
  }

  /** Slots confirmed now (for tests and diagnostics). */
  get coveredSlots(): number {
    return this.covered;
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.hooks.down();
  }

  /** Gives up a connection: its slots are no longer covered. */
  private lose(c: ShardConn): void {
    if (c.dead || this.closed) return;
    this.confirmUntil = Date.now() + CONFIRM_MS;
    this.discard(c);
    this.markDown();
    this.resync(true);
  }

  private discard(c: ShardConn): void {
    if (c.dead) return;
    c.dead = true;
    c.stopWatch();
    c.markLost();
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    for (const s of c.slots) {
      if (this.bySlot[s] === c) {
        this.bySlot[s] = undefined;
        this.covered--;
      }
    }
    c.slots.clear();
    c.conn.close();
  }

  /** Every tick: a slot map that moved under us (the client refreshed it) is a lost subscription. */
  private checkMap(): void {
    if (this.closed || this.syncing) return;
    if (Date.now() < this.confirmUntil && !this.confirming) {
      this.confirming = true;
      void this.client.refreshSlots().finally(() => {
        this.confirming = false;
        this.compareMap();
      });
      return;
    }
    this.compareMap();
  }

  private compareMap(): void {
    if (this.closed || this.syncing) return;
    for (let s = 0; s < SLOT_COUNT; s++) {
      const c = this.bySlot[s];
      if (!c || c.key !== this.client.slotOwner(s)) {
        this.markDown();
        this.resync(false);
        return;
      }
    }
  }

  /** Runs sync until every slot is covered; one at a time, retried with backoff. */
  private resync(refresh: boolean): void {
    this.refreshWanted ||= refresh;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    void (async () => {
      while (!this.closed) {
        this.again = false;
        const refreshNow = this.refreshWanted;
        this.refreshWanted = false;
        try {
          await this.sync(refreshNow);
          this.failures = 0;
          if (!this.again) break;
        } catch (err) {
          if (this.closed) break;
          if (this.client.isReplyError(err) && !TRANSIENT_REPLY.test((err as Error).message) && !this.everUp)
            this.hooks.refused(err);
          this.refreshWanted = true;
          this.failures++;
          await delay(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures, 6)));
        }
      }
      this.syncing = false;
    })();
  }

  /** One pass: take the slot map, drop what no longer matches it, subscribe what is missing. */
  private async sync(refresh: boolean): Promise<void> {
    const client = this.client;
    if (refresh || client.slotOwner(0) === undefined || client.slotOwner(SLOT_COUNT - 1) === undefined)
      await client.refreshSlots();
    if (this.closed) return;
    const want = new Map<string, number[]>();
    for (let s = 0; s < SLOT_COUNT; s++) {
      const owner = client.slotOwner(s);
      if (owner === undefined) throw new NotCovered(`slot ${s} has no primary in the client's slot map`);
      const c = this.bySlot[s];
      if (c && c.key !== owner) {
        // The slot moved: its events now go to another primary.
        this.confirmUntil = Date.now() + CONFIRM_MS;
        c.slots.delete(s);
        this.bySlot[s] = undefined;
        this.covered--;
        this.markDown();
      }
      if (!this.bySlot[s]) {
        let list = want.get(owner);
        if (!list) want.set(owner, (list = []));
        list.push(s);
      }
    }
    for (const c of [...this.conns.values()]) if (c.slots.size === 0 && !want.has(c.key)) this.discard(c);
    const results = await Promise.allSettled([...want].map(([key, slots]) => this.subscribeOn(key, slots)));
    if (this.closed) return;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (this.covered < SLOT_COUNT) throw new NotCovered(`${SLOT_COUNT - this.covered} slots not subscribed`);
    if (!this.up) {
      this.up = true;
      this.everUp = true;
      this.hooks.up();
    }
  }

  private async subscribeOn(key: string, slots: number[]): Promise<void> {
    const c = this.conns.get(key) ?? this.open(key);
    if (!c) throw new NotCovered(`no connection to primary ${key}`);
    const conn = c;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SUBSCRIBE_TIMEOUT_MS);
      timer.unref?.();
    });
    try {
      // One channel per SSUBSCRIBE (several must share a slot), all pipelined.
      const outcome = await Promise.race([
        Promise.all(
          slots.map((s) =>
            conn.conn.subscribe(shardChannel(this.channel, s)).then(() => {
              if (conn.dead || this.bySlot[s] || this.client.slotOwner(s) !== key) return;
              conn.slots.add(s);
              this.bySlot[s] = conn;
              this.covered++;
            }),
          ),
        ),
        conn.lost.then(() => 'lost' as const),
        timeout,
      ]);
      if (outcome === 'timeout')
        throw new NotCovered(`SSUBSCRIBE on ${key} got no reply in ${SUBSCRIBE_TIMEOUT_MS} ms`);
      if (outcome === 'lost') throw new NotCovered(`connection to ${key} lost while subscribing`);
    } catch (err) {
      this.lose(conn);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private open(key: string): ShardConn | undefined {
    let markLost!: () => void;
    const lost = new Promise<void>((resolve) => {
      markLost = resolve;
    });
    // eslint-disable-next-line prefer-const -- the events close over it before it is assigned
    let c: ShardConn | undefined;
    const conn = this.client.openSubscriber('sharded', key, {
      message: (channel, message) => {
        if (c && !c.dead && slotOfShardChannel(this.channel, channel) >= 0) this.hooks.message(message);
      },
      lost: () => {
        if (c) this.lose(c);
      },
      ready: () => undefined,
    });
    if (!conn) return undefined;
    c = { key, conn, slots: new Set(), dead: false, lost, markLost, stopWatch: () => undefined };
    const shard = c;
    c.stopWatch = this.watchConn(conn, () => this.lose(shard));
    this.conns.set(key, c);
    return c;
  }
}
