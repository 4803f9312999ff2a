import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '../..');
const DESIGN = readFileSync(join(REPO, 'docs/design.md'), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped (hyphens and underscores kept), spaces → '-'. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(REPO, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

function filesUnder(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(REPO, dir)).sort()) {
    const path = join(dir, name);
    if (statSync(join(REPO, path)).isDirectory()) out.push(...filesUnder(path, exts));
    else if (exts.some((ext) => name.endsWith(ext))) out.push(path);
  }
  return out;
}

/** Markdown links to a heading (`[..](FILE.md#heading)`, `[..](#heading)`) in `text`, with the file each resolves against. */
function citedAnchors(text: string, from: string): { target: string; anchor: string }[] {
  const out: { target: string; anchor: string }[] = [];
  for (const m of text.matchAll(/\]\(([\w./-]*\.md)?#([\w-]+)\)/g)) {
    const target = m[1] === undefined ? from : relative(REPO, resolve(join(REPO, from, '..'), m[1]));
    out.push({ target, anchor: m[2] });
  }
  return out;
}

describe('docs/design.md', () => {
  it('names only paths that exist (src/, docs/, configs/, test/), placeholders such as NAME aside', () => {
    const named = [...new Set([...DESIGN.matchAll(/\b(?:src|docs|configs|test)\/[\w./<>*-]*/g)].map((m) => m[0].replace(/[.]+$/, '')))];
    const real = named.filter((p) => !/NAME|[<>*]/.test(p));
    expect(real.length).toBeGreaterThan(20);
    expect(real.filter((p) => !existsSync(join(REPO, p)))).toEqual([]);
  });

  it('gives every folder of src/ a row in the layers table, and names no layer that does not exist', () => {
    const layers = DESIGN.slice(DESIGN.indexOf('## Layers'), DESIGN.indexOf('## The checkpoint folder'));
    const rows = [...layers.matchAll(/^\| (`src\/.*?) \|/gm)].flatMap((m) => [...m[1].matchAll(/`src\/(\w+)`/g)].map((n) => n[1]));
    const folders = readdirSync(join(REPO, 'src')).filter((name) => statSync(join(REPO, 'src', name)).isDirectory());
    expect([...rows].sort()).toEqual([...folders].sort());
  });

  it('links only to headings that exist', () => {
    const broken = citedAnchors(DESIGN, 'docs/design.md').filter(({ target, anchor }) => !anchors(target).has(anchor));
    expect(broken).toEqual([]);
  });

  it('keeps the exit codes of src/util/errors.ts', () => {
    const errors = readFileSync(join(REPO, 'src/util/errors.ts'), 'utf8');
    const codes = [...errors.slice(errors.indexOf('export const EXIT'), errors.indexOf('} as const')).matchAll(/: (\d+),/g)].map((m) => m[1]);
    const section = DESIGN.slice(DESIGN.indexOf('## Exit codes'), DESIGN.indexOf('## Crash safety'));
    const documented = [...section.matchAll(/^\| `(\d+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(codes);
    const classes = [...errors.matchAll(/^export class (\w+) extends RecError/gm)].map((m) => m[1]);
    expect(classes.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});

describe("the repository's citations", () => {
  const docs = ['README.md', ...filesUnder('docs', ['.md'])];
  const code = [...['src', 'test', 'bench', 'bin'].flatMap((dir) => filesUnder(dir, ['.ts', '.js', '.py'])), ...filesUnder('configs', ['.yaml'])];

  it('cite no document the repository does not have (the product contract, the engine research note)', () => {
    const cites = [...docs, ...code].filter((file) => /PRODUCT §\d|engine\.md §\d/.test(readFileSync(join(REPO, file), 'utf8')));
    expect(cites).toEqual([]);
  });

  it('point at headings that exist, from the docs and from code comments that cite a doc and its heading', () => {
    const broken: string[] = [];
    for (const file of docs) {
      for (const { target, anchor } of citedAnchors(readFileSync(join(REPO, file), 'utf8'), file)) {
        if (!existsSync(join(REPO, target)) || !anchors(target).has(anchor)) broken.push(`${file} → ${target}#${anchor}`);
      }
    }
    for (const file of code) {
      for (const m of readFileSync(join(REPO, file), 'utf8').matchAll(/\b((?:docs\/[\w-]+|README)\.md)#([\w-]+)/g)) {
        if (!existsSync(join(REPO, m[1])) || !anchors(m[1]).has(m[2])) broken.push(`${file} → ${m[1]}#${m[2]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('docs/design.md#adding-a-model-family', () => {
  it('walks through the pop module and config file as they are in the repository', () => {
    const design = readFileSync(join(REPO, 'docs/design.md'), 'utf8');
    const added = (path: string) => {
      const start = design.indexOf(`+++ b/${path}\n`);
      expect(start, path).toBeGreaterThan(0);
      const body = design.slice(start + `+++ b/${path}\n`.length).split('\n');
      const lines: string[] = [];
      for (const line of body) {
        if (!line.startsWith('+')) break;
        lines.push(line.slice(1));
      }
      return `${lines.join('\n')}\n`;
    };
    expect(added('src/models/pop.ts')).toBe(readFileSync(join(REPO, 'src/models/pop.ts'), 'utf8'));
    expect(added('configs/models/pop.yaml')).toBe(readFileSync(join(REPO, 'configs/models/pop.yaml'), 'utf8'));
  });
});
