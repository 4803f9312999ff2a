import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/util/prng.js';
import { rec, tempDir } from './helpers.js';

interface TrainJson {
  model: string;
  loss: string;
  status: string;
  epochs: { epoch: number; valid: Record<string, number> }[];
  best: { metric: string; value: number } | null;
}

/** Bayesian MF through the binary, on a rank-2 rating log: validated by rmse, evaluated, recommended; --l2 refused. */
describe('bpmf', () => {
  const dir = tempDir('rec-cli-bpmf-');
  const ds = join(dir, 'ds');
  let spread = 0;

  beforeAll(async () => {
    const rng = Prng.fromSeed(3, 'cli/bpmf');
    const p = Array.from({ length: 80 }, () => [rng.normal(), rng.normal()]);
    const q = Array.from({ length: 50 }, () => [rng.normal(), rng.normal()]);
    const lines: string[] = [];
    const values: number[] = [];
    for (let u = 0; u < 80; u++) {
      for (let i = 0; i < 50; i++) {
        if (rng.next() > 0.5) continue;
        const r = Math.min(5, Math.max(1, Math.round(3 + 0.9 * (p[u][0] * q[i][0] + p[u][1] * q[i][1]) + 0.3 * rng.normal())));
        lines.push(`u${u},i${i},${r},${1_600_000_000 + lines.length}`);
        values.push(r);
      }
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    spread = Math.sqrt(values.reduce((a, r) => a + (r - mean) ** 2, 0) / values.length);
    writeFileSync(join(dir, 'log.csv'), `user,item,rating,ts\n${lines.join('\n')}\n`);
    const prep = await rec(['prep', join(dir, 'log.csv'), '--out', ds, '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'random:0.8,0.1,0.1']);
    expect(prep.code, prep.stderr).toBe(0);
  });

  it('trains with rmse validation falling as draws are averaged, then eval and recommend read the checkpoint', async () => {
    const out = join(dir, 'ck');
    const train = await rec(['train', '--data', ds, '--model', 'bpmf', '--dim', '4', '--burn-in', '4', '--samples', '8', '--epochs', '12', '--out', out, '--json']);
    expect(train.code, train.stderr).toBe(0);
    const t = JSON.parse(train.stdout) as TrainJson;
    expect([t.model, t.loss, t.status, t.best?.metric]).toEqual(['bpmf', 'mse', 'completed', 'rmse']);
    expect(t.epochs.length).toBe(12);
    expect(t.epochs[11].valid.rmse).toBeLessThan(t.epochs[0].valid.rmse);
    const ev = await rec(['eval', out, '--metrics', 'rmse,mae', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    const metrics = (JSON.parse(ev.stdout) as { metrics: Record<string, number> }).metrics;
    expect(metrics.rmse).toBeLessThan(0.75 * spread);
    const users = join(dir, 'users.txt');
    writeFileSync(users, 'u1\nnobody\n');
    const r = await rec(['recommend', out, '--users', users, '--k', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { items: unknown[] }).items.length)).toEqual([3, 3]);
  });

  it('refuses --l2 (exit 2, saying what regularises it instead; implicit feedback and ranking losses: test/unit/models/bpmf.test.ts)', async () => {
    const l2 = await rec(['train', '--data', ds, '--model', 'bpmf', '--l2', '0.1', '--out', join(dir, 'l2')]);
    expect(l2.code).toBe(2);
    expect(l2.stderr).toMatch(/train.l2 \(from flag:--l2\) does not apply to --model bpmf: it is regularised by its priors/);
  });
});
