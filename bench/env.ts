/**
 * Where the bench runs: the Redis it provisions (the same way as the tests),
 * or the Redis Cluster it starts for `--cluster`; the clients it makes; the
 * machine it reports; the server-side statistics and memory figures it reads
 * (per node on a cluster).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { startRedisCluster } from '../harness/cluster.js';
import { type RedisSource, provideRedis } from '../harness/provision.js';

/** No bench command waits longer than this for a reply. */
const COMMAND_TIMEOUT_MS = 30_000;

/** ioredis auto-pipelining of a measured client; 'n/a' for the in-memory store. */
export type Pipelining = 'on' | 'off' | 'n/a';

/** Where a scenario's store lives. */
export type Topology = 'standalone' | 'cluster' | 'in-memory';

/** A measured client: one node, or a Redis Cluster. */
export type BenchClient = Redis | Cluster;

/**
 * Makes the ioredis clients of a run and disconnects them all at the end.
 * The one place that knows the topology.
 */
export interface ClientFactory {
  /** A new client with auto-pipelining on or off. */
  create(pipelining: Pipelining): BenchClient;
  /** One shared client per pipelining mode (the measured store's client). */
  shared(pipelining: Pipelining): BenchClient;
  /**
   * A new single-node connection to the primary that serves `key`, for
   * WATCH/MULTI: WATCH state belongs to one connection on one node, so a
   * transaction pool is a connection per in-flight transaction, to the node
   * of that transaction's key. On one node this is `create`.
   */
  connectionFor(key: string, pipelining: Pipelining): Promise<Redis>;
  close(): void;
}

function standaloneClient(url: string, pipelining: Pipelining): Redis {
  const options: RedisOptions = {
    enableAutoPipelining: pipelining === 'on',
    maxRetriesPerRequest: 3,
    commandTimeout: COMMAND_TIMEOUT_MS,
  };
  const client = new Redis(url, options);
  client.on('error', () => undefined); // a failed command is counted by the scenario
  return client;
}

function clientFactory(
  create: (pipelining: Pipelining) => BenchClient,
  nodeUrlFor: (key: string) => Promise<string>,
): ClientFactory {
  const made: BenchClient[] = [];
  const shared = new Map<Pipelining, BenchClient>();
  const track = <C extends BenchClient>(c: C): C => {
    made.push(c);
    return c;
  };
  return {
    create: (pipelining) => track(create(pipelining)),
    shared(pipelining) {
      let c = shared.get(pipelining);
      if (!c) shared.set(pipelining, (c = track(create(pipelining))));
      return c;
    },
    async connectionFor(key, pipelining) {
      return track(standaloneClient(await nodeUrlFor(key), pipelining));
    },
    close() {
      for (const c of made) c.disconnect();
      made.length = 0;
      shared.clear();
    },
  };
}

export function standaloneClients(url: string): ClientFactory {
  return clientFactory(
    (p) => standaloneClient(url, p),
    async () => url,
  );
}

/**
 * The server-side half of a run: statistics, memory and cleanup. On a
 * cluster every call goes to each primary (statistics are summed) or to the
 * primary that serves the key.
 */
export interface RedisAdmin {
  /** Primaries covered by `commandStats`, `resetStats` and `deleteByPrefix`. */
  readonly primaries: number;
  /** INFO commandstats, summed over the primaries. */
  commandStats(): Promise<CommandStats>;
  /** CONFIG RESETSTAT on every primary (only on servers the bench started). */
  resetStats(): Promise<void>;
  /** MEMORY USAGE key SAMPLES 0, on the key's primary. */
  memoryUsage(key: string): Promise<number>;
  /** SCAN + UNLINK of `<prefix>*` on every primary; returns how many keys went. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Starts MONITOR on every primary; see {@link CommandMonitor}. Rejects when the server refuses MONITOR. */
  monitor(): Promise<CommandMonitor>;
  close(): void;
}

/** A command the server ran, as MONITOR shows it. */
export interface MonitoredCommand {
  /** Lower case, as INFO commandstats names it (`evalsha`, `fcall`, `hset`). */
  readonly name: string;
  readonly args: readonly string[];
  /** True when a script or function ran it (MONITOR source `lua`), false for a command a client sent. */
  readonly nested: boolean;
}

/**
 * MONITOR on every primary, to see which commands a client's calls turn
 * into on the server and which of them scripts run. MONITOR slows the
 * server down, so it is for short calibrations only, never a timed window.
 */
export interface CommandMonitor {
  /**
   * Ends the monitor once every command the server ran before this call has
   * arrived (an ECHO marker on each primary) and returns them, in order per primary.
   */
  stop(): Promise<MonitoredCommand[]>;
}

const MONITOR_DRAIN_MS = 10_000;

async function monitorNodes(nodes: readonly Redis[]): Promise<CommandMonitor> {
  const marker = `bench-monitor-end-${randomBytes(4).toString('hex')}`;
  const seen: MonitoredCommand[] = [];
  const drained = new Set<number>();
  let onDrained: (() => void) | undefined;
  const monitors: Redis[] = [];
  try {
    for (const [i, node] of nodes.entries()) {
      const m = await node.monitor();
      monitors.push(m);
      m.on('error', () => undefined);
      m.on('monitor', (_time: string, args: string[], source: string) => {
        const name = (args[0] ?? '').toLowerCase();
        if (name === 'echo' && args[1] === marker) {
          drained.add(i);
          if (drained.size === nodes.length) onDrained?.();
          return;
        }
        seen.push({ name, args: args.slice(1), nested: source === 'lua' });
      });
    }
  } catch (err) {
    for (const m of monitors) m.disconnect();
    throw err;
  }
  return {
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      try {
        const done = new Promise<void>((resolve, reject) => {
          onDrained = resolve;
          timer = setTimeout(
            () => reject(new Error(`MONITOR: the end marker did not arrive within ${MONITOR_DRAIN_MS} ms`)),
            MONITOR_DRAIN_MS,
          );
        });
        await Promise.all(nodes.map((n) => n.echo(marker)));
        if (drained.size < nodes.length) await done;
        return seen;
      } finally {
        clearTimeout(timer);
        for (const m of monitors) m.disconnect();
      }
    },
  };
}

function adminOf(nodes: readonly Redis[], nodeFor: (key: string) => Promise<Redis>): RedisAdmin {
  return {
    primaries: nodes.length,
    async commandStats() {
      const sum: CommandStats = new Map();
      for (const n of nodes) {
        for (const [name, s] of await commandStats(n)) {
          const t = sum.get(name) ?? { calls: 0, usec: 0 };
          sum.set(name, { calls: t.calls + s.calls, usec: t.usec + s.usec });
        }
      }
      return sum;
    },
    async resetStats() {
      for (const n of nodes) await n.config('RESETSTAT');
    },
    async memoryUsage(key) {
      const bytes = await (await nodeFor(key)).call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      if (typeof bytes !== 'number') throw new Error(`MEMORY USAGE ${key} replied ${String(bytes)}`);
      return bytes;
    },
    async deleteByPrefix(prefix) {
      let deleted = 0;
      for (const n of nodes) deleted += await deleteByPrefix(n, prefix);
      return deleted;
    },
    monitor: () => monitorNodes(nodes),
    close() {
      for (const n of nodes) n.disconnect();
    },
  };
}

function adminConnection(url: string): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS });
  c.on('error', () => undefined);
  return c;
}

/** Where the Redis of a run came from. */
export interface RedisOrigin {
  readonly url: string;
  readonly source: RedisSource | 'redis-cluster';
  /** True when the bench started it (so it may reset statistics; it is killed at the end). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

/** The Redis of a run. */
export interface RedisEnv {
  readonly topology: 'standalone' | 'cluster';
  readonly provided: RedisOrigin;
  readonly clients: ClientFactory;
  /** Unmeasured connections for INFO, MEMORY USAGE, CONFIG and cleanup. */
  readonly admin: RedisAdmin;
  readonly version: string;
  /** Cluster shape; undefined on one node. */
  readonly cluster?: ClusterShape;
}

export interface ClusterShape {
  readonly primaries: number;
  readonly replicasPerPrimary: number;
  /** `host:port` of every node, primaries first. */
  readonly nodes: readonly string[];
}

async function serverVersion(conn: Redis): Promise<string> {
  const info = await conn.info('server');
  return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
}

export async function openRedis(): Promise<RedisEnv> {
  const provided = await provideRedis();
  const admin = adminConnection(provided.url);
  const version = await serverVersion(admin);
  return {
    topology: 'standalone',
    provided,
    clients: standaloneClients(provided.url),
    admin: adminOf([admin], async () => admin),
    version,
  };
}

/**
 * Starts a Redis Cluster of `primaries` primaries with `replicas` replicas
 * each from the redis-server binary (the test harness), on loopback; the
 * bench owns it and kills it in {@link closeRedis}.
 */
export async function openRedisCluster(opts: { primaries: number; replicas: number }): Promise<RedisEnv> {
  const cluster = await startRedisCluster(opts);
  try {
    const primaries = await cluster.primaries();
    const replicas = cluster.nodes.filter((n) => !primaries.includes(n));
    const admins = primaries.map((n) => adminConnection(n.url));
    const byPort = new Map(primaries.map((n, i) => [n.port, admins[i]!]));
    const ownerOf = async (key: string) => cluster.ownerOf(await cluster.keySlot(key));
    const create = (pipelining: Pipelining): BenchClient =>
      cluster.client(5, {
        enableAutoPipelining: pipelining === 'on',
        redisOptions: { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS },
      });
    return {
      topology: 'cluster',
      provided: { url: primaries[0]!.url, source: 'redis-cluster', owned: true, stop: () => cluster.stop() },
      clients: clientFactory(create, async (key) => (await ownerOf(key)).url),
      admin: adminOf(admins, async (key) => byPort.get((await ownerOf(key)).port)!),
      version: await serverVersion(admins[0]!),
      cluster: {
        primaries: primaries.length,
        replicasPerPrimary: opts.replicas,
        nodes: [...primaries, ...replicas].map((n) => n.key),
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Deletes every key of this run on a server it was given (bounded), disconnects, stops a server it started. */
export async function closeRedis(env: RedisEnv, runPrefix: string): Promise<number> {
  let deleted = 0;
  try {
    if (!env.provided.owned) deleted = await env.admin.deleteByPrefix(runPrefix);
  } finally {
    env.clients.close();
    env.admin.close();
    await env.provided.stop();
  }
  return deleted;
}

/** SCAN + UNLINK of `<prefix>*` on one node, at most 10_000 SCAN rounds and 60 s. */
async function deleteByPrefix(node: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const deadline = Date.now() + 60_000;
  for (let round = 0; round < 10_000 && Date.now() < deadline; round++) {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await node.unlink(...keys);
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
 * A window of server-side command statistics (summed over the primaries of
 * a cluster). On servers the bench started it runs CONFIG RESETSTAT first;
 * on a server it was given (REDIS_URL) it never resets anything and diffs
 * snapshots instead, so other clients' commands in the window count too
 * (the report says so).
 */
export async function openStatsWindow(env: RedisEnv): Promise<() => Promise<CommandStats>> {
  if (env.provided.owned) await env.admin.resetStats();
  const before = await env.admin.commandStats();
  return async () => {
    const after = await env.admin.commandStats();
    const delta: CommandStats = new Map();
    for (const [name, a] of after) {
      const b = before.get(name) ?? { calls: 0, usec: 0 };
      if (a.calls > b.calls) delta.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
    }
    return delta;
  };
}
