/**
 * A load on two caches, checked with the linearizability checker (issue #12,
 * Tests): node A writes through its store; node B reads through an `'events'`
 * SessionCache (maxStaleMs far away, so only events and reported gaps keep it
 * current) and node C through an `'always'` one; meanwhile every subscriber
 * connection is killed now and then (CLIENT KILL TYPE pubsub) and, once, a
 * primary is killed (`killPrimary`).
 *
 * Every write and every get is recorded with its invocation and completion
 * times and checked against the session model:
 * - an `'always'` get is a read placed inside its own interval: it never
 *   returns a session older than one acknowledged before it started;
 * - an `'events'` get is a read that may be placed up to `boundMs` before it
 *   was invoked (its invocation time is moved back by `boundMs`, never before
 *   the load started), checked with its id's writes one get at a time: it
 *   never returns a session older than one acknowledged more than `boundMs`
 *   before it started. `boundMs` is far below maxStaleMs,
 *   so only the feed (its events and its `interrupted` reports) can pass it.
 * A write that threw is of unknown outcome; a get that threw read nothing and
 * is left out. Each session is written once or twice, spread over the run, so
 * a lost event is not papered over by a later one.
 *
 * `killPrimary` gets `quiesce`, which stops new writes and waits for those in
 * flight: a kill then loses nothing acknowledged, so the store's own history
 * stays linearizable and every violation is the caches' (the loss
 * asynchronous replication allows is the failover tests' subject).
 */
import { expect } from 'vitest';
import type { RedisSessionStore, SessionCache } from '../../src/index.js';
import { REDIS_TIMING, type ModelConfig, type SessionOp } from '../oracles/model.js';
import { History, type HistoryEntry, checkSessionHistory } from '../oracles/session-history.js';
import { sleep } from '../infra/clients.js';

export const LOAD_TTL_MS = 120_000;

export interface CacheLoadOptions {
  readonly writer: RedisSessionStore;
  readonly events: SessionCache;
  readonly always: SessionCache;
  readonly ids: readonly string[];
  /** Kills every subscriber connection; returns how many. */
  readonly killPubsub: () => Promise<number>;
  /** Kills a primary (once, `primaryAtMs` into the run); `quiesce` resolves once no write is in flight. */
  readonly killPrimary: (quiesce: () => Promise<void>) => Promise<void>;
  readonly primaryAtMs: number;
  readonly durationMs: number;
  readonly killEveryMs: number;
  readonly writeGapMs: number;
  readonly boundMs: number;
  /** Gets per cache, at most. */
  readonly maxGets: number;
}

export interface CacheLoadResult {
  readonly writes: number;
  readonly failedWrites: number;
  readonly gets: { readonly events: number; readonly always: number; readonly failed: number };
  readonly eventsHits: number;
  readonly kills: number;
  readonly killed: number;
  readonly primaryKilled: boolean;
  /** The verdicts: `linearizable`, or what failed and where the history was written. */
  readonly events: string;
  readonly always: string;
  readonly ok: { readonly events: boolean; readonly always: boolean };
}

const cfg: ModelConfig = { ttlMs: LOAD_TTL_MS, tombstoneTtlMs: 86_400_000, touchOnGet: true, ...REDIS_TIMING };

export async function runCacheLoad(o: CacheLoadOptions): Promise<CacheLoadResult> {
  const writes = new History();
  const create: SessionOp = { f: 'create', metadata: { n: 'start' }, ttlMs: LOAD_TTL_MS };
  for (const id of o.ids) {
    const r = await writes.record('setup', id, create, () =>
      o.writer.create(id, { n: 'start' }, { ttlMs: LOAD_TTL_MS }),
    );
    if (r.failed || !r.output.ok) throw new Error(`load: create ${id} failed`);
  }
  for (const id of o.ids) {
    await o.events.get(id);
    await o.always.get(id);
  }
  const loadStart = performance.now();
  const deadline = loadStart + o.durationMs;
  const running = () => performance.now() < deadline;
  const hits0 = o.events.stats().hits;
  const eventsGets: HistoryEntry[] = [];
  const alwaysGets: HistoryEntry[] = [];
  let failedGets = 0;
  let kills = 0;
  let killed = 0;
  let primaryKilled = false;

  // Writers pass through `gate` before each write; `quiesce` closes it until the primary kill is over.
  let gate: Promise<void> = Promise.resolve();
  let inFlight = 0;
  const writer = async (w: number): Promise<void> => {
    for (let round = 0; round < 2; round++) {
      for (let i = w; running() && i < o.ids.length; i += 2) {
        await gate;
        if (!running()) return;
        const id = o.ids[i]!;
        const set = { n: `${round}-${i}` };
        inFlight++;
        try {
          await writes.record(`writer${w}`, id, { f: 'patch', set, remove: [], ttlMs: LOAD_TTL_MS }, () =>
            o.writer.patch(id, { set }, { ttlMs: LOAD_TTL_MS }),
          );
        } finally {
          inFlight--;
        }
        await sleep(o.writeGapMs);
      }
    }
  };
  const reader = async (cache: SessionCache, into: HistoryEntry[], r: number, bound: number): Promise<void> => {
    for (let i = r * 7; running() && into.length < o.maxGets; i += 13) {
      const id = o.ids[i % o.ids.length]!;
      const call = performance.now();
      try {
        const output = await cache.get(id);
        into.push({
          client: `get${r}`,
          id,
          op: { f: 'peek' },
          call: Math.max(loadStart, call - bound),
          ret: performance.now(),
          output,
        });
      } catch {
        failedGets++; // read nothing: left out
        await sleep(5);
      }
      // Spread the gets over the whole run (cache hits alone would use up maxGets in a fraction of it).
      while (running() && into.length > (o.maxGets * (performance.now() - loadStart)) / o.durationMs) await sleep(2);
    }
  };
  const killer = async (): Promise<void> => {
    while (running()) {
      await sleep(o.killEveryMs);
      if (!running()) break;
      killed += await o.killPubsub().catch(() => 0); // a node being failed over may refuse
      kills++;
    }
  };
  const primary = async (): Promise<void> => {
    await sleep(o.primaryAtMs);
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      await o.killPrimary(async () => {
        while (inFlight > 0) await sleep(1);
      });
      primaryKilled = true;
    } finally {
      open();
    }
  };
  await Promise.all([
    writer(0),
    writer(1),
    ...[0, 1, 2, 3].map((r) => reader(o.events, eventsGets, r, o.boundMs)),
    ...[0, 1].map((r) => reader(o.always, alwaysGets, r, 0)),
    killer(),
    primary(),
  ]);

  // 'always': the whole history at once (reads inside their own intervals keep the search small).
  const al = checkSessionHistory('cache load, always', [...writes.entries, ...alwaysGets], cfg, { maxSteps: 200_000 });
  // 'events': each get with the writes of its id. Its interval reaches back boundMs, which would make
  // every get of an id concurrent with every other and the whole-history search exponential when it fails.
  const writesOf = new Map<string, HistoryEntry[]>();
  for (const e of writes.entries) writesOf.set(e.id, [...(writesOf.get(e.id) ?? []), e]);
  const stale = eventsGets.filter(
    (g) =>
      !checkSessionHistory('cache load, events', [...writesOf.get(g.id)!, g], cfg, { quiet: true, artifact: false }).ok,
  );
  const ev = {
    ok: stale.length === 0,
    message:
      stale.length === 0
        ? 'linearizable'
        : `${stale.length} of ${eventsGets.length} gets not linearizable within ${o.boundMs} ms, e.g. ` +
          stale
            .slice(0, 3)
            .map(
              (g) =>
                `${g.id} read generation ${(g.output as { generation?: number } | null)?.generation ?? null} (returned at ${g.ret.toFixed(1)} ms)`,
            )
            .join('; '),
  };
  const loadWrites = writes.entries.filter((e) => e.client !== 'setup');
  return {
    writes: loadWrites.length,
    failedWrites: loadWrites.filter((e) => e.unknown).length,
    gets: { events: eventsGets.length, always: alwaysGets.length, failed: failedGets },
    eventsHits: o.events.stats().hits - hits0,
    kills,
    killed,
    primaryKilled,
    events: ev.message,
    always: al.message,
    ok: { events: ev.ok, always: al.ok },
  };
}

/**
 * What both load tests require of a run: both caches' histories linearizable,
 * the primary killed, at least 3 pubsub kills each reported as `interrupted`,
 * enough writes, and enough 'events' gets served from memory that the check
 * was not vacuous.
 */
export function expectHistoryHeld(label: string, r: CacheLoadResult, statuses: readonly string[]): void {
  const interrupted = statuses.filter((s) => s === 'interrupted').length;
  console.log(
    `${label}: ${r.writes} writes (${r.failedWrites} unknown), gets ${r.gets.events} events ` +
      `(${r.eventsHits} from memory) + ${r.gets.always} always (${r.gets.failed} failed), ${r.kills} pubsub kills ` +
      `(${r.killed} connections), primary killed: ${r.primaryKilled}, ${interrupted} interrupted`,
  );
  expect(r.events).toBe('linearizable');
  expect(r.always).toBe('linearizable');
  expect(r.primaryKilled).toBe(true);
  expect(r.kills).toBeGreaterThanOrEqual(3);
  expect(interrupted).toBeGreaterThanOrEqual(3);
  expect(r.writes).toBeGreaterThan(150);
  expect(r.eventsHits).toBeGreaterThan(r.gets.events / 10);
}
