/** Generated and documented artefacts stay in sync with their sources. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../src/redis/generated/lua.js';

describe('sources', () => {
  it('src/redis/generated/lua.ts matches lua/*.lua', () => {
    expect(() => execFileSync('node', ['scripts/embed-lua.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('every script starts with #!lua and documents KEYS, ARGV and its reply', () => {
    const files = readdirSync('lua').filter((f) => f.endsWith('.lua'));
    expect(files.length).toBe(Object.keys(FUNCTIONS).length);
    for (const f of files) {
      const src = readFileSync(`lua/${f}`, 'utf8');
      expect(src.startsWith('#!lua'), f).toBe(true);
      expect(src, f).toMatch(/^-- KEYS\[1\]/m);
      expect(src, f).toMatch(/^-- ARGV/m);
      expect(src, f).toMatch(/^-- Reply:/m);
      // Keys come only from KEYS: a script never builds a key name itself.
      expect(src, f).not.toMatch(/redis\.call\([^)]*\.\.\s*['"]:/);
    }
  });

  it("the README's two commands set everything up, and .ci/run runs the test command exactly", () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = /<!-- commands:begin[^\n]*-->\n([\s\S]*?)<!-- commands:end -->/.exec(readme)?.[1] ?? '';
    const commands = [...table.matchAll(/\| `([^`]+)` \|/g)].map((m) => m[1]);
    expect(commands).toEqual(['npm ci && npm run example', 'npm ci && npm test']);
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    // The example builds first (it imports the package by name, from dist/) and provisions Redis.
    for (const name of ['example', 'example:vmcp']) {
      expect(scripts[name], name).toMatch(/tsup .*&& tsx scripts\/with-redis\.ts tsx examples\//);
    }
    expect(readFileSync('.ci/run', 'utf8').split('\n')).toContain(commands[1]);
  });

  it('the README quick start is examples/quickstart.ts, verbatim', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /<!-- quickstart:begin[^\n]*-->\n```ts\n([\s\S]*?)```\n<!-- quickstart:end -->/.exec(readme);
    expect(block?.[1]).toBe(readFileSync('examples/quickstart.ts', 'utf8'));
  });
});
