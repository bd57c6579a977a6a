/**
 * The races behind `npm run demo`, run the same way against the naive store
 * and against session-cas. A "service" here loads a session, does I/O for a
 * few milliseconds (talks to a backend), then stores its change: the window
 * in which another node's terminate or write lands.
 * @module
 */
import { type Metadata, RedisSessionStore } from '../src/index.js';
import { NaiveSessionStore } from './baseline-stores.js';
import type { BenchClient } from './env.js';

const IDS = 'vmcp.backend.ids';
const sessionField = (backend: string) => `vmcp.backend.session.${backend}`;

/** How one "backend expired" change ended. */
export interface ChangeOutcome {
  /** The store acknowledged the change as applied. */
  readonly applied: boolean;
  /** CAS attempts that found another writer first and were retried. */
  readonly conflicts: number;
  /** Why it was not applied: the session was gone, terminated, or the writer gave up. */
  readonly refused?: 'not_found' | 'terminated' | 'gave_up';
}

/** What both contenders offer the races. */
export interface DemoStore {
  readonly name: string;
  create(id: string, metadata: Metadata): Promise<void>;
  /** True when it ended a live session. */
  terminate(id: string): Promise<boolean>;
  /** Load, `io()`, compute with `fn`, store. */
  change(id: string, fn: (m: Readonly<Metadata>) => Metadata, io: () => Promise<void>): Promise<ChangeOutcome>;
  /** The live session's metadata, or null. */
  read(id: string): Promise<Readonly<Metadata> | null>;
}

/** Load -> I/O -> store with nothing tying the store to the load: what most services do. */
export function naiveDemoStore(client: BenchClient, prefix: string, ttlMs: number): DemoStore {
  const store = new NaiveSessionStore(client, prefix, ttlMs);
  return {
    name: 'naive store',
    create: (id, m) => store.create(id, m),
    terminate: (id) => store.terminate(id),
    async change(id, fn, io) {
      const loaded = await store.load(id);
      if (loaded === null) return { applied: false, conflicts: 0, refused: 'not_found' };
      await io();
      const next = fn(loaded);
      const removed = Object.keys(loaded).filter((k) => !(k in next));
      return { applied: await store.save(id, next, removed), conflicts: 0 };
    },
    read: (id) => store.load(id),
  };
}

/** The same service on session-cas: `mutate` with the I/O inside, retried on conflict. */
export function casDemoStore(client: BenchClient, prefix: string, ttlMs: number): DemoStore {
  const store = new RedisSessionStore(client, { prefix, ttlMs });
  return {
    name: 'session-cas',
    async create(id, m) {
      const r = await store.create(id, m);
      if (!r.ok) throw new Error(`demo setup: create ${id} returned ${r.reason}`);
    },
    async terminate(id) {
      return (await store.terminate(id)).ok;
    },
    async change(id, fn, io) {
      const r = await store.mutate(
        id,
        async (s) => {
          await io();
          return fn(s.metadata);
        },
        { maxAttempts: 100 },
      );
      if (r.ok) return { applied: true, conflicts: r.attempts - 1 };
      if (r.reason === 'conflict') return { applied: false, conflicts: r.attempts, refused: 'gave_up' };
      return { applied: false, conflicts: r.attempts - 1, refused: r.reason };
    },
    async read(id) {
      return (await store.peek(id))?.metadata ?? null;
    },
  };
}

/** Removes one backend: its entry in the comma-separated id list and its session key. */
export function removeBackend(m: Readonly<Metadata>, backend: string): Metadata {
  const next: Metadata = {
    ...m,
    [IDS]: (m[IDS] ?? '')
      .split(',')
      .filter((b) => b !== '' && b !== backend)
      .join(','),
  };
  delete next[sessionField(backend)];
  return next;
}

/** Whether any trace of the backend is left in the session. */
export function hasBackend(m: Readonly<Metadata>, backend: string): boolean {
  return (m[IDS] ?? '').split(',').includes(backend) || sessionField(backend) in m;
}

function vmcpSession(backends: readonly string[]): Metadata {
  const m: Metadata = { user: 'user-000042', [IDS]: backends.join(',') };
  for (const b of backends) m[sessionField(b)] = `${b}-session-7f3a9c`;
  return m;
}

export interface RaceOptions {
  /** Sessions in the terminate race. */
  readonly sessions: number;
  /** Sessions in the two-writer race. */
  readonly writerSessions: number;
  /** Backends each of the two writers removes, one at a time. */
  readonly removalsPerWriter: number;
  /** The I/O between load and store takes 1..maxIoMs ms. */
  readonly maxIoMs: number;
}

export interface RaceTally {
  readonly store: string;
  /** Terminate race: sessions terminated, then live again. */
  readonly resurrected: number;
  readonly terminated: number;
  /** "backend expired" handlers told the session was terminated (or gone). */
  readonly handlersRefused: number;
  /** Two-writer race: acknowledged removals whose backend is back in the final session. */
  readonly updatesLost: number;
  readonly updatesAcknowledged: number;
  /** Both races: CAS attempts retried after a conflict. */
  readonly conflictsRetried: number;
  /** Two-writer race: removals given up after the attempt limit (told to the caller, not lost). */
  readonly gaveUp: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs both races on one store. `nodeA` and `nodeB` are the same store on
 * two clients, like two service nodes: A handles "backend expired" and
 * writes, B terminates and is the second writer.
 */
export async function runRaces(nodeA: DemoStore, nodeB: DemoStore, o: RaceOptions): Promise<RaceTally> {
  const io = () => sleep(1 + Math.random() * (o.maxIoMs - 1));
  let resurrected = 0;
  let terminated = 0;
  let handlersRefused = 0;
  let conflictsRetried = 0;

  // Race 1: terminate vs "backend beta expired" on every session at once.
  const ids = Array.from({ length: o.sessions }, (_, i) => `race1-${i}`);
  await Promise.all(ids.map((id) => nodeA.create(id, vmcpSession(['alpha', 'beta', 'gamma']))));
  await Promise.all(
    ids.map(async (id) => {
      const [done, change] = await Promise.all([
        sleep(Math.random() * (o.maxIoMs + 2)).then(() => nodeB.terminate(id)),
        nodeA.change(id, (m) => removeBackend(m, 'beta'), io),
      ]);
      conflictsRetried += change.conflicts;
      if (change.refused === 'terminated' || change.refused === 'not_found') handlersRefused++;
      if (!done) return;
      terminated++;
      if ((await nodeA.read(id)) !== null) resurrected++;
    }),
  );

  // Race 2: on each session, two writers remove their own backends one at a time.
  let updatesLost = 0;
  let updatesAcknowledged = 0;
  let gaveUp = 0;
  const backends = Array.from({ length: 2 * o.removalsPerWriter }, (_, i) => `b${i}`);
  await Promise.all(
    Array.from({ length: o.writerSessions }, async (_, s) => {
      const id = `race2-${s}`;
      await nodeA.create(id, vmcpSession(backends));
      const acknowledged: string[] = [];
      const writer = async (w: number, node: DemoStore) => {
        for (const b of backends.slice(w * o.removalsPerWriter, (w + 1) * o.removalsPerWriter)) {
          const r = await node.change(id, (m) => removeBackend(m, b), io);
          conflictsRetried += r.conflicts;
          if (r.applied) acknowledged.push(b);
          else if (r.refused === 'gave_up') gaveUp++;
        }
      };
      await Promise.all([writer(0, nodeA), writer(1, nodeB)]);
      const final = await nodeA.read(id);
      updatesAcknowledged += acknowledged.length;
      updatesLost += final === null ? acknowledged.length : acknowledged.filter((b) => hasBackend(final, b)).length;
    }),
  );

  return {
    store: nodeA.name,
    resurrected,
    terminated,
    handlersRefused,
    updatesLost,
    updatesAcknowledged,
    conflictsRetried,
    gaveUp,
  };
}
