/**
 * The state a `SessionCache`'s reads, writes and feed link share.
 * @module
 */
import { SessionStoreError } from '../core/errors.js';
import type { SessionStore } from '../core/types.js';
import type { FeedLink } from './feed-link.js';
import type { Lru } from './lru.js';
import type { ValidationMode } from './options.js';
import type { Slots } from './slots.js';

export interface Counters {
  hits: number;
  validations: number;
  loads: number;
  staleServed: number;
}

export interface CacheState {
  readonly store: SessionStore;
  readonly mode: ValidationMode;
  readonly maxStaleMs: number;
  readonly staleIfErrorMs: number;
  readonly now: () => number;
  readonly lru: Lru;
  readonly slots: Slots;
  readonly feed: FeedLink;
  readonly counters: Counters;
  /** Set by `close()`: results arriving later are not cached. */
  closed: boolean;
}

export function assertOpen(state: CacheState): void {
  if (state.closed) throw new SessionStoreError('CLOSED', 'SessionCache is closed');
}
