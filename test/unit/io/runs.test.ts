import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
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
