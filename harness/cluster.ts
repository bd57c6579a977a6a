/**
 * Real Redis Cluster and Sentinel deployments from the `redis-server` binary,
 * on free loopback ports, for the cluster, failover and resharding tests and
 * for `npm run bench -- --cluster`. Every process is killed by its process id
 * (`stop()`, and on process exit); nothing here imports vitest, so scripts can
 * use it too.
 *
 * - {@link startRedisCluster}: N primaries with one replica each, made with
 *   `redis-cli --cluster create`, returned once every node reports
 *   `cluster_state:ok`, agrees on the owner of all 16384 slots and every
 *   replica's link is up.
 * - {@link startRedisSentinel}: one primary, one replica and three sentinels
 *   (`redis-server <conf> --sentinel`), for ioredis's `sentinels` option.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster as Cluster5, type ClusterOptions, Redis } from 'ioredis';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6';
import { type RedisServer, freePort, startRedisServer } from './redis-server.js';

const execFileP = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type IoredisMajor = 5 | 6;
export interface HostPort {
  host: string;
  port: number;
}

/** One node of a test cluster: its server process plus an admin connection. */
export interface ClusterNode extends RedisServer {
  /** The node's cluster id (kept across restarts: nodes.conf stays in its directory). */
  readonly id: string;
  /** `127.0.0.1:<port>`, the same form ioredis uses for its node keys. */
  readonly key: string;
  /** A direct connection to this node for admin commands (CLUSTER, INFO, DEBUG...). Reconnects after restart. */
  readonly admin: Redis;
  /** `master` or `slave`, asked of the node now. */
  role(): Promise<'master' | 'slave'>;
}

export interface RedisCluster {
  /** Pass these to `new Cluster(startupNodes)`. */
  readonly startupNodes: HostPort[];
  readonly nodes: ClusterNode[];
  /** A Cluster client (ioredis 5 or 6) on this cluster; disconnected by `stop()`. */
  client(major?: IoredisMajor, options?: ClusterOptions): Cluster5;
  /** Nodes that are primaries now (asked of live nodes). */
  primaries(): Promise<ClusterNode[]>;
  /** The live replica of a primary, if any. */
  replicaOf(primary: ClusterNode): Promise<ClusterNode | undefined>;
  /** The primary that owns a slot now (asked of a live node). */
  ownerOf(slot: number): Promise<ClusterNode>;
  /** `CLUSTER KEYSLOT key` on a live node. */
  keySlot(key: string): Promise<number>;
  /**
   * Waits until every live node reports `cluster_state:ok` with all slots ok,
   * all agree on the owner of every slot, and (unless `replicas: false`) every
   * live replica's link to its primary is up and caught up.
   */
  waitForOk(opts?: { timeoutMs?: number; replicas?: boolean }): Promise<void>;
  /**
   * Moves a slot (and its keys) from its owner to `to` with
   * `CLUSTER SETSLOT IMPORTING/MIGRATING`, `MIGRATE` in batches of
   * `batch` keys with `pauseMs` between batches (so clients meet ASK), then
   * `SETSLOT NODE` on both. Returns how many keys moved.
   */
  moveSlot(slot: number, to: ClusterNode, opts?: { batch?: number; pauseMs?: number }): Promise<number>;
  /** Live nodes only (skips killed ones). */
  live(): ClusterNode[];
  /** Kills every process and closes every connection. Idempotent. */
  stop(): Promise<void>;
}

/** Replicas sync at once (Redis 7 waits 5 s for more replicas before a diskless full sync). */
const REPLICATION_ARGS = ['--repl-diskless-sync-delay', '0'];

const NODE_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  // Short enough that a killed primary is noticed within a test, long enough
  // that a busy 2-core machine does not mark live nodes as failing.
  '--cluster-node-timeout',
  '3000',
  '--appendonly',
  'no',
  ...REPLICATION_ARGS,
];

function adminClient(port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  c.on('error', () => undefined);
  return c;
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** `INFO <section>` (or `CLUSTER INFO`) as a record. */
export async function info(conn: Redis, section: string): Promise<Record<string, string>> {
  const text = section === 'cluster' ? ((await conn.call('CLUSTER', 'INFO')) as string) : await conn.info(section);
  return parseInfo(text);
}

interface NodesLine {
  id: string;
  key: string;
  flags: string[];
  masterId: string;
  linkState: string;
  slots: string[];
}

function parseClusterNodes(text: string): NodesLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const parts = line.trim().split(' ');
      return {
        id: parts[0]!,
        key: parts[1]!.split('@')[0]!,
        flags: parts[2]!.split(','),
        masterId: parts[3]!,
        linkState: parts[7]!,
        slots: parts.slice(8),
      };
    });
}

async function clusterNodes(conn: Redis): Promise<NodesLine[]> {
  return parseClusterNodes((await conn.call('CLUSTER', 'NODES')) as string);
}

/** Starts a cluster of `primaries` primaries with `replicas` replicas each (defaults 3 and 1). */
export async function startRedisCluster(
  opts: { primaries?: number; replicas?: number; args?: string[] } = {},
): Promise<RedisCluster> {
  const primaryCount = opts.primaries ?? 3;
  const replicasEach = opts.replicas ?? 1;
  const total = primaryCount * (1 + replicasEach);
  const servers: RedisServer[] = [];
  const clients: Array<{ disconnect(): void }> = [];
  let stopped = false;
  try {
    for (let i = 0; i < total; i++)
      servers.push(await startRedisServer({ args: [...NODE_ARGS, ...(opts.args ?? [])] }));
    await execFileP(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        String(replicasEach),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
  } catch (err) {
    await Promise.all(servers.map((s) => s.kill()));
    throw err;
  }

  const nodes: ClusterNode[] = [];
  for (const s of servers) {
    const admin = adminClient(s.port);
    clients.push(admin);
    const id = (await admin.call('CLUSTER', 'MYID')) as string;
    const node = Object.assign(Object.create(null) as object, {
      get host() {
        return s.host;
      },
      get port() {
        return s.port;
      },
      get url() {
        return s.url;
      },
      pid: () => s.pid(),
      kill: () => s.kill(),
      stop: () => s.stop(),
      start: () => s.start(),
      restart: () => s.restart(),
      id,
      key: `127.0.0.1:${s.port}`,
      admin,
      async role() {
        const r = (await admin.call('ROLE')) as [string, ...unknown[]];
        return r[0] === 'master' ? 'master' : 'slave';
      },
    }) as ClusterNode;
    nodes.push(node);
  }

  const live = (): ClusterNode[] => nodes.filter((n) => n.pid() !== undefined);
  const byId = (id: string): ClusterNode => {
    const n = nodes.find((x) => x.id === id);
    if (!n) throw new Error(`unknown node id ${id}`);
    return n;
  };
  const anyLive = (): ClusterNode => {
    const n = live()[0];
    if (!n) throw new Error('no live cluster node');
    return n;
  };

  const cluster: RedisCluster = {
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    nodes,
    live,
    client(major = 5, options = {}) {
      const Ctor = (major === 5 ? Cluster5 : Cluster6) as unknown as new (n: HostPort[], o: ClusterOptions) => Cluster5;
      const c = new Ctor(cluster.startupNodes, {
        ...options,
        redisOptions: { maxRetriesPerRequest: 3, ...options.redisOptions },
      });
      c.on('error', () => undefined);
      c.on('node error', () => undefined);
      clients.push(c);
      return c;
    },
    async primaries() {
      const view = await clusterNodes(anyLive().admin);
      return view
        .filter((l) => l.flags.includes('master') && !l.flags.includes('fail'))
        .map((l) => byId(l.id))
        .filter((n) => n.pid() !== undefined);
    },
    async replicaOf(primary) {
      const view = await clusterNodes(anyLive().admin);
      const line = view.find((l) => l.masterId === primary.id && !l.flags.includes('fail'));
      const node = line ? byId(line.id) : undefined;
      return node && node.pid() !== undefined ? node : undefined;
    },
    async ownerOf(slot) {
      const ranges = (await anyLive().admin.call('CLUSTER', 'SLOTS')) as Array<
        [number, number, [string, number, string]]
      >;
      const range = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
      if (!range) throw new Error(`slot ${slot} has no owner`);
      return byId(range[2][2]);
    },
    async keySlot(key) {
      return (await anyLive().admin.call('CLUSTER', 'KEYSLOT', key)) as number;
    },
    async waitForOk({ timeoutMs = 30_000, replicas = true } = {}) {
      const deadline = Date.now() + timeoutMs;
      let why = '';
      while (Date.now() < deadline) {
        why = await notOkReason(live(), replicas);
        if (why === '') return;
        await sleep(100);
      }
      throw new Error(`cluster not ok after ${timeoutMs} ms: ${why}`);
    },
    async moveSlot(slot, to, { batch = 10, pauseMs = 0 } = {}) {
      const from = await cluster.ownerOf(slot);
      if (from.id === to.id) return 0;
      await to.admin.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
      await from.admin.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
      let moved = 0;
      for (let round = 0; round < 100_000; round++) {
        const keys = (await from.admin.call('CLUSTER', 'GETKEYSINSLOT', slot, batch)) as string[];
        if (keys.length === 0) break;
        await from.admin.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
        moved += keys.length;
        if (pauseMs > 0) await sleep(pauseMs);
      }
      // The importing side first, so the slot is never owned by nobody.
      await to.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      await from.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      return moved;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of clients) c.disconnect();
      await Promise.all(servers.map((s) => s.kill()));
    },
  };
  try {
    await cluster.waitForOk({ timeoutMs: 60_000 });
    await waitUntil(
      `every primary to have ${replicasEach} replica(s)`,
      async () => {
        const view = await clusterNodes(anyLive().admin);
        return view
          .filter((l) => l.flags.includes('master'))
          .every((p) => view.filter((r) => r.masterId === p.id).length === replicasEach);
      },
      30_000,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/**
 * '' when the cluster is ok, else what is not: every live node says
 * cluster_state:ok with all slots ok, and all live nodes agree on the slot
 * owners and on who replicates whom among the live nodes.
 */
async function notOkReason(nodes: ClusterNode[], replicas: boolean): Promise<string> {
  let reference: string | undefined;
  const liveIds = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    let ci: Record<string, string>;
    let slots: Array<[number, number, [string, number, string]]>;
    let view: NodesLine[];
    try {
      ci = await info(n.admin, 'cluster');
      slots = (await n.admin.call('CLUSTER', 'SLOTS')) as typeof slots;
      view = await clusterNodes(n.admin);
    } catch (err) {
      return `${n.key}: ${(err as Error).message}`;
    }
    if (ci.cluster_state !== 'ok') return `${n.key}: cluster_state ${ci.cluster_state}`;
    if (ci.cluster_slots_ok !== '16384') return `${n.key}: cluster_slots_ok ${ci.cluster_slots_ok}`;
    const owners = slots
      .map(([lo, hi, p]) => `${lo}-${hi}:${p[2]}`)
      .sort()
      .join(',');
    const topology = view
      .filter((l) => liveIds.has(l.id))
      .map((l) => `${l.id}:${l.flags.includes('master') ? 'master' : `replica-of-${l.masterId}`}`)
      .sort()
      .join(',');
    if (reference === undefined) reference = owners + '|' + topology;
    else if (owners + '|' + topology !== reference) return `${n.key}: disagrees on slot owners or roles`;
    if (replicas) {
      const r = await info(n.admin, 'replication');
      if (r.role === 'slave' && r.master_link_status !== 'up') return `${n.key}: replica link ${r.master_link_status}`;
      if (r.role === 'slave' && r.master_sync_in_progress !== '0') return `${n.key}: replica syncing`;
    }
  }
  return '';
}

/**
 * Polls a replica until it has caught up with its primary's replication
 * offset as it was when this was called (or throws after `timeoutMs`).
 */
export async function waitForReplicaOffset(primary: Redis, replica: Redis, timeoutMs = 10_000): Promise<void> {
  const target = Number((await info(primary, 'replication')).master_repl_offset);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await info(replica, 'replication');
    if (Number(r.slave_repl_offset) >= target && r.master_link_status === 'up') return;
    await sleep(25);
  }
  throw new Error(`replica did not reach offset ${target} within ${timeoutMs} ms`);
}

/** Polls `check` every `everyMs` until it returns true, or throws with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

// ---------------------------------------------------------------- Sentinel

/** One redis-server in sentinel mode. */
export interface SentinelProcess {
  readonly port: number;
  readonly admin: Redis;
  pid(): number | undefined;
  kill(): Promise<void>;
}

export interface RedisSentinel {
  /** The monitored primary's name: pass as `name` with `sentinels` to ioredis. */
  readonly name: string;
  /** Pass as ioredis's `sentinels` option. */
  readonly sentinels: HostPort[];
  /** The data servers: index 0 started as primary, 1 as its replica. */
  readonly servers: RedisServer[];
  readonly sentinelProcesses: SentinelProcess[];
  /** A Redis client (ioredis 5 or 6) through the sentinels; disconnected by `stop()`. */
  client(major?: IoredisMajor, options?: Record<string, unknown>): Redis;
  /** The primary's address as the sentinels report it now. */
  primaryAddress(): Promise<HostPort>;
  /** The data server that is the primary according to the sentinels. */
  primary(): Promise<RedisServer>;
  /** Waits until every live sentinel reports `addr` as the primary, with the other sentinels known. */
  waitForPrimary(addr: HostPort, timeoutMs?: number): Promise<void>;
  /** Direct connection to a data server, for admin commands. */
  adminOf(server: RedisServer): Redis;
  stop(): Promise<void>;
}

const SENTINEL_NAME = 'scasmaster';

/** One primary, one replica, three sentinels; returned once the sentinels agree and the replica is in sync. */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const clients: Array<{ disconnect(): void }> = [];
  const servers: RedisServer[] = [];
  const sentinels: SentinelProcess[] = [];
  const dirs: string[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of clients) c.disconnect();
    await Promise.all([...servers.map((s) => s.kill()), ...sentinels.map((s) => s.kill())]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  const admins = new Map<RedisServer, Redis>();
  const adminOf = (s: RedisServer): Redis => {
    let c = admins.get(s);
    if (!c) {
      c = adminClient(s.port);
      admins.set(s, c);
      clients.push(c);
    }
    return c;
  };
  try {
    const primary = await startRedisServer({ args: REPLICATION_ARGS });
    servers.push(primary);
    const replica = await startRedisServer({
      args: [...REPLICATION_ARGS, '--replicaof', '127.0.0.1', String(primary.port)],
    });
    servers.push(replica);
    for (let i = 0; i < 3; i++) {
      const s = await startSentinelProcess(primary.port, dirs);
      sentinels.push(s);
      clients.push(s.admin);
    }
    await waitForReplicaOffset(adminOf(primary), adminOf(replica), 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryAddressFrom = async (admin: Redis): Promise<HostPort> => {
    const [host, port] = (await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as [string, string];
    return { host, port: Number(port) };
  };
  const deployment: RedisSentinel = {
    name: SENTINEL_NAME,
    sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    servers,
    sentinelProcesses: sentinels,
    client(major = 5, options = {}) {
      const Ctor = (major === 5 ? Redis : Redis6) as unknown as new (o: Record<string, unknown>) => Redis;
      const c = new Ctor({ sentinels: deployment.sentinels, name: SENTINEL_NAME, maxRetriesPerRequest: 3, ...options });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async primaryAddress() {
      const s = sentinels.find((x) => x.pid() !== undefined);
      if (!s) throw new Error('no live sentinel');
      return primaryAddressFrom(s.admin);
    },
    async primary() {
      const addr = await deployment.primaryAddress();
      const s = servers.find((x) => x.port === addr.port);
      if (!s) throw new Error(`sentinels name an unknown primary ${addr.host}:${addr.port}`);
      return s;
    },
    async waitForPrimary(addr, timeoutMs = 20_000) {
      await waitUntil(
        `sentinels to agree on primary ${addr.port}`,
        async () => {
          for (const s of sentinels.filter((x) => x.pid() !== undefined)) {
            const a = await primaryAddressFrom(s.admin);
            if (a.port !== addr.port) return false;
            const others = (await s.admin.call('SENTINEL', 'SENTINELS', SENTINEL_NAME)) as unknown[];
            if (others.length < sentinels.length - 1) return false;
          }
          return true;
        },
        timeoutMs,
      );
    },
    adminOf,
    stop,
  };
  try {
    await deployment.waitForPrimary({ host: '127.0.0.1', port: servers[0]!.port });
    await waitUntil('sentinels to see the replica', async () => {
      for (const s of sentinels) {
        const replicas = (await s.admin.call('SENTINEL', 'REPLICAS', SENTINEL_NAME)) as string[][];
        if (replicas.length !== 1) return false;
      }
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return deployment;
}

async function startSentinelProcess(primaryPort: number, dirs: string[]): Promise<SentinelProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'scas-sentinel-'));
  dirs.push(dir);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_NAME} 10000`,
        `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
        '',
      ].join('\n'),
    );
    const proc = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr?.resume();
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const admin = adminClient(port);
    if (await pingUntil(admin, () => exited)) return sentinelHandle(proc, port, admin);
    admin.disconnect();
    proc.kill('SIGKILL');
  }
  throw new Error('could not start a sentinel');
}

function sentinelHandle(proc: ChildProcess, port: number, admin: Redis): SentinelProcess {
  let child: ChildProcess | undefined = proc;
  const handle: SentinelProcess = {
    port,
    admin,
    pid: () => child?.pid,
    async kill() {
      const p = child;
      child = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
  };
  sentinelCleanup.add(handle);
  return handle;
}

async function pingUntil(c: Redis, gone: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !gone()) {
    try {
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  return false;
}

const sentinelCleanup = new Set<SentinelProcess>();
process.once('exit', () => {
  for (const s of sentinelCleanup) {
    const pid = s.pid();
    if (pid)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
  }
});
