/**
 * Argument checks, run before any I/O. Each failure names the argument.
 * Primitives only: the stores' option records live with each store, the
 * defaults in defaults.ts, and the per-call checks in requests.ts.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type {
  GenerationOptions,
  Metadata,
  MutateOptions,
  PatchChanges,
  ReplicationWait,
  SessionStoreOptions,
  SubscribeOptions,
} from './types.js';

/** Longest accepted id, in UTF-16 code units (JavaScript string length). */
export const MAX_ID_LENGTH = 1024;

/** Metadata after checks: entries in insertion order and their UTF-8 size. */
export interface CheckedMetadata {
  readonly entries: ReadonlyArray<readonly [string, string]>;
  readonly bytes: number;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(s) : !LONE_SURROGATE.test(s);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : `the number ${Object.is(v, -0) ? '-0' : String(v)}`;
  if (typeof v === 'string') return `a string of length ${v.length}`;
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `a value of type ${typeof v}`;
}

/** A non-empty, well-formed Unicode string of at most {@link MAX_ID_LENGTH} code units. */
export function checkId(id: unknown, argument = 'id'): string {
  if (typeof id !== 'string') throw new InvalidArgumentError(argument, `expected a string, got ${describe(id)}`);
  if (id.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (id.length > MAX_ID_LENGTH) {
    throw new InvalidArgumentError(
      argument,
      `length ${id.length} exceeds the cap of ${MAX_ID_LENGTH} UTF-16 code units`,
    );
  }
  if (!isWellFormed(id)) throw new InvalidArgumentError(argument, 'is not well-formed Unicode (lone surrogate)');
  return id;
}

/** A positive safe integer number of milliseconds. */
export function checkTtl(ttl: unknown, argument: string): number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1) {
    throw new InvalidArgumentError(argument, `expected a positive safe integer of milliseconds, got ${describe(ttl)}`);
  }
  return ttl;
}

/** A positive safe integer generation. */
export function checkGeneration(gen: unknown, argument: string): number {
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 1) {
    throw new InvalidArgumentError(argument, `expected a positive safe integer generation, got ${describe(gen)}`);
  }
  return gen;
}

/** `opts.expectedGeneration` of patch, touch and terminate: absent, or a positive safe integer. */
export function checkExpectedGeneration(opts: { expectedGeneration?: unknown }): number | undefined {
  return opts.expectedGeneration === undefined
    ? undefined
    : checkGeneration(opts.expectedGeneration, 'opts.expectedGeneration');
}

/** `generationOf`'s options: whether to refresh the TTL (default: the store's `touchOnGet`). */
export function checkGenerationOptions(opts: unknown, touchOnGet: boolean): { touch: boolean } {
  const o = checkOptions<GenerationOptions>(opts, 'opts', GENERATION_OPTION_KEYS);
  if (o.touch !== undefined && typeof o.touch !== 'boolean')
    throw new InvalidArgumentError('opts.touch', 'expected a boolean');
  return { touch: o.touch ?? touchOnGet };
}

/** A positive safe integer (attempt counts, byte caps). */
export function checkPositiveInt(n: unknown, argument: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(argument, `expected a positive safe integer, got ${describe(n)}`);
  }
  return n;
}

/**
 * The keys an options object may have: a record typed against its interface,
 * so the compiler fails when an option is added to the interface and not here.
 */
export type AllowedKeys<T> = Readonly<Record<keyof T, true>>;

/**
 * `undefined` or a plain object of options; returns an object to read from.
 * With `allowed`, any other own key (a typo such as `ttlMS`, whatever its
 * value) is an {@link InvalidArgumentError} naming it, e.g. `opts.ttlMS`.
 */
export function checkOptions<T extends object>(opts: unknown, argument: string, allowed?: AllowedKeys<T>): Partial<T> {
  if (opts === undefined) return {};
  if (!isPlainObject(opts))
    throw new InvalidArgumentError(argument, `expected an options object, got ${describe(opts)}`);
  if (allowed) checkKnownKeys(opts, argument, allowed, 'option');
  return opts as Partial<T>;
}

function checkKnownKeys(
  obj: Record<string, unknown>,
  argument: string,
  allowed: Readonly<Record<string, true>>,
  noun: string,
): void {
  for (const key of Object.keys(obj)) {
    if (Object.prototype.hasOwnProperty.call(allowed, key)) continue;
    const known = Object.keys(allowed);
    const guess = closest(key, known);
    throw new InvalidArgumentError(
      `${argument}.${key}`,
      `unknown ${noun}${guess === undefined ? '' : ` (did you mean ${guess}?)`}; known: ${known.join(', ')}`,
    );
  }
}

/** The known name a typo most likely meant: same letters ignoring case, else at most 2 edits away. */
function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

// Allowed keys of the options objects checked here (each store keeps its own
// record; the per-call ones are in requests.ts). Add an option to its
// interface and the compiler points at its record.
/** The options every store takes; each store spreads them into its own record. */
export const STORE_OPTION_KEYS: AllowedKeys<SessionStoreOptions> = {
  ttlMs: true,
  touchOnGet: true,
  tombstoneTtlMs: true,
  maxMetadataBytes: true,
  maxSessionsPerPrincipal: true,
  onPrincipalLimit: true,
  maxLifetimeMs: true,
};
export const TERMINATE_WAIT_KEYS: AllowedKeys<ReplicationWait> = { replicas: true, timeoutMs: true };
export const MUTATE_OPTION_KEYS: AllowedKeys<MutateOptions> = { ttlMs: true, maxAttempts: true, wait: true };

/** A {@link ReplicationWait} (`options.writeWait`, `options.terminateWait`), or undefined when absent. */
export function checkReplicationWait(w: unknown, argument: string): ReplicationWait | undefined {
  if (w === undefined) return undefined;
  const o = checkOptions<ReplicationWait>(w, argument, TERMINATE_WAIT_KEYS);
  return {
    replicas: checkPositiveInt(o.replicas, `${argument}.replicas`),
    timeoutMs: checkPositiveInt(o.timeoutMs, `${argument}.timeoutMs`),
  };
}

/** A call's `opts.wait`: undefined (the store's default), false (no wait) or a {@link ReplicationWait}. */
export function checkWaitOption(opts: { wait?: unknown }): ReplicationWait | false | undefined {
  if (opts.wait === false) return false;
  return checkReplicationWait(opts.wait, 'opts.wait');
}
export const GENERATION_OPTION_KEYS: AllowedKeys<GenerationOptions> = { touch: true };
const CHANGES_KEYS: AllowedKeys<PatchChanges> = { set: true, remove: true };
/** For `subscribe` (src/core/listeners.ts): `checkOptions(opts, 'opts', SUBSCRIBE_OPTION_KEYS)`. */
export const SUBSCRIBE_OPTION_KEYS: AllowedKeys<SubscribeOptions> = { onStatus: true, signal: true };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** UTF-8 length of a string. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** `what` is a function so the label is only built when the check fails (this runs per entry on every write). */
function checkString(s: unknown, argument: string, what: () => string): string {
  if (typeof s !== 'string') throw new InvalidArgumentError(argument, `${what()} must be a string, got ${describe(s)}`);
  if (!isWellFormed(s))
    throw new InvalidArgumentError(argument, `${what()} is not well-formed Unicode (lone surrogate)`);
  return s;
}

const A_NAME = () => 'a name';

/**
 * A plain object (prototype `Object.prototype` or `null`) whose own enumerable
 * string keys all map to well-formed strings, at most `maxBytes` UTF-8 bytes
 * of names + values in all. Names may be anything, `''` and `__proto__` included.
 */
export function checkMetadata(metadata: unknown, maxBytes: number, argument = 'metadata'): CheckedMetadata {
  if (!isPlainObject(metadata)) {
    throw new InvalidArgumentError(argument, `expected a plain object of strings, got ${describe(metadata)}`);
  }
  if (Object.getOwnPropertySymbols(metadata).length > 0) {
    throw new InvalidArgumentError(argument, 'must not have symbol keys');
  }
  const entries: Array<readonly [string, string]> = [];
  let bytes = 0;
  for (const name of Object.keys(metadata)) {
    checkString(name, argument, A_NAME);
    const value = checkString(metadata[name], argument, () => `the value of ${JSON.stringify(name.slice(0, 64))}`);
    bytes += utf8Bytes(name) + utf8Bytes(value);
    if (bytes > maxBytes) {
      throw new InvalidArgumentError(argument, `exceeds maxMetadataBytes (${maxBytes} UTF-8 bytes of names + values)`);
    }
    entries.push([name, value]);
  }
  return { entries, bytes };
}

/** Checked `patch` changes: `set` entries and `remove` names, disjoint. */
export interface CheckedChanges {
  readonly set: CheckedMetadata;
  readonly remove: readonly string[];
}

export function checkChanges(changes: unknown, maxBytes: number): CheckedChanges {
  if (!isPlainObject(changes)) {
    throw new InvalidArgumentError('changes', `expected { set?, remove? }, got ${describe(changes)}`);
  }
  checkKnownKeys(changes, 'changes', CHANGES_KEYS, 'field');
  const set =
    changes.set === undefined ? { entries: [], bytes: 0 } : checkMetadata(changes.set, maxBytes, 'changes.set');
  const rawRemove = changes.remove ?? [];
  if (!Array.isArray(rawRemove)) {
    throw new InvalidArgumentError('changes.remove', `expected an array of names, got ${describe(rawRemove)}`);
  }
  const setNames = new Set(set.entries.map(([k]) => k));
  // Array.from visits the holes of a sparse array (as undefined), which map() skips.
  const remove = [...new Set(Array.from(rawRemove, (n: unknown) => checkString(n, 'changes.remove', A_NAME)))];
  for (const name of remove) {
    if (setNames.has(name)) {
      throw new InvalidArgumentError('changes', `${JSON.stringify(name.slice(0, 64))} is both set and removed`);
    }
  }
  return { set, remove };
}

/** Builds the frozen metadata object handed to callers. `__proto__` stays an own key. */
export function freezeMetadata(entries: Iterable<readonly [string, string]>): Readonly<Metadata> {
  const out: Metadata = {};
  for (const [k, v] of entries) {
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return Object.freeze(out);
}
