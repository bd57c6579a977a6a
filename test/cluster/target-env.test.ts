/** SESSION_CAS_TARGET=cluster turns the suites' default Redis client into a Cluster client. */
import { inject, expect, it } from 'vitest';
import { createClient } from '../infra/clients.js';

it('createClient() without a URL follows SESSION_CAS_TARGET', async () => {
  const wantCluster = process.env.SESSION_CAS_TARGET === 'cluster';
  expect(inject('redisCluster').length > 0).toBe(wantCluster);
  for (const major of [5, 6] as const) {
    const client = createClient(major);
    try {
      expect((client as unknown as { isCluster?: boolean }).isCluster === true).toBe(wantCluster);
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  }
});
