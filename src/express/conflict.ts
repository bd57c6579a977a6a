/**
 * The one error of the express store that is not a store fault: a save refused under `sameField: 'error'`.
 * @module
 */
import { SessionStoreError, isSessionStoreError } from '../core/errors.js';

/**
 * A save refused under `sameField: 'error'`: another request changed a field
 * this save also changes, after this request loaded the session. Nothing was
 * written. A {@link SessionStoreError} with code `'SESSION_CONFLICT'`; test with
 * {@link isSessionConflict} (checks `code`).
 */
export class SessionConflictError extends SessionStoreError {
  declare readonly code: 'SESSION_CONFLICT';
  /** The session whose save was refused. */
  readonly sessionId: string;
  /** The fields changed on both sides (empty when attempts ran out). */
  readonly fields: readonly string[];

  constructor(sessionId: string, fields: readonly string[], detail?: string) {
    super(
      'SESSION_CONFLICT',
      detail ??
        `session fields changed concurrently by another request: ${fields.map((f) => JSON.stringify(f)).join(', ')}`,
    );
    this.name = 'SessionConflictError';
    this.sessionId = sessionId;
    this.fields = fields;
  }
}

/** Whether `e` is a {@link SessionConflictError} (works across ESM/CJS copies). */
export function isSessionConflict(e: unknown): e is SessionConflictError {
  return isSessionStoreError(e) && e.code === 'SESSION_CONFLICT';
}
