/**
 * The change feed's own figures: `npm run bench:feed -- [--quick] [--cluster]`
 * (not yet a section of `npm run bench`: see runFeedBench for what main.ts
 * would call). On a throwaway redis-server (and with --cluster, a throwaway
 * 3-primary cluster without replicas), both started from the test harness and
 * killed at the end:
 *
 * - propagation: one event at a time, from the PUBLISH (single node) or
 *   SPUBLISH on the key's shard channel (cluster) that a write function sends,
 *   to its arrival at another node's `store.subscribe` listener; median, p99,
 *   max. Publishing the payload directly measures the transport alone.
 * - write to event: the same, from the call of `store.patch` on one node to
 *   the arrival of its event at the other (the function runs and publishes).
 * - throughput: 64 publishes in flight (auto-pipelined) for a fixed count,
 *   events delivered per second (first publish to last arrival) and events
 *   lost (must be 0).
 * - cluster only: time for `subscribe` to cover all 16384 slots, and to be
 *   `subscribed` again after CLIENT KILL TYPE pubsub on every node.
 *
 * Every loop is bounded by a count and a time limit.
 * @module
 */
import { parseArgs } from 'node:util';
import { type Cluster, Redis } from 'ioredis';
import { type FeedStatus, RedisSessionStore, keySlot, sessionKey } from '../src/index.js';
import type { Client } from '../src/redis/scripts.js';
import { shardChannel } from '../src/redis/shard-channels.js';
import { startRedisCluster } from '../harness/cluster.js';
import { startRedisServer } from '../harness/redis-server.js';

export interface FeedFigures {
  readonly topology: 'standalone' | 'cluster';
  readonly propagationUs: Quantiles;
  readonly writeToEventUs: Quantiles;
  readonly throughput: {
    readonly published: number;
    readonly delivered: number;
    readonly eventsPerSec: number;
    readonly lost: number;
  };
  /** Cluster only: ms until all 16384 slots were subscribed, and again after every subscriber connection was killed. */
  readonly subscribeMs?: number;
  readonly resubscribeMs?: number;
}

interface Quantiles {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function quantiles(us: number[]): Quantiles {
  us.sort((a, b) => a - b);
  return {
    samples: us.length,
    p50: Math.round(quantile(us, 0.5)),
    p99: Math.round(quantile(us, 0.99)),
    max: Math.round(us.at(-1) ?? Number.NaN),
  };
}

const PREFIX = 'bench:feed:';
const CHANNEL = 'bench:feed:events';

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return true;
}

/**
 * Measures one topology. The publishers have no keyPrefix (`bulk` with
 * auto-pipelining, for the throughput run); `subscriberClient` backs the
 * listening store.
 */
async function measure(
  topology: 'standalone' | 'cluster',
  publishers: { one: Client; bulk: Client },
  subscriberClient: Client,
  quick: boolean,
  kill: () => Promise<unknown>,
): Promise<FeedFigures> {
  const sharded = topology === 'cluster';
  const publish = (id: string, generation: number, publisher: Client = publishers.one): Promise<unknown> => {
    const key = sessionKey(id, PREFIX);
    const message = `updated:${generation}:${key}`;
    const p = publisher as unknown as Record<'publish' | 'spublish', (c: string, m: string) => Promise<unknown>>;
    return sharded ? p.spublish(shardChannel(CHANNEL, keySlot(key)), message) : p.publish(CHANNEL, message);
  };
  const store = new RedisSessionStore(subscriberClient, { prefix: PREFIX, eventsChannel: CHANNEL });
  const arrivals = new Map<number, number>();
  const written = new Map<string, number>();
  const statuses: FeedStatus[] = [];
  let arrive: ((generation: number) => void) | undefined;
  const t0 = performance.now();
  const sub = await store.subscribe(
    (e) => {
      arrivals.set(e.generation, performance.now());
      if (e.id.startsWith('w')) written.set(`${e.id}:${e.generation}`, performance.now());
      arrive?.(e.generation);
    },
    { onStatus: (s) => statuses.push(s) },
  );
  const subscribeMs = performance.now() - t0;
  try {
    // Propagation, one at a time.
    const samples = quick ? 300 : 3_000;
    const delays: number[] = [];
    const deadline = performance.now() + (quick ? 5_000 : 30_000);
    for (let i = 1; i <= samples && performance.now() < deadline; i++) {
      const got = new Promise<number>((resolve) => {
        arrive = (g) => {
          if (g === i) resolve(performance.now());
        };
      });
      const sent = performance.now();
      await publish(`p${i % 997}`, i);
      const at = await Promise.race([
        got,
        new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 2_000)),
      ]);
      if (!Number.isNaN(at)) delays.push((at - sent) * 1000);
    }
    arrive = undefined;

    // Write to event: real store writes on the publisher's connection.
    const writer = new RedisSessionStore(publishers.one, {
      prefix: PREFIX,
      eventsChannel: CHANNEL,
      evictionPolicyCheck: 'off',
    });
    for (let w = 0; w < 64; w++) await writer.create(`w${w}`).catch(() => undefined);
    const writeDelays: number[] = [];
    const writeDeadline = performance.now() + (quick ? 5_000 : 30_000);
    for (let i = 0; i < samples && performance.now() < writeDeadline; i++) {
      const id = `w${i % 64}`;
      const sent = performance.now();
      const r = await writer.patch(id, { set: { n: String(i) } });
      if (!r.ok) continue;
      const key = `${id}:${r.session.generation}`;
      if (await until(() => written.has(key), 2_000)) writeDelays.push((written.get(key)! - sent) * 1000);
    }

    // Throughput: 64 in flight.
    arrivals.clear();
    const total = quick ? 5_000 : 50_000;
    const base = 1_000_000;
    let next = 0;
    const start = performance.now();
    const stopAt = start + (quick ? 10_000 : 60_000);
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < total && performance.now() < stopAt) {
          const i = next++;
          await publish(`t${i % 4096}`, base + i, publishers.bulk);
        }
      }),
    );
    const published = next;
    await until(() => arrivals.size >= published, 5_000);
    const last = Math.max(...arrivals.values());
    const delivered = arrivals.size;

    let resubscribeMs: number | undefined;
    if (sharded) {
      const before = statuses.length;
      const k0 = performance.now();
      await kill();
      if (await until(() => statuses.length >= before + 2 && statuses.at(-1) === 'subscribed', 20_000))
        resubscribeMs = performance.now() - k0;
    }
    return {
      topology,
      propagationUs: quantiles(delays),
      writeToEventUs: quantiles(writeDelays),
      throughput: {
        published,
        delivered,
        eventsPerSec: Math.round(delivered / ((last - start) / 1000)),
        lost: published - delivered,
      },
      ...(sharded
        ? {
            subscribeMs: Math.round(subscribeMs),
            resubscribeMs: resubscribeMs === undefined ? undefined : Math.round(resubscribeMs),
          }
        : {}),
    };
  } finally {
    await sub.unsubscribe();
  }
}

/** What `npm run bench -- --only feed` would run: the figures of each topology asked for. */
export async function runFeedBench(opts: { quick: boolean; cluster: boolean }): Promise<FeedFigures[]> {
  const out: FeedFigures[] = [];
  const server = await startRedisServer();
  try {
    const one = new Redis(server.url);
    const bulk = new Redis(server.url, { enableAutoPipelining: true });
    const subClient = new Redis(server.url);
    const admin = new Redis(server.url);
    try {
      out.push(
        await measure('standalone', { one, bulk }, subClient, opts.quick, () =>
          admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'),
        ),
      );
    } finally {
      for (const c of [one, bulk, subClient, admin]) c.disconnect();
    }
  } finally {
    await server.kill();
  }
  if (opts.cluster) {
    const cluster = await startRedisCluster({ primaries: 3, replicas: 0 });
    try {
      const publishers = { one: cluster.client(5), bulk: cluster.client(5, { enableAutoPipelining: true }) };
      const subClient: Cluster = cluster.client(5);
      out.push(
        await measure('cluster', publishers, subClient, opts.quick, async () => {
          for (const n of cluster.live()) await n.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        }),
      );
    } finally {
      await cluster.stop();
    }
  }
  return out;
}

function render(f: FeedFigures): string {
  const p = f.propagationUs;
  const t = f.throughput;
  const w = f.writeToEventUs;
  return (
    `${f.topology.padEnd(10)} propagation p50 ${p.p50} us, p99 ${p.p99} us, max ${p.max} us (${p.samples} events); ` +
    `patch call to its event p50 ${w.p50} us, p99 ${w.p99} us, max ${w.max} us (${w.samples}); ` +
    `${t.eventsPerSec} events/s delivered at 64 in flight (${t.delivered}/${t.published}, ${t.lost} lost)` +
    (f.subscribeMs !== undefined
      ? `; subscribe (16384 slots) ${f.subscribeMs} ms, after CLIENT KILL on every node ${f.resubscribeMs ?? 'n/a'} ms`
      : '')
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let values;
  try {
    values = parseArgs({
      options: { quick: { type: 'boolean' }, cluster: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    console.error(
      `usage: npm run bench:feed -- [--quick] [--cluster]; ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exit(2);
  }
  runFeedBench({ quick: values.quick === true, cluster: values.cluster === true }).then(
    (figures) => {
      for (const f of figures) console.log(render(f));
      console.log(JSON.stringify(figures));
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
