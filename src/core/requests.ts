/**
 * The argument checks of each store method, once for both stores: plain data
 * in (the caller's arguments and the store's resolved options), a checked
 * request out, or an {@link InvalidArgumentError} naming the argument. Runs
 * before any I/O; the store then only carries the request out.
 * @module
 */
import type { ResolvedOptions } from './defaults.js';
import { checkCreateOptions } from './principals.js';
import type { PatchOptions, ReplicationWait, TerminateOptions, TouchOptions, WriteOptions } from './types.js';
import {
  type AllowedKeys,
  type CheckedChanges,
  type CheckedMetadata,
  checkChanges,
  checkExpectedGeneration,
  checkGeneration,
  checkId,
  checkMetadata,
  checkOptions,
  checkTtl,
  checkWaitOption,
} from './validate.js';

const WRITE_OPTION_KEYS: AllowedKeys<WriteOptions> = { ttlMs: true, wait: true };
const PATCH_OPTION_KEYS: AllowedKeys<PatchOptions> = { ttlMs: true, expectedGeneration: true, wait: true };
const TOUCH_OPTION_KEYS: AllowedKeys<TouchOptions> = { ttlMs: true, expectedGeneration: true };
const TERMINATE_OPTION_KEYS: AllowedKeys<TerminateOptions> = { expectedGeneration: true, wait: true };

/** A call's `opts.wait`: undefined (the store's default), false (no wait) or a wait. */
export type WaitRequest = ReplicationWait | false | undefined;

/** A checked `create`. */
export interface CreateRequest {
  readonly id: string;
  readonly metadata: CheckedMetadata;
  readonly ttlMs: number;
  readonly wait: WaitRequest;
}

/** A checked `update`. */
export interface UpdateRequest extends CreateRequest {
  readonly expected: number;
}

/** A checked `patch`; `empty`: it changes nothing, so it is a read. */
export interface PatchRequest {
  readonly id: string;
  readonly changes: CheckedChanges;
  readonly expected: number | undefined;
  readonly ttlMs: number;
  readonly wait: WaitRequest;
  readonly empty: boolean;
}

/** A checked `touch`. */
export interface TouchRequest {
  readonly id: string;
  readonly ttlMs: number;
  readonly expected: number | undefined;
}

/** A checked `terminate`; `ttlMs` is the tombstone's. */
export interface TerminateRequest {
  readonly id: string;
  readonly ttlMs: number;
  readonly expected: number | undefined;
  readonly wait: WaitRequest;
}

function ttlOf(o: { ttlMs?: unknown }, defaults: ResolvedOptions): number {
  return o.ttlMs === undefined ? defaults.ttlMs : checkTtl(o.ttlMs, 'opts.ttlMs');
}

/** Checks `create(id, metadata, opts)`; `principal` is `opts.principal` (see principals.ts). */
export function prepareCreate(
  id: unknown,
  metadata: unknown,
  opts: unknown,
  defaults: ResolvedOptions,
): CreateRequest & { readonly principal: string | undefined } {
  checkId(id);
  const checked = checkMetadata(metadata, defaults.maxMetadataBytes);
  const { o, principal } = checkCreateOptions(opts);
  const ttlMs = ttlOf(o, defaults);
  return { id: id as string, metadata: checked, ttlMs, wait: checkWaitOption(o), principal };
}

/** Checks `update(id, expectedGeneration, metadata, opts)`. */
export function prepareUpdate(
  id: unknown,
  expectedGeneration: unknown,
  metadata: unknown,
  opts: unknown,
  defaults: ResolvedOptions,
): UpdateRequest {
  checkId(id);
  const expected = checkGeneration(expectedGeneration, 'expectedGeneration');
  const checked = checkMetadata(metadata, defaults.maxMetadataBytes);
  const o = checkOptions<WriteOptions>(opts, 'opts', WRITE_OPTION_KEYS);
  const ttlMs = ttlOf(o, defaults);
  return { id: id as string, expected, metadata: checked, ttlMs, wait: checkWaitOption(o) };
}

/** Checks `patch(id, changes, opts)`. */
export function preparePatch(id: unknown, changes: unknown, opts: unknown, defaults: ResolvedOptions): PatchRequest {
  checkId(id);
  const checked = checkChanges(changes, defaults.maxMetadataBytes);
  const o = checkOptions<PatchOptions>(opts, 'opts', PATCH_OPTION_KEYS);
  const expected = checkExpectedGeneration(o);
  const ttlMs = ttlOf(o, defaults);
  const wait = checkWaitOption(o);
  const empty = checked.set.entries.length === 0 && checked.remove.length === 0;
  return { id: id as string, changes: checked, expected, ttlMs, wait, empty };
}

/** Checks `touch(id, opts)`. */
export function prepareTouch(id: unknown, opts: unknown, defaults: ResolvedOptions): TouchRequest {
  checkId(id);
  const o = checkOptions<TouchOptions>(opts, 'opts', TOUCH_OPTION_KEYS);
  const ttlMs = ttlOf(o, defaults);
  return { id: id as string, ttlMs, expected: checkExpectedGeneration(o) };
}

/** Checks `terminate(id, opts)`. */
export function prepareTerminate(id: unknown, opts: unknown, defaults: ResolvedOptions): TerminateRequest {
  checkId(id);
  const o = checkOptions<TerminateOptions>(opts, 'opts', TERMINATE_OPTION_KEYS);
  const wait = checkWaitOption(o);
  return { id: id as string, ttlMs: defaults.tombstoneTtlMs, expected: checkExpectedGeneration(o), wait };
}
