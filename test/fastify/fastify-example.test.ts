/** examples/fastify.ts runs as written (it exits 1 if any of its checks fails). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('examples/fastify.ts runs end to end and all its checks pass', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'examples/fastify.ts'],
        { cwd: root, env: { ...process.env, REDIS_URL: inject('redisUrl') }, timeout: 60_000 },
        (err, out, errOut) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: out, stderr: errOut }),
      );
    },
  );
  expect(stderr).toBe('');
  expect(stdout).not.toContain('FAIL');
  expect(stdout).toContain('Fastify example: all checks passed');
  expect(stdout.match(/^ {2}ok /gm)?.length).toBe(5);
  expect(code).toBe(0);
}, 90_000);
