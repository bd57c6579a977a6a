/**
 * A bounded load for the change feed: readers get a pool of sessions through
 * an 'events' SessionCache on one node (every session cached first;
 * maxStaleMs far away, so only events and reported gaps keep it current)
 * while two writers on another node patch each session once, spread over the
 * run, and a killer drops every subscriber connection (CLIENT KILL TYPE pubsub
 * on every node) now and then. One write per session means a lost event is
 * never papered over by a later one: only the gap report can save the cache.
 * The check: no get returns a session older than one whose write was
 * acknowledged more than `boundMs` before the get started (null counts as
 * older: nothing is terminated during the load).
 */
import type { RedisSessionStore, SessionCache } from '../../src/index.js';

export interface FeedLoadOptions {
  readonly writer: RedisSessionStore;
  readonly reader: SessionCache;
  /** Kills every subscriber connection; returns how many. */
  readonly kill: () => Promise<number>;
  readonly ids: readonly string[];
  /** Generation of each id when the load starts. */
  readonly start: ReadonlyMap<string, number>;
  readonly durationMs: number;
  /** Pause of each writer between its writes. */
  readonly writeGapMs: number;
  readonly maxGets: number;
  readonly killEveryMs: number;
  readonly boundMs: number;
}

export interface FeedLoadResult {
  readonly writes: number;
  readonly gets: number;
  readonly kills: number;
  readonly killed: number;
  readonly hits: number;
  readonly violations: string[];
}

export async function runFeedLoad(o: FeedLoadOptions): Promise<FeedLoadResult> {
  const acks = new Map<string, Array<{ at: number; generation: number }>>();
  for (const id of o.ids) acks.set(id, [{ at: -Infinity, generation: o.start.get(id)! }]);
  const gets: Array<{ id: string; at: number; generation: number | null }> = [];
  const deadline = performance.now() + o.durationMs;
  let writes = 0;
  let kills = 0;
  let killed = 0;
  const running = () => performance.now() < deadline;
  const hits0 = o.reader.stats().hits;

  for (const id of o.ids) await o.reader.get(id);
  const writer = async (w: number): Promise<void> => {
    for (let i = w; running() && i < o.ids.length; i += 2) {
      const id = o.ids[i]!;
      writes++;
      const r = await o.writer.patch(id, { set: { n: String(i) } });
      if (!r.ok) throw new Error(`load: patch ${id}: ${r.reason}`);
      acks.get(id)!.push({ at: performance.now(), generation: r.session.generation });
      await new Promise((resolve) => setTimeout(resolve, o.writeGapMs));
    }
  };
  const reader = async (w: number): Promise<void> => {
    for (let i = w * 7; running() && gets.length < o.maxGets; i += 13) {
      const id = o.ids[i % o.ids.length]!;
      const at = performance.now();
      const s = await o.reader.get(id);
      gets.push({ id, at, generation: s?.generation ?? null });
      // Spread the gets over the whole run (cache hits alone would use up maxGets in a fraction of it).
      if (gets.length % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  const killer = async (): Promise<void> => {
    while (running()) {
      await new Promise((resolve) => setTimeout(resolve, o.killEveryMs));
      if (!running()) break;
      killed += await o.kill();
      kills++;
    }
  };
  await Promise.all([writer(0), writer(1), reader(0), reader(1), reader(2), reader(3), killer()]);

  const violations: string[] = [];
  for (const g of gets) {
    let needed = 0;
    for (const a of acks.get(g.id)!) if (a.at < g.at - o.boundMs) needed = Math.max(needed, a.generation);
    if (g.generation === null || g.generation < needed) {
      violations.push(
        `get ${g.id} at ${g.at.toFixed(1)} ms returned ${g.generation ?? 'null'}, but ${needed} was acknowledged more than ${o.boundMs} ms before`,
      );
    }
  }
  return { writes, gets: gets.length, kills, killed, hits: o.reader.stats().hits - hits0, violations };
}
