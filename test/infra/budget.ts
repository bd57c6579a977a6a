/**
 * Run budgets of the property suite. The default run is fixed and small
 * enough for a busy 2-core machine; `SESSION_CAS_SOAK=1` multiplies it.
 * A failing fast-check run prints `{ seed, path }`: replay it with
 * `SESSION_CAS_SEED=<seed> SESSION_CAS_PATH=<path> npx vitest run <file> -t '<test name>'`.
 * @module
 */
import type fc from 'fast-check';

/** Long runs: `SESSION_CAS_SOAK=1`. */
export const SOAK = process.env.SESSION_CAS_SOAK === '1';

/** How much longer a soak runs than the default. */
export const SOAK_FACTOR = Number(process.env.SESSION_CAS_SOAK_FACTOR ?? 25);

/** `n` by default, `n * SOAK_FACTOR` in a soak. */
export function budget(n: number): number {
  return SOAK ? Math.ceil(n * SOAK_FACTOR) : n;
}

/** Per-test timeout: generous by default (a busy machine), unbounded-ish in a soak. */
export const PROPERTY_TIMEOUT_MS = SOAK ? 6 * 3_600_000 : 120_000;

/** fast-check parameters with an explicit numRuns, and the replay seed/path from the environment. */
export function fcParams<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seed = process.env.SESSION_CAS_SEED;
  const path = process.env.SESSION_CAS_PATH;
  return {
    numRuns: budget(numRuns),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
    ...extra,
  };
}
