import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-cli-model-options-');
const log = join(dir, 'log.csv');
// Small enough that a run the check let through would finish (and write its checkpoint) in seconds.
const train = ['train', '--data', log, '--epochs', '1', '--backend', 'cpu', '--no-progress'];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const r = await rec(['synth', '--out', log, '--users', '40', '--items', '30', '--events-per-user', '6', '--seed', '5']);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

describe('model options are checked per family', () => {
  it('rec train --model mf --heads 2 exits 2 naming the options mf takes, and writes nothing', async () => {
    const out = join(dir, 'flag');
    const r = await rec([...train, '--model', 'mf', '--heads', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/model\.heads \(from flag:--heads\) does not apply to --model mf, which takes model\.dim, model\.init_std, model\.id_dropout\. model\.heads is read by sasrec\./);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a config file key the family does not read is refused the same way, naming the file', async () => {
    const config = join(dir, 'run.yaml');
    writeFileSync(config, 'train:\n  model: gmf\nmodel:\n  max_len: 20\n');
    const out = join(dir, 'config');
    const r = await rec([...train, '--config', config, '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`model\\.max_len \\(from config:${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) does not apply to --model gmf, which takes model\\.dim, model\\.init_std, model\\.id_dropout\\.`));
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("options the family reads pass, and a model's own defaults (configs/models/*.yaml) are not the user's", async () => {
    // neumf.yaml sets dropout; --alpha is NeuMF's own option.
    const r = await rec([...train, '--model', 'neumf', '--dim', '4', '--alpha', '0.3', '--out', join(dir, 'neumf')]);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
});
