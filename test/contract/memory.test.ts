import { contractSuite } from './contract-suite.js';
import { memoryTarget } from './targets.js';

contractSuite(memoryTarget());
