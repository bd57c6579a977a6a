/**
 * The entries: a Map in recency order (oldest first) bounded by `maxEntries`,
 * with the one way out that tells `onEvict`.
 * @module
 */
import type { Session } from '../core/types.js';

/**
 * Why an entry left the cache.
 * - `capacity`: least recently used, pushed out by `maxEntries`.
 * - `stale`: the store has a newer generation (another writer, or a conflict
 *   returned to a write through this cache).
 * - `terminated`: the session was terminated (here or on another node).
 * - `expired`: the store no longer has the session (TTL expiry; also any
 *   vanished session on a store without `generationOf`).
 * - `cleared`: the application removed it: `invalidate`, `clear` or `close`.
 */
export type EvictionReason = 'capacity' | 'stale' | 'terminated' | 'expired' | 'cleared';

export interface Entry {
  session: Session;
  /** Clock time when the newest validation of this session was sent. */
  validatedAt: number;
  /** Feed epoch of that validation; a feed status change makes older ones void. */
  epoch: number;
}

export type OnEvict = (session: Session, reason: EvictionReason) => void | Promise<void>;

export class Lru {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly onEvict: OnEvict | undefined,
    private readonly report: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Marks `entry` most recently used. */
  bump(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
  }

  insert(id: string, entry: Entry): void {
    this.entries.set(id, entry);
    while (this.entries.size > this.maxEntries) {
      const [oldId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.evict(oldId, oldest, 'capacity');
    }
  }

  /** The one way out of the cache: removes `entry` if it is still the one held, and tells onEvict once. */
  evict(id: string, entry: Entry, reason: EvictionReason): void {
    if (this.entries.get(id) !== entry) return;
    this.entries.delete(id);
    if (!this.onEvict) return;
    try {
      const r = this.onEvict(entry.session, reason);
      if (r && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).then(undefined, (err) => this.report(err));
    } catch (err) {
      this.report(err);
    }
  }

  evictIfCurrent(id: string, session: Session, reason: EvictionReason): void {
    const entry = this.entries.get(id);
    if (entry && entry.session === session) this.evict(id, entry, reason);
  }

  /** The entry holding `session` must be validated again before it is served. */
  recheck(id: string, session: Session): void {
    const entry = this.entries.get(id);
    if (entry && entry.session === session) entry.validatedAt = -Infinity;
  }

  /** A session this node wrote or was handed: replaces an older entry in place. */
  adopt(id: string, session: Session, validatedAt: number, epoch: number): void {
    const current = this.entries.get(id);
    if (!current) {
      this.insert(id, { session, validatedAt, epoch });
      return;
    }
    if (current.session.generation > session.generation) return;
    if (current.session.generation < session.generation) current.session = session;
    if (validatedAt >= current.validatedAt) {
      current.validatedAt = validatedAt;
      current.epoch = epoch;
    }
    this.bump(id, current);
  }

  /** Evicts every entry held now. */
  clear(reason: EvictionReason): void {
    for (const [id, entry] of [...this.entries]) this.evict(id, entry, reason);
  }
}
