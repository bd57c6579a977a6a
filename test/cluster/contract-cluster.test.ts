/**
 * The full contract suite against Cluster clients (ioredis 5 and 6, and an
 * ioredis keyPrefix) on one real 3-primary, 3-replica cluster for this file.
 */
import { afterAll, beforeAll } from 'vitest';
import { type RedisCluster, startRedisCluster } from '../../harness/cluster.js';
import { contractSuite } from '../contract/contract-suite.js';
import { clusterTarget } from '../contract/contract-targets.js';

let cluster: RedisCluster | undefined;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const nodes = () => {
  if (!cluster) throw new Error('cluster not started');
  return cluster.startupNodes;
};
contractSuite(clusterTarget(nodes, 5));
contractSuite(clusterTarget(nodes, 6));
contractSuite(clusterTarget(nodes, 5, { keyPrefix: 'app1:' }));
