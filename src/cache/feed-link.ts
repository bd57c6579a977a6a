/**
 * The cache's link to the store's change feed (`'events'` mode): the
 * subscription, the feed epoch, and what each event does to the entries.
 * @module
 */
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import type { ChangeEvent, ChangeFeed, FeedStatus, SessionStore, Subscription } from '../core/types.js';
import { newFloor, outdated, raise } from './generation-floor.js';
import type { Lru } from './lru.js';
import { mayBeOwn, type Slot, type Slots } from './slots.js';

export class FeedLink {
  /** Bumped on every feed status change: validations of an older epoch no longer count. */
  epoch = 0;
  /** Whether the feed is subscribed now. */
  up = false;
  private subscription: Subscription | undefined;
  private readonly abortFeed = new AbortController();

  constructor(
    private readonly lru: Lru,
    private readonly slots: Slots,
    private readonly isClosed: () => boolean,
  ) {}

  /**
   * Subscribes to `store`'s feed; `report` (set when the application gave `onError`) gets a failure.
   * @throws InvalidArgumentError for a store without `subscribe`.
   */
  subscribe(store: SessionStore, report: ((err: unknown) => void) | undefined): Promise<void> {
    const feed = store as Partial<ChangeFeed>;
    if (typeof feed.subscribe !== 'function') {
      throw new InvalidArgumentError('options.validate', "'events' needs a store with subscribe() (a change feed)");
    }
    const pending = feed.subscribe.call(store, (event) => this.onChange(event), {
      onStatus: (status) => this.onStatus(status),
      signal: this.abortFeed.signal,
    });
    const ready = pending.then((sub) => {
      this.subscription = sub;
      if (this.isClosed()) return sub.unsubscribe();
      return undefined;
    });
    ready.catch((err: unknown) => {
      if (report && !this.isClosed()) report(err);
    });
    return ready;
  }

  /** Ends the subscription once `ready` settles; one still waiting for Redis is abandoned, so this never waits. */
  close(ready: Promise<void>): Promise<void> {
    this.abortFeed.abort(new SessionStoreError('CLOSED', 'SessionCache closed before its change feed was subscribed'));
    return ready.catch(() => undefined).then(() => this.subscription?.unsubscribe());
  }

  private onStatus(status: FeedStatus): void {
    // Either way, entries validated before now may have missed events: they re-validate.
    this.epoch++;
    this.up = status === 'subscribed';
  }

  private onChange(event: ChangeEvent): void {
    if (this.isClosed()) return;
    const slot = this.slots.get(event.id);
    if (slot?.inflight) raise(slot.inflight.floor, event);
    if (slot && slot.writes > 0) {
      // The results of the writes in flight are checked against it when they return.
      slot.deferred ??= newFloor();
      raise(slot.deferred, event);
      if (mayBeOwn(slot, event)) {
        // Maybe our own write's event, ahead of its reply: evicting now would report our own change
        // as someone else's. Decided when the reply is in; the entry is re-checked if read meanwhile.
        this.slots.hold(slot, event);
        return;
      }
      slot.foreign ??= newFloor();
      raise(slot.foreign, event);
    }
    this.applyEvent(event);
  }

  /** Another writer's change: the entry goes if the event shows it outdated. */
  private applyEvent(event: ChangeEvent): void {
    const entry = this.lru.get(event.id);
    if (!entry) return;
    const floor = newFloor();
    raise(floor, event);
    const reason = outdated(entry.session.generation, floor);
    if (reason) this.lru.evict(event.id, entry, reason);
  }

  /** A write stopped expecting an event (mutate between attempts): held events it alone explained apply now. */
  releaseHeld(slot: Slot): void {
    this.slots.releaseHeld(slot, (e) => {
      if (!this.isClosed()) this.applyEvent(e);
    });
  }
}
