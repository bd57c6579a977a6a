/**
 * The contract on node-redis 5.x (the `redis5` alias of `redis@5`), next to node-redis 6 in
 * redis-node-redis.test.ts: the peer range is `^5.0.0 || ^6.0.0`, so both majors are run.
 * node-redis 5 speaks RESP2 by default; its RESP3 run covers the other decoder path.
 */
import { createClient, createCluster } from 'redis5';
import { contractSuite } from './contract-suite.js';
import { nodeRedisRunTarget } from './node-redis-targets.js';

const v5 = { createClient, createCluster, label: '5' };
contractSuite(nodeRedisRunTarget({ module: v5 }));
contractSuite(nodeRedisRunTarget({ module: v5, RESP: 3, keyPrefix: 'app5:' }));
