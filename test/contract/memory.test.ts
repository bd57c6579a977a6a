import { contractSuite } from './contract-suite.js';
import { memoryTarget } from './contract-targets.js';

contractSuite(memoryTarget());
