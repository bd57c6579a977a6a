/**
 * Sessions of a principal, the parts both stores share: the checks of the new
 * arguments and options (run before any I/O), the order of a principal's
 * sessions, and the decision a capped `create` takes.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type { CreateOptions, PrincipalLimitMode, Session, SessionStoreOptions, TerminateAllOptions } from './types.js';
import { DEFAULTS } from './defaults.js';
import { type AllowedKeys, checkId, checkOptions, checkPositiveInt } from './validate.js';

/** Allowed keys of `create`'s options. */
export const CREATE_OPTION_KEYS: AllowedKeys<CreateOptions> = { ttlMs: true, wait: true, principal: true };
/** Allowed keys of `terminateAll`'s options. */
export const TERMINATE_ALL_OPTION_KEYS: AllowedKeys<TerminateAllOptions> = { except: true };

const LIMIT_MODES: ReadonlySet<string> = new Set<PrincipalLimitMode>(['evict-oldest', 'refuse']);

/** The principal options of a store after defaults and checks. */
export interface PrincipalOptions {
  /** The cap, or null for none. */
  readonly maxSessionsPerPrincipal: number | null;
  readonly onPrincipalLimit: PrincipalLimitMode;
  /** The absolute lifetime, or null for none. */
  readonly maxLifetimeMs: number | null;
}

/** A principal: the same rules as an id (non-empty, well-formed, at most 1024 code units). */
export function checkPrincipal(principal: unknown, argument = 'principal'): string {
  return checkId(principal, argument);
}

/** Checks and defaults the store options of this module (the store checks the option keys). */
export function resolvePrincipalOptions(options: SessionStoreOptions | undefined): PrincipalOptions {
  const o = options ?? {};
  const cap =
    o.maxSessionsPerPrincipal === undefined
      ? DEFAULTS.maxSessionsPerPrincipal
      : checkPositiveInt(o.maxSessionsPerPrincipal, 'options.maxSessionsPerPrincipal');
  if (o.onPrincipalLimit !== undefined && !LIMIT_MODES.has(o.onPrincipalLimit as string)) {
    throw new InvalidArgumentError('options.onPrincipalLimit', "expected 'evict-oldest' or 'refuse'");
  }
  const lifetime =
    o.maxLifetimeMs === undefined ? DEFAULTS.maxLifetimeMs : checkPositiveInt(o.maxLifetimeMs, 'options.maxLifetimeMs');
  return {
    maxSessionsPerPrincipal: cap,
    onPrincipalLimit: o.onPrincipalLimit ?? DEFAULTS.onPrincipalLimit,
    maxLifetimeMs: lifetime,
  };
}

/** `create`'s options (the `ttlMs` and `wait` checks stay with the store): the principal, if any. */
export function checkCreateOptions(opts: unknown): { o: Partial<CreateOptions>; principal: string | undefined } {
  const o = checkOptions<CreateOptions>(opts, 'opts', CREATE_OPTION_KEYS);
  const principal = o.principal === undefined ? undefined : checkPrincipal(o.principal, 'opts.principal');
  return { o, principal };
}

/** `terminateAll`'s arguments: the principal and the set of ids to keep. */
export function checkTerminateAllArgs(principal: unknown, opts: unknown): { principal: string; except: Set<string> } {
  const p = checkPrincipal(principal);
  const o = checkOptions<TerminateAllOptions>(opts, 'opts', TERMINATE_ALL_OPTION_KEYS);
  if (o.except === undefined) return { principal: p, except: new Set() };
  if (!Array.isArray(o.except)) throw new InvalidArgumentError('opts.except', 'expected an array of session ids');
  // Array.from visits the holes of a sparse array (as undefined), which map() skips.
  // The argument named is `opts.except` (as `changes.remove` for its names); the message says which entry.
  const ids = Array.from(o.except as unknown[], (id, i) => {
    try {
      return checkId(id, 'opts.except');
    } catch (err) {
      const reason = (err as Error).message.replace(/^Invalid argument `opts\.except`: /, '');
      throw new InvalidArgumentError('opts.except', `entry ${i}: ${reason}`);
    }
  });
  return { principal: p, except: new Set(ids) };
}

/** The order `sessionsOf` returns: oldest `createdAt` first, then by id (code units). */
export function bySessionAge(a: Session, b: Session): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * What a capped `create` does once its session is written, given the principal's
 * live sessions in creation order (oldest first), the new one among them.
 * - `'refuse'`: the new session stays only if fewer than `cap` others are live. Two racing
 *   creates cannot both miss each other (each looks after its own write), so they never both stay
 *   over the cap; they may both give up.
 * - `'evict-oldest'`: all but the newest `cap` go; the new one goes only when newer ones
 *   raced ahead of it (so at most `cap` remain either way).
 * @returns the sessions to terminate (only `terminable` ones) and whether the new session must go.
 */
export function limitDecision<T extends { readonly id: string; readonly terminable: boolean }>(
  ordered: readonly T[],
  newId: string,
  cap: number,
  mode: PrincipalLimitMode,
): { evict: T[]; refused: boolean } {
  if (mode === 'refuse') return { evict: [], refused: ordered.filter((s) => s.id !== newId).length >= cap };
  const rank = ordered.findIndex((s) => s.id === newId);
  const over = Math.max(0, ordered.length - cap);
  const evict = ordered.slice(0, over).filter((s) => s.terminable);
  return { evict, refused: rank >= 0 && rank < over };
}
