/**
 * `rec train --model sasrec` end to end on a tiny synthetic leave-last dataset: a run killed with
 * SIGKILL mid-epoch and resumed ends with exactly the weights and epoch losses of an uninterrupted
 * run; --init-from moves item rows by raw id; --freeze keeps a weight fixed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/engine/backend.js';
import { loadModel } from '../../src/models/saved.js';
import { namedWeights } from '../../src/models/model.js';
import { silentLogger } from '../../src/util/log.js';
import { BIN, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-sasrec-');
const ds = join(dir, 'ds');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const common = ['--model', 'sasrec', '--epochs', '3', '--dim', '8', '--max-len', '12', '--batch-size', '8', '--dropout', '0.2', '--seed', '7', '--backend', 'cpu'];

const losses = (ck: string) =>
  readFileSync(join(ck, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { epoch: number; loss: number }).loss);

beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  expect((await rec(['synth', '--out', log, '--users', '60', '--items', '40', '--events', '1500', '--seed', '3'])).code).toBe(0);
  const p = await rec(['prep', log, '--split', 'leave-last', '--out', ds]);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

describe('rec train --model sasrec', () => {
  it('killed with SIGKILL mid-epoch, --resume ends with the weights and losses of an uninterrupted run', async () => {
    const whole = join(dir, 'whole');
    const r = await rec(['train', '--data', ds, ...common, '--out', whole, '--json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { model: string; loss: string; epochs: { epoch: number }[] };
    // The shipped default loss: the full softmax, whose gradient covers the whole item table.
    expect(result).toMatchObject({ model: 'sasrec', loss: 'ce' });
    expect(result.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);

    const killed = join(dir, 'killed');
    const child = spawn(process.execPath, [BIN, 'train', '--data', ds, ...common, '--save-every', '2', '--out', killed], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    const exit = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_c, signal) => done(signal)));
    // Killed after its first mid-epoch save (step 2 of epoch 1), before the run can finish.
    for (let i = 0; i < 6000 && !existsSync(join(killed, 'last', 'trainer_state.json')); i++) await sleep(5);
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');
    expect(existsSync(join(killed, 'metrics.jsonl')) ? losses(killed).length : 0).toBeLessThan(3);
    const resumed = await rec(['train', '--out', killed, '--resume', '--backend', 'cpu'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming/);
    expect(losses(killed)).toEqual(losses(whole));
    expect(readFileSync(join(killed, 'model', 'weights.bin')).equals(readFileSync(join(whole, 'model', 'weights.bin')))).toBe(true);
  }, 300_000);

  it('--init-from a sasrec parent, and --freeze keeps the named weight as the parent had it', async () => {
    const parent = join(dir, 'whole');
    const child = join(dir, 'child');
    const r = await rec(['train', '--data', ds, ...common, '--epochs', '1', '--init-from', parent, '--freeze', 'sasrec/position_embedding', '--out', child], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/items \d+ from the parent, 0 new/);
    const run = JSON.parse(readFileSync(join(child, 'run.json'), 'utf8')) as { parents: { model: string }[] };
    expect(run.parents.map((p) => p.model)).toEqual(['sasrec']);
    await initEngine({ backend: 'cpu', log: silentLogger });
    const weight = async (ck: string, key: string) => {
      const m = await loadModel(join(ck, 'model'));
      const w = namedWeights(m.keras).find((x) => x.key === key);
      return Array.from(w?.variable.dataSync() ?? []);
    };
    expect(await weight(child, 'sasrec/position_embedding')).toEqual(await weight(parent, 'sasrec/position_embedding'));
    expect(await weight(child, 'sasrec/final_ln/gamma')).not.toEqual(await weight(parent, 'sasrec/final_ln/gamma'));
    const gmf = await rec(['train', '--data', ds, '--model', 'gmf', '--epochs', '1', '--backend', 'cpu', '--init-from', parent, '--out', join(dir, 'wrong')]);
    expect(gmf.code).toBe(2);
    expect(gmf.stderr).toContain('is a sasrec checkpoint');
    const replay = await rec(['train', '--data', ds, ...common, '--epochs', '1', '--init-from', parent, '--replay', '0.5', '--out', join(dir, 'replay')]);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/train\.replay 0\.5 .*applies to \(user, item\) models/);
  }, 300_000);
});
