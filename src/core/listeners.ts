/**
 * The in-process fan-out of change events, shared by both stores: registrations,
 * their statuses, and the checks of `subscribe`'s arguments. Transport-agnostic.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type { ChangeEvent, FeedStatus, SubscribeOptions } from './types.js';
import { SUBSCRIBE_OPTION_KEYS, checkOptions } from './validate.js';

export interface Registration {
  readonly listener: (event: ChangeEvent) => void;
  readonly onStatus: ((status: FeedStatus) => void) | undefined;
  status: FeedStatus | 'pending';
  active: boolean;
}

/** A listener's exception must not stop delivery to the others: rethrow it outside the feed. */
function callSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/** Checks `subscribe`'s arguments (shared by both stores). */
export function checkSubscribeArgs(listener: unknown, opts: unknown): SubscribeOptions {
  if (typeof listener !== 'function')
    throw new InvalidArgumentError('listener', `expected a function, got ${typeof listener}`);
  // Unknown keys (a typo such as `onstatus`) are refused like in every other options object.
  const { onStatus, signal } = checkOptions<SubscribeOptions>(opts, 'opts', SUBSCRIBE_OPTION_KEYS);
  if (onStatus !== undefined && typeof onStatus !== 'function')
    throw new InvalidArgumentError('opts.onStatus', 'expected a function');
  if (
    signal !== undefined &&
    (typeof signal !== 'object' ||
      signal === null ||
      typeof signal.aborted !== 'boolean' ||
      typeof signal.addEventListener !== 'function')
  ) {
    throw new InvalidArgumentError('opts.signal', 'expected an AbortSignal');
  }
  return { onStatus, signal };
}

/** The registrations of one store and their fan-out; transport-agnostic. */
export class Listeners {
  private readonly regs = new Set<Registration>();

  get size(): number {
    return this.regs.size;
  }

  add(listener: (event: ChangeEvent) => void, opts: SubscribeOptions): Registration {
    const reg: Registration = { listener, onStatus: opts.onStatus, status: 'pending', active: true };
    this.regs.add(reg);
    return reg;
  }

  remove(reg: Registration): boolean {
    reg.active = false;
    return this.regs.delete(reg);
  }

  emit(event: ChangeEvent): void {
    for (const reg of this.regs) if (reg.active) callSafely(() => reg.listener(event));
  }

  /** Moves registrations to `status`; `interrupted` only reaches those that were told `subscribed`. */
  status(status: FeedStatus, only?: Registration): void {
    for (const reg of only ? [only] : this.regs) {
      if (!reg.active || reg.status === status) continue;
      if (status === 'interrupted' && reg.status !== 'subscribed') continue;
      reg.status = status;
      if (reg.onStatus) callSafely(() => reg.onStatus!(status));
    }
  }
}
