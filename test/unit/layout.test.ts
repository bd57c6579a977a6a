/**
 * The repository's layout rules: test/ is a leaf (nothing outside it imports
 * from it), file names under test/, bench/ and harness/ are unique (a stack
 * trace or an editor tab names one file), and src/ files stay small enough
 * to read (lines of at most 120 characters, files of at most 400 lines).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git', '.test-artifacts', 'results']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** Source files under `dir` (repo-relative, `/`-separated), build output, dependencies and `skip` left out. */
function sources(dir: string, skip: readonly string[] = []): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = dir === '.' ? e.name : `${dir}/${e.name}`;
    if (SKIP.has(e.name) || skip.includes(p)) return [];
    if (e.isDirectory()) return sources(p, skip);
    return e.isFile() && SOURCE.test(e.name) ? [p] : [];
  });
}

/** Relative import specifiers of a module: static, side-effect and dynamic imports, and re-exports. */
function relativeImports(src: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
  return [...src.matchAll(re)].map((m) => m[1]!);
}

/** Whether `spec`, imported by `file` (repo-relative), resolves into test/. */
function intoTest(file: string, spec: string): boolean {
  const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
  return target === 'test' || target.startsWith(`test${sep}`);
}

/** Base names (index.ts aside) that more than one of `files` has, with the files. */
function duplicateNames(files: readonly string[]): Record<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const f of files) {
    const name = basename(f);
    if (name !== 'index.ts') byName.set(name, [...(byName.get(name) ?? []), f]);
  }
  return Object.fromEntries([...byName].filter(([, fs]) => fs.length > 1));
}

/** Longest a src/ line may be (also ESLint's max-len). */
const MAX_LINE = 120;
/** Hard ceiling on a src/ file's lines. */
const MAX_FILE_LINES = 400;
/**
 * Files over MAX_FILE_LINES today. Each entry must go: it is here only until
 * the split that issue #15 asks for lands. Never add to this list.
 */
const TOO_LONG_FOR_NOW = new Set(['src/redis/shard-channels.ts']);

describe('layout', () => {
  it('the rule helpers catch what they are for', () => {
    expect(
      relativeImports(`import { a } from '../test/x.js';\nexport * from "./y.js";\nawait import('./z.js');`),
    ).toEqual(['../test/x.js', './y.js', './z.js']);
    expect(intoTest('bench/env.ts', '../test/support/provision.js')).toBe(true);
    expect(intoTest('bench/env.ts', '../harness/provision.js')).toBe(false);
    expect(intoTest('bench/env.ts', '../tests/x.js')).toBe(false);
    expect(duplicateNames(['test/a/history.ts', 'test/b/history.ts', 'test/a/index.ts', 'bench/index.ts'])).toEqual({
      'history.ts': ['test/a/history.ts', 'test/b/history.ts'],
    });
  });

  it('nothing outside test/ imports from test/', () => {
    const outside = sources('.', ['test']);
    expect(outside).toContain('bench/env.ts');
    const offenders = outside.flatMap((f) =>
      relativeImports(readFileSync(join(ROOT, f), 'utf8'))
        .filter((spec) => intoTest(f, spec))
        .map((spec) => `${f} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('no two files under test/, bench/ and harness/ share a name (index.ts aside)', () => {
    const files = ['test', 'bench', 'harness'].flatMap((d) => sources(d));
    expect(files).toContain('test/unit/layout.test.ts');
    expect(duplicateNames(files)).toEqual({});
  });

  it(`src/ lines are at most ${MAX_LINE} characters and files at most ${MAX_FILE_LINES} lines`, () => {
    // The generated Lua module holds the scripts as string literals; lua/*.lua is its source.
    const files = sources('src').filter((f) => !f.startsWith('src/redis/generated/'));
    expect(files).toContain('src/index.ts');
    const long = files.flatMap((f) =>
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.length > MAX_LINE ? [`${f}:${i + 1} (${line.length})`] : [])),
    );
    expect(long).toEqual([]);
    const lines = (f: string) => readFileSync(join(ROOT, f), 'utf8').trimEnd().split('\n').length;
    const tooLong = files.filter((f) => !TOO_LONG_FOR_NOW.has(f) && lines(f) > MAX_FILE_LINES);
    expect(tooLong.map((f) => `${f} (${lines(f)} lines)`)).toEqual([]);
    // An allow-listed file that got short enough leaves the list.
    const shortNow = [...TOO_LONG_FOR_NOW].filter((f) => !files.includes(f) || lines(f) <= MAX_FILE_LINES);
    expect(shortNow).toEqual([]);
  });
});
