/**
 * The error a framework adapter reports when `sameField: 'error'` refuses a save.
 * @module
 */

/**
 * A save refused under `sameField: 'error'`: another request changed a field
 * this save also changes, after this request loaded the session. Nothing was
 * written. Test with {@link isSessionConflict} (checks `code`).
 */
export class SessionConflictError extends Error {
  readonly code = 'SESSION_CONFLICT' as const;
  /** The session whose save was refused. */
  readonly sessionId: string;
  /** The fields changed on both sides (empty when attempts ran out). */
  readonly fields: readonly string[];

  constructor(sessionId: string, fields: readonly string[], detail?: string) {
    super(
      detail ??
        `session fields changed concurrently by another request: ${fields.map((f) => JSON.stringify(f)).join(', ')}`,
    );
    this.name = 'SessionConflictError';
    this.sessionId = sessionId;
    this.fields = fields;
  }
}

/** Whether `e` is a {@link SessionConflictError} (works across ESM/CJS copies and across adapters). */
export function isSessionConflict(e: unknown): e is SessionConflictError {
  return e instanceof Error && (e as { code?: unknown }).code === 'SESSION_CONFLICT';
}
