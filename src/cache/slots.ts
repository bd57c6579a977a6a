/**
 * Per-id coordination while calls on the id are in flight: the singleflight
 * batches of gets, the writes of this node, and the events they may explain.
 * @module
 */
import type { ChangeEvent, ChangeKind, Session } from '../core/types.js';
import { lift, newFloor, raise, type Floor } from './generation-floor.js';

export interface Batch {
  readonly promise: Promise<Session | null>;
  resolve(value: Session | null): void;
  reject(error: unknown): void;
  readonly floor: Floor;
  /** Set when something happened that the floor cannot express: never install this batch's result. */
  poisoned: boolean;
  issuedAt: number;
  epoch: number;
}

export function newBatch(): Batch {
  let resolve!: (v: Session | null) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Session | null>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject, floor: newFloor(), poisoned: false, issuedAt: 0, epoch: 0 };
}

/** Per-id coordination, kept only while calls on the id are in flight. */
export interface Slot {
  /** Gets waiting for a call not sent yet: later gets join it. */
  open: Batch | undefined;
  /** The call in flight: later gets never join it (it may predate them). */
  inflight: Batch | undefined;
  /** Writes through this cache in flight. */
  writes: number;
  /** What those writes can publish: an event that matches one may be this node's own. */
  readonly expects: Set<Expectation>;
  /** Every event that arrived during those writes, checked against their results when they finish. */
  deferred: Floor | undefined;
  /** The events among them that were another writer's (applied at once): checked against every result at once. */
  foreign: Floor | undefined;
  /** Events held back because one of those writes may have published them; the entry is not served meanwhile. */
  held: ChangeEvent[];
}

/**
 * The one event a write in flight may publish: its kind, and what is known of
 * its generation in advance. An update at `expectedGeneration` g publishes
 * `updated` with a generation above g (max(g + 1, server time in
 * microseconds)); a terminate at g publishes `terminated` g. Events that match
 * no expectation are other writers' and apply at once.
 */
export interface Expectation {
  readonly kind: ChangeKind;
  /** `above`: the event's generation is greater than `generation`; `exactly`: equal to it. Undefined: any. */
  generation: number | undefined;
  readonly match: 'above' | 'exactly';
  /** mutate: only while its compare-and-set is in flight, not while `fn` runs. */
  active: boolean;
}

/** What a write publishes: `kind`, at a generation `match` the given one (any when it is not a number). */
export function expecting(kind: ChangeKind, match: 'above' | 'exactly', generation: unknown): Expectation {
  return { kind, match, generation: typeof generation === 'number' ? generation : undefined, active: true };
}

/** Whether a write in flight on the event's id may have published it. */
export function mayBeOwn(slot: Slot, event: ChangeEvent): boolean {
  for (const e of slot.expects) {
    if (!e.active || e.kind !== event.kind) continue;
    if (e.generation === undefined) return true;
    if (e.match === 'above' ? event.generation > e.generation : event.generation === e.generation) return true;
  }
  return false;
}

/** The slots of all ids with calls in flight. */
export class Slots {
  private readonly slots = new Map<string, Slot>();
  /** Slots with held events (so a hit looks at its slot only when there are any). */
  private heldSlots = 0;

  get(id: string): Slot | undefined {
    return this.slots.get(id);
  }

  /** The slot of `id`, created if there is none. */
  take(id: string): Slot {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = {
        open: undefined,
        inflight: undefined,
        writes: 0,
        expects: new Set(),
        deferred: undefined,
        foreign: undefined,
        held: [],
      };
      this.slots.set(id, slot);
    }
    return slot;
  }

  /** Drops `slot` once nothing is in flight on it. */
  release(id: string, slot: Slot): void {
    if (!slot.open && !slot.inflight && slot.writes === 0 && this.slots.get(id) === slot) this.slots.delete(id);
  }

  /** The load in flight for `id`, if any, must not be cached. */
  poison(id: string): void {
    const slot = this.slots.get(id);
    if (slot?.inflight) slot.inflight.poisoned = true;
  }

  poisonAll(): void {
    for (const slot of this.slots.values()) if (slot.inflight) slot.inflight.poisoned = true;
  }

  /** The load in flight for `id`, if any, learns `floor`. */
  raiseInflight(id: string, floor: Floor): void {
    const b = this.slots.get(id)?.inflight;
    if (b) lift(b.floor, floor);
  }

  /** An event that may be another node's change is held for `id`: its entry must be checked before it is served. */
  isHeld(id: string): boolean {
    return this.heldSlots > 0 && (this.slots.get(id)?.held.length ?? 0) > 0;
  }

  hold(slot: Slot, event: ChangeEvent): void {
    if (slot.held.length === 0) this.heldSlots++;
    slot.held.push(event);
  }

  /** No write is in flight any more: nothing is held. */
  dropHeld(slot: Slot): void {
    if (slot.held.length === 0) return;
    slot.held = [];
    this.heldSlots--;
  }

  /** Held events that no write in flight explains any more are another writer's: each goes to `apply`. */
  releaseHeld(slot: Slot, apply: (event: ChangeEvent) => void): void {
    if (slot.held.length === 0) return;
    const still = slot.held.filter((e) => mayBeOwn(slot, e));
    const release = slot.held.filter((e) => !mayBeOwn(slot, e));
    slot.held = still;
    if (still.length === 0) this.heldSlots--;
    for (const e of release) {
      slot.foreign ??= newFloor();
      raise(slot.foreign, e);
      apply(e);
    }
  }
}
