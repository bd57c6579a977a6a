/**
 * Server cost per call in instructions, not microseconds: runs redis-server
 * under `valgrind --tool=callgrind`, counts only what runs inside Redis's
 * `call()` (the span INFO commandstats times), and divides by the calls made.
 * Unlike commandstats, the count does not move with the machine's load, so
 * it is the figure to compare two versions of the Lua code with.
 *
 * Compares the store's `update` function with the bare Lua CAS of issue #11
 * (HGET g, compare, HSET g + fields, PEXPIRE) at 1, 10 and 100 fields.
 * Needs valgrind and redis-server on PATH. `npm run bench:instructions`.
 * @module
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../harness/redis-server.js';
import { FUNCTIONS, LIBRARY } from '../src/redis/generated/lua.js';

const BARE = `local g = redis.call('HGET', KEYS[1], 'g')
if not g then return {0} end
if g ~= ARGV[3] then return {2, g} end
local ng = string.format('%d', tonumber(g) + 1)
redis.call('HSET', KEYS[1], 'g', ng, unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return ng`;
const BARE_NAME = `${LIBRARY.name}_bench_bare_cas`;
const SOURCE = `${LIBRARY.source}\nredis.register_function{function_name = '${BARE_NAME}', callback = function(KEYS, ARGV)\n${BARE}\nend}\n`;
const CALLS = 400;
const KEYS_IN_FLIGHT = 8;

/** Instructions per call of `fn` (an update-shaped function) with `fields` metadata entries. */
async function measure(fn: string, fields: number): Promise<number> {
  const port = await freePort();
  const out = join(tmpdir(), `session-cas-cg-${process.pid}-${port}`);
  const server = spawn(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${out}`, '--collect-atstart=no', '--toggle-collect=call'].concat([
      'redis-server',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
    ]),
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.on('exit', resolve));
  const redis = new Redis({ port, retryStrategy: () => 200, maxRetriesPerRequest: 100 });
  redis.on('error', () => {});
  try {
    await redis.call('FUNCTION', 'LOAD', 'REPLACE', SOURCE);
    const args: string[] = [];
    for (let i = 0; i < fields; i++) args.push(`mf${i}`, `value-${i}`);
    const keys = Array.from({ length: KEYS_IN_FLIGHT }, (_, k) => `{bench${k}}:s`);
    for (const [k, key] of keys.entries()) {
      await redis.call(
        'FCALL',
        FUNCTIONS.create.name,
        1,
        key,
        `op${String(k).padStart(6, '0')}`,
        60_000,
        '',
        '',
        '',
        '',
        ...args,
      );
    }
    const gens = await Promise.all(keys.map((k) => redis.hget(k, 'g')));
    execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
    await Promise.all(
      keys.map(async (key, k) => {
        let gen = gens[k]!;
        for (let i = 0; i < CALLS / KEYS_IN_FLIGHT; i++) {
          const op = `${i}x${k}`.padStart(8, '0');
          const reply = await redis.call('FCALL', fn, 1, key, op, 60_000, gen, '', '', ...args);
          gen = String(reply).split(':')[0]!;
          if (!/^\d+$/.test(gen)) throw new Error(`${fn}: unexpected reply ${JSON.stringify(reply)}`);
        }
      }),
    );
    execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' });
    await redis.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  } finally {
    redis.disconnect();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    server.kill('SIGKILL');
  }
  let most = 0;
  const prefix = out.split('/').pop()!;
  for (const f of readdirSync(tmpdir()).filter((name) => name.startsWith(prefix))) {
    const path = join(tmpdir(), f);
    const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path, 'utf8'));
    if (total) most = Math.max(most, Number(total[1]));
    unlinkSync(path);
  }
  return most / CALLS;
}

console.log('| fields | bare CAS instr/call | update instr/call | ratio |');
console.log('|--:|--:|--:|--:|');
for (const fields of [1, 10, 100]) {
  const [bare, update] = await Promise.all([measure(BARE_NAME, fields), measure(FUNCTIONS.update.name, fields)]);
  console.log(`| ${fields} | ${Math.round(bare)} | ${Math.round(update)} | ${(update / bare).toFixed(2)}x |`);
}
