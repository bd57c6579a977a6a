/**
 * Race properties of the sessions of a principal (issue #13), under
 * `fc.scheduler` schedules (see test/support/race.ts): `terminateAll`
 * interleaved with creates, updates, touches, reads and expiry of the same
 * principal's sessions, and capped creates racing each other.
 *
 * Two oracles: each property's own assertions, and the linearizability
 * checker with the session model (per id; see terminateAllRace for how the
 * principal calls are split into per-id operations). Operations are stamped
 * with a logical clock (flows take one step at a time). The same properties
 * run on the real stores (they must hold) and on the naive store (they must
 * fail).
 * @module
 */
import fc from 'fast-check';
import type { Session, SessionStore, SessionStoreOptions } from '../../src/index.js';
import { fcParams } from '../infra/budget.js';
import type { SessionOp, SessionOutput } from '../oracles/model.js';
import { History, checkSessionHistory, logicalClock } from '../oracles/session-history.js';
import { type Flow, type RaceTarget, type RaceWorld, runFlows } from '../oracles/race.js';

export class PrincipalViolation extends Error {
  override readonly name = 'PrincipalViolation';
}

const P = 'ada';
const TTL = 60_000;

class PrincipalRun {
  readonly world: RaceWorld;
  constructor(target: RaceTarget, options: SessionStoreOptions = {}) {
    this.world = target.open({ ttlMs: TTL, tombstoneTtlMs: TTL, ...options } as never);
  }
  store(flow?: Flow): SessionStore {
    return this.world.storeFor(flow);
  }
}

type Writer = 'update' | 'touch' | 'patch' | 'get' | 'create' | 'expire';
const writer = fc.constantFrom<Writer>('update', 'touch', 'patch', 'get', 'create', 'expire');

function fail(property: string, message: string): never {
  throw new PrincipalViolation(`${property}: ${message}`);
}

/** Which checks a run makes: the property's own assertions, the linearizability checker, or both (default). */
export interface PrincipalRaceOptions {
  readonly checks?: 'all' | 'assertions' | 'checker';
  readonly fc?: fc.Parameters<unknown>;
  /** A run expected to fail (the naive store): print nothing, write no history files. */
  readonly expectFailure?: boolean;
}

/** The generation a tombstone of `id` holds (read raw after the race), or undefined when there is none. */
async function tombstoneGeneration(store: SessionStore, id: string): Promise<number | undefined> {
  const records = (store as unknown as { records?: Map<string, { kind: string; generation?: number }> }).records;
  if (records) {
    const rec = records.get(id);
    return rec?.kind === 'tombstone' ? rec.generation : undefined;
  }
  const r = store as unknown as {
    client: { hgetall(k: string): Promise<Record<string, string>> };
    keyFor(id: string): string;
  };
  const h = await r.client.hgetall(r.keyFor(id));
  return h.t === undefined ? undefined : Number(h.g);
}

/**
 * `terminate-all`: when terminateAll(P) resolves, no session of P whose create
 * was acknowledged before it started is live, and late writers get
 * `terminated` (or `not_found` once expired); a create racing with it ends
 * terminated or is seen live by a sessionsOf after both; sessionsOf after the
 * race returns exactly the live sessions of P.
 *
 * The linearizability checker sees every call on every id, with the two
 * principal calls split into what they promise per id: terminateAll is, for
 * each id it reports, a terminate of that id somewhere inside its interval
 * (at the generation its tombstone holds); sessionsOf is, for each id, a peek
 * inside its interval that saw the listed session, or nothing for an id it
 * did not list. Neither is one atomic step (on a Cluster they span slots), and
 * the session model checks each id on its own.
 */
export function terminateAllRace(target: RaceTarget, numRuns: number, opts: PrincipalRaceOptions = {}): Promise<void> {
  const property = 'terminate-all';
  const assertions = opts.checks !== 'checker';
  const check = (message: string) => {
    if (assertions) fail(property, message);
  };
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 3 }),
      fc.array(writer, { minLength: 1, maxLength: 4 }),
      async (s, initial, kinds) => {
        const run = new PrincipalRun(target);
        const history = new History(logicalClock());
        const universe = [
          ...Array.from({ length: initial }, (_, i) => `s${i}`),
          ...kinds.flatMap((k, i) => (k === 'create' ? [`new${i}`] : [])),
        ];
        const rec = <T>(who: string, id: string, op: SessionOp, fn: () => Promise<T>) =>
          history.record(who, id, op, fn as () => Promise<SessionOutput>).then((r) => r.output as T);
        const createOp = (metadata: Record<string, string>): SessionOp => ({ f: 'create', metadata, ttlMs: TTL });
        /** sessionsOf, recorded as one peek per id of the universe inside its interval. */
        const sessionsOf = async (who: string, store: SessionStore): Promise<Session[]> => {
          const call = history.clock();
          const listed = await store.sessionsOf(P);
          const ret = history.clock();
          for (const id of universe) {
            const output = listed.find((x) => x.id === id) ?? null;
            history.entries.push({ client: who, id, op: { f: 'peek' }, call, ret, output });
          }
          return listed;
        };
        try {
          const before: Session[] = [];
          for (let i = 0; i < initial; i++) {
            const id = `s${i}`;
            const r = await rec('setup', id, createOp({ n: String(i) }), () =>
              run.store().create(id, { n: String(i) }, { ttlMs: TTL, principal: P }),
            );
            if (!r.ok) throw new Error(`setup create failed: ${JSON.stringify(r)}`);
            before.push(r.session);
          }
          let ended: { call: number; ret: number; terminated: string[] } | undefined;
          const raced: Array<{ id: string; ok: boolean }> = [];
          await runFlows(s, [
            [
              'terminateAll',
              async (flow) => {
                const call = history.clock();
                const r = await run.store(flow).terminateAll(P);
                ended = { call, ret: history.clock(), terminated: r.terminated };
              },
            ],
            ...kinds.map(
              (kind, i) =>
                [
                  `${kind}${i}`,
                  async (flow: Flow) => {
                    const who = flow.name;
                    const store = run.store(flow);
                    const id = before[i % before.length]!.id;
                    switch (kind) {
                      case 'update': {
                        const cur = await rec<Session | null>(who, id, { f: 'peek' }, () => store.peek(id));
                        await flow.gate('update: between read and write');
                        if (!cur) break;
                        const metadata = { w: String(i) };
                        const op: SessionOp = { f: 'update', expected: cur.generation, metadata, ttlMs: TTL };
                        await rec(who, id, op, () => store.update(id, cur.generation, metadata, { ttlMs: TTL }));
                        break;
                      }
                      case 'touch':
                        await rec(who, id, { f: 'touch', ttlMs: TTL }, () => store.touch(id, { ttlMs: TTL }));
                        break;
                      case 'patch': {
                        const set = { w: String(i) };
                        const op: SessionOp = { f: 'patch', set, remove: [], ttlMs: TTL };
                        await rec(who, id, op, () => store.patch(id, { set }, { ttlMs: TTL }));
                        break;
                      }
                      case 'get':
                        await rec(who, id, { f: 'get' }, () => store.get(id));
                        break;
                      case 'expire': {
                        // The memory world has one clock: its expire ends every record, so every id records it.
                        const call = history.clock();
                        await run.world.expire(id);
                        const ret = history.clock();
                        const hit = target.name === 'MemorySessionStore' ? universe : [id];
                        for (const x of hit)
                          history.entries.push({ client: who, id: x, op: { f: 'expire' }, call, ret });
                        break;
                      }
                      case 'create': {
                        const nid = `new${i}`;
                        const r = await rec<{ ok: boolean }>(who, nid, createOp({}), () =>
                          store.create(nid, {}, { ttlMs: TTL, principal: P }),
                        );
                        raced.push({ id: nid, ok: r.ok });
                        break;
                      }
                    }
                  },
                ] as const,
            ),
          ]);
          if (!ended) throw new Error('terminateAll did not run');
          const store = run.store();
          for (const id of ended.terminated) {
            const generation = await tombstoneGeneration(store, id);
            history.entries.push({
              client: 'terminateAll',
              id,
              op: { f: 'terminate' },
              call: ended.call,
              ret: ended.ret,
              ...(generation === undefined
                ? { unknown: true, effectBy: ended.ret }
                : { output: { ok: true, generation } }),
            });
          }
          // Every session of P acknowledged before terminateAll started is gone, for readers and late writers.
          for (const b of before) {
            const seen = await rec<Session | null>('observer', b.id, { f: 'peek' }, () => store.peek(b.id));
            if (seen) check(`${b.id} is live after terminateAll resolved: ${JSON.stringify(seen)}`);
            const set = { late: '1' };
            const op: SessionOp = { f: 'patch', set, remove: [], ttlMs: TTL };
            const late = await rec<{ ok: boolean }>('observer', b.id, op, () =>
              store.patch(b.id, { set }, { ttlMs: TTL }),
            );
            if (late.ok) check(`a late write to ${b.id} succeeded after terminateAll`);
          }
          const listed = await sessionsOf('observer', store);
          const listedIds = new Set(listed.map((x) => x.id));
          // A racing create ends terminated, or is live and listed; sessionsOf lists exactly the live ones.
          for (const id of universe) {
            const live = await rec<Session | null>('observer', id, { f: 'peek' }, () => store.peek(id));
            if (live && !listedIds.has(id)) check(`live ${id} missing from sessionsOf(${P})`);
            if (!live && listedIds.has(id)) check(`sessionsOf lists ${id}, which is not live`);
          }
          for (const r of raced) if (r.ok && !listedIds.has(r.id) && (await store.peek(r.id))) check(`${r.id} unseen`);
          // terminated names only sessions it ended: each now reads as terminated or gone.
          for (const id of ended.terminated) {
            if (await store.peek(id)) check(`terminateAll reported ${id} ended, but it is live`);
          }
          if (opts.checks !== 'assertions') {
            const quiet = opts.expectFailure === true;
            const v = checkSessionHistory(property, history.entries, run.world.cfg, { quiet, artifact: !quiet });
            if (!v.ok) throw new PrincipalViolation(v.message);
          }
        } finally {
          await run.world.close();
        }
      },
    ),
    fcParams(numRuns, opts.fc),
  );
}

/**
 * `principal-cap`: with maxSessionsPerPrincipal N, concurrent creates (and a
 * terminateAll) never leave more than N sessions of P live once they all
 * resolved; in 'refuse' mode a create that reported ok is live unless ended
 * since, one that reported limit left nothing live.
 */
export function capRace(
  target: RaceTarget,
  mode: 'evict-oldest' | 'refuse',
  numRuns: number,
  extra?: fc.Parameters<unknown>,
): Promise<void> {
  const property = `principal-cap (${mode})`;
  return fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 2, max: 4 }),
      fc.boolean(),
      async (s, cap, creators, withTerminateAll) => {
        const run = new PrincipalRun(target, { maxSessionsPerPrincipal: cap, onPrincipalLimit: mode });
        try {
          const results: Array<{ id: string; ok: boolean; reason?: string }> = [];
          await runFlows(s, [
            ...Array.from(
              { length: creators },
              (_, i) =>
                [
                  `create${i}`,
                  async (flow: Flow) => {
                    const id = `c${i}`;
                    const r = await run.store(flow).create(id, {}, { principal: P });
                    results.push(r.ok ? { id, ok: true } : { id, ok: false, reason: r.reason });
                  },
                ] as const,
            ),
            ...(withTerminateAll
              ? [
                  [
                    'terminateAll',
                    async (flow: Flow) => {
                      await run.store(flow).terminateAll(P, { except: ['c0'] });
                    },
                  ] as const,
                ]
              : []),
          ]);
          const store = run.store();
          let live = 0;
          for (const r of results) {
            const seen = await store.peek(r.id);
            if (seen) live++;
            if (!r.ok && r.reason !== 'limit') fail(property, `create ${r.id} failed with ${r.reason}`);
            if (!r.ok && seen) fail(property, `${r.id} was refused but is live`);
          }
          if (live > cap) fail(property, `${live} sessions of ${P} are live, over the cap of ${cap}`);
          const listed = await store.sessionsOf(P);
          if (listed.length !== live) fail(property, `sessionsOf lists ${listed.length}, ${live} are live`);
        } finally {
          await run.world.close();
        }
      },
    ),
    fcParams(numRuns, extra),
  );
}
