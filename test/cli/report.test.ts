import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-report-');
const a = join(dir, 'a');
const b = join(dir, 'b');
const out = join(dir, 'r.html');
const SHOP = join(REPO, 'datasets/shop/events.csv');
const TRACE = join(REPO, 'test/fixtures/startup/trace-imports.mjs');

beforeAll(async () => {
  const ta = await rec(['train', '--data', SHOP, '--epochs', '2', '--out', a, '-q']);
  expect(ta.stderr).toBe('');
  expect((await rec(['eval', a, '-q'])).code).toBe(0);
  // b is fine-tuned from a: its section must name a as its parent.
  const tb = await rec(['train', '--data', join(a, 'data'), '--epochs', '2', '--lr', '0.01', '--init-from', a, '--out', b, '-q']);
  expect(tb.stderr).toBe('');
  expect((await rec(['eval', b, '-q'])).code).toBe(0);
});

describe('rec report', () => {
  it('writes one self-contained page for two checkpoints, without loading TF.js', async () => {
    const trace = join(dir, 'imports.txt');
    const r = await rec(['report', a, b, '--out', out, '--json'], { env: { REC_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${TRACE}` } });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { report: string; checkpoints: { label: string; epochs: number; evals: string[] }[] };
    expect(result.report).toBe(out);
    expect(result.checkpoints.map((c) => [c.label, c.epochs, c.evals])).toEqual([
      ['a', 2, ['test-full']],
      ['b', 2, ['test-full']],
    ]);
    expect(readFileSync(trace, 'utf8')).not.toMatch(/node_modules\/@tensorflow\//);

    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html).toContain('id="comparison"');
    expect(html).toMatch(/<td class="best"/);
    // b's section links to a, its parent, inside the same page.
    expect(html.slice(html.indexOf('id="run-2"'))).toContain('<a href="#run-1">a</a>');
    // The data summary comes from a's dataset manifest (60,000 rows read from the shop log).
    expect(html).toContain('<td>60000</td>');
  });

  it('refuses to replace an existing --out without --force, and replaces it with --force', async () => {
    const target = join(dir, 'mine.html');
    writeFileSync(target, 'my notes');
    const r = await rec(['report', a, '--out', target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mine\.html already exists.*--force/);
    expect(readFileSync(target, 'utf8')).toBe('my notes');
    const f = await rec(['report', a, '--out', target, '--force']);
    expect(f.code).toBe(0);
    expect(statSync(target).size).toBeGreaterThan(1000);
  });

  it('a damaged checkpoint (a folder where metrics.jsonl should be) fails the report naming the file and which checkpoint (exit 1); nothing written', async () => {
    const bad = join(dir, 'damaged');
    cpSync(a, bad, { recursive: true });
    rmSync(join(bad, 'metrics.jsonl'));
    mkdirSync(join(bad, 'metrics.jsonl'));
    const target = join(dir, 'damaged.html');
    let r = await rec(['report', a, bad, '--out', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/unexpected failure|EISDIR/);
    expect(r.stderr).toMatch(/Cannot read .*damaged[/\\]metrics\.jsonl \(the epoch records\): it is a folder.*\(checkpoint 2 of 2, .*damaged\)\. No report was written; repair it, or leave it out/);
    expect(existsSync(target)).toBe(false);
    r = await rec(['report', bad, '--out', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot read .*damaged[/\\]metrics\.jsonl \(the epoch records\): it is a folder/);
    expect(existsSync(target)).toBe(false);
  });

  it('shows the gate and which checkpoint production points at', async () => {
    const nightly = join(dir, 'nightly');
    mkdirSync(nightly);
    let r = await rec(['promote', a, '--to', nightly]);
    expect(r.code, r.stderr).toBe(0);
    // b's gate against production is in its eval file; given as nightly/production, a is found to be production.
    r = await rec(['eval', b, '--baseline', join(nightly, 'production'), '--max-drop', 'ndcg@10=100%', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const target = join(nightly, 'r.html');
    r = await rec(['report', join(nightly, 'production'), b, '--out', target]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(target, 'utf8');
    expect(html).toMatch(/<td class="k">production<\/td><td>production since \d{4}-\d\d-\d\dT[\d:.]+Z \([^)]*nightly[/\\]production\)/);
    expect(html).toMatch(/<td class="k">gate<\/td><td>pass vs \S+[/\\]a \(as \S+production, the current production\): ndcg@10/);
  });

  it('names a folder that is not a checkpoint, and requires --out (exit 2)', async () => {
    const r = await rec(['report', dir, '--out', join(dir, 'x.html')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a rec checkpoint: .*run\.json is missing/);
    expect(r.stderr).not.toMatch(/unexpected failure/);
    const n = await rec(['report', a]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--out/);
  });
});
