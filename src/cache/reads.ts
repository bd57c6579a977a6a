/**
 * The read path of `SessionCache`: hits, and the one shared store call
 * per id (singleflight) that validates or loads, installing only results not
 * older than what the cache has learnt meanwhile.
 * @module
 */
import { isInvalidArgument } from '../core/errors.js';
import type { GenerationReader, Session } from '../core/types.js';
import { outdated } from './generation-floor.js';
import type { Entry } from './lru.js';
import { newBatch, type Batch, type Slot } from './slots.js';
import type { CacheState } from './state.js';

type GenerationRead =
  | { kind: 'generation'; generation: number }
  | { kind: 'missing'; reason: 'not_found' | 'terminated' }
  | { kind: 'session'; session: Session | null };

/** Whether `entry` may be served from memory now (`'events'` mode, feed up, validated recently, nothing held). */
export function servable(state: CacheState, id: string, entry: Entry): boolean {
  return isFresh(state, entry) && !state.slots.isHeld(id);
}

function isFresh(state: CacheState, entry: Entry): boolean {
  return (
    state.mode === 'events' &&
    state.feed.up &&
    entry.epoch === state.feed.epoch &&
    state.now() - entry.validatedAt < state.maxStaleMs
  );
}

/**
 * Joins the batch not yet sent for `id`, or opens one. It is sent on a
 * microtask (so gets started in the same tick share it), or when the call in
 * flight returns.
 */
export function join(state: CacheState, id: string): Promise<Session | null> {
  const slot = state.slots.take(id);
  if (slot.open) return slot.open.promise;
  const batch = newBatch();
  slot.open = batch;
  if (!slot.inflight) queueMicrotask(() => send(state, id, slot, batch));
  return batch.promise;
}

function send(state: CacheState, id: string, slot: Slot, batch: Batch): void {
  slot.open = undefined;
  slot.inflight = batch;
  batch.issuedAt = state.now();
  batch.epoch = state.feed.epoch;
  resolveBatch(state, id, batch)
    .then(batch.resolve, batch.reject)
    .finally(() => {
      slot.inflight = undefined;
      if (slot.open) send(state, id, slot, slot.open);
      else state.slots.release(id, slot);
    });
}

async function resolveBatch(state: CacheState, id: string, batch: Batch): Promise<Session | null> {
  const entry = state.lru.get(id);
  if (!entry) return install(state, id, await load(state, id), batch);
  if (servable(state, id, entry)) {
    // 'events' mode: a validation that returned while this batch waited covers it.
    state.counters.hits++;
    return entry.session;
  }
  return validate(state, id, entry, batch);
}

function load(state: CacheState, id: string): Promise<Session | null> {
  state.counters.loads++;
  return state.store.get(id);
}

async function readGeneration(state: CacheState, id: string): Promise<GenerationRead> {
  state.counters.validations++;
  const reader = state.store as Partial<GenerationReader>;
  if (typeof reader.generationOf !== 'function') return { kind: 'session', session: await state.store.get(id) };
  const r = await reader.generationOf.call(state.store, id);
  return r.ok ? { kind: 'generation', generation: r.generation } : { kind: 'missing', reason: r.reason };
}

async function validate(state: CacheState, id: string, entry: Entry, batch: Batch): Promise<Session | null> {
  const { lru } = state;
  const session = entry.session;
  let read: GenerationRead;
  try {
    read = await readGeneration(state, id);
  } catch (err) {
    return staleOnError(state, id, entry, session, err);
  }
  // A write of this node in flight on the id decides the entry when it returns (so its own change
  // never evicts it); until then the entry is not served without another check.
  const ownWrite = (state.slots.get(id)?.writes ?? 0) > 0;
  if (read.kind === 'missing' || (read.kind === 'session' && read.session === null)) {
    const reason = read.kind === 'missing' && read.reason === 'terminated' ? 'terminated' : 'expired';
    if (ownWrite) lru.recheck(id, session);
    else lru.evictIfCurrent(id, session, reason);
    return null;
  }
  const generation = read.kind === 'generation' ? read.generation : read.session!.generation;
  if (generation === session.generation) {
    if (
      lru.get(id) === entry &&
      entry.session === session &&
      !batch.poisoned &&
      !state.closed &&
      outdated(generation, batch.floor) === null
    ) {
      entry.validatedAt = Math.max(entry.validatedAt, batch.issuedAt);
      entry.epoch = batch.epoch;
      lru.bump(id, entry);
    }
    return answer(state, id, session, batch);
  }
  if (ownWrite) {
    lru.recheck(id, session);
    const loaded = read.kind === 'session' ? read.session : await load(state, id);
    return loaded === null ? null : answer(state, id, loaded, batch);
  }
  lru.evictIfCurrent(id, session, 'stale');
  const loaded = read.kind === 'session' ? read.session : await load(state, id);
  return install(state, id, loaded, batch);
}

function staleOnError(state: CacheState, id: string, entry: Entry, session: Session, err: unknown): Session {
  if (
    state.staleIfErrorMs > 0 &&
    !isInvalidArgument(err) &&
    state.lru.get(id) === entry &&
    entry.session === session &&
    state.now() - entry.validatedAt <= state.staleIfErrorMs
  ) {
    state.counters.staleServed++;
    return session;
  }
  throw err;
}

/** Caches a loaded session unless the cache holds or has learnt of something newer. */
function install(state: CacheState, id: string, loaded: Session | null, batch: Batch): Session | null {
  if (loaded === null) return null;
  if (!state.closed && !batch.poisoned && outdated(loaded.generation, batch.floor) === null) {
    const current = state.lru.get(id);
    const entry: Entry = { session: loaded, validatedAt: batch.issuedAt, epoch: batch.epoch };
    if (!current) state.lru.insert(id, entry);
    else if (current.session.generation < loaded.generation) {
      state.lru.evict(id, current, 'stale');
      state.lru.insert(id, entry);
    }
  }
  return answer(state, id, loaded, batch);
}

/** What a batch returns: what it read, unless the cache meanwhile learnt it is dead or holds a newer one. */
function answer(state: CacheState, id: string, read: Session, batch: Batch): Session | null {
  if (read.generation <= batch.floor.terminated) return null;
  const current = state.lru.get(id)?.session;
  return current && current.generation > read.generation ? current : read;
}
