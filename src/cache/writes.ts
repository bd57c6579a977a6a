/**
 * The write path of `SessionCache`: writes pass through to the store,
 * and their results (checked against events seen meanwhile) keep the entry
 * coherent: a success caches the new session, a conflict the current one,
 * terminate, `not_found` and `terminated` drop it.
 * @module
 */
import { isInvalidArgument } from '../core/errors.js';
import type { CreateResult, MutateFn, Session, TerminateResult, TouchResult, WriteResult } from '../core/types.js';
import { checkId } from '../core/validate.js';
import { outdated, type Floor } from './generation-floor.js';
import type { Expectation, Slot } from './slots.js';
import { assertOpen, type CacheState } from './state.js';

export interface WriteContext {
  readonly issuedAt: number;
  readonly epoch: number;
  /** The entry's session when the write was sent. */
  readonly before: Session | undefined;
}

/** Sends `call` as a write on `id` that may publish `expect`, then hands its result to `onResult`. */
export async function write<R>(
  state: CacheState,
  id: string,
  expect: Expectation | undefined,
  call: () => Promise<R>,
  onResult: (result: R, ctx: WriteContext) => void,
): Promise<R> {
  checkId(id);
  assertOpen(state);
  const slot = state.slots.take(id);
  const ctx: WriteContext = { issuedAt: state.now(), epoch: state.feed.epoch, before: state.lru.get(id)?.session };
  slot.writes++;
  if (expect) slot.expects.add(expect);
  let result: R;
  try {
    result = await call();
  } catch (err) {
    slot.writes--;
    if (expect) slot.expects.delete(expect);
    if (!isInvalidArgument(err)) unsure(state, id);
    applyDeferred(state, id, slot);
    state.slots.release(id, slot);
    throw err;
  }
  slot.writes--;
  if (expect) slot.expects.delete(expect);
  try {
    if (!state.closed) onResult(result, ctx);
  } finally {
    applyDeferred(state, id, slot);
    state.slots.release(id, slot);
  }
  return result;
}

/**
 * `fn` wrapped to learn when mutate's compare-and-set is in flight (the store
 * writes `fn`'s result right after it returns, at the generation it was
 * given): events that arrive while `fn` runs are other writers' and apply at once.
 */
export function watchMutate(state: CacheState, id: string, fn: MutateFn): { expect: Expectation; wrapped: MutateFn } {
  const expect: Expectation = { kind: 'updated', match: 'above', generation: undefined, active: false };
  const wrapped: MutateFn = async (session) => {
    expectNothing(state, id, expect);
    const result = await fn(session);
    if (result !== undefined && !state.closed) {
      expect.generation = session.generation;
      expect.active = true;
    }
    return result;
  };
  return { expect, wrapped };
}

/** mutate's compare-and-set returned (its fn runs again): events it held that nothing else explains apply now. */
function expectNothing(state: CacheState, id: string, expect: Expectation): void {
  if (!expect.active) return;
  expect.active = false;
  const slot = state.slots.get(id);
  if (slot) state.feed.releaseHeld(slot);
}

/** A write failed without a known outcome: the entry must be checked before it is served again. */
function unsure(state: CacheState, id: string): void {
  state.slots.poison(id);
  const entry = state.lru.get(id);
  if (entry) entry.validatedAt = -Infinity;
}

/** A write returned: held events it alone explained apply; once none is in flight, everything seen does. */
function applyDeferred(state: CacheState, id: string, slot: Slot): void {
  if (slot.writes > 0) {
    state.feed.releaseHeld(slot);
    // Another writer's change seen meanwhile outdates this write's result now, not when the last write returns.
    const entry = state.lru.get(id);
    const reason = entry && slot.foreign ? outdated(entry.session.generation, slot.foreign) : null;
    if (entry && reason) state.lru.evict(id, entry, reason);
    return;
  }
  slot.foreign = undefined;
  state.slots.dropHeld(slot);
  if (!slot.deferred) return;
  const floor: Floor = slot.deferred;
  slot.deferred = undefined;
  const entry = state.lru.get(id);
  const reason = entry ? outdated(entry.session.generation, floor) : null;
  if (entry && reason) state.lru.evict(id, entry, reason);
}

function adoptOwn(state: CacheState, id: string, session: Session, ctx: WriteContext): void {
  state.slots.raiseInflight(id, { updated: session.generation, terminated: 0 });
  state.lru.adopt(id, session, ctx.issuedAt, ctx.epoch);
}

/** create's result. */
export function created(state: CacheState, id: string, r: CreateResult, ctx: WriteContext): void {
  if (r.ok) {
    // Any entry held is an earlier incarnation, now gone (create only succeeds on a free id).
    const old = state.lru.get(id);
    if (old && old.session.generation < r.session.generation) state.lru.evict(id, old, 'expired');
    adoptOwn(state, id, r.session, ctx);
  } else if (r.reason === 'terminated') {
    gone(state, id, 'terminated', ctx, undefined);
  }
}

/** touch's result: a success at the held generation counts as a validation, a newer one makes the entry stale. */
export function touched(state: CacheState, id: string, r: TouchResult, ctx: WriteContext): void {
  if (!r.ok) {
    settle(state, id, r, ctx);
    return;
  }
  state.slots.raiseInflight(id, { updated: r.generation, terminated: 0 });
  const entry = state.lru.get(id);
  if (!entry) return;
  if (entry.session.generation < r.generation) state.lru.evict(id, entry, 'stale');
  else if (entry.session.generation === r.generation && ctx.issuedAt >= entry.validatedAt) {
    entry.validatedAt = ctx.issuedAt;
    entry.epoch = ctx.epoch;
  }
}

/** terminate's result. */
export function terminated(state: CacheState, id: string, r: TerminateResult, ctx: WriteContext): void {
  if (r.ok) gone(state, id, 'terminated', ctx, r.generation);
  else settle(state, id, r, ctx);
}

/** The result of update, patch and mutate (and the failures of touch and terminate). */
export function settle(
  state: CacheState,
  id: string,
  r: WriteResult | TouchResult | TerminateResult,
  ctx: WriteContext,
): void {
  if (r.ok) {
    if ('session' in r) adoptOwn(state, id, r.session, ctx);
    return;
  }
  if (r.reason === 'conflict') {
    // Someone else's newer write: the entry is stale; cache the current session instead.
    state.slots.raiseInflight(id, { updated: r.session.generation, terminated: 0 });
    const entry = state.lru.get(id);
    if (entry && entry.session.generation >= r.session.generation) return;
    if (entry) state.lru.evict(id, entry, 'stale');
    state.lru.insert(id, { session: r.session, validatedAt: ctx.issuedAt, epoch: ctx.epoch });
    return;
  }
  gone(state, id, r.reason === 'terminated' ? 'terminated' : 'expired', ctx, undefined);
}

/**
 * The session is gone. With the generation it had (our own terminate), drop
 * entries at or below it; without one, drop the entry if it is the one the
 * write was sent against (else make it re-validate), and never cache a load
 * that was in flight.
 */
function gone(
  state: CacheState,
  id: string,
  reason: 'terminated' | 'expired',
  ctx: WriteContext,
  generation: number | undefined,
): void {
  const entry = state.lru.get(id);
  if (generation !== undefined) {
    state.slots.raiseInflight(id, { updated: 0, terminated: generation });
    if (entry && entry.session.generation <= generation) state.lru.evict(id, entry, reason);
    return;
  }
  state.slots.poison(id);
  if (entry && entry.session === ctx.before) state.lru.evict(id, entry, reason);
  else if (entry) entry.validatedAt = -Infinity;
}
