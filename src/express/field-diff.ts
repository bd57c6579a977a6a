/**
 * Sessions as fields: each top-level field of a session is one metadata entry,
 * serialized on its own, and a save writes only what changed since the
 * baseline (the fields as this request last knew them).
 * @module
 */
import { InvalidArgumentError, SessionStoreError } from '../core/errors.js';
import type { Metadata, PatchChanges, Session } from '../core/types.js';

/**
 * How one session field becomes one stored string and back. `JSON` fits.
 * `stringify` may return `undefined` to leave the field out (as JSON does for
 * functions and `undefined`); throwing makes the save fail with an
 * `InvalidArgumentError` passed to the callback.
 */
export interface FieldSerializer {
  stringify(value: unknown): string | undefined;
  parse(text: string): unknown;
}

/** A session as the app sees it: field name -> value. */
export type Data = Record<string, unknown>;

/** Own-property write that keeps `__proto__` an ordinary key. */
export function setOwn(target: Data, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** An own entry of metadata (never one inherited from `Object.prototype`). */
export function own(m: Readonly<Metadata>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
}

/** Serialized fields as metadata. */
export function toMetadata(fields: ReadonlyMap<string, string>): Metadata {
  const m: Metadata = {};
  for (const [k, v] of fields) setOwn(m, k, v);
  return m;
}

/** Fields to set (new or changed since the baseline) and to remove (gone since). */
export function diff(baseline: ReadonlyMap<string, string>, fields: ReadonlyMap<string, string>): PatchChanges {
  const set: Metadata = {};
  let anySet = false;
  for (const [k, v] of fields) {
    if (baseline.get(k) !== v) {
      setOwn(set, k, v);
      anySet = true;
    }
  }
  const remove = [...baseline.keys()].filter((k) => !fields.has(k));
  return { ...(anySet ? { set } : {}), ...(remove.length > 0 ? { remove } : {}) };
}

/** The serializer of {@link FieldSerializer}, checked, with the errors the store reports. */
export class FieldCodec {
  private readonly serializer: FieldSerializer;

  /** @throws InvalidArgumentError when `serializer` is not `{ stringify, parse }`. */
  constructor(serializer: unknown) {
    this.serializer = checkSerializer(serializer);
  }

  /** @throws InvalidArgumentError naming the field when it cannot be serialized. */
  stringify(name: string, value: unknown): string | undefined {
    let text: unknown;
    try {
      text = this.serializer.stringify(value);
    } catch (err) {
      throw new InvalidArgumentError(
        `session[${JSON.stringify(name)}]`,
        `cannot be serialized (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    if (text !== undefined && typeof text !== 'string') {
      throw new InvalidArgumentError(
        `session[${JSON.stringify(name)}]`,
        `the serializer returned ${typeof text}, not a string`,
      );
    }
    return text;
  }

  /** Every field of a session, serialized (fields the serializer leaves out are absent). */
  fields(sess: Data): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of Object.keys(sess)) {
      const text = this.stringify(name, sess[name]);
      if (text !== undefined) out.set(name, text);
    }
    return out;
  }

  /**
   * A stored session as app data, and its baseline in canonical form, so a field
   * the request never touches compares equal at save time.
   * @throws SessionStoreError `UNEXPECTED_REPLY` when a stored field cannot be parsed.
   */
  decode(s: Session): { data: Data; baseline: Map<string, string> } {
    const data: Data = {};
    const baseline = new Map<string, string>();
    for (const [name, text] of Object.entries(s.metadata)) {
      let value: unknown;
      try {
        value = this.serializer.parse(text);
      } catch (err) {
        throw new SessionStoreError(
          'UNEXPECTED_REPLY',
          `session ${JSON.stringify(s.id)}: field ${JSON.stringify(name)} cannot be parsed`,
          { cause: err },
        );
      }
      setOwn(data, name, value);
      const canonical = this.stringify(name, value);
      if (canonical !== undefined) baseline.set(name, canonical);
    }
    return { data, baseline };
  }

  /** A stored text in canonical form (itself when it does not parse), to compare with a baseline. */
  canonical(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    try {
      return this.serializer.stringify(this.serializer.parse(text));
    } catch {
      return text;
    }
  }
}

function checkSerializer(s: unknown): FieldSerializer {
  if (s === undefined) return JSON;
  const c = s as Partial<FieldSerializer> | null;
  if (typeof c !== 'object' || c === null || typeof c.stringify !== 'function' || typeof c.parse !== 'function') {
    throw new InvalidArgumentError('options.serializer', 'expected { stringify(value), parse(text) }');
  }
  return c as FieldSerializer;
}
