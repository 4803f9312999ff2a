import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRuns } from '../../../src/io/runs.js';

const RUN = {
  format_version: 1,
  argv: [],
  versions: { rec: '0', tfjs: '0', node: '20' },
  engine: 'cpu',
  seed: 1,
  model: 'mf',
  loss: 'mse',
  feedback: 'explicit',
  dataset: { path: '/data/ml', manifest_sha256: '0123456789abcdef' },
  parents: [],
  shape: { users: 2, items: 2, global_mean: 3 },
  value_range: [1, 5],
  timings: { started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:10:00.000Z', train_seconds: 100, wall_seconds: 120 },
  status: 'completed',
  config: {},
  config_sources: {},
};

function checkpoint(dir: string, files: Record<string, string> = {}): void {
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeFileSync(join(dir, 'model', 'model.json'), '{}');
  writeFileSync(join(dir, 'run.json'), JSON.stringify(RUN));
  writeFileSync(join(dir, 'metrics.jsonl'), '{"epoch":1,"loss":1}\n{"epoch":2,"loss":0.5}\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

const NOW = new Date('2026-01-01T01:10:00.000Z');

describe('listRuns', () => {
  it('reads a checkpoint without descending into it; age from timings.finished', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'a'), { 'best.json': '{"epoch":2,"metric":"rmse","value":0.9,"valid":{"rmse":0.9}}' });
    mkdirSync(join(root, 'a', 'data', 'nested'), { recursive: true });
    writeFileSync(join(root, 'a', 'data', 'nested', 'run.json'), '{}');
    const rows = await listRuns(root, NOW);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'a', status: 'completed', reason: null, epochs: 2, age_seconds: 3600, train_seconds: 100, wall_seconds: 120 });
    expect(rows[0].best).toEqual({ epoch: 2, metric: 'rmse', value: 0.9, valid: { rmse: 0.9 } });
    expect(rows[0].dataset?.manifest_short).toBe('01234567');
  });

  it('a corrupt best.json, eval file or metrics line makes the row invalid, naming the file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'best'), { 'best.json': '[' });
    checkpoint(join(root, 'eval'), { 'eval-test-full.json': '42' });
    checkpoint(join(root, 'metrics'), { 'metrics.jsonl': '{"epoch":1,"loss":1}\nnope\n' });
    const rows = await listRuns(root, NOW);
    expect(rows.map((r) => [r.name, r.status])).toEqual([['best', 'invalid'], ['eval', 'invalid'], ['metrics', 'invalid']]);
    expect(rows[0].reason).toMatch(/best\.json \(the best epoch record\) is not valid JSON/);
    expect(rows[1].reason).toMatch(/eval-test-full\.json \(an eval result\) is not a JSON object \(received 42\)/);
    expect(rows[2].reason).toMatch(/metrics\.jsonl:2 is not valid JSON/);
  });

  it('a run.json left at "running" without a live lock is incomplete (killed)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'k'), { 'run.json': JSON.stringify({ ...RUN, status: 'running', timings: { ...RUN.timings, finished: null } }), '.rec.lock': JSON.stringify({ pid: 2 ** 30, command: 'rec train', started: 'x' }) });
    const [row] = await listRuns(root, NOW);
    expect(row).toMatchObject({ status: 'incomplete', finished: null, age_seconds: 4200 });
    expect(row.reason).toMatch(/killed\?/);
  });

  it('lists a link to a checkpoint under its own name, and survives a link back up the tree', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'runs', 'a'));
    symlinkSync(join(root, 'runs', 'a'), join(root, 'production'));
    symlinkSync(root, join(root, 'runs', 'loop'));
    const rows = await listRuns(root, NOW);
    expect(rows.map((r) => [r.name, r.status])).toEqual([['production', 'completed'], ['runs/a', 'completed']]);
  });

  it('skips dataset folders (manifest.json) and the links to them, as in a nightly state folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'checkpoints', 'night1'));
    mkdirSync(join(root, 'data', 'night1'), { recursive: true });
    writeFileSync(join(root, 'data', 'night1', 'manifest.json'), '{}');
    symlinkSync('data/night1', join(root, 'current'));
    symlinkSync('checkpoints/night1', join(root, 'production'));
    const rows = await listRuns(root, NOW);
    expect(rows.map((r) => [r.name, r.status])).toEqual([['checkpoints/night1', 'completed'], ['production', 'completed']]);
  });

  it('the folder itself may be a checkpoint; a missing folder or a file is a usage error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(root);
    expect((await listRuns(root, NOW)).map((r) => r.name)).toEqual(['.']);
    await expect(listRuns(join(root, 'nope'))).rejects.toThrow(/cannot read the folder .*nope: .*ENOENT/);
    await expect(listRuns(join(root, 'run.json'))).rejects.toThrow(/run\.json is a file\. Expected a folder of checkpoints/);
  });
});

describe('listRuns: damaged folders', () => {
  it('a folder or a pipe where a record file should be makes that row invalid, naming the file; the others are listed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'a'));
    checkpoint(join(root, 'metrics-dir'));
    rmSync(join(root, 'metrics-dir', 'metrics.jsonl'));
    mkdirSync(join(root, 'metrics-dir', 'metrics.jsonl'));
    checkpoint(join(root, 'eval-dir'));
    mkdirSync(join(root, 'eval-dir', 'eval-test-full.json'));
    checkpoint(join(root, 'run-dir'));
    rmSync(join(root, 'run-dir', 'run.json'));
    mkdirSync(join(root, 'run-dir', 'run.json'));
    checkpoint(join(root, 'z'));
    // A FIFO blocks a plain read until a writer comes: the listing must neither hang nor crash.
    checkpoint(join(root, 'best-fifo'));
    execFileSync('mkfifo', [join(root, 'best-fifo', 'best.json')]);
    const rows = await listRuns(root, NOW);
    expect(rows.map((r) => [r.name, r.status])).toEqual([
      ['a', 'completed'],
      ['best-fifo', 'invalid'],
      ['eval-dir', 'invalid'],
      ['metrics-dir', 'invalid'],
      ['run-dir', 'invalid'],
      ['z', 'completed'],
    ]);
    const reason = new Map(rows.map((r) => [r.name, r.reason]));
    expect(reason.get('best-fifo')).toMatch(/best-fifo[/\\]best\.json \(the best epoch record\): it is not a regular file/);
    expect(reason.get('eval-dir')).toMatch(/eval-dir[/\\]eval-test-full\.json \(an eval result\): it is a folder/);
    expect(reason.get('metrics-dir')).toMatch(/metrics-dir[/\\]metrics\.jsonl \(the epoch records\): it is a folder/);
    expect(reason.get('run-dir')).toMatch(/run-dir[/\\]run\.json \(the run record\): it is a folder/);
  });
});

describe('listRuns: gate and production', () => {
  const gated = (baseline: string, passed: boolean) =>
    JSON.stringify({
      split: 'test',
      created: '2026-01-02T03:00:00.000Z',
      data: { manifest_sha256: 'feed' },
      metrics: { 'ndcg@10': 0.2 },
      gates: { passed, checks: [{ kind: 'max_drop', metric: 'ndcg@10', threshold: 10, percent: true, value: 0.2, baseline: 0.25, drop: 0.05, passed }] },
      baseline: { checkpoint: baseline, pointer: null, weights_sha256: 'ab', metrics: { 'ndcg@10': 0.25 } },
    });

  it('marks the checkpoint production points at, when it was promoted, and the last gate with its baseline', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'rec-runs-')));
    const n1 = join(root, 'checkpoints', 'n1');
    const n2 = join(root, 'checkpoints', 'n2');
    const n3 = join(root, 'checkpoints', 'n3');
    checkpoint(n1);
    checkpoint(n2, { 'eval-test-full.json': gated(n1, true) });
    checkpoint(n3, { 'eval-test-full.json': gated(n2, false) });
    symlinkSync('checkpoints/n2', join(root, 'production'));
    writeFileSync(
      join(root, 'promotions.jsonl'),
      [
        { at: '2026-01-01T03:00:00.000Z', checkpoint: n1, previous: null, forced: false, eval: null },
        { at: '2026-01-02T03:05:00.000Z', checkpoint: n2, previous: n1, forced: false, eval: 'eval-test-full.json' },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    const warnings: string[] = [];
    const rows = await listRuns(root, NOW, (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    const by = new Map(rows.map((r) => [r.name, r]));
    expect(by.get('checkpoints/n1')!.promotion).toEqual({ production: false, links: [], promoted_at: '2026-01-01T03:00:00.000Z', forced: false, eval: null });
    expect(by.get('checkpoints/n2')!.promotion).toEqual({ production: true, links: [join(root, 'production')], promoted_at: '2026-01-02T03:05:00.000Z', forced: false, eval: 'eval-test-full.json' });
    expect(by.get('production')).toMatchObject({ link_to: 'checkpoints/n2', promotion: { production: true } });
    expect(by.get('checkpoints/n2')!.gate).toMatchObject({ passed: true, baseline: n1, baseline_is_production: false, checks: ['ndcg@10 dropped 20% (allowed 10%)'], failed: [] });
    expect(by.get('checkpoints/n3')!.gate).toMatchObject({ passed: false, baseline: n2, baseline_is_production: true, failed: ['ndcg@10 dropped 20% (allowed 10%)'] });
    expect(by.get('checkpoints/n3')!.evals[0]).toMatchObject({ data_manifest_sha256: 'feed', gate: { passed: false } });
    // Run on the checkpoints folder alone, production still shows: it sits in the parent.
    const inner = await listRuns(join(root, 'checkpoints'), NOW);
    expect(inner.map((r) => [r.name, r.promotion.production])).toEqual([['n1', false], ['n2', true], ['n3', false]]);
  });

  it('reads promotions.jsonl tolerantly: torn lines skipped with a warning; an intent counts once its switch shows, an abandoned one never', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'rec-runs-')));
    const [n1, n2, n3, n4] = ['n1', 'n2', 'n3', 'n4'].map((n) => join(root, n));
    for (const n of [n1, n2, n3, n4]) checkpoint(n);
    symlinkSync('n2', join(root, 'production'));
    writeFileSync(
      join(root, 'promotions.jsonl'),
      [
        // n1: an intent whose confirmation was lost, but the next promotion started from n1: it switched.
        JSON.stringify({ at: '2026-01-01T00:00:00.000Z', checkpoint: n1, previous: null, status: 'intent' }),
        JSON.stringify({ at: '2026-01-02T00:00:00.000Z', checkpoint: n2, previous: n1, status: 'done' }),
        '[1,2]',
        '{"at": "2026-01-03T00:00:00.000Z", "checkpoint": "/x',
        JSON.stringify({ at: '2026-01-04T00:00:00.000Z', checkpoint: n3, previous: n2, status: 'abandoned', forced: true }),
        // n4: the last intent, and production does not point at it: it never switched.
        JSON.stringify({ at: '2026-01-05T00:00:00.000Z', checkpoint: n4, previous: n2, status: 'intent' }),
      ].join('\n'),
    );
    const warnings: string[] = [];
    const by = new Map((await listRuns(root, NOW, (m) => warnings.push(m))).map((r) => [r.name, r.promotion]));
    expect(by.get('n1')).toMatchObject({ production: false, promoted_at: '2026-01-01T00:00:00.000Z' });
    expect(by.get('n2')).toMatchObject({ production: true, promoted_at: '2026-01-02T00:00:00.000Z' });
    expect(by.get('n3')).toMatchObject({ production: false, promoted_at: null });
    expect(by.get('n4')).toMatchObject({ production: false, promoted_at: null });
    expect(warnings).toEqual([expect.stringMatching(/promotions\.jsonl: 2 lines without "checkpoint" and "at" skipped/)]);
  });

  it('an intent that production points at was switched (its confirmation lost)', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'rec-runs-')));
    checkpoint(join(root, 'n1'));
    symlinkSync('n1', join(root, 'production'));
    writeFileSync(join(root, 'promotions.jsonl'), `${JSON.stringify({ at: '2026-01-01T00:00:00.000Z', checkpoint: join(root, 'n1'), previous: null, status: 'intent' })}\n`);
    const [row] = (await listRuns(root, NOW)).filter((r) => r.name === 'n1');
    expect(row.promotion).toMatchObject({ production: true, promoted_at: '2026-01-01T00:00:00.000Z' });
  });

  it('a production that is a folder, a dangling link or a promotions.jsonl that is a folder is a warning, not a failure', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rec-runs-'));
    checkpoint(join(root, 'a', 'n1'));
    symlinkSync(join(root, 'gone'), join(root, 'a', 'production'));
    mkdirSync(join(root, 'a', 'promotions.jsonl'));
    checkpoint(join(root, 'b', 'n1'));
    mkdirSync(join(root, 'b', 'production'));
    const warnings: string[] = [];
    const rows = await listRuns(root, NOW, (m) => warnings.push(m));
    expect(rows.filter((r) => r.status === 'completed').map((r) => r.name)).toEqual(['a/n1', 'b/n1']);
    expect(rows.every((r) => !r.promotion.production)).toBe(true);
    expect(warnings.join('\n')).toMatch(/a[/\\]production points at .*gone, which no longer exists/);
    expect(warnings.join('\n')).toMatch(/a[/\\]promotions\.jsonl \(the promotion history\): it is a folder/);
    expect(warnings.join('\n')).toMatch(/b[/\\]production is a folder, not a link made by rec promote/);
  });
});
