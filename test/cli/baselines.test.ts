import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, rec, tempDir } from './helpers.js';

interface TrainJson {
  checkpoint: string;
  model: string;
  loss: string;
  status: string;
  epochs: { epoch: number; loss: number; valid: Record<string, number> }[];
  best: { metric: string; value: number } | null;
  parents: { path: string; model: string }[];
}

/**
 * The four baselines through the binary, on one synthetic log with planted structure (rec synth):
 * each trains, validates, evaluates and recommends like the other families, and the personalised
 * ones beat popularity on it.
 */
describe('baselines: pop, itemknn, ease, ials', () => {
  const dir = tempDir('rec-cli-baselines-');
  const ds = join(dir, 'ds');

  beforeAll(async () => {
    const log = join(dir, 'log.csv');
    expect((await rec(['synth', '--out', log, '--users', '400', '--items', '150', '--events-per-user', '30', '--seed', '8'])).code).toBe(0);
    const prep = await rec(['prep', log, '--out', ds, '--split', 'random:0.8,0.1,0.1']);
    expect(prep.code, prep.stderr).toBe(0);
  });

  /** 300 users over 2,048 items (EASE: 8 pivot blocks, each a step; iALS: 3 blocks of rows an epoch), prepped once. */
  const manyItems = async (): Promise<string> => {
    const data = join(dir, 'many-items');
    if (existsSync(data)) return data;
    const log = join(dir, 'many-items.csv');
    const lines: string[] = [];
    for (let u = 0; u < 300; u++) for (let k = 0; k < 40; k++) lines.push(`u${u},i${(u * 37 + k * k * 11) % 2048}`);
    writeFileSync(log, `user,item\n${lines.join('\n')}\n`);
    expect((await rec(['prep', log, '--out', data, '--split', 'none', '--feedback', 'implicit'])).code).toBe(0);
    return data;
  };

  const trained: Record<string, TrainJson> = {};
  for (const model of ['pop', 'itemknn', 'ease', 'ials'] as const) {
    it(`${model}: trains with validation, then eval --json and recommend work on its checkpoint`, async () => {
      const out = join(dir, model);
      const train = await rec(['train', '--data', ds, '--model', model, '--out', out, '--json', ...(model === 'ials' ? ['--epochs', '4', '--dim', '16'] : [])]);
      expect(train.code, train.stderr).toBe(0);
      const t = JSON.parse(train.stdout) as TrainJson;
      trained[model] = t;
      expect(t.model).toBe(model);
      expect(t.status).toBe('completed');
      expect(t.best?.metric).toBe('ndcg@10');
      expect(t.epochs.length).toBe(model === 'ials' ? 4 : 1);
      const ev = await rec(['eval', out, '--json', '--metrics', 'ndcg,recall', '--k', '10']);
      expect(ev.code, ev.stderr).toBe(0);
      const metrics = (JSON.parse(ev.stdout) as { metrics: Record<string, number> }).metrics;
      expect(metrics['ndcg@10']).toBeGreaterThan(0);
      const users = join(dir, `${model}-users.txt`);
      writeFileSync(users, 'u1\nu2\nnobody\n');
      const r = await rec(['recommend', out, '--users', users, '--k', '5']);
      expect(r.code, r.stderr).toBe(0);
      const lists = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; items: { item: string }[]; cold: boolean });
      expect(lists.map((l) => [l.user, l.items.length, l.cold])).toEqual([
        ['u1', 5, false],
        ['u2', 5, false],
        ['nobody', 5, true],
      ]);
    });
  }

  it('the personalised baselines beat popularity on validation ndcg@10, and rec runs lists all four', async () => {
    const best = (m: string) => trained[m]?.best?.value ?? Number.NaN;
    for (const m of ['itemknn', 'ease', 'ials']) expect(best(m), m).toBeGreaterThan(best('pop'));
    const runs = await rec(['runs', dir, '--json']);
    expect(runs.code, runs.stderr).toBe(0);
    const models = (JSON.parse(runs.stdout) as { runs: { model: string }[] }).runs.map((r) => r.model).sort();
    expect(models).toEqual(['ease', 'ials', 'itemknn', 'pop']);
  });

  it('ials fine-tunes from its own checkpoint by raw id, and resumes a finished run without redoing it', async () => {
    const child = join(dir, 'ials-ft');
    const ft = await rec(['train', '--data', ds, '--model', 'ials', '--dim', '16', '--epochs', '1', '--init-from', join(dir, 'ials'), '--out', child, '--json']);
    expect(ft.code, ft.stderr).toBe(0);
    expect((JSON.parse(ft.stdout) as TrainJson).parents.map((p) => p.model)).toEqual(['ials']);
    const metrics = readFileSync(join(dir, 'ials', 'metrics.jsonl'), 'utf8');
    const again = await rec(['train', '--data', ds, '--out', join(dir, 'ials'), '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'ials', 'metrics.jsonl'), 'utf8')).toBe(metrics);
  });

  it('refuses, with exit 2 and what applies, options and warm starts a baseline cannot use', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'pop', '--init-from', join(dir, 'pop')], /--init-from does not apply to --model pop/],
      [['--model', 'ease', '--init-from', join(dir, 'ials')], /--init-from does not apply to --model ease/],
      [['--model', 'ease', '--epochs', '3'], /closed form by one epoch.*Expected --epochs 1/],
      [['--model', 'itemknn', '--dim', '8'], /model.dim .* does not apply to --model itemknn, which takes model.neighbours, model.shrink/],
      [['--model', 'ials', '--lr', '0.1'], /train.lr .* does not apply to --model ials, which is fitted without gradient steps/],
      [['--model', 'ease', '--loss', 'bce'], /--loss bce does not apply to --model ease/],
      [['--model', 'mf', '--neighbours', '5'], /model.neighbours .* is read by itemknn/],
    ];
    for (const [args, message] of cases) {
      const r = await rec(['train', '--data', ds, '--out', join(dir, 'refused'), ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('ease refuses a catalogue whose dense item matrix would not fit the engine, saying how much it needs', async () => {
    const log = join(dir, 'wide.csv');
    const items = 40_000;
    writeFileSync(log, `user,item\n${Array.from({ length: items }, (_, i) => `u${i % 50},i${i}`).join('\n')}\n`);
    const wide = join(dir, 'wide');
    expect((await rec(['prep', log, '--out', wide, '--split', 'none', '--feedback', 'implicit'])).code).toBe(0);
    const r = await rec(['train', '--data', wide, '--model', 'ease', '--backend', 'wasm', '--out', join(dir, 'wide-ease')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--model ease needs about [\d.]+ GiB to fit 40,000 items \(a dense 40,000 × 40,000 item matrix/);
  });

  /**
   * Trains `args(out)` whole, then again with SIGINT after its first save, then resumes that one:
   * returns the resume's result, the state the signal left and whether both model/ are the same bytes.
   */
  async function interruptAndResume(name: string, data: string, args: (out: string) => string[]) {
    const whole = join(dir, `${name}-whole`);
    expect((await rec(args(whole), { timeoutMs: 120_000 })).code).toBe(0);
    const cut = join(dir, `${name}-cut`);
    const child = spawn(process.execPath, [BIN, ...args(cut)], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const state = join(cut, 'last', 'trainer_state.json');
    for (let i = 0; i < 6000 && !existsSync(state); i++) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { epoch: number; step_in_epoch: number };
    const resumed = await rec(['train', '--data', data, '--out', cut, '--resume'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    const sha = (ck: string) => createHash('sha256').update(readFileSync(join(ck, 'model', 'weights.bin'))).digest('hex');
    return { resumed, saved, same: sha(cut) === sha(whole) };
  }

  it('ease interrupted mid-inversion starts its epoch over on --resume and ends with the weights of an uninterrupted run', async () => {
    const data = await manyItems();
    const { resumed, saved, same } = await interruptAndResume('ease', data, (out) => ['train', '--data', data, '--model', 'ease', '--backend', 'wasm', '--save-every', '1', '--out', out]);
    expect(saved.epoch).toBe(0);
    expect(saved.step_in_epoch).toBeGreaterThan(0);
    expect(resumed.stderr).toMatch(/--model ease keeps no work in progress in its checkpoint: epoch 1 starts over/);
    expect(same).toBe(true);
  });

  it('ials interrupted by SIGINT resumes from its saved tables to the weights of an uninterrupted run', async () => {
    const data = await manyItems();
    const { same } = await interruptAndResume('ials', data, (out) => ['train', '--data', data, '--model', 'ials', '--dim', '8', '--epochs', '25', '--save-every', '1', '--out', out]);
    expect(same).toBe(true);
  });
});
