import { contractSuite } from './contract-suite.js';
import { redisTarget } from './contract-targets.js';

contractSuite(redisTarget(5));
// An ioredis keyPrefix must be honoured on top of the store's own prefix.
contractSuite(redisTarget(5, { keyPrefix: 'app1:' }));
