/**
 * Every relative link in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md
 * points at a file that exists, and every `#anchor` at a heading of its target,
 * so moving a section or a file cannot leave a dead link behind.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const files = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter(
  (f) => f.endsWith('.md'),
);

/** The text outside fenced code blocks, and outside inline code spans. */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line.replace(/`[^`]*`/g, '``'));
  }
  return lines;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = (m[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(file: string): { target: string; anchor?: string; raw: string }[] {
  const found: { target: string; anchor?: string; raw: string }[] = [];
  for (const line of prose(readFileSync(file, 'utf8'))) {
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const raw = m[1] ?? '';
      if (/^[a-z][a-z+.-]*:/i.test(raw)) continue; // https:, mailto: ...
      const [path = '', anchor] = raw.split('#', 2);
      found.push({ target: path === '' ? file : normalize(join(dirname(file), path)), anchor, raw });
    }
  }
  return found;
}

describe('documentation links', () => {
  it('the docs exist and link to each other', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/api.md']));
    expect(links('README.md').length).toBeGreaterThan(10);
  });

  it.each(files)('%s: every relative link resolves, anchors included', (file) => {
    for (const { target, anchor, raw } of links(file)) {
      expect(existsSync(target), `${file}: (${raw}) -> ${target} does not exist`).toBe(true);
      if (anchor !== undefined && target.endsWith('.md')) {
        expect(
          anchors(readFileSync(target, 'utf8')),
          `${file}: (${raw}) -> no heading #${anchor} in ${target}`,
        ).toContain(anchor);
      }
    }
  });

  it('the anchor rule matches GitHub on the headings used here', () => {
    expect([...anchors('## Redis Cluster: `--cluster`\n# Node-local cache and change feed\n## A\n## A\n')]).toEqual([
      'redis-cluster---cluster',
      'node-local-cache-and-change-feed',
      'a',
      'a-1',
    ]);
  });
});
