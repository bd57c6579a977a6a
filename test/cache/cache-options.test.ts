import { describe, expect, it } from 'vitest';
import { MemorySessionStore, SessionCache } from '../../src/index.js';

describe('SessionCache options', () => {
  it('refuses an unknown option key (a typo) before doing anything, naming it', () => {
    const store = new MemorySessionStore();
    const typo = { maxEntrys: 5 } as unknown as ConstructorParameters<typeof SessionCache>[1];
    expect(() => new SessionCache(store, typo)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.maxEntrys' }),
    );
  });

  it('accepts every documented option', async () => {
    const store = new MemorySessionStore();
    const cache = new SessionCache(store, {
      maxEntries: 10,
      validate: 'always',
      maxStaleMs: 100,
      staleIfErrorMs: 0,
      onEvict: () => undefined,
      onError: () => undefined,
      now: () => performance.now(),
    });
    expect((await cache.create('a')).ok).toBe(true);
    await cache.close();
  });
});
