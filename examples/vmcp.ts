/**
 * The vMCP flow end to end, on two nodes sharing one Redis.
 *
 * A virtual MCP server fronts several backend MCP servers ("workloads"). One
 * client session lists its backends in metadata:
 *   vmcp.backend.ids                      comma-separated workload ids
 *   vmcp.backend.session.<workloadId>     that backend's own session id
 * Each vMCP node keeps the session in a SessionCache, with live connections
 * to the backends attached; when the cache lets a session go (another node
 * changed or terminated it, expiry, capacity), onEvict closes them.
 * When a backend reports its session expired, notifyBackendExpired removes it
 * from the metadata with `mutate` (compare-and-set with retries): concurrent
 * removals on two nodes both land, and a terminated session stays terminated.
 *
 * Run: npm ci && npm run example:vmcp   (Redis as for `npm run example`: REDIS_URL if set,
 * else a throwaway redis-server, else Docker; scripts/with-redis.ts provides it and sets
 * REDIS_URL. It writes only keys under a fresh random prefix, which expire within a minute).
 * Exits with status 1 if any step does not behave as described.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { type EvictionReason, RedisSessionStore, type Session, SessionCache } from 'session-cas';

const IDS = 'vmcp.backend.ids';
const backendKey = (workloadId: string): string => `vmcp.backend.session.${workloadId}`;

function backendsOf(session: Session): Map<string, string> {
  const ids = (session.metadata[IDS] ?? '').split(',').filter((x) => x !== '');
  return new Map(ids.map((w) => [w, session.metadata[backendKey(w)] ?? '']));
}

/** Stands for a live connection to one backend MCP server. */
class BackendConnection {
  closed = false;
  constructor(
    readonly node: string,
    readonly workloadId: string,
    readonly backendSessionId: string,
  ) {}
  close(): void {
    this.closed = true;
  }
}

class VmcpNode {
  readonly cache: SessionCache;
  /** Open backend connections per client session id, on this node only. */
  private readonly connections = new Map<string, Map<string, BackendConnection>>();
  readonly evicted: Array<{ id: string; reason: EvictionReason }> = [];

  constructor(
    readonly name: string,
    readonly client: Redis,
    prefix: string,
    eventsChannel: string,
  ) {
    const store = new RedisSessionStore(client, { prefix, eventsChannel, ttlMs: 60_000 });
    this.cache = new SessionCache(store, {
      validate: 'events',
      maxStaleMs: 2_000,
      maxEntries: 10_000,
      onEvict: (session, reason) => this.closeBackends(session, reason),
    });
  }

  private closeBackends(session: Session, reason: EvictionReason): void {
    this.evicted.push({ id: session.id, reason });
    for (const conn of this.connections.get(session.id)?.values() ?? []) conn.close();
    this.connections.delete(session.id);
    log(this.name, `session ${session.id} left the cache (${reason}): backend connections closed`);
  }

  async createSession(id: string, backends: Record<string, string>): Promise<Session> {
    const metadata: Record<string, string> = { [IDS]: Object.keys(backends).join(',') };
    for (const [w, sid] of Object.entries(backends)) metadata[backendKey(w)] = sid;
    const r = await this.cache.create(id, metadata);
    if (!r.ok) throw new Error(`create ${id}: ${r.reason}`);
    return r.session;
  }

  /** A client request: needs the session and a connection to every backend it lists. */
  async handleRequest(id: string): Promise<string[] | 'session not found'> {
    const session = await this.cache.get(id);
    if (!session) return 'session not found';
    let open = this.connections.get(id);
    if (!open) this.connections.set(id, (open = new Map()));
    const wanted = backendsOf(session);
    // The snapshot is the truth: this node's own writes move its entry forward
    // in place (no onEvict), so drop connections the session no longer lists.
    for (const [w, conn] of open) {
      if (wanted.get(w) !== conn.backendSessionId) {
        conn.close();
        open.delete(w);
      }
    }
    for (const [w, sid] of wanted) {
      if (!open.has(w)) open.set(w, new BackendConnection(this.name, w, sid));
    }
    return [...open.keys()].sort();
  }

  /** A backend said its session is gone: drop it from the client session. */
  async notifyBackendExpired(id: string, workloadId: string): Promise<string> {
    const r = await this.cache.mutate(id, (s) => {
      const backends = backendsOf(s);
      if (!backends.has(workloadId)) return undefined; // already removed: write nothing
      backends.delete(workloadId);
      const next: Record<string, string> = { ...s.metadata, [IDS]: [...backends.keys()].join(',') };
      delete next[backendKey(workloadId)];
      return next;
    });
    const conn = this.connections.get(id)?.get(workloadId);
    conn?.close();
    this.connections.get(id)?.delete(workloadId);
    return r.ok ? `ok at generation ${r.session.generation} after ${r.attempts} attempt(s)` : r.reason;
  }

  openConnections(id: string): BackendConnection[] {
    return [...(this.connections.get(id)?.values() ?? [])];
  }
}

function log(node: string, message: string): void {
  console.log(`[${node}] ${message}`);
}

let failures = 0;
function check(condition: boolean, what: string): void {
  console.log(`${condition ? '  ok  ' : '  FAIL'} ${what}`);
  if (!condition) failures++;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(5);
  return cond();
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const run = randomBytes(4).toString('hex');
  const prefix = `vmcp-example:${run}:`;
  const channel = `${prefix}events`;
  // Two nodes: separate connections, as separate processes would have.
  const a = new VmcpNode('node-a', new Redis(url), prefix, channel);
  const b = new VmcpNode('node-b', new Redis(url), prefix, channel);
  await Promise.all([a.cache.ready, b.cache.ready]);
  console.log(`Redis ${url}, key prefix ${prefix}`);

  const id = `client-${run}`;
  const created = await a.createSession(id, { github: 'gh-111', jira: 'ji-222', slack: 'sl-333' });
  log('node-a', `created ${id} at generation ${created.generation} with backends github, jira, slack`);

  check(
    JSON.stringify(await a.handleRequest(id)) === '["github","jira","slack"]',
    'node-a serves the session from its cache',
  );
  check(
    JSON.stringify(await b.handleRequest(id)) === '["github","jira","slack"]',
    'node-b loads it once and caches it',
  );

  // jira tells node-b its session expired: node-b rewrites the metadata with mutate.
  log('node-b', `notifyBackendExpired(jira): ${await b.notifyBackendExpired(id, 'jira')}`);
  check(
    b
      .openConnections(id)
      .map((c) => c.workloadId)
      .sort()
      .join() === 'github,slack',
    'node-b keeps its other connections (its own write updates its entry in place)',
  );
  check(
    await until(() => a.evicted.some((e) => e.id === id && e.reason === 'stale')),
    "node-a's cache drops its copy when node-b's event arrives, closing node-a's connections",
  );
  check(
    JSON.stringify(await a.handleRequest(id)) === '["github","slack"]',
    'node-a reloads and reconnects to github and slack only',
  );

  // Both nodes learn of different expired backends at the same moment: neither removal is lost.
  const [ra, rb] = await Promise.all([a.notifyBackendExpired(id, 'github'), b.notifyBackendExpired(id, 'slack')]);
  log('node-a', `notifyBackendExpired(github): ${ra}`);
  log('node-b', `notifyBackendExpired(slack): ${rb}`);
  const after = await a.cache.peek(id);
  check(
    after !== null && after.metadata[IDS] === '' && Object.keys(after.metadata).length === 1,
    'concurrent removals on two nodes both landed (mutate retried the conflict)',
  );

  // Both nodes serve the session again (node-a reloads: node-b's write made its copy stale).
  check(
    JSON.stringify(await a.handleRequest(id)) === '[]' && JSON.stringify(await b.handleRequest(id)) === '[]',
    'both nodes serve the session, now without backends',
  );

  // The client logs out through node-a.
  const t = await a.cache.terminate(id);
  check(t.ok, 'node-a terminates the session');
  check(a.evicted.at(-1)?.reason === 'terminated', "node-a's onEvict ran with reason terminated");
  check(
    await until(() => b.evicted.some((e) => e.id === id && e.reason === 'terminated')),
    "node-b's cache drops the session on the terminate event and closes its connections",
  );
  check(b.openConnections(id).length === 0 && a.openConnections(id).length === 0, 'no backend connection is left open');
  // A backend expiry reported late on node-b cannot bring the session back.
  const late = await b.notifyBackendExpired(id, 'slack');
  log('node-b', `late notifyBackendExpired(slack): ${late}`);
  check(late === 'terminated', 'a late write after logout gets `terminated`, nothing is resurrected');
  check(
    (await b.handleRequest(id)) === 'session not found' && (await a.handleRequest(id)) === 'session not found',
    'both nodes answer "session not found"',
  );

  const evictedOnce = [a, b].every((n) => n.evicted.filter((e) => e.reason === 'terminated').length === 1);
  check(evictedOnce, 'onEvict ran exactly once per node for the terminated session');

  await Promise.all([a.cache.close(), b.cache.close()]);
  await Promise.all([a.client.quit(), b.client.quit()]);
  if (failures > 0) {
    console.error(`${failures} check(s) failed`);
    process.exitCode = 1;
  } else {
    console.log('vMCP example: all checks passed');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
