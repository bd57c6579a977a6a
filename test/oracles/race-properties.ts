/**
 * The named race properties, each a function that runs `fc.assert` against a
 * race target and rejects when the property fails. The same functions run
 * against the real stores (they must pass) and the naive store (they must
 * fail). Every run's history is also checked for linearizability.
 * @module
 */
import fc from 'fast-check';
import type { Metadata, Session, SessionStore } from '../../src/index.js';
import { fcParams } from '../infra/budget.js';
import { History, type HistoryEntry, checkSessionHistory, execute, logicalClock } from './session-history.js';
import type { SessionOp, SessionOutput } from './model.js';
import { describeEntry, generationBreach, isObj, sessionIn as sessionOf, seesLive } from './observations.js';
import { type Flow, type RaceTarget, type RaceTtls, type RaceWorld, runFlows } from './race.js';

const ID = 'sess';
/** Long enough that nothing expires unless a flow forces it. */
const TTLS: RaceTtls = { ttlMs: 60_000, tombstoneTtlMs: 60_000 };

export class PropertyViolation extends Error {
  override readonly name = 'PropertyViolation';
}

function violated(property: string, message: string): never {
  throw new PropertyViolation(`${property}: ${message}`);
}

/** Which checks a run makes: the property's own assertions, the linearizability checker, or both (default). */
export interface RaceOptions {
  readonly checks?: 'all' | 'assertions' | 'checker';
  readonly fc?: fc.Parameters<unknown>;
  /** A run expected to fail (the naive store): print nothing, write no history files. */
  readonly expectFailure?: boolean;
}

/** The checks of one property, honouring `RaceOptions.checks`. */
class Checks {
  constructor(
    readonly property: string,
    private readonly opts: RaceOptions,
  ) {}

  /** A breach of the property's own assertion (skipped when only the checker runs). */
  fail(message: string): void {
    if (this.opts.checks !== 'checker') violated(this.property, message);
  }

  linearizable(run: RaceRun): void {
    if (this.opts.checks === 'assertions') return;
    const quiet = this.opts.expectFailure === true;
    const v = checkSessionHistory(this.property, run.history.entries, run.world.cfg, { quiet, artifact: !quiet });
    if (!v.ok) throw new PropertyViolation(v.message);
  }
}

/** One run of a race property: a world, a logical-time history, helpers for flows. */
class RaceRun {
  readonly history = new History(logicalClock());
  readonly world: RaceWorld;
  private readonly afterEachOp: ((e: HistoryEntry) => Promise<void>) | undefined;

  constructor(
    target: RaceTarget,
    ttls: RaceTtls = TTLS,
    afterEachOp?: (run: RaceRun, e: HistoryEntry) => Promise<void>,
  ) {
    this.world = target.open(ttls);
    this.afterEachOp = afterEachOp && ((e) => afterEachOp(this, e));
  }

  /** Runs and records one op; `flow` (if any) may be paused inside it (naive store, mutate's fn). */
  async op(who: string, op: SessionOp, flow?: Flow): Promise<SessionOutput> {
    const store: SessionStore = this.world.storeFor(flow);
    const r = await this.history.record(who, ID, op, () =>
      execute(store, ID, op, {
        expire: (id) => this.world.expire(id),
        ...(flow ? { beforeMutateReturns: () => flow.gate('mutate: inside fn') } : {}),
      }),
    );
    if (r.failed) throw new Error(`unexpected fault in a race: ${this.history.entries.at(-1)?.error}`);
    await this.afterEachOp?.(this.history.entries.at(-1)!);
    return r.output;
  }

  async create(metadata: Metadata = {}): Promise<Session> {
    const out = await this.op('setup', { f: 'create', metadata, ttlMs: TTLS.ttlMs });
    const s = sessionOf(out);
    if (!s) throw new Error(`setup create failed: ${JSON.stringify(out)}`);
    return s;
  }

  /** The highest generation any reply reported (for the observers' CAS attempts). */
  lastGeneration(): number {
    return Math.max(1, ...this.history.entries.map((e) => sessionOf(e.output)?.generation ?? 0));
  }

  /** Reads and writes after every flow has finished: none may see a session that must be gone. */
  async observe(opts: { create: boolean }): Promise<HistoryEntry[]> {
    const from = this.history.entries.length;
    const gen = this.lastGeneration();
    const ops: SessionOp[] = [
      { f: 'peek' },
      { f: 'exists' },
      { f: 'get' },
      { f: 'update', expected: gen, metadata: { late: '1' }, ttlMs: TTLS.ttlMs },
      { f: 'patch', set: { late: '1' }, remove: [], ttlMs: TTLS.ttlMs },
      { f: 'touch', ttlMs: TTLS.ttlMs },
      { f: 'mutate', set: { late: '1' }, ttlMs: TTLS.ttlMs },
      ...(opts.create ? [{ f: 'create', metadata: { late: '1' }, ttlMs: TTLS.ttlMs } as const] : []),
    ];
    for (const op of ops) await this.op('observer', op);
    return this.history.entries.slice(from);
  }

  close(): Promise<void> {
    return this.world.close();
  }
}

type WriterKind = 'cas' | 'mutate' | 'patch' | 'touch' | 'get' | 'peek' | 'exists';
const writerKind = fc.constantFrom<WriterKind>('cas', 'mutate', 'patch', 'touch', 'get', 'peek', 'exists');
const updaterKind = fc.constantFrom<WriterKind>('cas', 'mutate', 'patch');

/**
 * A writer or reader flow. Writers set their own metadata entry `tag` to
 * `1`, `2`... (one per round) and keep every other entry, so a write that is
 * acknowledged must stay visible: only its own writer changes that entry.
 */
function worker(run: RaceRun, kind: WriterKind, tag: string, rounds: number): (flow: Flow) => Promise<void> {
  return async (flow) => {
    for (let round = 1; round <= rounds; round++) {
      const value = String(round);
      switch (kind) {
        case 'cas': {
          // read -> modify -> compare-and-set, retried on conflict
          for (let attempt = 0; attempt < 4; attempt++) {
            const read = sessionOf(await run.op(flow.name, { f: 'peek' }, flow));
            if (!read) return;
            await flow.gate('cas: between read and write');
            const out = await run.op(
              flow.name,
              {
                f: 'update',
                expected: read.generation,
                metadata: { ...read.metadata, [tag]: value },
                ttlMs: TTLS.ttlMs,
              },
              flow,
            );
            if (!isObj(out) || out.reason !== 'conflict') break;
            await flow.gate('cas: retry');
          }
          break;
        }
        case 'mutate':
          await run.op(flow.name, { f: 'mutate', set: { [tag]: value }, ttlMs: TTLS.ttlMs }, flow);
          break;
        case 'patch':
          await run.op(flow.name, { f: 'patch', set: { [tag]: value }, remove: [], ttlMs: TTLS.ttlMs }, flow);
          break;
        case 'touch':
          await run.op(flow.name, { f: 'touch', ttlMs: TTLS.ttlMs }, flow);
          break;
        default:
          await run.op(flow.name, { f: kind }, flow);
      }
      if (round < rounds) await flow.gate('next round');
    }
  };
}

function workers(
  run: RaceRun,
  kinds: readonly WriterKind[],
  rounds = 1,
): Array<readonly [string, (f: Flow) => Promise<void>]> {
  return kinds.map((k, i) => [`${k}${i}`, worker(run, k, `w${i}`, rounds)] as const);
}

const single = (run: RaceRun, name: string, op: SessionOp) =>
  [
    name,
    async (flow: Flow) => {
      await run.op(flow.name, op, flow);
    },
  ] as const;

/** Runs `body` for each generated case, closing the world afterwards. */
async function withRun(
  target: RaceTarget,
  body: (run: RaceRun) => Promise<void>,
  afterEachOp?: (run: RaceRun, e: HistoryEntry) => Promise<void>,
): Promise<void> {
  const run = new RaceRun(target, TTLS, afterEachOp);
  try {
    await body(run);
  } finally {
    await run.close();
  }
}

/** `no-resurrection-after-terminate`: once terminate is acknowledged, nothing sees the session again. */
export function noResurrectionAfterTerminate(
  target: RaceTarget,
  numRuns: number,
  opts: RaceOptions = {},
): Promise<void> {
  const c = new Checks('no-resurrection-after-terminate', opts);
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(writerKind, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 2 }),
      (s, kinds, rounds) =>
        withRun(target, async (run) => {
          await run.create({ owner: 'ada' });
          await runFlows(s, [...workers(run, kinds, rounds), single(run, 'terminator', { f: 'terminate' })]);
          await run.observe({ create: true });
          const t = run.history.entries.find((e) => e.op.f === 'terminate');
          if (!t || !isObj(t.output) || t.output.ok !== true) {
            violated(c.property, `terminate of a live session failed: ${JSON.stringify(t?.output)}`);
          }
          for (const e of run.history.entries) {
            if (e.call > t.ret && seesLive(e)) {
              c.fail(`resurrection: ${describeEntry(e)} after terminate was acknowledged at ${t.ret}`);
            }
          }
          c.linearizable(run);
        }),
    ),
    fcParams(numRuns, opts.fc),
  );
}

/** `no-resurrection-after-expiry`: a write racing with expiry lands before it or gets not_found. */
export function noResurrectionAfterExpiry(target: RaceTarget, numRuns: number, opts: RaceOptions = {}): Promise<void> {
  const c = new Checks('no-resurrection-after-expiry', opts);
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(writerKind, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 2 }),
      (s, kinds, rounds) =>
        withRun(target, async (run) => {
          await run.create({ owner: 'ada' });
          await runFlows(s, [...workers(run, kinds, rounds), single(run, 'expiry', { f: 'expire' })]);
          await run.observe({ create: false });
          const x = run.history.entries.find((e) => e.op.f === 'expire')!;
          for (const e of run.history.entries) {
            if (e.call > x.ret && seesLive(e))
              c.fail(`resurrection: ${describeEntry(e)} after the session expired at ${x.ret}`);
            if (
              e.call > x.ret &&
              e.op.f !== 'get' &&
              e.op.f !== 'peek' &&
              e.op.f !== 'exists' &&
              !(isObj(e.output) && e.output.reason === 'not_found')
            ) {
              c.fail(`${describeEntry(e)} after expiry: expected not_found`);
            }
          }
          c.linearizable(run);
        }),
    ),
    fcParams(numRuns, opts.fc),
  );
}

/** `cas-exclusive`: N writers with the same expected generation, exactly one succeeds. */
export function casExclusive(target: RaceTarget, numRuns: number, opts: RaceOptions = {}): Promise<void> {
  const c = new Checks('cas-exclusive', opts);
  const casKind = fc.constantFrom<'update' | 'patch'>('update', 'patch');
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(casKind, { minLength: 2, maxLength: 6 }),
      fc.array(fc.constantFrom<WriterKind>('get', 'peek', 'touch'), { maxLength: 2 }),
      (s, kinds, readers) =>
        withRun(target, async (run) => {
          const base = await run.create({ owner: 'ada' });
          const expected = base.generation;
          const writers = kinds.map(
            (k, i) =>
              [
                `${k}${i}`,
                async (flow: Flow) => {
                  const op: SessionOp =
                    k === 'update'
                      ? { f: 'update', expected, metadata: { winner: String(i) }, ttlMs: TTLS.ttlMs }
                      : { f: 'patch', set: { winner: String(i) }, remove: [], expected, ttlMs: TTLS.ttlMs };
                  await run.op(flow.name, op, flow);
                },
              ] as const,
          );
          await runFlows(s, [
            ...writers,
            ...readers.map((k, i) => [`${k}-r${i}`, worker(run, k, `r${i}`, 1)] as const),
          ]);
          const results = run.history.entries.filter(
            (e) => e.op.f === 'update' || (e.op.f === 'patch' && e.op.expected === expected),
          );
          const wins = results.filter((e) => isObj(e.output) && e.output.ok === true);
          if (wins.length !== 1) {
            c.fail(
              `${wins.length} of ${results.length} writers at generation ${expected} succeeded: ${wins.map(describeEntry).join('; ')}`,
            );
          }
          const [final] = await run.observe({ create: false });
          if (wins.length === 1) {
            const winner = sessionOf(wins[0]!.output)!;
            for (const e of results) {
              if (e === wins[0]) continue;
              const lost = isObj(e.output) && e.output.reason === 'conflict' ? sessionOf(e.output) : undefined;
              if (
                !lost ||
                lost.generation !== winner.generation ||
                JSON.stringify(lost.metadata) !== JSON.stringify(winner.metadata)
              ) {
                c.fail(
                  `${describeEntry(e)}: expected a conflict reporting the winner's generation ${winner.generation}`,
                );
              }
            }
            const seen = sessionOf(final!.output);
            if (
              seen?.generation !== winner.generation ||
              JSON.stringify(seen.metadata) !== JSON.stringify(winner.metadata)
            ) {
              c.fail(`final read ${JSON.stringify(final!.output)} is not the winner's session`);
            }
          }
          c.linearizable(run);
        }),
    ),
    fcParams(numRuns, opts.fc),
  );
}

/** `no-lost-update`: every acknowledged update is visible at the end or superseded by a later one. */
export function noLostUpdate(target: RaceTarget, numRuns: number, opts: RaceOptions = {}): Promise<void> {
  const c = new Checks('no-lost-update', opts);
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(updaterKind, { minLength: 2, maxLength: 5 }),
      fc.integer({ min: 1, max: 2 }),
      fc.array(fc.constantFrom<WriterKind>('get', 'peek', 'touch'), { maxLength: 2 }),
      (s, kinds, rounds, readers) =>
        withRun(target, async (run) => {
          const base = await run.create({ owner: 'ada' });
          await runFlows(s, [
            ...workers(run, kinds, rounds),
            ...readers.map((k, i) => [`${k}-r${i}`, worker(run, k, `r${i}`, 1)] as const),
          ]);
          const acked = run.history.entries.filter(
            (e) =>
              (e.op.f === 'update' || e.op.f === 'patch' || e.op.f === 'mutate') &&
              isObj(e.output) &&
              e.output.ok === true,
          );
          const final = sessionOf((await run.observe({ create: false }))[0]!.output);
          if (!final) violated(c.property, 'the session vanished');
          // Each writer's last acknowledged value of its own entry must be what the session holds.
          const lastAcked = new Map<string, string>();
          for (const e of acked) {
            const tag = e.client.replace(/^[a-z]+/, 'w');
            const v = sessionOf(e.output)!.metadata[tag];
            if (v !== undefined) lastAcked.set(tag, v);
          }
          for (const [tag, v] of lastAcked) {
            if (final.metadata[tag] !== v) {
              c.fail(
                `lost update: ${tag}=${v} was acknowledged but the session ends with ${JSON.stringify(final.metadata)}`,
              );
            }
          }
          const gens = acked.map((e) => sessionOf(e.output)!.generation);
          if (new Set(gens).size !== gens.length)
            c.fail(`two acknowledged writes share a generation: ${gens.join(', ')}`);
          // Generations only grow (Redis: max(previous + 1, clock)): the session ends at the newest acknowledged one.
          const newest = Math.max(base.generation, ...gens);
          if (gens.some((g) => g <= base.generation) || final.generation !== newest) {
            c.fail(
              `writes acknowledged at ${gens.join(', ')} from generation ${base.generation}, but the session is at ${final.generation}`,
            );
          }
          c.linearizable(run);
        }),
    ),
    fcParams(numRuns, opts.fc),
  );
}

/**
 * `generation-monotonic`: whenever one operation returns before another is
 * invoked, the second never reports a lower generation; a create reports a
 * higher one than anything before it (across terminate, expiry and
 * re-create: no ABA); one generation always comes with the same metadata.
 */
export function generationMonotonic(target: RaceTarget, numRuns: number, opts: RaceOptions = {}): Promise<void> {
  const c = new Checks('generation-monotonic', opts);
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(writerKind, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 2 }),
      (s, kinds, terminate, expiries, creators) =>
        withRun(target, async (run) => {
          await run.create({ owner: 'ada' });
          await runFlows(s, [
            ...workers(run, kinds, 2),
            ...(terminate ? [single(run, 'terminator', { f: 'terminate' })] : []),
            ...Array.from({ length: expiries }, (_, i) => single(run, `expiry${i}`, { f: 'expire' })),
            ...Array.from({ length: creators }, (_, i) =>
              single(run, `creator${i}`, { f: 'create', metadata: { c: String(i) }, ttlMs: TTLS.ttlMs }),
            ),
          ]);
          await run.observe({ create: true });
          const breach = generationBreach(run.history.entries);
          if (breach) c.fail(breach);
          c.linearizable(run);
        }),
    ),
    fcParams(numRuns, opts.fc),
  );
}

/** `ttl-invariant` on a race: after every step, every record has a TTL in (0, ttlMs]. */
export function ttlInvariantRace(target: RaceTarget, numRuns: number, opts: RaceOptions = {}): Promise<void> {
  const c = new Checks('ttl-invariant', opts);
  const checkTtls = async (run: RaceRun, e: HistoryEntry): Promise<void> => {
    for (const { key, pttl } of await run.world.ttls()) {
      if (!(pttl > 0 && pttl <= TTLS.ttlMs))
        c.fail(`after ${describeEntry(e)}: key ${key} has PTTL ${pttl}, outside (0, ${TTLS.ttlMs}]`);
    }
  };
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(writerKind, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      (s, kinds, terminate, expire, create) =>
        withRun(
          target,
          async (run) => {
            await run.create({ owner: 'ada' });
            await runFlows(s, [
              ...workers(run, kinds, 2),
              ...(terminate ? [single(run, 'terminator', { f: 'terminate' })] : []),
              ...(expire ? [single(run, 'expiry', { f: 'expire' })] : []),
              ...(create ? [single(run, 'creator', { f: 'create', metadata: {}, ttlMs: TTLS.ttlMs })] : []),
            ]);
            await run.observe({ create: true });
            c.linearizable(run);
          },
          checkTtls,
        ),
    ),
    fcParams(numRuns, opts.fc),
  );
}
