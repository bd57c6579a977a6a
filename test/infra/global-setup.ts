/**
 * Vitest global setup: one Redis for the whole run, handed to files via
 * inject('redisUrl'). With SESSION_CAS_TARGET=cluster it also starts a Redis
 * Cluster (3 primaries, 3 replicas) and hands its startup nodes to files via
 * inject('redisCluster'); `createClient()` then returns Cluster clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRedisCluster } from '../../harness/cluster.js';
import { provideRedis } from '../../harness/provision.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisSource: string;
    redisOwned: boolean;
    /** Startup nodes of the run's Redis Cluster; empty unless SESSION_CAS_TARGET=cluster. */
    redisCluster: Array<{ host: string; port: number }>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Throwaway servers keep their working directories under one root, removed at the end of the run.
  const tmpRoot = mkdtempSync(join(tmpdir(), 'scas-run-'));
  process.env.SESSION_CAS_TMP_ROOT = tmpRoot;
  const redis = await provideRedis();
  console.log(`[session-cas tests] Redis from ${redis.source}: ${redis.url}`);
  project.provide('redisUrl', redis.url);
  project.provide('redisSource', redis.source);
  project.provide('redisOwned', redis.owned);
  const cluster = process.env.SESSION_CAS_TARGET === 'cluster' ? await startRedisCluster() : undefined;
  if (cluster)
    console.log(
      `[session-cas tests] SESSION_CAS_TARGET=cluster: Redis Cluster at ${cluster.startupNodes.map((n) => n.port).join(',')}`,
    );
  project.provide('redisCluster', cluster?.startupNodes ?? []);
  return async () => {
    await cluster?.stop();
    await redis.stop();
    rmSync(tmpRoot, { recursive: true, force: true });
  };
}
