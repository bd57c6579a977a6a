/**
 * The sessions the bench reads and writes: a small vMCP-like record, and
 * records of 1, 10 or 100 entries for the per-payload figures.
 * @module
 */
import type { Metadata } from '../src/index.js';

export const PAYLOAD: Readonly<Metadata> = Object.freeze({
  user: 'user-000042',
  tenant: 'acme-corp',
  'vmcp.backend.ids': 'alpha,beta,gamma',
  'vmcp.backend.session.alpha': '6f1c2e0a9b7d4c3e8a5f1b2c3d4e5f60',
  'vmcp.backend.session.beta': '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
  'vmcp.backend.session.gamma': 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
  counter: '0',
});

/** `PAYLOAD` with the counter incremented. */
export function incremented(metadata: Readonly<Metadata>): Metadata {
  return { ...metadata, counter: String(Number(metadata.counter ?? '0') + 1) };
}

/** Metadata sizes of the per-payload figures (server cost, memory): 1 is the headline. */
export const PAYLOAD_FIELD_COUNTS = [1, 10, 100] as const;
export type FieldCount = (typeof PAYLOAD_FIELD_COUNTS)[number];

/** `n` entries with realistic names (`app.field.<i>`) and 32-character values. */
export function metadataOf(n: number): Metadata {
  const m: Metadata = {};
  for (let i = 0; i < n; i++) m[`app.field.${i}`] = i.toString(16).padStart(32, '0');
  return m;
}
