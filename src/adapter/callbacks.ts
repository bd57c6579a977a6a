/**
 * Reporting a promise's outcome through a Node-style callback, as session
 * middleware (express-session, @fastify/session) expects of a store.
 * @module
 */
import type { EventEmitter } from 'node:events';

/** A Node-style callback: `(err)` or `(null, value)`. */
export type Callback<T> = (err: unknown, value?: T) => void;

/**
 * Runs `work` and reports it through `callback`. The callback is called from
 * its own tick, outside the promise chain: an exception it throws escapes as it
 * would from any callback API (an uncaught exception, never a rejected promise
 * nobody handles), and it can never be called a second time with that error.
 *
 * The returned promise settles after the callback ran: with a callback it never
 * rejects (the error went to the callback); without one it rejects, already
 * marked handled so that a caller ignoring it (`session.destroy()` without a
 * callback) cannot crash the process, and the error is also emitted as
 * `'error'` on `emitter` when it has listeners.
 */
export function settle<T>(
  emitter: EventEmitter,
  work: Promise<T>,
  callback: Callback<T> | undefined,
): Promise<T | undefined> {
  if (callback) {
    return new Promise((resolve) => {
      const report = (err: unknown, value: T | undefined): void =>
        process.nextTick(() => {
          try {
            if (err === null) callback(null, value);
            else callback(err);
          } finally {
            resolve(value);
          }
        });
      work.then(
        (value) => report(null, value),
        (err: unknown) => report(err ?? new Error('store operation failed'), undefined),
      );
    });
  }
  const result = work.catch((err: unknown) => {
    if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
    throw err;
  });
  result.catch(() => undefined);
  return result;
}
