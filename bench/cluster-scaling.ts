/**
 * Update throughput of RedisSessionStore on one Redis node vs a 3-primary
 * Redis Cluster (one replica each), at a fixed concurrency.
 *
 *   npx tsx bench/cluster-scaling.ts [--seconds 5] [--concurrency 64] [--rounds 2] [--replicas 1] [--json]
 *
 * Starts its own servers (redis-server on free loopback ports, killed at the
 * end) with the test harness. Each of `concurrency` workers owns its own
 * sessions, so every update is a successful CAS (no conflicts): the figure is
 * the cost of the update script plus the round trip, not of contention.
 * Targets alternate for `rounds` rounds, so drift on a shared machine hits both.
 *
 * Limits: the client is one Node.js process (one core) and every server shares
 * the same cores, so on a small machine this measures how the whole box copes,
 * not how a cluster of real machines scales. See the report it prints.
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '../src/index.js';
import type { Client } from '../src/scripts.js';
import { startRedisCluster } from '../test/support/cluster.js';
import { startRedisServer } from '../test/support/redis-server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    sessions: { type: 'string', default: '4' }, // per worker
    replicas: { type: 'string', default: '1' }, // per cluster primary
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = bounded(Number(values.seconds), 1, 60, 'seconds');
const CONCURRENCY = bounded(Number(values.concurrency), 1, 1024, 'concurrency');
const ROUNDS = bounded(Number(values.rounds), 1, 10, 'rounds');
const PER_WORKER = bounded(Number(values.sessions), 1, 100, 'sessions');
const REPLICAS = bounded(Number(values.replicas), 0, 1, 'replicas');
const CLUSTER_LABEL = `cluster (3 primaries + ${3 * REPLICAS} replicas)`;
const WARMUP_MS = 1_000;

function bounded(n: number, lo: number, hi: number, name: string): number {
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name} must be an integer in [${lo}, ${hi}]`);
  return n;
}

interface RunResult { target: string; updates: number; seconds: number; perSecond: number; p50Ms: number; p99Ms: number; failures: number }

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(target: string, client: Client, round: number): Promise<RunResult> {
  const store = new RedisSessionStore(client, { prefix: `bench:${round}:`, ttlMs: 600_000 });
  const generations = new Map<string, number>();
  const ids: string[][] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const mine: string[] = [];
    for (let s = 0; s < PER_WORKER; s++) {
      const id = `w${w}-s${s}`;
      const r = await store.create(id, { n: '0' });
      if (!r.ok) throw new Error(`${target}: create ${id}: ${r.reason}`);
      generations.set(id, r.session.generation);
      mine.push(id);
    }
    ids.push(mine);
  }
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const end = measureFrom + SECONDS * 1000;
  const latencies: number[] = [];
  let updates = 0;
  let failures = 0;
  const maxSteps = 10_000_000;
  await Promise.all(ids.map(async (mine) => {
    for (let step = 0; step < maxSteps; step++) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const id = mine[step % mine.length]!;
      const r = await store.update(id, generations.get(id)!, { n: String(step) });
      const t1 = performance.now();
      if (!r.ok) {
        failures++;
        continue;
      }
      generations.set(id, r.session.generation);
      if (t0 >= measureFrom && t1 <= end) {
        updates++;
        if (latencies.length < 2_000_000) latencies.push(t1 - t0);
      }
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    target, updates, seconds: SECONDS, perSecond: Math.round(updates / SECONDS),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)), p99Ms: Number(percentile(latencies, 99).toFixed(2)), failures,
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const single = await startRedisServer();
  const cluster = await startRedisCluster({ replicas: REPLICAS });
  const results: RunResult[] = [];
  try {
    const singleClient = new Redis(single.port, '127.0.0.1', { maxRetriesPerRequest: 3 });
    const clusterClient = cluster.client(5);
    for (let round = 0; round < ROUNDS; round++) {
      results.push(await measure('single node', singleClient, round));
      results.push(await measure(CLUSTER_LABEL, clusterClient, round));
    }
    singleClient.disconnect();
  } finally {
    await cluster.stop();
    await single.kill();
  }
  const best = (t: string) => Math.max(...results.filter((r) => r.target.startsWith(t)).map((r) => r.perSecond));
  const singleBest = best('single');
  const clusterBest = best('cluster');
  const summary = {
    concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, cores: availableParallelism(),
    loadAverageBefore: Number(loadBefore.toFixed(2)), loadAverageAfter: Number(loadavg()[0]!.toFixed(2)),
    results, singleBest, clusterBest, ratio: Number((clusterBest / singleBest).toFixed(2)),
  };
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  console.log(`update throughput at concurrency ${CONCURRENCY}, ${SECONDS} s per run after ${WARMUP_MS} ms warm-up, ${ROUNDS} rounds`);
  for (const r of results) {
    console.log(`  ${r.target.padEnd(36)} ${String(r.perSecond).padStart(7)} updates/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  failures ${r.failures}`);
  }
  console.log(`best: single ${singleBest}/s, cluster ${clusterBest}/s, cluster/single = ${summary.ratio}`);
  console.log(`machine: ${summary.cores} cores, load average ${summary.loadAverageBefore} before, ${summary.loadAverageAfter} after.`);
  console.log(`One Node.js client process and all ${4 + 3 * REPLICAS} redis-server processes share these cores: a ratio near or`);
  console.log('below 1 says the box is saturated, not that Redis Cluster does not scale across machines.');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
