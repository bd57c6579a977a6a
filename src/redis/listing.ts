/**
 * Listing the sessions of a store by SCAN (never KEYS): on one node, or on
 * every primary of a Cluster. The key layout is taken from keys.ts, so this
 * module only knows that a session key is `<head><encoded id><tail>`.
 * @module
 */
import type { Redis } from 'ioredis';
import { decodeId, encodeId, sessionKey } from './keys.js';
import type { Client } from './scripts.js';
import { isCluster } from './slots.js';

/** Where a store's session keys live: its client, the client's ioredis `keyPrefix` and the store prefix. */
export interface KeySpace {
  readonly client: Client;
  readonly keyPrefix: string;
  readonly prefix: string;
}

/** A character no encoded id contains around it, to split a session key into what comes before and after the id. */
const MARK = '\u0000';

/** Escapes Redis glob metacharacters. */
function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** The text before and after the encoded id in every session key of `space` (as Redis sees it). */
function frame(space: KeySpace): { head: string; tail: string } {
  const [head, tail] = sessionKey(MARK, space.prefix).split(MARK) as [string, string];
  return { head: space.keyPrefix + head, tail };
}

/** The id of a session key, or `undefined` for a key of another layout that the pattern also matched. */
function idOfKey(key: string, head: string, tail: string): string | undefined {
  if (key.length <= head.length + tail.length || !key.startsWith(head) || !key.endsWith(tail)) return undefined;
  const encoded = key.slice(head.length, key.length - tail.length);
  const id = decodeId(encoded);
  return encodeId(id) === encoded ? id : undefined;
}

/**
 * Pages of session ids (live records and tombstones alike) of one store, one
 * SCAN call per page, each bounded by `count`. The ioredis `keyPrefix` is not
 * applied to SCAN patterns or replies, so it is added and stripped here.
 */
export async function* scanSessionIds(space: KeySpace, count: number): AsyncGenerator<string[]> {
  const { head, tail } = frame(space);
  const pattern = `${globEscape(head)}*${globEscape(tail)}`;
  const nodes: Redis[] = isCluster(space.client) ? space.client.nodes('master') : [space.client as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = String(next);
      const ids = keys.map((k) => idOfKey(String(k), head, tail)).filter((id): id is string => id !== undefined);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }
}
