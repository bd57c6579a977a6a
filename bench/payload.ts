/** The session the bench reads and writes: a small vMCP-like record. */
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
