import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, rec, sleep, tempDir } from './helpers.js';

interface Trial {
  trial: number;
  params: Record<string, unknown>;
  status: string;
  value: number | null;
  epochs: number;
  metric_by_epoch: (number | null)[];
}

/** Each trial's final line, without times (they differ from run to run). */
const trials = (study: string): Trial[] => {
  const last = new Map<number, Trial>();
  for (const line of readFileSync(join(study, 'trials.jsonl'), 'utf8').trim().split('\n')) {
    const r = JSON.parse(line) as Trial;
    last.set(r.trial, { trial: r.trial, params: r.params, status: r.status, value: r.value, epochs: r.epochs, metric_by_epoch: r.metric_by_epoch });
  }
  return [...last.values()].sort((a, b) => a.trial - b.trial);
};

const studyJson = (study: string) => JSON.parse(readFileSync(join(study, 'study.json'), 'utf8')) as { best: { trial: number; value: number }; test: { trial: number; evaluations: number; metrics: Record<string, number> }; status: string };

let dir = '';
let ds = '';
let space = '';
const tuneArgs = (out: string) => ['tune', '--data', ds, '--model', 'mf', '--space', space, '--trials', '3', '--metric', 'ndcg@10', '--epochs', '3', '--prune', 'asha', '--batch-size', '32', '--backend', 'cpu', '--seed', '3', '--parallel', '2', '--out', out];

beforeAll(async () => {
  dir = tempDir('rec-tune-');
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '300', '--items', '150', '--events', '10000', '--seed', '4'])).code).toBe(0);
  ds = join(dir, 'ds');
  expect((await rec(['prep', log, '--out', ds])).code).toBe(0);
  space = join(dir, 'space.yaml');
  writeFileSync(space, 'train.lr: {log_uniform: [0.001, 0.05]}\nmodel.dim: {int: [4, 16]}\ntrain.l2: {log_uniform: [0.0001, 0.1]}\n');
}, 60_000);

describe('rec tune', () => {
  it('a seeded study is reproducible (same trials, same best) through a kill -9 and --resume, which redoes nothing finished', async () => {
    const a = join(dir, 'a');
    const first = await rec([...tuneArgs(a), '--json'], { timeoutMs: 120_000 });
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(first.stdout) as { best: { trial: number }; test: { trial: number; evaluations: number }; counts: Record<string, number> };
    expect(doc.test.trial).toBe(doc.best.trial);
    expect(doc.test.evaluations).toBe(1);
    expect(doc.counts.completed + doc.counts.pruned).toBe(3);
    expect(readFileSync(join(a, 'best.yaml'), 'utf8')).toMatch(/model: mf/);
    // Each trial's record: the epochs it ran, and the validation metric at each of them.
    for (const t of trials(a)) {
      expect(t.metric_by_epoch.length).toBe(t.epochs);
      expect(t.epochs).toBeGreaterThan(0);
    }
    // rec runs STUDY: trials best first by the study's metric; rec report STUDY: the search page.
    const runs = await rec(['runs', a, '--json']);
    expect(runs.code, runs.stderr).toBe(0);
    const paths = (JSON.parse(runs.stdout) as { runs: { path: string }[] }).runs.map((r) => r.path);
    expect(paths[0]).toMatch(new RegExp(`trials/00${doc.best.trial}$`));
    const page = join(dir, 'a.html');
    const report = await rec(['report', a, '--out', page]);
    expect(report.code, report.stderr).toBe(0);
    expect(readFileSync(page, 'utf8')).toContain('validation ndcg@10 by trial');

    // kill -9 the study once trial 0 is finished and trial 2 has saved an epoch: the trials it was
    // running stop with a resumable state (their IPC channel closes).
    const c = join(dir, 'c');
    const child = spawn(process.execPath, [BIN, ...tuneArgs(c)], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    const state = join(c, 'trials', '002', 'last', 'trainer_state.json');
    for (let i = 0; i < 12000 && !existsSync(state); i++) await sleep(10);
    child.kill('SIGKILL');
    await new Promise((done) => child.on('exit', done));
    const runJson = (n: number) => join(c, 'trials', `00${n}`, 'run.json');
    const status = (n: number): string => (JSON.parse(readFileSync(runJson(n), 'utf8')) as { status: string }).status;
    for (let i = 0; i < 1000 && [1, 2].some((n) => status(n) === 'running'); i++) await sleep(20);
    expect(status(2)).toBe('interrupted');
    const finalAtKill = trials(c).filter((t) => t.status !== 'running').map((t) => t.trial);
    expect(finalAtKill).toContain(0);
    const before = finalAtKill.map((n) => ({ text: readFileSync(runJson(n), 'utf8'), mtime: statSync(runJson(n)).mtimeMs }));

    const resumed = await rec([...tuneArgs(c), '--resume'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/trial 2 \(resumed\)/);
    for (const n of finalAtKill) expect(resumed.stderr).not.toMatch(new RegExp(`trial ${n}[ :(]`));
    expect(finalAtKill.map((n) => ({ text: readFileSync(runJson(n), 'utf8'), mtime: statSync(runJson(n)).mtimeMs }))).toEqual(before);
    expect(trials(c)).toEqual(trials(a));
    expect(studyJson(c).best).toEqual(studyJson(a).best);
    expect(studyJson(c).test.evaluations).toBe(1);
  }, 300_000);

  it('refuses a dataset without a validation split (exit 2) unless --valid-from-train carves one', async () => {
    const log = join(dir, 'log.csv');
    const novalid = join(dir, 'novalid');
    expect((await rec(['prep', log, '--out', novalid, '--split', 'random:0.8,0,0.2'])).code).toBe(0);
    const out = join(dir, 'nv-study');
    const refused = await rec(['tune', '--data', novalid, '--space', space, '--trials', '2', '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/has no validation split.*--valid-from-train/);
    expect(existsSync(join(out, 'trials.jsonl'))).toBe(false);
    // --valid-from-train carves the trials' validation; --refit trains the best config on all of train (no
    // carve), evaluated on test instead of the trial, still once.
    const refit = join(dir, 'nv-refit');
    const r = await rec(['tune', '--data', novalid, '--valid-from-train', '0.1', '--space', space, '--trials', '1', '--epochs', '2', '--patience', '0', '--backend', 'cpu', '--refit', '--out', refit, '--json'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { counts: { completed: number }; valid_from_train: number; best: { epoch: number }; refit: { epochs: number; checkpoint: string }; test: { refit: boolean; checkpoint: string; evaluations: number } };
    expect(doc.valid_from_train).toBe(0.1);
    expect(doc.counts.completed).toBe(1);
    expect(readFileSync(join(refit, 'best.yaml'), 'utf8')).toMatch(/valid_from_train: 0\.1/);
    expect(doc.refit).toMatchObject({ epochs: doc.best.epoch, checkpoint: 'refit' });
    expect(doc.test).toMatchObject({ refit: true, checkpoint: 'refit', evaluations: 1 });
    expect(readFileSync(join(refit, 'refit.yaml'), 'utf8')).not.toMatch(/valid_from_train/);
    expect(existsSync(join(refit, 'refit', 'run.json'))).toBe(true);
    // A dataset with its own valid split: there is no carve to give back (exit 2).
    const own = await rec(['tune', '--data', ds, '--space', space, '--trials', '1', '--refit', '--out', join(dir, 'own-refit')]);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/--refit.*has its own valid split/);
  }, 180_000);

  it('refuses a bad space before any trial, naming file, line and key (exit 2)', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'train.lr: {log_uniform: [0.001, 0.05]}\nmodel.heads: {int: [1, 4]}\n');
    const r = await rec(['tune', '--data', ds, '--model', 'mf', '--space', bad, '--trials', '2', '--out', join(dir, 'bad-study')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:2: model.heads`);
    expect(r.stderr).toMatch(/does not apply to --model mf/);
    writeFileSync(bad, 'train.l2: {log_uniform: [0, 1]}\n');
    const zero = await rec(['tune', '--data', ds, '--space', bad, '--out', join(dir, 'bad-study')]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/bad\.yaml:1: train\.l2: log_uniform \[0, 1\] touches 0/);
  });
});
