/**
 * The contract of sessions of a principal (issue #13), run by contractSuite on
 * every target: create with a principal, Session.principal and createdAt,
 * sessionsOf, terminateAll, the cap in both modes, maxLifetimeMs, the
 * principal in change events, and bad input rejected before any I/O.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  type ChangeFeed,
  MAX_ID_LENGTH,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
  isInvalidArgument,
} from '../../src/index.js';
import type { ContractTarget } from './contract-targets.js';

const TTL = 60_000;
const SHORT = 60;

function expectOk<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r as Extract<T, { ok: true }>;
}

const ids = (sessions: readonly Session[]) => sessions.map((s) => s.id);

export function principalsSuite(target: ContractTarget): void {
  const mk = (o: SessionStoreOptions = {}) => target.makeStore({ ttlMs: TTL, ...o });
  /** Creates sessions one after the other (distinct createdAt on the memory clock: it moves 1 ms each). */
  async function createAll(store: SessionStore, principal: string, names: readonly string[]): Promise<Session[]> {
    const out: Session[] = [];
    for (const id of names) {
      out.push(expectOk(await store.create(id, { n: id }, { principal })).session);
      if (!target.realTime) await target.advance(1);
    }
    return out;
  }

  describe('sessions of a principal', () => {
    describe('create with a principal', () => {
      it('stores the principal and createdAt, and every read returns them', async () => {
        const store = mk();
        const before = Date.now();
        const s = expectOk(await store.create('a', { k: 'v' }, { principal: 'ada' })).session;
        expect(s.principal).toBe('ada');
        expect(Number.isSafeInteger(s.createdAt)).toBe(true);
        if (target.realTime) {
          // The server's clock: on this machine the same as ours, give or take.
          expect(s.createdAt).toBeGreaterThanOrEqual(before - 1_000);
          expect(s.createdAt).toBeLessThanOrEqual(Date.now() + 1_000);
        }
        expect(await store.peek('a')).toEqual(s);
        expect(await store.get('a')).toEqual(s);
      });

      it('without a principal: no principal property, createdAt still set', async () => {
        const store = mk();
        const s = expectOk(await store.create('a')).session;
        expect('principal' in s).toBe(false);
        expect(typeof s.createdAt).toBe('number');
        expect(await store.peek('a')).toEqual(s);
      });

      it('update, patch, touch and mutate keep principal and createdAt', async () => {
        const store = mk();
        const s = expectOk(await store.create('a', {}, { principal: 'ada' })).session;
        if (!target.realTime) await target.advance(5);
        const u = expectOk(await store.update('a', s.generation, { x: '1' })).session;
        expect(u).toEqual({ ...s, generation: u.generation, metadata: { x: '1' } });
        const p = expectOk(await store.patch('a', { set: { y: '2' } })).session;
        expect(p).toEqual({ ...s, generation: p.generation, metadata: { x: '1', y: '2' } });
        expectOk(await store.touch('a'));
        const m = expectOk(await store.mutate('a', (c) => ({ ...c.metadata, z: '3' }))).session;
        expect(m.principal).toBe('ada');
        expect(m.createdAt).toBe(s.createdAt);
        expect(await store.peek('a')).toEqual(m);
      });
    });

    describe('sessionsOf', () => {
      it('lists the live sessions of the principal, oldest createdAt first, and no one else', async () => {
        const store = mk();
        const made = await createAll(store, 'ada', ['s1', 's2', 's3']);
        await createAll(store, 'bob', ['b1']);
        expectOk(await store.create('plain'));
        const list = await store.sessionsOf('ada');
        expect(list).toEqual([...made].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)));
        expect(ids(await store.sessionsOf('bob'))).toEqual(['b1']);
        expect(await store.sessionsOf('nobody')).toEqual([]);
      });

      it('returns the current snapshot of each session', async () => {
        const store = mk();
        const [s] = await createAll(store, 'ada', ['s1']);
        const u = expectOk(await store.update('s1', s!.generation, { v: 'new' })).session;
        expect(await store.sessionsOf('ada')).toEqual([u]);
      });

      it('leaves out terminated and expired sessions', async () => {
        const store = mk();
        await createAll(store, 'ada', ['keep', 'gone']);
        expectOk(await store.create('short', {}, { principal: 'ada', ttlMs: SHORT }));
        expectOk(await store.terminate('gone'));
        await target.advance(SHORT);
        expect(ids(await store.sessionsOf('ada'))).toEqual(['keep']);
      });

      it('never refreshes a TTL', async () => {
        const store = mk();
        expectOk(await store.create('a', {}, { principal: 'ada', ttlMs: 10_000 }));
        await target.advance(300);
        const before = await target.pttl(store, 'a');
        await store.sessionsOf('ada');
        expect(await target.pttl(store, 'a')).toBeLessThanOrEqual(before);
        expect(before).toBeLessThanOrEqual(10_000 - 300);
      });

      it('an id re-created for another principal leaves the first one', async () => {
        const store = mk({ tombstoneTtlMs: SHORT });
        await createAll(store, 'ada', ['x']);
        expectOk(await store.terminate('x'));
        await target.advance(SHORT);
        await createAll(store, 'bob', ['x']);
        expect(await store.sessionsOf('ada')).toEqual([]);
        expect(ids(await store.sessionsOf('bob'))).toEqual(['x']);
      });

      it('sees a session that sliding TTL resets keep alive past its first TTL', async () => {
        const store = mk({ ttlMs: 400 });
        await createAll(store, 'ada', ['a']);
        for (let i = 0; i < 6; i++) {
          await target.advance(150);
          expectOk(await store.touch('a'));
        }
        expect(ids(await store.sessionsOf('ada'))).toEqual(['a']);
      });
    });

    describe('terminateAll', () => {
      it('ends every live session of the principal, each with a tombstone, and returns their ids', async () => {
        const store = mk();
        const made = await createAll(store, 'ada', ['s1', 's2', 's3']);
        await createAll(store, 'bob', ['b1']);
        const r = await store.terminateAll('ada');
        expect([...r.terminated].sort()).toEqual(['s1', 's2', 's3']);
        expect(await store.sessionsOf('ada')).toEqual([]);
        for (const s of made) {
          expect(await store.peek(s.id)).toBeNull();
          expect(await store.update(s.id, s.generation, { late: 'write' })).toEqual({
            ok: false,
            reason: 'terminated',
          });
          expect(await store.touch(s.id)).toEqual({ ok: false, reason: 'terminated' });
          expect(await store.create(s.id)).toEqual({ ok: false, reason: 'terminated' });
        }
        expect(ids(await store.sessionsOf('bob'))).toEqual(['b1']);
      });

      it('keeps the ids in except', async () => {
        const store = mk();
        await createAll(store, 'ada', ['s1', 's2', 's3']);
        const r = await store.terminateAll('ada', { except: ['s2', 'not-a-session'] });
        expect([...r.terminated].sort()).toEqual(['s1', 's3']);
        expect(ids(await store.sessionsOf('ada'))).toEqual(['s2']);
      });

      it('of a principal without sessions ends nothing', async () => {
        const store = mk();
        expect(await store.terminateAll('nobody')).toEqual({ terminated: [] });
        expect(await store.terminateAll('nobody', { except: [] })).toEqual({ terminated: [] });
      });

      it('does not count sessions already ended', async () => {
        const store = mk();
        await createAll(store, 'ada', ['s1', 's2']);
        expectOk(await store.terminate('s1'));
        expect((await store.terminateAll('ada')).terminated).toEqual(['s2']);
        expect((await store.terminateAll('ada')).terminated).toEqual([]);
      });
    });

    describe('maxSessionsPerPrincipal', () => {
      it("'evict-oldest' (the default) terminates the oldest so that at most the cap remain", async () => {
        const store = mk({ maxSessionsPerPrincipal: 2 });
        await createAll(store, 'ada', ['s1', 's2']);
        const r = await store.create('s3', {}, { principal: 'ada' });
        expect(r.ok).toBe(true);
        expect(ids(await store.sessionsOf('ada'))).toEqual(['s2', 's3']);
        expect(await store.create('s1')).toEqual({ ok: false, reason: 'terminated' });
        await createAll(store, 'ada', ['s4']);
        expect(ids(await store.sessionsOf('ada'))).toEqual(['s3', 's4']);
      });

      it("'refuse' answers limit and creates nothing", async () => {
        const store = mk({ maxSessionsPerPrincipal: 2, onPrincipalLimit: 'refuse' });
        await createAll(store, 'ada', ['s1', 's2']);
        expect(await store.create('s3', {}, { principal: 'ada' })).toEqual({ ok: false, reason: 'limit' });
        expect(await store.exists('s3')).toBe(false);
        expect(ids(await store.sessionsOf('ada'))).toEqual(['s1', 's2']);
        // Other principals and sessions without one are not capped by ada's sessions.
        await createAll(store, 'bob', ['b1']);
        expectOk(await store.create('plain'));
        // Once a place is free, the same id can be created.
        expectOk(await store.terminate('s1'));
        expectOk(await store.create('s3', {}, { principal: 'ada' }));
        expect(ids(await store.sessionsOf('ada'))).toEqual(['s2', 's3']);
      });

      it('counts only live sessions', async () => {
        const store = mk({ maxSessionsPerPrincipal: 1, onPrincipalLimit: 'refuse' });
        expectOk(await store.create('short', {}, { principal: 'ada', ttlMs: SHORT }));
        await target.advance(SHORT);
        expectOk(await store.create('next', {}, { principal: 'ada' }));
        expect(await store.create('third', {}, { principal: 'ada' })).toEqual({ ok: false, reason: 'limit' });
      });

      for (const mode of ['evict-oldest', 'refuse'] as const) {
        it(`${mode}: concurrent creates never leave more than the cap live`, async () => {
          const store = mk({ maxSessionsPerPrincipal: 2, onPrincipalLimit: mode });
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) => store.create(`c${i}`, {}, { principal: 'ada' })),
          );
          for (const r of results) if (!r.ok) expect(r.reason).toBe('limit');
          const live = await store.sessionsOf('ada');
          expect(live.length).toBeLessThanOrEqual(2);
          expect(live.length).toBeGreaterThanOrEqual(1);
          let alive = 0;
          for (let i = 0; i < 8; i++) if (await store.exists(`c${i}`)) alive++;
          expect(alive).toBe(live.length);
          // A refused create reports limit; one that reports ok is live unless a later create evicted it.
          for (const [i, r] of results.entries())
            if (mode === 'refuse' && r.ok) expect(await store.exists(`c${i}`)).toBe(true);
        });
      }
    });

    describe('maxLifetimeMs', () => {
      const LIFETIME = 1_500;
      it('clamps every TTL to createdAt + maxLifetimeMs, and the session ends there', async () => {
        const store = mk({ maxLifetimeMs: LIFETIME });
        const s = expectOk(await store.create('a', {}, { principal: 'ada' })).session;
        expectOk(await store.create('b'));
        expect(await target.pttl(store, 'a')).toBeLessThanOrEqual(LIFETIME);
        expect(await target.pttl(store, 'b')).toBeLessThanOrEqual(LIFETIME);
        let gen = s.generation;
        const started = Date.now();
        // Writes keep working until the deadline, and none of them moves it.
        for (let i = 0; i < 5; i++) {
          await target.advance(200);
          expect(await store.get('a')).not.toBeNull();
          expectOk(await store.touch('a', { ttlMs: TTL }));
          gen = expectOk(await store.update('a', gen, { i: String(i) }, { ttlMs: TTL })).session.generation;
          expectOk(await store.patch('b', { set: { i: String(i) } }, { ttlMs: TTL }));
          const elapsed = target.realTime ? Date.now() - started : 200 * (i + 1);
          expect(await target.pttl(store, 'a')).toBeLessThanOrEqual(LIFETIME - elapsed + 50);
        }
        await target.advance(LIFETIME);
        expect(await store.peek('a')).toBeNull();
        expect(await store.get('b')).toBeNull();
        expect(await store.touch('a')).toEqual({ ok: false, reason: 'not_found' });
        expect(await store.update('a', gen, {})).toEqual({ ok: false, reason: 'not_found' });
        expect(await store.sessionsOf('ada')).toEqual([]);
      });
    });

    describe('change events carry the principal', () => {
      it('created, updated and terminated (one per session of terminateAll)', async () => {
        const store = mk(target.realTime ? ({ eventsChannel: 'principals-events' } as SessionStoreOptions) : {});
        const events: ChangeEvent[] = [];
        const sub = await (store as unknown as ChangeFeed).subscribe((e) => events.push(e));
        try {
          const [a] = await createAll(store, 'ada', ['a', 'b']);
          expectOk(await store.create('plain'));
          expectOk(await store.update('a', a!.generation, { v: '1' }));
          await store.terminateAll('ada');
          const deadline = Date.now() + 5_000;
          while (events.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          const seen = events.map((e) => `${e.kind} ${e.id} ${e.principal ?? '-'}`).sort();
          expect(seen).toEqual(
            [
              'created a ada',
              'created b ada',
              'created plain -',
              'updated a ada',
              'terminated a ada',
              'terminated b ada',
            ].sort(),
          );
          expect('principal' in events.find((e) => e.id === 'plain')!).toBe(false);
        } finally {
          await sub.unsubscribe();
        }
      });
    });

    describe('bad input is rejected before any I/O, naming the argument', () => {
      const badPrincipals: Array<[string, unknown]> = [
        ['empty', ''],
        ['a number', 7],
        ['null', null],
        ['a lone surrogate', 'a\uD800b'],
        ['too long', 'p'.repeat(MAX_ID_LENGTH + 1)],
      ];
      const rejects = async (call: () => Promise<unknown>, argument: string) => {
        const before = target.commandsSent();
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isInvalidArgument(err), String(err)).toBe(true);
        expect((err as { argument: string }).argument).toBe(argument);
        expect(target.commandsSent()).toBe(before);
      };

      for (const [what, p] of badPrincipals) {
        it(`principal ${what}`, async () => {
          const store = mk();
          await rejects(() => store.create('s', {}, { principal: p as string }), 'opts.principal');
          await rejects(() => store.sessionsOf(p as string), 'principal');
          await rejects(() => store.terminateAll(p as string), 'principal');
        });
      }

      it('except that is not an array of ids', async () => {
        const store = mk();
        await rejects(() => store.terminateAll('ada', { except: 'a' as unknown as string[] }), 'opts.except');
        await rejects(() => store.terminateAll('ada', { except: [1] as unknown as string[] }), 'opts.except');
        await rejects(() => store.terminateAll('ada', { except: ['a', ''] }), 'opts.except');
        // eslint-disable-next-line no-sparse-arrays
        await rejects(() => store.terminateAll('ada', { except: ['a', , 'b'] as string[] }), 'opts.except');
        await rejects(() => store.terminateAll('ada', { expect: [] } as never), 'opts.expect');
      });

      it('bad caps and modes throw from the constructor', () => {
        const bad: Array<[SessionStoreOptions, string]> = [
          [{ maxSessionsPerPrincipal: 0 }, 'options.maxSessionsPerPrincipal'],
          [{ maxSessionsPerPrincipal: 1.5 }, 'options.maxSessionsPerPrincipal'],
          [{ maxSessionsPerPrincipal: NaN }, 'options.maxSessionsPerPrincipal'],
          [{ maxSessionsPerPrincipal: '2' as unknown as number }, 'options.maxSessionsPerPrincipal'],
          [{ onPrincipalLimit: 'drop' as never }, 'options.onPrincipalLimit'],
          [{ maxLifetimeMs: -1 }, 'options.maxLifetimeMs'],
          [{ maxLifetimeMs: Infinity }, 'options.maxLifetimeMs'],
          [{ maxSessionPerPrincipal: 2 } as SessionStoreOptions, 'options.maxSessionPerPrincipal'],
        ];
        for (const [options, argument] of bad) {
          let err: unknown;
          try {
            mk(options);
          } catch (e) {
            err = e;
          }
          expect(isInvalidArgument(err), `${JSON.stringify(options)}: ${String(err)}`).toBe(true);
          expect((err as { argument: string }).argument).toBe(argument);
        }
      });

      it('create with an unknown option key', async () => {
        const store = mk();
        await rejects(() => store.create('s', {}, { principle: 'ada' } as never), 'opts.principle');
      });
    });
  });
}
