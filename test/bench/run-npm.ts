/** Runs an npm script of this package as a child process, against the tests' Redis. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface NpmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run <script> -- ...args` with REDIS_URL set to the tests' Redis; killed after `timeoutMs`. */
export function runNpm(script: string, args: readonly string[], timeoutMs: number): Promise<NpmRun> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', '--silent', script, '--', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, REDIS_URL: inject('redisUrl') },
        timeout: timeoutMs,
        maxBuffer: 16 * 2 ** 20,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
