/**
 * The built package loads as ESM and as CommonJS through its exports map,
 * and the guards recognise errors thrown by the other module format's copy.
 * Runs on dist/ (npm test builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const run = (args: string[]) => execFileSync('node', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('package', () => {
  it('has been built (npm test runs the build first)', () => {
    expect(existsSync('dist/index.js') && existsSync('dist/index.cjs'), 'run `npm run build`').toBe(true);
  });

  it('require() and import() expose the same API', () => {
    const names = [
      'RedisSessionStore',
      'MemorySessionStore',
      'SessionStoreError',
      'InvalidArgumentError',
      'RedisFaultError',
      'isSessionStoreError',
      'isInvalidArgument',
      'isRedisFault',
      'isOutcomeUnknown',
      'sessionKey',
    ];
    const cjs = run(['-e', `const m = require('session-cas'); console.log(JSON.stringify(Object.keys(m).sort()))`]);
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('session-cas'); console.log(JSON.stringify(Object.keys(m).sort()))`,
    ]);
    expect(JSON.parse(cjs)).toEqual(JSON.parse(esm));
    for (const n of names) expect(JSON.parse(cjs)).toContain(n);
  });

  it('guards from one copy recognise errors from the other (code, not instanceof)', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `
      import { createRequire } from 'node:module';
      import { MemorySessionStore, isInvalidArgument, InvalidArgumentError } from 'session-cas';
      const cjs = createRequire(import.meta.url)('session-cas');
      const err = await new cjs.MemorySessionStore().create('').catch((e) => e);
      console.log(JSON.stringify([isInvalidArgument(err), err instanceof InvalidArgumentError, err.code, err.name, err.argument]));
    `,
    ]);
    expect(JSON.parse(out)).toEqual([true, false, 'INVALID_ARGUMENT', 'InvalidArgumentError', 'id']);
  });

  it('session-cas/express loads both ways, and the root entry never loads express-session', () => {
    const cjs = run(['-e', `const m = require('session-cas/express'); console.log(typeof m.CasSessionStore)`]);
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('session-cas/express'); console.log(typeof m.CasSessionStore)`,
    ]);
    expect([cjs.trim(), esm.trim()]).toEqual(['function', 'function']);
    const loaded = run([
      '-e',
      `require('session-cas'); console.log(Object.keys(require.cache).some((k) => k.includes('express-session')))`,
    ]);
    expect(loaded.trim()).toBe('false');
  });

  it('session-cas/fastify loads both ways, and neither it nor the root entry loads express-session or fastify', () => {
    const cjs = run([
      '-e',
      `const m = require('session-cas/fastify'); console.log(typeof m.CasSessionStore, typeof m.isSessionConflict)`,
    ]);
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('session-cas/fastify'); console.log(typeof m.CasSessionStore, typeof m.isSessionConflict)`,
    ]);
    expect([cjs.trim(), esm.trim()]).toEqual(['function function', 'function function']);
    const loaded = run([
      '-e',
      `require('session-cas/fastify'); console.log(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](express-session|fastify|@fastify)[\\\\/]/.test(k)).length)`,
    ]);
    expect(loaded.trim()).toBe('0');
  });

  it("session-cas/fastify's types never refer to express-session's (Fastify apps need not install them)", () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(`dist/${file}`, 'utf8');
      expect(text, file).not.toMatch(/(from|import) ['"]express-session['"]/);
      // A declaration file names the chunks it imports by their code file: x.js -> x.d.ts, x.cjs -> x.d.cts.
      for (const m of text.matchAll(/from '\.\/([\w.-]+)\.(c?)js'/g)) visit(`${m[1]}.d.${m[2]}ts`);
    };
    for (const entry of ['fastify.d.ts', 'fastify.d.cts']) visit(entry);
    expect(seen.size).toBeGreaterThan(2); // the entries and the chunks they import
    expect(readFileSync('dist/express.d.ts', 'utf8')).toMatch(/from 'express-session'/); // the check can fail
  });

  it('npm pack ships only dist (code and types, no source maps), README, LICENSE and package.json', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    // The Lua scripts are embedded in dist (src/generated/lua.ts): nothing reads lua/ at run time.
    for (const f of files)
      expect(f).toMatch(/^(dist\/[\w.-]+\.(js|cjs|d\.ts|d\.cts)$|README\.md$|LICENSE$|package\.json$)/);
    for (const f of [
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/express.js',
      'dist/express.cjs',
      'dist/express.d.ts',
      'dist/express.d.cts',
      'dist/fastify.js',
      'dist/fastify.cjs',
      'dist/fastify.d.ts',
      'dist/fastify.d.cts',
    ]) {
      expect(files).toContain(f);
    }
  });

  it('the built code neither reads lua/ nor points at source maps', () => {
    for (const f of readdirSync('dist').filter((n) => /\.(c?js)$/.test(n))) {
      const code = readFileSync(`dist/${f}`, 'utf8');
      expect(code, f).not.toMatch(/sourceMappingURL/);
      expect(code, f).not.toMatch(/readFileSync|lua\/[a-z]+\.lua/);
    }
  });

  it('neither client package is needed: the code never loads ioredis or redis, the types never name them', () => {
    // Any line but a doc comment's (the TSDoc examples import the clients).
    const client = /^(?!\s*\*).*(?:require\(|from |import\()\s*['"](?:ioredis|redis|@redis\/client)['"]/m;
    for (const f of readdirSync('dist').filter((n) => /\.(c?js|d\.c?ts)$/.test(n))) {
      expect(readFileSync(`dist/${f}`, 'utf8'), f).not.toMatch(client);
    }
    const loaded = run([
      '-e',
      `require('session-cas'); require('session-cas/express');` +
        `console.log(Object.keys(require.cache).filter((k) => /node_modules\\/(ioredis|redis|@redis)\\//.test(k)).length)`,
    ]);
    expect(loaded.trim()).toBe('0');
  });
});
