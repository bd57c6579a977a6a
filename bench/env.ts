/**
 * Where the bench runs: the Redis it provisions (the same way as the tests),
 * the clients it makes, the machine it reports, and the server-side command
 * statistics it reads.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import { type ProvidedRedis, provideRedis } from '../test/support/provision.js';

/** No bench command waits longer than this for a reply. */
const COMMAND_TIMEOUT_MS = 30_000;

/** ioredis auto-pipelining of a measured client; 'n/a' for the in-memory store. */
export type Pipelining = 'on' | 'off' | 'n/a';

/**
 * Makes the ioredis clients of a run and disconnects them all at the end.
 * The one place to swap in another topology (e.g. a Cluster client).
 */
export interface ClientFactory {
  /** A new client with auto-pipelining on or off. */
  create(pipelining: Pipelining): Redis;
  /** One shared client per pipelining mode (the measured store's client). */
  shared(pipelining: Pipelining): Redis;
  close(): void;
}

export function standaloneClients(url: string): ClientFactory {
  const made: Redis[] = [];
  const shared = new Map<Pipelining, Redis>();
  const create = (pipelining: Pipelining): Redis => {
    const options: RedisOptions = { enableAutoPipelining: pipelining === 'on', maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS };
    const client = new Redis(url, options);
    client.on('error', () => undefined); // a failed command is counted by the scenario
    made.push(client);
    return client;
  };
  return {
    create,
    shared(pipelining) {
      let c = shared.get(pipelining);
      if (!c) shared.set(pipelining, (c = create(pipelining)));
      return c;
    },
    close() {
      for (const c of made) c.disconnect();
      made.length = 0;
      shared.clear();
    },
  };
}

/** The Redis of a run. */
export interface RedisEnv {
  readonly provided: ProvidedRedis;
  readonly clients: ClientFactory;
  /** Unmeasured connection for INFO, MEMORY USAGE, CONFIG and cleanup. */
  readonly admin: Redis;
  readonly version: string;
}

export async function openRedis(): Promise<RedisEnv> {
  const provided = await provideRedis();
  const admin = new Redis(provided.url, { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS });
  admin.on('error', () => undefined);
  const info = await admin.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  return { provided, clients: standaloneClients(provided.url), admin, version };
}

/** Deletes every key of this run (bounded), then disconnects; stops a server the bench started. */
export async function closeRedis(env: RedisEnv, runPrefix: string): Promise<number> {
  let deleted = 0;
  if (!env.provided.owned) deleted = await deleteByPrefix(env.admin, runPrefix);
  env.clients.close();
  env.admin.disconnect();
  await env.provided.stop();
  return deleted;
}

/** SCAN + UNLINK of `<prefix>*`, at most 10_000 SCAN rounds and 60 s. */
async function deleteByPrefix(admin: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const deadline = Date.now() + 60_000;
  for (let round = 0; round < 10_000 && Date.now() < deadline; round++) {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await admin.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

/** A prefix no other run shares; every key of the run starts with it. */
export function runPrefix(): string {
  return `bench:${randomBytes(4).toString('hex')}:`;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  platform: string;
  arch: string;
  totalMemoryMiB: number;
  /** 1-minute load average when the run started and when it ended: how busy the machine was. */
  loadAverage1m: { start: number; end: number };
  node: string;
  ioredis: string;
  hdrHistogramJs: string;
}

/** The 1-minute load average, rounded. */
export function loadAverage(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

export function machineInfo(loadAtStart: number): MachineInfo {
  const cpus = os.cpus();
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverage1m: { start: loadAtStart, end: loadAverage() },
    node: process.version,
    ioredis: version('ioredis'),
    hdrHistogramJs: version('hdr-histogram-js'),
  };
}

/** Per-command totals from INFO commandstats. */
export type CommandStats = Map<string, { calls: number; usec: number }>;

export async function commandStats(admin: Redis): Promise<CommandStats> {
  const text = await admin.info('commandstats');
  const stats: CommandStats = new Map();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

/**
 * A window of server-side command statistics. On a server the bench started
 * it runs CONFIG RESETSTAT first; on a server it was given (REDIS_URL) it
 * never resets anything and diffs snapshots instead, so other clients'
 * commands in the window count too (the report says so).
 */
export async function openStatsWindow(env: RedisEnv): Promise<() => Promise<CommandStats>> {
  if (env.provided.owned) await env.admin.config('RESETSTAT');
  const before = await commandStats(env.admin);
  return async () => {
    const after = await commandStats(env.admin);
    const delta: CommandStats = new Map();
    for (const [name, a] of after) {
      const b = before.get(name) ?? { calls: 0, usec: 0 };
      if (a.calls > b.calls) delta.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
    }
    return delta;
  };
}
