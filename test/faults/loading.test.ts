/**
 * loading: the server is loading its dataset (after a restart, or DEBUG
 * RELOAD here, slowed down with key-load-delay) and answers LOADING to every
 * command that needs data. Each write is refused: code LOADING, outcome
 * not_applied; once loading ends the data is there and a retry applies.
 */
import { describe, it } from 'vitest';
import { adminClient, startLoading } from '../infra/server-faults.js';
import { expectAppliedOnce, plan, settled, useServerWithStore, WRITE_OPS } from './fault-harness.js';
import { expectRefused } from './refused.js';

const env = useServerWithStore('loading');

describe('loading', () => {
  it.each(WRITE_OPS)(
    'loading: %s is refused with LOADING and applies nothing; after the load a retry applies once',
    async (op) => {
      const p = await plan(op, env.store);
      await env.store.exists('connected'); // connected before the load starts
      const loading = await startLoading(env.server.url, { keys: 1_000, perKeyDelayUs: 1_000 });
      try {
        await expectRefused(p, env.store, 'LOADING', async () => {
          await loading.done;
          return adminClient(env.server.url);
        });
      } finally {
        await loading.done;
      }
      await expectAppliedOnce(p, await settled(p.run(env.store)));
    },
  );
});
