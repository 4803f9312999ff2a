// The rules of docs/design.md ("Rules a machine checks") fire on code that breaks them, stay quiet on code that
// keeps them, and the real tree passes with its baselines.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** A function whose text spans exactly `lines` lines, counted the way max-lines-per-function counts them. */
function functionOfLines(lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  total += ${i};`);
  return ['export function long(): number {', '  let total = 0;', ...body, '  return total;', '}', ''].join('\n');
}

async function ruleIds(text: string, filePath: string): Promise<string[]> {
  // lintText applies no bulk suppressions, so a fixture sees every rule the config switches on.
  const [result] = await new ESLint({ cwd: ROOT }).lintText(text, { filePath: join(ROOT, filePath) });
  return result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

describe('eslint rules', () => {
  it('forbids `any` in src/, bench/ and test/', async () => {
    const code = 'export function f(x: any): unknown {\n  return x;\n}\n';
    for (const path of ['src/util/fixture.ts', 'bench/fixture.ts', 'test/unit/fixture.test.ts']) {
      expect(await ruleIds(code, path), path).toEqual(['@typescript-eslint/no-explicit-any']);
    }
    expect(await ruleIds(code.replace('any', 'unknown'), 'src/util/fixture.ts')).toEqual([]);
  });

  it('allows a function of 100 lines and refuses one of 101 outside test/', async () => {
    expect(functionOfLines(101).trimEnd().split('\n')).toHaveLength(101);
    expect(await ruleIds(functionOfLines(100), 'src/data/fixture.ts')).toEqual([]);
    expect(await ruleIds(functionOfLines(101), 'src/data/fixture.ts')).toEqual(['max-lines-per-function']);
    expect(await ruleIds(functionOfLines(101), 'bench/fixture.ts')).toEqual(['max-lines-per-function']);
  });

  it('lets a describe block in test/ run long', async () => {
    expect(await ruleIds(functionOfLines(300), 'test/unit/fixture.test.ts')).toEqual([]);
  });
});

describe('dependency-cruiser layer rules', () => {
  let dir = '';
  // Each fixture module imports the modules listed; the comment on each says which rule it breaks, if any.
  const modules: Record<string, string[]> = {
    'src/util/u.ts': ['../config/c.js'], // util-is-the-bottom
    'src/config/c.ts': ['../util/ok.js'],
    'src/util/ok.ts': [],
    'src/io/i.ts': ['../models/m.js'], // foundations-below-models
    'src/data/d.ts': ['../train/t.js', '../io/ok.js'], // foundations-below-models (train), io is allowed
    'src/io/ok.ts': [],
    'src/engine/e.ts': ['../eval/v.js', '@tensorflow/tfjs-node-gpu'], // foundations-below-models; tfjs-node allowed
    'src/models/m.ts': ['../cli/k.js'], // cli-is-the-top
    'bench/b.ts': ['../src/cli/k.js'], // cli-is-the-top
    'src/train/t.ts': ['./t2.js', '../models/ok.js'], // no-circular (t -> t2 -> t)
    'src/train/t2.ts': ['./t.js'], // no-circular
    'src/models/ok.ts': ['../engine/ok.js', '../io/ok.js', '../data/ok.js'],
    'src/engine/ok.ts': [],
    'src/data/ok.ts': [],
    'src/eval/v.ts': ['@tensorflow/tfjs-node'], // native-engine-only-in-engine
    'src/recommend/r.ts': ['vitest'], // no-dev-deps-in-shipped-code
    'src/cli/k.ts': ['../train/t.js', '../eval/v.js', '../util/ok.js'],
    'test/k.test.ts': ['../src/cli/k.js', 'vitest'],
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rec-lint-'));
    for (const [path, imports] of Object.entries(modules)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      const lines = imports.map((spec, i) => `import * as m${i} from '${spec}';\nexport const x${i} = m${i};`);
      writeFileSync(join(dir, path), [...lines, 'export const here = 1;', ''].join('\n'));
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(ROOT, 'tsconfig.json')));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports exactly the imports that break a layer rule', () => {
    const args = [DEPCRUISE, 'src', 'bench', 'test', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'];
    const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as { summary: { violations: { from: string; to: string; rule: { name: string } }[] } };
    const found = report.summary.violations.map(({ rule, from, to }) => {
      // A cycle is reported once, from whichever member the cruise reached first; a package by its name.
      if (rule.name === 'no-circular') return `${rule.name}: ${[from, to].sort().join(' <-> ')}`;
      return `${rule.name}: ${from} -> ${to.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1')}`;
    });
    expect(found).toEqual(
      [
        'cli-is-the-top: bench/b.ts -> src/cli/k.ts',
        'cli-is-the-top: src/models/m.ts -> src/cli/k.ts',
        'foundations-below-models: src/data/d.ts -> src/train/t.ts',
        'foundations-below-models: src/engine/e.ts -> src/eval/v.ts',
        'foundations-below-models: src/io/i.ts -> src/models/m.ts',
        'native-engine-only-in-engine: src/eval/v.ts -> @tensorflow/tfjs-node',
        'no-circular: src/train/t.ts <-> src/train/t2.ts',
        'no-dev-deps-in-shipped-code: src/recommend/r.ts -> vitest',
        'util-is-the-bottom: src/util/u.ts -> src/config/c.ts',
      ].sort(),
    );
    // The reporter `npm run lint` uses fails the run, so the violations stop `npm test`.
    const failing = spawnSync(process.execPath, [...args.slice(0, -1), 'err'], { cwd: dir, encoding: 'utf8' });
    expect(failing.stdout).toContain(`${found.length} dependency violations`);
    expect(failing.status).not.toBe(0);
  });
});

describe('the real tree', () => {
  it('passes `npm run lint` with its baselines', () => {
    const run = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it('lists in the dependency baseline only violations that still occur, so the baseline can only shrink', () => {
    // ESLint refuses stale entries in eslint-suppressions.json itself; dependency-cruiser ignores them silently.
    type Violation = { from: string; to: string; rule: { name: string } };
    const key = (v: Violation) => `${v.rule.name}: ${v.from} -> ${v.to}`;
    // The options of `npm run lint:layers`, so this run reuses its cache; known violations come back with
    // severity "ignore".
    const cache = ['--cache', 'node_modules/.cache/dependency-cruiser', '--cache-strategy', 'content'];
    const options = ['--config', '.dependency-cruiser.cjs', '--ignore-known', ...cache, '--output-type', 'json'];
    const args = [DEPCRUISE, 'src', 'bench', 'bin', 'test', ...options];
    const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
    const now = new Set((JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations.map(key));
    const known = JSON.parse(readFileSync(join(ROOT, '.dependency-cruiser-known-violations.json'), 'utf8')) as Violation[];
    const stale = known.map(key).filter((k) => !now.has(k));
    expect(stale, 'fixed violations still in the baseline: run `npm run lint:baseline`').toEqual([]);
  });
});
