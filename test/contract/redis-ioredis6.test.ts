import { contractSuite } from './contract-suite.js';
import { redisTarget } from './contract-targets.js';

// ioredis 6 speaks RESP3 by default: the same contract must hold.
contractSuite(redisTarget(6));
