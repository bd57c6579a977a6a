/**
 * The `maxmemory-policy` check: whether Redis may evict session keys, and
 * with them tombstones (which would let a terminated id be created again
 * before `tombstoneTtlMs`). Holds the only INFO and CONFIG GET calls.
 * @module
 */
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import { isReplyError } from './client-info.js';
import { type ConnectionWatch, toFault } from './faults.js';
import type { Client } from './scripts.js';

/** See {@link RedisSessionStoreOptions.evictionPolicyCheck}. */
export type EvictionPolicyCheck = 'warn' | 'error' | 'off';

/** What {@link RedisSessionStore.checkEvictionPolicy} found. */
export interface EvictionPolicyReport {
  /** The server's `maxmemory-policy`, or null when neither INFO nor CONFIG GET could read it. */
  readonly policy: string | null;
  /** The server's `maxmemory` in bytes (0: no limit), or null when unknown. */
  readonly maxmemory: number | null;
  /** true: Redis may evict tombstones under memory pressure; false: it never evicts; null: unknown. */
  readonly canEvictTombstones: boolean | null;
}

const EVICTION_WARNING = 'SESSION_CAS_EVICTION_POLICY';
const CHECK_MODES: ReadonlySet<string> = new Set<EvictionPolicyCheck>(['warn', 'error', 'off']);

/** `options.evictionPolicyCheck`, or undefined when absent. */
export function checkPolicyMode(mode: unknown): EvictionPolicyCheck | undefined {
  if (mode !== undefined && !CHECK_MODES.has(mode as string)) {
    throw new InvalidArgumentError('options.evictionPolicyCheck', "expected 'warn', 'error' or 'off'");
  }
  return mode as EvictionPolicyCheck | undefined;
}

interface InfoClient {
  info(section: string): Promise<string>;
  call(...args: string[]): Promise<unknown>;
}

/**
 * Reads the server's `maxmemory-policy` (INFO memory, else CONFIG GET); see
 * {@link RedisSessionStore.checkEvictionPolicy}.
 * @throws RedisFaultError (`CONNECTION`) when the connection fails; a refused
 * INFO or CONFIG (ACL, managed Redis) gives `policy: null` instead.
 */
export async function readEvictionPolicy(client: Client, connection: ConnectionWatch): Promise<EvictionPolicyReport> {
  const c = client as unknown as InfoClient;
  let policy: string | null = null;
  let maxmemory: number | null = null;
  try {
    const info = await c.info('memory');
    policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
    const max = /^maxmemory:(\d+)/m.exec(info)?.[1];
    maxmemory = max === undefined ? null : Number(max);
  } catch (err) {
    if (!isReplyError(err)) throw toFault(err, 'checkEvictionPolicy', '', false, { connection });
  }
  if (policy === null) {
    try {
      policy = configValue(await c.call('CONFIG', 'GET', 'maxmemory-policy'));
    } catch (err) {
      if (!isReplyError(err)) throw toFault(err, 'checkEvictionPolicy', '', false, { connection });
    }
  }
  return { policy, maxmemory, canEvictTombstones: policy === null ? null : policy !== 'noeviction' };
}

/**
 * Runs the policy check once (again after a connection failure) and applies
 * the mode: `'warn'` warns beside the first call, `'error'` makes every call
 * wait for the check and throws `UNSAFE_CONFIG` when tombstones can be evicted.
 */
export class PolicyGate {
  private gate: Promise<void> | undefined;

  constructor(
    private readonly mode: EvictionPolicyCheck,
    private readonly check: () => Promise<EvictionPolicyReport>,
  ) {}

  /** What a call must await before it sends (nothing unless the mode is `'error'`). */
  pass(): Promise<void> | undefined {
    if (this.mode === 'off') return undefined;
    if (!this.gate) {
      const mode = this.mode;
      this.gate = this.check().then(
        (report) => applyReport(report, mode),
        (err: unknown) => {
          this.gate = undefined; // a connection failure: check again on the next call
          throw err;
        },
      );
      if (mode === 'warn') this.gate.catch(() => undefined);
    }
    return this.mode === 'error' ? this.gate : undefined;
  }
}

function applyReport(report: EvictionPolicyReport, mode: EvictionPolicyCheck): void {
  if (report.canEvictTombstones === null) {
    warn(
      "session-cas could not read the server's maxmemory-policy (INFO and CONFIG GET refused); " +
        'make sure it is noeviction, or evicted tombstones let terminated ids be created again early.',
    );
  } else if (report.canEvictTombstones) {
    const message =
      `maxmemory-policy is ${report.policy} (maxmemory ${report.maxmemory ?? '?'}): Redis may evict ` +
      'session tombstones under memory pressure, and a terminated id could then be created again before ' +
      'tombstoneTtlMs. Use maxmemory-policy noeviction.';
    if (mode === 'error') throw new SessionStoreError('UNSAFE_CONFIG', message);
    warn(message);
  }
}

/** The value of a one-parameter CONFIG GET reply: RESP2 `[name, value]`, RESP3 `{ name: value }`. */
function configValue(reply: unknown): string | null {
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : null;
  if (reply instanceof Map) {
    const v = [...reply.values()][0];
    return typeof v === 'string' ? v : null;
  }
  if (typeof reply === 'object' && reply !== null) {
    const v = Object.values(reply)[0];
    return typeof v === 'string' ? v : null;
  }
  return null;
}

function warn(message: string): void {
  process.emitWarning(message, { type: 'SessionCasWarning', code: EVICTION_WARNING });
}
