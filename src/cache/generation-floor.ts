/**
 * Generation floors: what the cache has learnt about an id while a call on it
 * was in flight (from events and its own writes), and whether a snapshot is
 * outdated by it. Generations only grow, so a floor is two maxima.
 * @module
 */
import type { ChangeEvent } from '../core/types.js';
import type { EvictionReason } from './lru.js';

/** What the cache has learnt about an id while a call was in flight. */
export interface Floor {
  /** Highest generation created or updated: older snapshots are stale. */
  updated: number;
  /** Highest generation terminated: snapshots at or below it are dead. */
  terminated: number;
}

export function newFloor(): Floor {
  return { updated: 0, terminated: 0 };
}

/** Raises `floor` to what `event` shows. */
export function raise(floor: Floor, event: ChangeEvent): void {
  if (event.kind === 'terminated') floor.terminated = Math.max(floor.terminated, event.generation);
  else floor.updated = Math.max(floor.updated, event.generation);
}

/** Raises `floor` to `by` (both maxima). */
export function lift(floor: Floor, by: Floor): void {
  floor.updated = Math.max(floor.updated, by.updated);
  floor.terminated = Math.max(floor.terminated, by.terminated);
}

/** Why a snapshot at `generation` is outdated by `floor`, or null if it is not. */
export function outdated(generation: number, floor: Floor): EvictionReason | null {
  if (generation <= floor.terminated) return 'terminated';
  if (generation < floor.updated) return 'stale';
  return null;
}
