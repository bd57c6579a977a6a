/**
 * SessionCache hit throughput ('always' and 'events' hits against
 * `store.get`, at concurrency 1 and 64): the cache section of the bench, run
 * alone. Equivalent to `npm run bench -- --only cache [other bench options]`;
 * kept so `node --import tsx bench/cache-hits.ts` still works.
 * @module
 */
import { exitWith, runBench } from './main.js';

exitWith(runBench(['--only', 'cache', ...process.argv.slice(2)]));
