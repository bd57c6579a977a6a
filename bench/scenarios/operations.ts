/**
 * Every public operation of the store, at each concurrency and pipelining
 * mode: throughput and latency through the full library path (validation,
 * script call, decoding).
 * @module
 */
import type { Metadata, SessionStore } from '../../src/index.js';
import type { Scenario } from '../bench-harness.js';
import type { Pipelining } from '../env.js';
import { type Operation, forEachLimited } from '../load.js';
import { PAYLOAD, incremented } from '../payload.js';
import { type Prepared, loadMatrix } from './measured.js';

export { loadId } from './measured.js';

export const OPERATIONS = ['create', 'get', 'peek', 'update', 'patch', 'touch', 'terminate', 'mutate'] as const;
export type OperationName = (typeof OPERATIONS)[number];

/** Sessions that get/peek read from, spread over the pool. */
export const READ_POOL = 256;
const SETUP_CONCURRENCY = 64;

export function operationScenarios(pipelining: readonly Pipelining[]): Scenario[] {
  return loadMatrix('operations', OPERATIONS, pipelining, {
    prepare: (ctx, op, concurrency, p) =>
      prepareOperation(ctx.makeStore(p, op), op, concurrency, ctx.budgets.terminatePool),
  });
}

/** Sets up the sessions `op` needs on `store` and returns the call to measure. */
export async function prepareOperation(
  store: SessionStore,
  op: OperationName,
  concurrency: number,
  terminatePool: number,
): Promise<Prepared> {
  switch (op) {
    case 'terminate': {
      // Every terminate needs its own live session: create them first; the run stops when they run out.
      await createSessions(store, 't', terminatePool);
      let next = 0;
      return { call: async () => (await store.terminate(`t${next++}`)).ok, maxCalls: terminatePool };
    }
    case 'create': {
      let next = 0;
      return { call: async () => (await store.create(`c${next++}`, PAYLOAD)).ok };
    }
    case 'get':
    case 'peek': {
      await createSessions(store, 'r', READ_POOL);
      const read = op === 'get' ? store.get.bind(store) : store.peek.bind(store);
      return { call: async (w, seq) => (await read(readPoolId(w, seq))) !== null };
    }
    default:
      return { call: await ownSessionOperation(store, op, concurrency) };
  }
}

/** Which of the READ_POOL records a reader's call reads: spread over the pool, a different one per worker. */
export function readPoolIndex(worker: number, seq: number): number {
  return (worker * 31 + seq) % READ_POOL;
}

export function readPoolId(worker: number, seq: number): string {
  return `r${readPoolIndex(worker, seq)}`;
}

/** update, patch, touch and mutate: each worker works on its own session, so nothing conflicts. */
async function ownSessionOperation(
  store: SessionStore,
  op: 'update' | 'patch' | 'touch' | 'mutate',
  concurrency: number,
): Promise<Operation> {
  const generations = await createSessions(store, 'w', concurrency);
  switch (op) {
    case 'update':
      return async (w) => {
        const r = await store.update(`w${w}`, generations[w]!, PAYLOAD);
        if (!r.ok) return false;
        generations[w] = r.session.generation;
        return true;
      };
    case 'patch':
      return async (w, seq) => (await store.patch(`w${w}`, { set: { counter: String(seq) } })).ok;
    case 'touch':
      return async (w) => (await store.touch(`w${w}`)).ok;
    case 'mutate':
      return async (w) => (await store.mutate(`w${w}`, (s) => incremented(s.metadata))).ok;
  }
}

/** Creates `<tag>0..<tag>n-1` with `metadata` (the vMCP payload by default); returns their generations. */
export async function createSessions(
  store: SessionStore,
  tag: string,
  n: number,
  metadata: Metadata = PAYLOAD,
): Promise<number[]> {
  const generations = new Array<number>(n).fill(0);
  await forEachLimited(n, SETUP_CONCURRENCY, async (i) => {
    const r = await store.create(`${tag}${i}`, metadata);
    if (!r.ok) throw new Error(`bench setup: create ${tag}${i} returned ${r.reason}`);
    generations[i] = r.session.generation;
  });
  return generations;
}
