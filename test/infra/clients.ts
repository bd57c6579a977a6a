/** ioredis clients of both supported majors, and per-test key prefixes. */
import { randomBytes } from 'node:crypto';
import { Cluster as Cluster5, Redis as Redis5, type RedisOptions } from 'ioredis';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6';
import { inject } from 'vitest';
import type { Client } from '../../src/redis/scripts.js';

export type IoredisMajor = 5 | 6;

/**
 * A client of the given ioredis major. ioredis 6 speaks RESP3 by default; both must work.
 * Without `url`, under SESSION_CAS_TARGET=cluster, a Cluster client on the run's cluster
 * (`options` become its redisOptions, `keyPrefix` included).
 */
export function createClient(major: IoredisMajor, url?: string, options: RedisOptions = {}): Client {
  if (url === undefined) {
    const nodes = inject('redisCluster');
    if (nodes.length > 0) {
      const ClusterCtor = (major === 5 ? Cluster5 : Cluster6) as unknown as new (n: unknown, o: object) => Client;
      const cluster = new ClusterCtor(nodes, {
        keyPrefix: options.keyPrefix,
        redisOptions: { maxRetriesPerRequest: 3, ...options },
      });
      cluster.on('error', () => undefined);
      return cluster;
    }
    url = inject('redisUrl');
  }
  const Ctor = (major === 5 ? Redis5 : Redis6) as unknown as new (url: string, o: RedisOptions) => Client;
  const client = new Ctor(url, { maxRetriesPerRequest: 3, ...options });
  client.on('error', () => undefined); // tests assert on command errors, not on the event
  return client;
}

/** A key prefix no other test file or run shares. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
