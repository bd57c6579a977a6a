/**
 * busy: another client's script runs past busy-reply-threshold, so Redis
 * answers every other command with BUSY until it ends or SCRIPT KILL stops
 * it. Each write is refused before running: code BUSY, outcome not_applied.
 * A retry after the script ends applies normally.
 */
import { describe, it } from 'vitest';
import { adminClient, startBusyScript } from '../infra/server-faults.js';
import { expectAppliedOnce, plan, settled, useServerWithStore, WRITE_OPS } from './fault-harness.js';
import { expectRefused } from './refused.js';

const env = useServerWithStore('busy');

describe('busy', () => {
  it.each(WRITE_OPS)(
    'busy: %s is refused with BUSY and applies nothing; a retry afterwards applies once',
    async (op) => {
      const p = await plan(op, env.store);
      await env.store.exists('connected'); // the connection is up before the server turns busy
      const busy = await startBusyScript(env.server.url);
      try {
        await expectRefused(p, env.store, 'BUSY', () => adminAfter(busy));
      } finally {
        await busy.stop();
      }
      await expectAppliedOnce(p, await settled(p.run(env.store)));
    },
  );
});

/** The record can only be read once the script is gone. */
async function adminAfter(busy: { stop(): Promise<void> }) {
  await busy.stop();
  return adminClient(env.server.url);
}
