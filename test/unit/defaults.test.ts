/**
 * DEFAULTS is the one record of every default: the stores resolve to it, and
 * the defaults table of docs/api.md lists each entry with the same value.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCacheOptions } from '../../src/cache/options.js';
import { DEFAULTS } from '../../src/core/defaults.js';
import { resolveConfig } from '../../src/express/options.js';
import { DEFAULTS as EXPORTED_DEFAULTS, MemorySessionStore, RedisSessionStore } from '../../src/index.js';

const client = new Redis({ lazyConnect: true });
afterAll(() => client.disconnect());

describe('DEFAULTS', () => {
  it('is exported from the package root, frozen', () => {
    expect(EXPORTED_DEFAULTS).toBe(DEFAULTS);
    expect(Object.isFrozen(EXPORTED_DEFAULTS)).toBe(true);
    expect(EXPORTED_DEFAULTS.tombstoneTtlMs).toBe('ttlMs');
    expect(EXPORTED_DEFAULTS.prefix).toBe('scas:');
  });

  it('is what both stores use when an option is left out', () => {
    const resolved = {
      ttlMs: DEFAULTS.ttlMs,
      tombstoneTtlMs: DEFAULTS.ttlMs,
      touchOnGet: DEFAULTS.touchOnGet,
      maxMetadataBytes: DEFAULTS.maxMetadataBytes,
    };
    expect(new MemorySessionStore().options).toEqual(resolved);
    const redis = new RedisSessionStore(client);
    expect(redis.options).toEqual(resolved);
    expect(redis.prefix).toBe(DEFAULTS.prefix);
    expect(redis.prefix).toBe('scas:');
    // tombstoneTtlMs follows ttlMs
    expect(new MemorySessionStore({ ttlMs: 5_000 }).options.tombstoneTtlMs).toBe(5_000);
  });

  it("names tombstoneTtlMs (the store's ttlMs), the prefix and every Redis store option", () => {
    expect(Object.keys(DEFAULTS)).toEqual(
      expect.arrayContaining([
        'ttlMs',
        'touchOnGet',
        'tombstoneTtlMs',
        'maxMetadataBytes',
        'prefix',
        'eventsChannel',
        'terminateWait',
        'evictionPolicyCheck',
        'maxAttempts',
      ]),
    );
    expect(DEFAULTS.tombstoneTtlMs).toBe('ttlMs');
  });

  it('the SessionCache and CasSessionStore rows of docs/api.md are what those resolve to', () => {
    const rows = defaultsTable();
    const row = (where: string, option: string): string | undefined =>
      rows.find((r) => r[0]!.startsWith(where) && r[1] === `\`${option}\``)?.[2];
    const cache = checkCacheOptions(undefined);
    expect(row('`SessionCache`', 'maxEntries')).toBe(
      `\`${cache.maxEntries.toLocaleString('en-US').replace(/,/g, '_')}\``,
    );
    expect(row('`SessionCache`', 'validate')).toBe(`\`'${cache.validate}'\``);
    expect(row('`SessionCache`', 'maxStaleMs')).toBe(
      `\`${cache.maxStaleMs.toLocaleString('en-US').replace(/,/g, '_')}\``,
    );
    expect(row('`SessionCache`', 'staleIfErrorMs')).toBe(`\`${cache.staleIfErrorMs}\``);
    const express = resolveConfig(new MemorySessionStore(), undefined);
    expect(row('`CasSessionStore`', 'sameField')).toBe(`\`'${express.sameField}'\``);
    expect(row('`CasSessionStore`', 'maxAttempts')).toBe(`\`${express.maxAttempts}\``);
    expect(row('`CasSessionStore`', 'scanCount')).toBe(`\`${express.scanCount}\``);
  });

  it('every entry is a row of the defaults table in docs/api.md, with its value', () => {
    const doc = readFileSync('docs/api.md', 'utf8');
    const table = /<!-- defaults:begin[^\n]*-->\n([\s\S]*?)<!-- defaults:end -->/.exec(doc)?.[1];
    expect(
      table,
      'docs/api.md needs a defaults table between <!-- defaults:begin --> and <!-- defaults:end -->',
    ).toBeDefined();
    const rows = new Map<string, string>();
    for (const line of table!.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      const name = /^`([A-Za-z.]+)`$/.exec(cells[2] ?? '')?.[1];
      if (name && !rows.has(name)) rows.set(name, cells[3] ?? ''); // the first row of a name is the store option
    }
    const shown = (v: unknown): string =>
      v === null
        ? 'off'
        : v === 'ttlMs'
          ? '`ttlMs`'
          : typeof v === 'string'
            ? `\`'${v}'\``
            : typeof v === 'number'
              ? `\`${v.toLocaleString('en-US').replace(/,/g, '_')}\``
              : `\`${String(v)}\``;
    for (const [k, v] of Object.entries(DEFAULTS)) {
      expect(rows.get(k), `docs/api.md defaults row for ${k}`).toBeDefined();
      expect(
        rows.get(k)!.startsWith(shown(v)),
        `${k}: docs/api.md says ${rows.get(k)}, DEFAULTS has ${String(v)}`,
      ).toBe(true);
    }
  });
});

/** The rows of the defaults table in docs/api.md: [where, option, default, note]. */
function defaultsTable(): string[][] {
  const doc = readFileSync('docs/api.md', 'utf8');
  const table = /<!-- defaults:begin[^\n]*-->\n([\s\S]*?)<!-- defaults:end -->/.exec(doc)?.[1] ?? '';
  return table
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}
