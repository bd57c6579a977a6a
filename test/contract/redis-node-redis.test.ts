import { contractSuite } from './contract-suite.js';
import { nodeRedisRunTarget } from './node-redis-targets.js';

// node-redis 6 speaks RESP3 by default, node-redis 5 RESP2: both must hold, and its keyPrefix must be honoured.
contractSuite(nodeRedisRunTarget());
contractSuite(nodeRedisRunTarget({ RESP: 2, keyPrefix: 'app1:' }));
