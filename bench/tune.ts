/**
 * `npm run bench -- tune`: `rec tune` on MF, ML-100K u1 (issue #24, docs/benchmarks.md#rec-tune-mf-on-movielens-100k-u1).
 * Validation is carved from u1.base (--valid-from-train 0.1, the carve the shipped MF defaults were
 * chosen on); u1.test is evaluated once, for the best trial, at the end. The same study runs with
 * median pruning and without, each within the budget, to show pruning's trials per hour and the
 * best metric each reaches. Target: test RMSE ≤ 0.910 within 20 minutes (shipped defaults: 0.924).
 *
 * REC_BENCH_TUNE_BUDGET (e.g. 8m) shortens the budget of each arm; --quick runs 2-minute arms.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { SHARED, REPO, rec } from './common.js';

const SPACE = `# MF on ML-100K u1: around the shipped defaults (configs/models/mf.yaml, mf.explicit.yaml)
train.lr: {log_uniform: [0.001, 0.03]}
train.l2: {log_uniform: [0.01, 1]}
model.dim: {int: [16, 256], log: true}
train.epochs: {int: [6, 30]}
train.lr_decay: {log_uniform: [0.01, 0.5]}
train.batch_size: {choice: [256, 512, 1024, 2048]}
`;

export interface TuneArm {
  pruner: string;
  budget_s: number;
  wall_s: number;
  trials: Record<string, number>;
  trials_per_hour: number;
  best_valid_rmse: number | null;
  test_rmse: number | null;
  /** The best trial's config trained again on the whole of u1.base (no carve, its best epoch count, no early stop), then u1.test. */
  refit_test_rmse: number | null;
  best_params: Record<string, unknown> | null;
  load_before: number;
  load_after: number;
  command: string;
  error?: string;
}

export interface TuneBench {
  dataset: string;
  target_test_rmse: number;
  shipped_defaults_test_rmse: number;
  arms: TuneArm[];
  note: string;
}

function budgetSeconds(quick: boolean): number {
  const env = process.env.REC_BENCH_TUNE_BUDGET;
  if (env) {
    const m = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(env.trim());
    if (!m) throw new Error(`REC_BENCH_TUNE_BUDGET=${env}: expected e.g. 8m or 300s`);
    return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  }
  return quick ? 120 : 1200;
}

/**
 * The usual last step of a search: the chosen config trained on all the training data (u1.base
 * without the validation carve, for the best trial's best epoch count, no early stopping), evaluated on u1.test.
 * The study's own test figure is the best trial as trained there, on 90% of u1.base.
 */
async function refit(ds: string, study: string): Promise<number | null> {
  const best = (JSON.parse(await readFile(join(study, 'study.json'), 'utf8')) as { best: { epoch: number | null } | null }).best;
  if (!best?.epoch) return null;
  // As many epochs as the best trial's best one (its learning-rate schedule then spans those epochs).
  const yaml = (await readFile(join(study, 'best.yaml'), 'utf8')).replace(/^\s*valid_from_train:.*$/m, '').replace(/^(\s*)epochs: \d+$/m, `$1epochs: ${best.epoch}`);
  const config = join(study, 'refit.yaml');
  await writeFile(config, yaml);
  const ck = join(study, 'refit');
  const t = rec(['train', '--data', ds, '--config', config, '--patience', '0', '--out', ck, '--json', '-q']);
  if (t.code !== 0) return null;
  const e = rec(['eval', ck, '--metrics', 'rmse', '--json', '-q']);
  return e.code === 0 ? (JSON.parse(e.stdout) as { metrics: { rmse: number } }).metrics.rmse : null;
}

export async function runTuneBench(opts: { quick: boolean; out?: string }): Promise<TuneBench> {
  const result: TuneBench = { dataset: 'ml100k-u1', target_test_rmse: 0.91, shipped_defaults_test_rmse: 0.924, arms: [], note: '' };
  const base = join(SHARED, 'datasets/movielens-100k');
  if (!existsSync(join(base, 'u1.base'))) {
    result.note = `${base} is absent: nothing to measure`;
    return result;
  }
  const work = await mkdtemp(join(tmpdir(), 'rec-tune-bench-'));
  const ds = join(work, 'u1');
  const p = rec(['prep', join(base, 'u1.base'), '--test', join(base, 'u1.test'), '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'none', '--max-rejects', '0', '--out', ds, '-q']);
  if (p.code !== 0) throw new Error(`prep u1 failed: ${p.stderr}`);
  const space = join(work, 'space.yaml');
  await writeFile(space, SPACE);
  const budget = budgetSeconds(opts.quick);
  for (const pruner of ['median', 'none']) {
    const out = join(work, `study-${pruner}`);
    const args = ['tune', '--data', ds, '--valid-from-train', '0.1', '--model', 'mf', '--space', space, '--trials', '1000', '--metric', 'rmse', '--budget', `${budget}s`, '--prune', pruner, '--seed', '2020', '--out', out, '--json', '-q'];
    const load = loadavg()[0];
    process.stderr.write(`tune bench: ${pruner} pruning, budget ${budget}s (load ${load.toFixed(1)})\n`);
    const r = rec(args);
    const arm: TuneArm = { pruner, budget_s: budget, wall_s: 0, trials: {}, trials_per_hour: 0, best_valid_rmse: null, test_rmse: null, refit_test_rmse: null, best_params: null, load_before: load, load_after: loadavg()[0], command: `rec ${args.join(' ')}` };
    if (r.code !== 0) {
      arm.error = r.stderr.slice(-800);
    } else {
      const s = JSON.parse(r.stdout) as { wall_seconds: number; counts: Record<string, number>; trials_per_hour: number; best: { value: number; params: Record<string, unknown> } | null; test: { metrics: Record<string, number> } | null };
      Object.assign(arm, { wall_s: s.wall_seconds, trials: s.counts, trials_per_hour: s.trials_per_hour, best_valid_rmse: s.best?.value ?? null, test_rmse: s.test?.metrics.rmse ?? null, best_params: s.best?.params ?? null });
      arm.trials = JSON.parse(await readFile(join(out, 'study.json'), 'utf8')).counts as Record<string, number>;
      arm.refit_test_rmse = await refit(ds, out);
    }
    process.stderr.write(`tune bench: ${pruner}: ${JSON.stringify({ trials: arm.trials, per_hour: arm.trials_per_hour, valid: arm.best_valid_rmse, test: arm.test_rmse, error: arm.error })}\n`);
    result.arms.push(arm);
  }
  result.note = `2-core machine shared with other work: see each arm's load average. Studies kept in ${work}.`;
  await writeJsonAtomic(opts.out ?? join(REPO, 'bench/results/tune.json'), result);
  return result;
}
