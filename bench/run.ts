/**
 * `npm run bench [-- --quick] [-- --store memory] [-- --only SECTION,...]
 * [-- --cluster [--cluster-replicas 0|1]] [-- --out-dir DIR]`: see bench/main.ts.
 * @module
 */
import { exitWith, runBench } from './main.js';

exitWith(runBench(process.argv.slice(2)));
