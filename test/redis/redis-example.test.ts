/** The README quick start runs as written against the test Redis. */
import { execFileSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';

describe('examples/quickstart.ts', () => {
  it('runs and shows the conflict and the refused late write', () => {
    const out = execFileSync('npx', ['tsx', 'examples/quickstart.ts'], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: inject('redisUrl') },
      timeout: 60_000,
    });
    expect(out).toContain('writer A: applied');
    expect(out).toContain('writer B: conflict');
    expect(out).toContain('late write after logout: terminated');
    expect(out).toContain('session now: null');
  });
});
