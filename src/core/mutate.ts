/**
 * The read -> fn -> compare-and-set loop behind `mutate`, shared by both stores.
 * @module
 */
import type { Metadata, MutateFn, MutateOptions, MutateResult, Session, WriteOptions, WriteResult } from './types.js';
import { DEFAULTS } from './defaults.js';
import { MUTATE_OPTION_KEYS, checkOptions, checkPositiveInt, checkTtl, checkWaitOption } from './validate.js';
import { InvalidArgumentError } from './errors.js';

/** What `mutate` needs of a store. */
export interface MutateBackend {
  /** The live session, or why there is none. Never refreshes the TTL. */
  load(id: string): Promise<Session | 'not_found' | 'terminated'>;
  update(id: string, expectedGeneration: number, metadata: Metadata, opts?: WriteOptions): Promise<WriteResult>;
}

/** `mutate`'s checked options. */
export interface MutateLimits {
  readonly maxAttempts: number;
  /** Options of each update: only what the caller gave (the store's defaults apply otherwise). */
  readonly write: WriteOptions | undefined;
}

/** Checks `mutate`'s arguments (the id is checked by the caller). */
export function checkMutateArgs(fn: unknown, opts: unknown): MutateLimits {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', `expected a function, got ${typeof fn}`);
  const o = checkOptions<MutateOptions>(opts, 'opts', MUTATE_OPTION_KEYS);
  const write: WriteOptions = {};
  if (o.ttlMs !== undefined) write.ttlMs = checkTtl(o.ttlMs, 'opts.ttlMs');
  const wait = checkWaitOption(o);
  if (wait !== undefined) write.wait = wait;
  return {
    maxAttempts:
      o.maxAttempts === undefined ? DEFAULTS.maxAttempts : checkPositiveInt(o.maxAttempts, 'opts.maxAttempts'),
    write: Object.keys(write).length > 0 ? write : undefined,
  };
}

/** Full jitter: a random wait below min(64, 2^attempt) ms. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runMutate(
  backend: MutateBackend,
  id: string,
  fn: MutateFn,
  limits: MutateLimits,
): Promise<MutateResult> {
  const loaded = await backend.load(id);
  // An attempt that ends at the read still counts: attempts is always >= 1.
  if (typeof loaded === 'string') return { ok: false, reason: loaded, attempts: 1 };
  let current: Session = loaded;
  for (let attempt = 1; ; attempt++) {
    const next = await fn(current);
    if (next === undefined) return { ok: true, session: current, attempts: attempt };
    const result = await backend.update(id, current.generation, next, limits.write);
    if (result.ok || result.reason !== 'conflict' || attempt >= limits.maxAttempts) {
      return { ...result, attempts: attempt };
    }
    current = result.session;
    await backoff(attempt);
  }
}
