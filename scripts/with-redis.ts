/**
 * Runs a command with REDIS_URL pointing at a Redis provisioned the same way
 * as the tests (REDIS_URL, else a throwaway redis-server, else testcontainers),
 * then tears the server down. Used by `npm run example`, `npm run bench` and
 * `npm run demo`.
 *
 *   tsx scripts/with-redis.ts <command> [args...]
 */
import { spawn } from 'node:child_process';
import { provideRedis } from '../harness/provision.js';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: tsx scripts/with-redis.ts <command> [args...]');
  process.exit(2);
}

let redis;
try {
  redis = await provideRedis();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
console.error(`[session-cas] Redis from ${redis.source}: ${redis.url}`);
const child = spawn(cmd, args, {
  stdio: 'inherit',
  env: { ...process.env, REDIS_URL: redis.url, SESSION_CAS_REDIS_SOURCE: redis.source },
});
const code: number = await new Promise((resolve) => {
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  child.on('error', (e) => {
    console.error(e.message);
    resolve(1);
  });
});
await redis.stop();
process.exit(code);
