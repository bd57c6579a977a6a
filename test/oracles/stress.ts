/**
 * Real concurrency against Redis: K clients, each on its own connection, run
 * random operations on a few ids at once, with TTLs of a few milliseconds so
 * that expiry races for real. Every operation is recorded (invocation and
 * completion on the monotonic clock, arguments, outcome; a thrown fault is an
 * unknown outcome) and the history is checked for linearizability against
 * the session model, with expiry modelled as a window (see model.ts).
 *
 * A monitor connection polls the PTTL of every id's key throughout the run:
 * a key without a TTL (-1) or with one above the largest TTL in use breaks
 * `ttl-invariant`.
 * @module
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import type { Session, SessionStore } from '../../src/index.js';
import { sessionKey } from '../../src/index.js';
import { sleep } from '../infra/clients.js';
import { History, boundByConnectionOrder, execute } from './session-history.js';
import type { ModelConfig, SessionOp } from './model.js';
import { isObj, sessionIn } from './observations.js';

export type StressKind =
  'create' | 'get' | 'peek' | 'exists' | 'update' | 'patch' | 'touch' | 'terminate' | 'mutate' | 'pause';

/** One step of one client's plan. Generations are not in the plan: clients use what they last saw. */
export interface StressStep {
  readonly kind: StressKind;
  /** Index into the ids. */
  readonly id: number;
  /** Index into the per-call TTLs. */
  readonly ttl: number;
  /** CAS on the last generation this client saw (else: no expected generation, where optional). */
  readonly cas: boolean;
  /** For `pause`: ms to sleep (lets TTLs run out between operations). */
  readonly pauseMs: number;
}

export type KindWeights = Partial<Record<StressKind, number>>;

export const ALL_KINDS: KindWeights = {
  create: 3,
  get: 2,
  peek: 2,
  exists: 1,
  update: 3,
  patch: 2,
  touch: 1,
  terminate: 1,
  mutate: 2,
  pause: 1,
};

/** Plans for `clients` clients of `minOps..maxOps` steps each. */
export function stressPlan(
  weights: KindWeights,
  clients: number,
  ids: number,
  ttls: number,
  minOps: number,
  maxOps: number,
): fc.Arbitrary<StressStep[][]> {
  const kind = fc.oneof(
    ...Object.entries(weights).map(([k, w]) => ({ arbitrary: fc.constant(k as StressKind), weight: w })),
  );
  const step = fc.record({
    kind,
    id: fc.nat({ max: ids - 1 }),
    ttl: fc.nat({ max: ttls - 1 }),
    cas: fc.boolean(),
    pauseMs: fc.integer({ min: 0, max: 4 }),
  });
  return fc.array(fc.array(step, { minLength: minOps, maxLength: maxOps, size: 'max' }), {
    minLength: clients,
    maxLength: clients,
  });
}

export interface StressSetup {
  /** One connection per client (same length as the plan). */
  readonly clients: readonly Redis[];
  readonly makeStore: (client: Redis, prefix: string) => SessionStore;
  readonly prefix: string;
  readonly ids: readonly string[];
  /** TTLs the steps choose from (ms). */
  readonly ttls: readonly number[];
  /** The store's options, as the model sees them. */
  readonly cfg: ModelConfig;
  /** Polls PTTL of every id's key during the run when set. */
  readonly monitor?: Redis;
  readonly mutateMaxAttempts?: number;
  /**
   * A client stops after this many unknown outcomes (default 8). Each one may
   * apply at any later point, which multiplies the checker's search; the cap
   * keeps a history checkable however slow the machine is.
   */
  readonly maxUnknownPerClient?: number;
}

export interface StressRun {
  /** Every operation; unknown outcomes bounded by connection order when no client reconnected. */
  readonly history: History;
  /** Reconnections of client connections during the run. */
  readonly reconnects: number;
  /** ttl-invariant breaches the monitor saw. */
  readonly ttlViolations: string[];
  readonly monitorPolls: number;
}

function opFor(step: StressStep, ttlMs: number, seen: Session | undefined, client: number, n: number): SessionOp {
  const mine = { [`c${client}`]: String(n) };
  const expected = step.cas && seen ? { expected: seen.generation } : {};
  switch (step.kind) {
    case 'create':
      return { f: 'create', metadata: mine, ttlMs };
    case 'get':
    case 'peek':
    case 'exists':
      return { f: step.kind };
    case 'update':
      return { f: 'update', expected: seen?.generation ?? 1, metadata: { ...seen?.metadata, ...mine }, ttlMs };
    case 'patch':
      return { f: 'patch', set: mine, remove: n % 3 === 0 ? ['c-none'] : [], ttlMs, ...expected };
    case 'touch':
      return { f: 'touch', ttlMs, ...expected };
    case 'terminate':
      return { f: 'terminate', ...expected };
    case 'mutate':
      return { f: 'mutate', set: mine, ttlMs };
    case 'pause':
      throw new Error('pause is not an op');
  }
}

async function runClient(
  setup: StressSetup,
  history: History,
  client: number,
  plan: readonly StressStep[],
): Promise<void> {
  const store = setup.makeStore(setup.clients[client]!, setup.prefix);
  const seen = new Map<string, Session>();
  let n = 0;
  let unknown = 0;
  for (const step of plan) {
    if (unknown >= (setup.maxUnknownPerClient ?? 8)) break;
    if (step.kind === 'pause') {
      await sleep(step.pauseMs);
      continue;
    }
    const id = setup.ids[step.id]!;
    const op = opFor(step, setup.ttls[step.ttl]!, seen.get(id), client, ++n);
    const r = await history.record(`c${client}`, id, op, () =>
      execute(store, id, op, { maxAttempts: setup.mutateMaxAttempts ?? 5 }),
    );
    if (r.failed) {
      unknown++;
      continue;
    }
    const s = sessionIn(r.output);
    if (s) seen.set(id, s);
    else if (
      r.output === null ||
      r.output === false ||
      (isObj(r.output) && r.output.ok === false && r.output.reason !== 'exists')
    ) {
      seen.delete(id);
    }
  }
}

/** Polls every id's PTTL until `done()`; records keys without a TTL or above `maxTtl`. */
async function monitorTtls(
  monitor: Redis,
  keys: readonly string[],
  maxTtl: number,
  done: () => boolean,
  violations: string[],
): Promise<number> {
  let polls = 0;
  for (; polls < 1_000_000 && !done(); polls++) {
    const pttls = await Promise.all(keys.map((k) => monitor.pttl(k)));
    pttls.forEach((p, i) => {
      // -2: no key. 0: expires within the current millisecond (Redis rounds down) but still has its TTL.
      if (p !== -2 && !(p >= 0 && p <= maxTtl))
        violations.push(`${keys[i]} had PTTL ${p} (allowed: no key, or 0..${maxTtl})`);
    });
    if (violations.length > 20) break;
  }
  return polls;
}

/** Runs one plan: every client at once, the monitor alongside. */
export async function runStress(setup: StressSetup, plan: readonly (readonly StressStep[])[]): Promise<StressRun> {
  const history = new History();
  const ttlViolations: string[] = [];
  let finished = false;
  const monitor = setup.monitor
    ? monitorTtls(
        setup.monitor,
        setup.ids.map((id) => sessionKey(id, setup.prefix)),
        Math.max(setup.cfg.ttlMs, setup.cfg.tombstoneTtlMs, ...setup.ttls),
        () => finished,
        ttlViolations,
      )
    : Promise.resolve(0);
  let reconnects = 0;
  const onReconnect = (): void => {
    reconnects++;
  };
  for (const c of setup.clients) c.on('reconnecting', onReconnect);
  try {
    await Promise.all(plan.map((steps, c) => runClient(setup, history, c, steps)));
  } finally {
    finished = true;
    for (const c of setup.clients) c.off('reconnecting', onReconnect);
  }
  const monitorPolls = await monitor;
  if (reconnects === 0) boundByConnectionOrder(history.entries);
  return { history, reconnects, ttlViolations, monitorPolls };
}
