/**
 * Fault classification without Redis: what a failure says about whether a write
 * applied. The connection-error chain is tested on real ioredis in test/faults/redis-down.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { toFault } from '../../src/redis/faults.js';

describe('toFault', () => {
  it('an error raised before the request left the process is not_applied, also on a write', () => {
    const err = new RangeError('Maximum call stack size exceeded');
    const fault = toFault(err, 'create', 's', true, { sent: false });
    expect(fault).toMatchObject({ code: 'CONNECTION', outcome: 'not_applied', operation: 'create', sessionId: 's' });
    expect(fault.message).toMatch(
      /not sent \(failed before the request left the process\): Maximum call stack size exceeded/,
    );
    expect(fault.cause).toBe(err);
  });

  it('the same error from a sent write is OUTCOME_UNKNOWN', () => {
    expect(toFault(new Error('Command timed out'), 'create', 's', true)).toMatchObject({
      code: 'OUTCOME_UNKNOWN',
      outcome: 'unknown',
    });
  });
});
