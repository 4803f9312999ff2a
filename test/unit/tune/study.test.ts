import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrials } from '../../../src/io/study.js';
import { parseSpace } from '../../../src/tune/space.js';
import { runStudy, type StudyRequest, type TrialExit, type TrialRunner } from '../../../src/tune/study.js';
import { noProgress } from '../../../src/util/progress.js';
import { createLogger } from '../../../src/util/log.js';

const io = { log: createLogger('error', process.stderr), progress: noProgress };
const space = parseSpace('train.lr: {log_uniform: [0.001, 1]}\nmodel.dim: {int: [4, 64]}\n', 'space.yaml', 'mf');

/** A trial's rmse at epoch e: best near lr 0.01 and dim 32, falling with epochs; lr > 0.5 "diverges". */
const curve = (p: Record<string, unknown>, e: number) => 0.9 + (Math.log10(p['train.lr'] as number) + 2) ** 2 / 10 + ((p['model.dim'] as number) - 32) ** 2 / 5000 + 0.2 / e;

/** Writes what rec train would (metrics.jsonl, best.json, run.json), asking onEpoch after each epoch. */
function fakeRunner(epochs = 4): TrialRunner & { trained: number[] } {
  const trained: number[] = [];
  return {
    trained,
    async train(job, onEpoch): Promise<TrialExit> {
      trained.push(job.trial);
      mkdirSync(job.dir, { recursive: true });
      const params = Object.fromEntries(readFileSync(job.config, 'utf8').split('\n').filter((l) => /^\s+(lr|dim):/.test(l)).map((l) => {
        const [k, v] = l.trim().split(': ');
        return [k === 'lr' ? 'train.lr' : 'model.dim', Number(v)];
      }));
      if ((params['train.lr'] as number) > 0.5) return { ok: false, interrupted: false, usage: false, message: 'Training diverged: loss is NaN at epoch 1, step 3.' };
      const lines: string[] = [];
      let best = Infinity;
      for (let e = 1; e <= epochs; e++) {
        const v = curve(params, e);
        lines.push(JSON.stringify({ epoch: e, loss: v, seconds: 1, examples_per_s: 1, lr: 0.01, valid: { rmse: v } }));
        writeFileSync(join(job.dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
        if (v < best) {
          best = v;
          writeFileSync(join(job.dir, 'best.json'), JSON.stringify({ epoch: e, metric: 'rmse', value: v }));
        }
        if (e < epochs && (await onEpoch({ epoch: e, loss: v, seconds: 1, examples_per_s: 1, lr: 0.01, valid: { rmse: v } }))) break;
      }
      mkdirSync(join(job.dir, 'last'), { recursive: true });
      writeFileSync(join(job.dir, 'last', 'trainer_state.json'), '{}');
      writeFileSync(join(job.dir, 'run.json'), JSON.stringify({ status: 'completed', timings: { wall_seconds: lines.length } }));
      return { ok: true };
    },
    async evaluate(job) {
      return { metrics: { rmse: 0.95 }, file: join(job.checkpoint, 'eval-test-full.json') };
    },
    stopAll() {},
  };
}

function request(out: string, over: Partial<StudyRequest> = {}): StudyRequest {
  return { data: '/data', model: 'mf', space, trials: 12, metric: 'rmse', budgetSeconds: null, parallel: 1, workers: 1, out, resume: false, sampler: 'tpe', pruner: 'median', seed: 5, base: {}, validFromTrain: null, runner: fakeRunner(), ...over };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'rec-study-'));

describe('runStudy', () => {
  it('records every trial, prunes on the curve, keeps going past a failed trial and evaluates only the best on test', async () => {
    const out = tmp();
    const runner = fakeRunner();
    const study = await runStudy(request(out, { runner, space: parseSpace('train.lr: {log_uniform: [0.002, 5]}\nmodel.dim: {int: [4, 64]}\n', 's.yaml', 'mf') }), io);
    const trials = [...(await readTrials(out)).values()];
    expect(trials).toHaveLength(12);
    expect(trials.every((t) => ['completed', 'pruned', 'failed'].includes(t.status))).toBe(true);
    expect(study.counts.completed + study.counts.pruned + study.counts.failed).toBe(12);
    expect(study.counts.pruned).toBeGreaterThan(0);
    expect(study.counts.failed).toBeGreaterThan(0);
    for (const t of trials.filter((r) => r.status === 'failed')) expect(t.message).toMatch(/diverged/);
    const best = trials.filter((t) => t.status === 'completed').sort((a, b) => (a.value as number) - (b.value as number))[0];
    expect(study.best?.trial).toBe(best.trial);
    expect(study.test).toMatchObject({ trial: best.trial, evaluations: 1, metrics: { rmse: 0.95 } });
    expect(readFileSync(join(out, 'best.yaml'), 'utf8')).toMatch(/model: mf/);
  });

  it('proposes and prunes the same trials for the same seed, at any parallelism that is the same', async () => {
    const strip = async (out: string) => [...(await readTrials(out)).values()].map(({ at: _at, seconds: _s, ...r }) => r).sort((a, b) => a.trial - b.trial);
    const [a, b] = [tmp(), tmp()];
    await runStudy(request(a, { parallel: 3 }), io);
    await runStudy(request(b, { parallel: 3 }), io);
    expect(await strip(b)).toEqual(await strip(a));
    const c = tmp();
    await runStudy(request(c, { seed: 6, parallel: 3 }), io);
    expect((await strip(c)).map((r) => r.params)).not.toEqual((await strip(a)).map((r) => r.params));
  });

  it('resumes: finished trials are not trained again, and more trials can be added', async () => {
    const out = tmp();
    await runStudy(request(out, { trials: 4 }), io);
    const runner = fakeRunner();
    const more = await runStudy(request(out, { trials: 6, resume: true, runner }), io);
    expect(runner.trained).toEqual([4, 5]);
    expect(more.counts.completed + more.counts.pruned + more.counts.failed).toBe(6);
  });

  it('a trial killed after its end but before its line is taken from its files, not trained again', async () => {
    const out = tmp();
    await runStudy(request(out, { trials: 3 }), io);
    const before = (await readTrials(out)).get(2);
    const lines = readFileSync(join(out, 'trials.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(out, 'trials.jsonl'), `${lines.slice(0, -1).join('\n')}\n`);
    expect((await readTrials(out)).get(2)?.status).toBe('running');
    const runner = fakeRunner();
    await runStudy(request(out, { trials: 3, resume: true, runner }), io);
    expect(runner.trained).toEqual([]);
    const after = (await readTrials(out)).get(2);
    expect({ ...after, at: '' }).toEqual({ ...before, at: '' });
  });

  it('--refit trains the best config again on all of train for its best epoch count and evaluates that alone on test', async () => {
    const out = tmp();
    const runner = fakeRunner();
    const evaluated: string[] = [];
    const inner = runner.evaluate.bind(runner);
    runner.evaluate = (job) => (evaluated.push(job.checkpoint), inner(job));
    const study = await runStudy(request(out, { runner, trials: 4, validFromTrain: 0.2, refit: true }), io);
    expect(runner.trained).toHaveLength(5);
    expect(runner.trained[4]).toBe(study.best?.trial);
    expect(evaluated).toEqual([join(out, 'refit')]);
    expect(study.refit).toMatchObject({ trial: study.best?.trial, epochs: study.best?.epoch, checkpoint: 'refit', config: 'refit.yaml' });
    expect(study.test).toMatchObject({ trial: study.best?.trial, checkpoint: 'refit', refit: true, evaluations: 1 });
    expect(study.honesty).toMatch(/trained again on all of train/);
    const config = readFileSync(join(out, 'refit.yaml'), 'utf8');
    expect(config).toMatch(new RegExp(`epochs: ${study.best?.epoch}\\n`));
    expect(config).not.toMatch(/valid_from_train/);
    expect(readFileSync(join(out, 'trials', '000.yaml'), 'utf8')).toMatch(/valid_from_train: 0.2/);
    // Resumed with nothing to add, the study neither refits nor looks at test again.
    const again = await runStudy(request(out, { runner, trials: 4, validFromTrain: 0.2, refit: true, resume: true }), io);
    expect(runner.trained).toHaveLength(5);
    expect(again.test?.evaluations).toBe(1);
  });

  it('stops starting trials when the budget is spent, and a running one at its next epoch end', async () => {
    let clock = 0;
    const out = tmp();
    const runner = fakeRunner();
    const inner = runner.train.bind(runner);
    runner.train = (job, onEpoch) => inner(job, async (r) => ((clock += 1000), onEpoch(r)));
    const study = await runStudy(request(out, { runner, budgetSeconds: 2.5, now: () => clock }), io);
    expect(study.stopped_by_budget).toBe(true);
    const trials = [...(await readTrials(out)).values()];
    expect(trials).toHaveLength(1);
    expect(trials[0]).toMatchObject({ status: 'completed', stopped: 'budget' });
    expect(trials[0].metric_by_epoch).toHaveLength(3);
    expect(trials[0].epochs).toBe(3);
  });

  it('refuses a folder that is not empty, and a resume with other settings', async () => {
    const out = tmp();
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await expect(runStudy(request(out), io)).rejects.toThrow(/is not empty/);
    const done = tmp();
    await runStudy(request(done, { trials: 2 }), io);
    await expect(runStudy(request(done, { trials: 2, resume: true, metric: 'mae' }), io)).rejects.toThrow(/its metric was "rmse" but is "mae" now/);
  });
});
