/**
 * node-redis (the `redis` package, v5+) clients for the test suites that run
 * on node-redis next to ioredis: a single-node client (`createClient`) or a
 * Cluster client (`createCluster`), connected.
 *
 * node-redis needs `connect()` before the first command. A client is usable
 * at once (its commands wait in the offline queue until the socket is ready);
 * a Cluster client only once its slot map is loaded, so `ready()` is there to
 * await (the targets await it in a `beforeAll`).
 */
import { type RedisClientOptions, type RedisClusterOptions, createClient, createCluster } from 'redis';
import { inject } from 'vitest';
import type { HostPort } from '../../harness/cluster.js';

/** What the tests call on a node-redis client or cluster besides the store (raw commands, teardown). */
export interface NodeRedis {
  /** The client itself, as the store takes it. */
  readonly client: ReturnType<typeof createClient> | ReturnType<typeof createCluster>;
  readonly cluster: boolean;
  /** Resolves when the client can take commands (a Cluster's slot map is loaded). */
  ready(): Promise<void>;
  /** A raw command (routed by `key` on a Cluster). */
  send(args: Array<string | number>, key?: string): Promise<unknown>;
  /** Closes every connection (idempotent). */
  close(): void;
}

/** Options of {@link nodeRedis}: the node-redis options both kinds share, and the RESP version. */
export interface NodeRedisOptions {
  /** RESP version (node-redis 6 speaks RESP3 by default, v5 RESP2: both must work). */
  RESP?: 2 | 3;
  keyPrefix?: string;
  /** Client options merged in (`socket`, `commandOptions`, `disableOfflineQueue`...). */
  options?: Partial<RedisClientOptions>;
  /**
   * The node-redis package to build clients with, when not the installed `redis` (6.x): e.g. the
   * `redis5` alias (node-redis 5.x), so the same suites run on both majors.
   */
  module?: { createClient: unknown; createCluster: unknown; label: string };
}

function wrap(
  client: ReturnType<typeof createClient> | ReturnType<typeof createCluster>,
  cluster: boolean,
  connected: Promise<unknown>,
): NodeRedis {
  let closed = false;
  return {
    client,
    cluster,
    ready: async () => {
      await connected;
    },
    send(args, key) {
      const a = args.map(String);
      if (cluster) return (client as ReturnType<typeof createCluster>).sendCommand(key ?? a[1], false, a);
      return (client as ReturnType<typeof createClient>).sendCommand(a);
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        client.destroy();
      } catch {
        // already closed
      }
    },
  };
}

/** A node-redis client on `url` (default: the run's Redis), connecting. */
export function nodeRedisClient(url: string = inject('redisUrl'), o: NodeRedisOptions = {}): NodeRedis {
  const make = (o.module?.createClient ?? createClient) as typeof createClient;
  const client = make({
    url,
    ...(o.RESP ? { RESP: o.RESP } : {}),
    ...(o.keyPrefix ? { keyPrefix: o.keyPrefix } : {}),
    ...o.options,
  } as RedisClientOptions);
  client.on('error', () => undefined); // tests assert on command errors, not on the event
  const connected = client.connect();
  connected.catch(() => undefined);
  return wrap(client as ReturnType<typeof createClient>, false, connected);
}

/** A node-redis Cluster client on the given startup nodes, connecting. */
export function nodeRedisCluster(
  nodes: HostPort[],
  o: NodeRedisOptions & { cluster?: Partial<RedisClusterOptions> } = {},
): NodeRedis {
  const make = (o.module?.createCluster ?? createCluster) as typeof createCluster;
  const client = make({
    rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    ...(o.RESP ? { RESP: o.RESP } : {}),
    ...(o.keyPrefix ? { keyPrefix: o.keyPrefix } : {}),
    defaults: { ...o.options },
    ...o.cluster,
  } as RedisClusterOptions);
  client.on('error', () => undefined);
  const connected = client.connect();
  connected.catch(() => undefined);
  return wrap(client as unknown as ReturnType<typeof createCluster>, true, connected);
}

/**
 * A node-redis client for the run's target: a Cluster client under
 * SESSION_CAS_TARGET=cluster, else a client on the run's Redis.
 */
export function nodeRedisForRun(o: NodeRedisOptions = {}): NodeRedis {
  const nodes = inject('redisCluster');
  return nodes.length > 0 ? nodeRedisCluster(nodes, o) : nodeRedisClient(undefined, o);
}
