/**
 * Issue #13: the cost of sessions of a principal, as load scenarios in one
 * group per concurrency and pipelining mode, so their ratios come from the
 * same moment of the run: create with a principal (uncapped, and capped at 10
 * with evictions) against plain create; sessionsOf of a principal with 1, 10
 * and 100 sessions; terminateAll of 100 sessions.
 * @module
 */
import type { SessionStore } from '../../src/index.js';
import type { Scenario } from '../bench-harness.js';
import type { Pipelining } from '../env.js';
import { forEachLimited } from '../load.js';
import { PAYLOAD } from '../payload.js';
import { type Prepared, loadMatrix } from './measured.js';

export const PRINCIPAL_SUBJECTS = [
  'create',
  'create+principal',
  'create+principal+cap10',
  'sessionsOf-1',
  'sessionsOf-10',
  'sessionsOf-100',
  'terminateAll-100',
] as const;
export type PrincipalSubject = (typeof PRINCIPAL_SUBJECTS)[number];

const SETUP_CONCURRENCY = 64;
/** Principals of 100 sessions made ready for terminateAll-100: each call ends one (the run stops when they run out). */
const TERMINATE_ALL_POOL = 40;

export function principalScenarios(pipelining: readonly Pipelining[]): Scenario[] {
  return loadMatrix('principals', PRINCIPAL_SUBJECTS, pipelining, {
    prepare: (ctx, subject, _concurrency, p) => {
      const options = subject === 'create+principal+cap10' ? { maxSessionsPerPrincipal: 10 } : {};
      return preparePrincipal(ctx.makeStore(p, subject, options), subject);
    },
  });
}

async function sessionsFor(store: SessionStore, principal: string, n: number): Promise<void> {
  await forEachLimited(n, SETUP_CONCURRENCY, async (i) => {
    const r = await store.create(`${principal}-s${i}`, PAYLOAD, { principal });
    if (!r.ok) throw new Error(`bench setup: create for ${principal} returned ${r.reason}`);
  });
}

async function preparePrincipal(store: SessionStore, subject: PrincipalSubject): Promise<Prepared> {
  let next = 0;
  switch (subject) {
    case 'create':
      return { call: async () => (await store.create(`c${next++}`, PAYLOAD)).ok };
    case 'create+principal':
      // A principal per call: the index write and the session write, nothing to evict.
      return { call: async () => (await store.create(`c${next}`, PAYLOAD, { principal: `u${next++}` })).ok };
    case 'create+principal+cap10': {
      // 50 principals at their cap of 10: every create also lists the principal and evicts its oldest.
      return {
        call: async () => (await store.create(`c${next}`, PAYLOAD, { principal: `u${next++ % 50}` })).ok,
      };
    }
    case 'sessionsOf-1':
    case 'sessionsOf-10':
    case 'sessionsOf-100': {
      const n = Number(subject.slice('sessionsOf-'.length));
      await sessionsFor(store, 'p', n);
      return { call: async () => (await store.sessionsOf('p')).length === n };
    }
    case 'terminateAll-100': {
      for (let i = 0; i < TERMINATE_ALL_POOL; i++) await sessionsFor(store, `t${i}`, 100);
      return {
        call: async () => (await store.terminateAll(`t${next++}`)).terminated.length === 100,
        maxCalls: TERMINATE_ALL_POOL,
      };
    }
  }
}
