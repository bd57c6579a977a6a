/** With no REDIS_URL, no redis-server binary and no Docker engine, the harness says how to provide Redis. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('provideRedis', () => {
  it('fails with one clear message when nothing can provide Redis', () => {
    const bin = mkdtempSync(join(tmpdir(), 'scas-nobin-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const env: NodeJS.ProcessEnv = {
      PATH: bin,
      HOME: process.env.HOME,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      TESTCONTAINERS_RYUK_DISABLED: 'true',
    };
    const script = `import { provideRedis } from './harness/provision.ts';
      try { await provideRedis(); console.log('PROVIDED'); } catch (e) { console.log(e.message); process.exit(3); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(bin, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toContain('session-cas tests need Redis 7 and found none');
    expect(r.stdout).toContain('REDIS_URL=redis://host:port');
    expect(r.stdout).toContain('apt-get install redis-server');
    expect(r.stdout).toContain('Docker');
  });
});
