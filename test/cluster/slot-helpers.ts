/** Helpers for the cluster tests: ids in chosen slots, and per-node error/command counters. */
import { keySlot } from '../../src/index.js';
import { encodeId } from '../../src/redis/keys.js';
import { type ClusterNode, info } from '../../harness/cluster.js';

/** `n` distinct ids (with `label` in them) whose session keys hash to `slot`. Bounded search. */
export function idsInSlot(slot: number, n: number, label: string): string[] {
  const ids: string[] = [];
  for (let i = 0; i < 5_000_000 && ids.length < n; i++) {
    const id = `${label}-${i}`;
    if (keySlot(encodeId(id)) === slot) ids.push(id);
  }
  if (ids.length < n) throw new Error(`found only ${ids.length} ids in slot ${slot}`);
  return ids;
}

/** Sum over nodes of `INFO errorstats` counts for an error prefix (MOVED, ASK, TRYAGAIN, NOSCRIPT...). */
export async function errorCount(nodes: ClusterNode[], prefix: string): Promise<number> {
  let total = 0;
  for (const n of nodes) {
    const line = (await info(n.admin, 'errorstats'))[`errorstat_${prefix}`];
    total += line ? Number(/count=(\d+)/.exec(line)?.[1] ?? 0) : 0;
  }
  return total;
}

/** Sum over nodes of `INFO commandstats` calls of a command (lowercase, e.g. 'asking'). */
export async function commandCount(nodes: ClusterNode[], command: string): Promise<number> {
  let total = 0;
  for (const n of nodes) {
    const line = (await info(n.admin, 'commandstats'))[`cmdstat_${command}`];
    total += line ? Number(/calls=(\d+)/.exec(line)?.[1] ?? 0) : 0;
  }
  return total;
}

export async function resetStats(nodes: ClusterNode[]): Promise<void> {
  for (const n of nodes) await n.admin.call('CONFIG', 'RESETSTAT');
}
