/**
 * Property (fast-check scheduler, real Redis): in 'always' mode, with cache
 * gets on node B interleaved with writes on node A in every order the
 * scheduler picks for their replies, a get never returns a session older than
 * the newest write acknowledged before the get started, and never returns a
 * session once its terminate was acknowledged before the get started.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionCache, type SessionStore } from '../../src/index.js';
import { cluster, uid } from './helpers.js';

/** The store with the replies of `methods` delivered in the scheduler's order (the calls reach Redis at once). */
function scheduled<S extends object>(store: S, methods: readonly string[], s: fc.Scheduler): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
      return typeof prop === 'string' && methods.includes(prop) ? s.scheduleFunction(bound) : bound;
    },
  });
}

type Op = { kind: 'write' } | { kind: 'get' } | { kind: 'terminate' };

describe('property: no stale reads in always mode', () => {
  it('a get never returns a session older than the newest write acknowledged before it started', async () => {
    const c = cluster();
    const A = c.node('A');
    const B = c.node('B');
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant<Op>({ kind: 'write' }) },
      { weight: 8, arbitrary: fc.constant<Op>({ kind: 'get' }) },
      { weight: 1, arbitrary: fc.constant<Op>({ kind: 'terminate' }) },
    );
    let gets = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(op, { minLength: 2, maxLength: 14 }),
        fc.boolean(),
        async (s, ops, warm) => {
          const id = uid('prop');
          const created = await A.store.create(id, { n: '0' });
          if (!created.ok) throw new Error('create');
          const writer = scheduled(A.store, ['patch', 'terminate'], s);
          const cache = new SessionCache(scheduled(B.store, ['generationOf', 'get'], s) as SessionStore, {
            validate: 'always',
          });
          if (warm) await s.waitFor(cache.get(id));
          let ackedGeneration = created.session.generation;
          let terminateAcked = false;
          const violations: string[] = [];
          const tasks = ops.map((o, i) =>
            s.schedule(Promise.resolve(), `start ${o.kind} #${i}`).then(async () => {
              if (o.kind === 'write') {
                const r = await writer.patch(id, { set: { n: String(i) } });
                if (r.ok) ackedGeneration = Math.max(ackedGeneration, r.session.generation);
              } else if (o.kind === 'terminate') {
                const r = await writer.terminate(id);
                if (r.ok) terminateAcked = true;
              } else {
                const floor = ackedGeneration;
                const dead = terminateAcked;
                const got = await cache.get(id);
                gets++;
                if (dead && got !== null)
                  violations.push(`#${i}: got generation ${got.generation} after an acknowledged terminate`);
                if (got !== null && got.generation < floor)
                  violations.push(`#${i}: got generation ${got.generation} < acknowledged ${floor}`);
              }
            }),
          );
          await s.waitFor(Promise.all(tasks));
          await cache.close();
          if (violations.length > 0)
            throw new Error(
              `${violations.join('; ')}\n${s
                .report()
                .map((r) => r.label)
                .join(' | ')}`,
            );
        },
      ),
      { numRuns: 60 },
    );
    expect(gets).toBeGreaterThan(100); // the property was exercised, not vacuous
  });
});
