import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

describe('synth → prep → train through the binary', () => {
  const dir = tempDir();
  const log = join(dir, 'shop.csv.gz');
  const ds = join(dir, 'ds');

  it('synth writes a seeded log and reports it as JSON', async () => {
    const r = await rec(['synth', '--out', log, '--users', '120', '--items', '80', '--events', '6000', '--seed', '3', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: number; path: string };
    expect(out.rows).toBe(6000);
    expect(existsSync(log)).toBe(true);
  });

  it('prep --json prints the §10 fields and the manifest accounting adds up', async () => {
    const r = await rec(['prep', log, '--out', ds, '--event-weights', 'view=1,click=2,cart=3,buy=5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { dataset: string; rows: Record<string, number>; rejected_by_reason: Record<string, number>; users: number; items: number };
    expect(Object.keys(out).sort()).toEqual(expect.arrayContaining(['dataset', 'items', 'rejected_by_reason', 'rows', 'users']));
    const m = JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as { rows: Record<string, number> };
    const rows = m.rows;
    expect(rows.read).toBe(6000);
    expect(rows.read).toBe(rows.accepted + rows.rejected);
    expect(rows.accepted).toBe(rows.deduplicated + rows.filtered + rows.train + rows.valid + rows.test);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('train --json writes a checkpoint and per-epoch records; same seed gives the same losses', async () => {
    const args = (out: string) => ['train', '--data', ds, '--model', 'mf', '--epochs', '2', '--dim', '8', '--batch-size', '512', '--out', out, '--seed', '5', '--backend', 'cpu', '--json'];
    const a = await rec(args(join(dir, 'ck-a')));
    expect(a.code, a.stderr).toBe(0);
    const ra = JSON.parse(a.stdout) as { checkpoint: string; epochs: { epoch: number; loss: number; seconds: number; examples_per_s: number; valid: Record<string, number> }[] };
    expect(ra.checkpoint).toBe(join(dir, 'ck-a'));
    expect(ra.epochs).toHaveLength(2);
    expect(ra.epochs[0].valid['ndcg@10']).toBeGreaterThan(0);
    expect(ra.epochs[1].loss).toBeLessThan(ra.epochs[0].loss);
    for (const f of ['config.yaml', 'run.json', 'metrics.jsonl', 'best.json', 'model/model.json', 'model/weights.bin', 'last/trainer_state.json', 'vocab/users.arrow', 'vocab/items.arrow']) {
      expect(existsSync(join(dir, 'ck-a', f)), f).toBe(true);
    }
    expect(readFileSync(join(dir, 'ck-a', 'config.yaml'), 'utf8')).toMatch(/dim: 8 {2}# flag:--dim/);
    const b = await rec(args(join(dir, 'ck-b')));
    const rb = JSON.parse(b.stdout) as typeof ra;
    expect(rb.epochs.map((e) => [e.loss, e.valid])).toEqual(ra.epochs.map((e) => [e.loss, e.valid]));
  });
});
