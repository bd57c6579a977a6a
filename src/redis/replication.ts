/**
 * WAIT replication after a write: how many replicas acknowledged it. Holds
 * the only WAIT call. The write is applied by then, so nothing here throws:
 * a failure is reported in `replication.error` (`durable: false`).
 * @module
 */
import { SessionStoreError } from '../core/errors.js';
import type { ReplicationReport, ReplicationWait } from '../core/types.js';
import type { WaitRequest } from '../core/requests.js';
import { Code, type Reply } from './decode.js';
import { toFault } from './faults.js';
import type { Client } from './scripts.js';
import { connectionForKey } from './slots.js';

/** The wait a write makes: its checked `opts.wait` (`false`: none), else the store's default for it. */
export function waitOf(w: WaitRequest, fallback: ReplicationWait | undefined): ReplicationWait | undefined {
  return w === false ? undefined : (w ?? fallback);
}

/** The write that just replied: where it ran, and what to call it in a report. */
export interface WrittenAt {
  readonly client: Client;
  /** The session's key (without the client's `keyPrefix`): picks the Cluster primary. */
  readonly key: string;
  readonly op: string;
  readonly id: string;
}

/**
 * WAIT on the connection that served the write: the client itself, or on a
 * Cluster client the primary of the key's slot. Called in the same tick as
 * the write's reply, so the connection (socket) is the one the reply came on;
 * WAIT counts only the writes made on its own socket, so if ioredis
 * reconnected before WAIT ran, or the write was a replay of an earlier send
 * (REPLAYED: ioredis re-sent the call after a reconnect and an earlier send
 * applied it, on a connection WAIT here cannot cover), nothing confirms it:
 * `durable: false`. Never throws: throwing would tell the caller the write
 * may not have applied.
 */
export async function waitForReplicas(at: WrittenAt, wait: ReplicationWait, reply: Reply): Promise<ReplicationReport> {
  const { replicas, timeoutMs } = wait;
  const wroteHere = reply.code === Code.OK;
  let acknowledged: unknown;
  let sameSocket = false;
  try {
    const conn = connectionForKey(at.client, at.key);
    if (!conn) throw new Error("the client's slot map names no primary for the session's slot");
    const socket = conn.stream;
    acknowledged = await conn.call('WAIT', replicas, timeoutMs);
    sameSocket = socket !== undefined && conn.stream === socket;
  } catch (err) {
    // The write is applied (its reply came back); only its replication is unconfirmed.
    const error = toFault(err, `${at.op} (WAIT)`, at.id, false);
    return { acknowledged: 0, requested: replicas, durable: false, error };
  }
  if (typeof acknowledged !== 'number') {
    const error = new SessionStoreError('UNEXPECTED_REPLY', `WAIT replied ${String(acknowledged)}`);
    return { acknowledged: 0, requested: replicas, durable: false, error };
  }
  const confirmed = wroteHere && sameSocket ? acknowledged : 0;
  return { acknowledged: confirmed, requested: replicas, durable: confirmed >= replicas };
}

/** A successful write's result, with its replication report when it waits. */
export async function durable<R extends { ok: true }>(
  at: WrittenAt,
  wait: ReplicationWait | undefined,
  reply: Reply,
  result: R,
): Promise<R & { replication?: ReplicationReport }> {
  if (!wait) return result;
  return { ...result, replication: await waitForReplicas(at, wait, reply) };
}
