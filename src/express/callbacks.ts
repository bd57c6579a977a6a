/**
 * express-session's callback style on top of promises.
 * @module
 */
import type { EventEmitter } from 'node:events';

/** A Node-style callback as express-session passes them. */
export type Callback<T> = (err: unknown, value?: T) => void;

/**
 * Runs `work` and reports it the express-session way, through the callback.
 *
 * The callback runs on its own tick (`process.nextTick`), outside the promise
 * chain, so an exception it throws is an uncaught exception, as with any
 * callback API, instead of an unhandled rejection that nobody sees; it runs
 * exactly once either way.
 *
 * The returned promise settles when the callback has run: with a callback it
 * never rejects (the error went to the callback); without one it rejects,
 * already marked handled so that a caller ignoring it (express-session's
 * `req.session.destroy()` without a callback) cannot crash the process, and
 * the error is also emitted as `'error'` when `emitter` has listeners.
 */
export function settle<T>(
  emitter: EventEmitter,
  work: Promise<T>,
  callback: Callback<T> | undefined,
): Promise<T | undefined> {
  if (callback) {
    return new Promise((resolve) => {
      work.then(
        (value) =>
          process.nextTick(() => {
            resolve(value);
            callback(null, value);
          }),
        (err: unknown) =>
          process.nextTick(() => {
            resolve(undefined);
            callback(err ?? new Error('session store operation failed'));
          }),
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
