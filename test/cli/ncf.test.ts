import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

interface TrainJson {
  checkpoint: string;
  epochs: { epoch: number; loss: number; valid: Record<string, number> }[];
  parents: { path: string; model: string; weights_sha256: string; epoch: number | null }[];
}

describe('NCF through the binary: gmf + mlp → neumf --init-from', () => {
  const dir = tempDir('rec-cli-ncf-');
  const common = ['--epochs', '2', '--dim', '4', '--batch-size', '4096', '--json', '--seed', '3'];

  it('trains the parts, then a NeuMF from them; --init-from paths resolve against the working directory', async () => {
    const gmf = await rec(['train', '--model', 'gmf', '--out', join(dir, 'gmf'), ...common]);
    expect(gmf.code, gmf.stderr).toBe(0);
    const g = JSON.parse(gmf.stdout) as TrainJson;
    expect(g.epochs[1].loss).toBeLessThan(g.epochs[0].loss);
    expect(g.parents).toEqual([]);
    // The first run prepped the bundled log into gmf/data; reuse it so the parents share one vocabulary.
    const mlp = await rec(['train', '--model', 'mlp', '--data', join(dir, 'gmf', 'data'), '--out', join(dir, 'mlp'), ...common]);
    expect(mlp.code, mlp.stderr).toBe(0);
    const neumf = await rec(['train', '--model', 'neumf', '--data', join(dir, 'gmf', 'data'), '--init-from', 'gmf', '--init-from', 'mlp', '--lr', '0.001', '--out', join(dir, 'neumf'), ...common], { cwd: dir });
    expect(neumf.code, neumf.stderr).toBe(0);
    const n = JSON.parse(neumf.stdout) as TrainJson;
    expect(n.parents.map((p) => [p.model, p.path])).toEqual([
      ['gmf', join(dir, 'gmf')],
      ['mlp', join(dir, 'mlp')],
    ]);
    expect(n.parents[0].weights_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(neumf.stderr).toMatch(/--init-from .*gmf \(gmf, epoch \d\): users \d+ from the parent, 0 new/);
  });

  it('exits 2 naming the flag and the path for a wrong set of parents', async () => {
    const only = await rec(['train', '--model', 'neumf', '--data', join(dir, 'gmf', 'data'), '--init-from', join(dir, 'gmf'), '--out', join(dir, 'bad1'), ...common]);
    expect(only.code).toBe(2);
    expect(only.stdout).toBe('');
    expect(only.stderr).toContain(`received only gmf (${join(dir, 'gmf')})`);
    const missing = await rec(['train', '--model', 'gmf', '--data', join(dir, 'gmf', 'data'), '--init-from', join(dir, 'nope'), '--out', join(dir, 'bad2'), ...common]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--init-from ${join(dir, 'nope')}: not a rec checkpoint`);
    expect(existsSync(join(dir, 'bad2'))).toBe(false);
  });
});
