/**
 * Race schedules with `fc.scheduler`: concurrent flows (read -> modify ->
 * CAS, mutate, terminate, expiry...) whose steps fast-check orders.
 *
 * A flow calls `gate(label)` before each step. The scheduler releases one
 * gate at a time and waits until that flow reaches its next gate (or ends)
 * before releasing another, so exactly one step runs at a time, real Redis
 * I/O included. The order of steps is then a pure function of fast-check's
 * seed: a failure prints the seed, the path and the schedule, and replays.
 * The interleavings are at step granularity; overlapping requests inside
 * Redis are the stress test's job.
 * @module
 */
import type fc from 'fast-check';
import type { Redis } from 'ioredis';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from '../../src/index.js';
import { EXACT_TIMING, type ModelConfig } from './model.js';
import { NaiveRedisStore } from './naive-store.js';
import { uniquePrefix } from '../infra/clients.js';

/** One concurrent flow of a race. */
export class Flow {
  private parked: (() => void) | undefined;

  constructor(
    private readonly s: fc.Scheduler,
    readonly name: string,
  ) {}

  /** Waits until the scheduler lets this flow take its next step. */
  async gate(label: string): Promise<void> {
    this.park();
    await this.s.schedule(Promise.resolve(), `${this.name}: ${label}`, undefined, async (trigger) => {
      // Hold the scheduler until this flow parks again: one step at a time.
      const parked = new Promise<void>((resolve) => {
        this.parked = resolve;
      });
      await trigger();
      await parked;
    });
  }

  /** Tells the scheduler this flow's step is over. */
  park(): void {
    const resolve = this.parked;
    this.parked = undefined;
    resolve?.();
  }
}

/** Runs the flows to completion under the scheduler. Each starts at a gate. */
export async function runFlows(
  s: fc.Scheduler,
  bodies: ReadonlyArray<readonly [string, (flow: Flow) => Promise<void>]>,
): Promise<void> {
  const all = Promise.all(
    bodies.map(async ([name, body]) => {
      const flow = new Flow(s, name);
      try {
        await flow.gate('start');
        await body(flow);
      } finally {
        flow.park();
      }
    }),
  );
  await s.waitFor(all);
}

/** TTLs of race worlds. Time in race histories is logical (1, 2, 3...), so nothing expires unless forced. */
export interface RaceTtls {
  readonly ttlMs: number;
  readonly tombstoneTtlMs: number;
}

/** One isolated store "world" for one run of a race property. */
export interface RaceWorld {
  /** Model config for checking this world's logical-time histories. */
  readonly cfg: ModelConfig;
  /** The store a flow uses (the naive store: one per flow, pausing at the flow's gate). */
  storeFor(flow?: Flow): SessionStore;
  /** The id's record expires now. */
  expire(id: string): Promise<void>;
  /** Remaining TTL in ms of every record that exists (-1: a key without a TTL). */
  ttls(): Promise<Array<{ key: string; pttl: number }>>;
  close(): Promise<void>;
}

export interface RaceTarget {
  readonly name: string;
  open(ttls: RaceTtls): RaceWorld;
}

function modelConfig(t: RaceTtls): ModelConfig {
  return { ttlMs: t.ttlMs, tombstoneTtlMs: t.tombstoneTtlMs, touchOnGet: true, ...EXACT_TIMING };
}

export function memoryRaceTarget(): RaceTarget {
  return {
    name: 'MemorySessionStore',
    open(t) {
      let now = 1_000_000;
      const store = new MemorySessionStore({ ...t, now: () => now });
      const records = (store as unknown as { records: Map<string, { expiresAt: number }> }).records;
      return {
        cfg: modelConfig(t),
        storeFor: () => store,
        // The memory store has one clock: moving it past every TTL expires every record (one id per world).
        expire: async () => {
          now += 10 * Math.max(t.ttlMs, t.tombstoneTtlMs);
        },
        ttls: async () =>
          [...records].filter(([, r]) => r.expiresAt > now).map(([key, r]) => ({ key, pttl: r.expiresAt - now })),
        close: async () => undefined,
      };
    },
  };
}

/** Every key under `prefix` (bounded SCAN). */
export async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  for (let i = 0; i < 10_000; i++) {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
    if (cursor === '0') return keys;
  }
  throw new Error(`SCAN of ${prefix}* did not finish`);
}

function redisWorld(
  client: Redis,
  t: RaceTtls,
  label: string,
  make: (prefix: string, flow?: Flow) => SessionStore,
): RaceWorld {
  const prefix = uniquePrefix(label);
  const shared = make(prefix);
  const key = (id: string) => (shared as RedisSessionStore | NaiveRedisStore).keyFor(id);
  return {
    cfg: modelConfig(t),
    storeFor: (flow) => (flow ? make(prefix, flow) : shared),
    // An expiry time in the past: Redis deletes the key at once, as when its TTL runs out.
    expire: async (id) => {
      await client.pexpireat(key(id), 1);
    },
    async ttls() {
      const keys = await scanKeys(client, prefix);
      const pttls = await Promise.all(keys.map((k) => client.pttl(k)));
      return keys.map((k, i) => ({ key: k, pttl: pttls[i]! })).filter((x) => x.pttl !== -2);
    },
    async close() {
      const keys = await scanKeys(client, prefix);
      if (keys.length) await client.del(...keys);
    },
  };
}

export function redisRaceTarget(client: () => Redis): RaceTarget {
  return {
    name: 'RedisSessionStore',
    open: (t) => {
      const c = client();
      let store: RedisSessionStore | undefined;
      return redisWorld(c, t, 'race', (prefix) => (store ??= new RedisSessionStore(c, { ...t, prefix })));
    },
  };
}

/** The naive store: each flow gets its own instance whose load -> store gap is a gate of that flow. */
export function naiveRaceTarget(client: () => Redis): RaceTarget {
  return {
    name: 'NaiveRedisStore',
    open: (t) => {
      const c = client();
      return redisWorld(
        c,
        t,
        'naive-race',
        (prefix, flow) =>
          new NaiveRedisStore(c, {
            ...t,
            prefix,
            ...(flow ? { pause: (label: string) => flow.gate(label) } : {}),
          }),
      );
    },
  };
}
