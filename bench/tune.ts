/**
 * `npm run bench -- tune [--arms mf-median,mf-none,bpmf,ials,ials-sampled]`: `rec tune` (issue #24,
 * docs/benchmarks.md#rec-tune-mf-on-movielens-100k-u1). Every study carves its validation from
 * train (--valid-from-train) and is run with --refit: the best trial's config is trained again on
 * all of train for its best epoch count and that model alone is evaluated on test, once.
 *
 * - mf-median, mf-none: MF on ML-100K u1 with median pruning and without (pruning's trials per
 *   hour and the best metric each reaches). Target: test RMSE ≤ 0.910 within 20 minutes (shipped
 *   defaults: 0.9244).
 * - bpmf: Bayesian MF (Gibbs sampling) on the same split and carve, without pruning (its first
 *   epochs are burn-in draws).
 * - ials: iALS on the NCF ML-1M protocol (the paper's 99 negatives): tuned HR@10 against the shipped
 *   defaults trained the same way (all of train, fixed epochs), and the study's wall time.
 * - ials-sampled: the same, validated as the test ranks (--valid-protocol sampled:99).
 *
 * REC_BENCH_TUNE_BUDGET (e.g. 8m) sets each arm's budget (default 20m; --quick: 2m). Trials run one
 * at a time (--parallel 1): the machine is shared, and each arm records the load average.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { SHARED, REPO, rec } from './common.js';

const MF_SPACE = `# MF on ML-100K u1: around the shipped defaults (configs/models/mf.yaml, mf.explicit.yaml)
train.lr: {log_uniform: [0.001, 0.03]}
train.l2: {log_uniform: [0.01, 1]}
model.dim: {int: [16, 256], log: true}
model.init_std: {log_uniform: [0.001, 0.1]}
train.epochs: {int: [6, 40]}
train.lr_decay: {log_uniform: [0.01, 0.5]}
train.batch_size: {choice: [256, 512, 1024, 2048]}
`;

// Narrowed on validation alone: an aborted first study over dim [5, 40], noise_precision [0.7, 4] found every
// trial above 2.2 or below 1 worse than the defaults on the carve (docs/benchmarks.md), and dims past 24 slow.
const BPMF_SPACE = `# Bayesian MF on ML-100K u1: around the shipped defaults (configs/models/bpmf.yaml); burn_in stays 15
model.dim: {int: [6, 24], log: true}
model.noise_precision: {log_uniform: [1.0, 2.2]}
model.samples: {int: [30, 80]}
train.epochs: {int: [50, 100]}
`;

const IALS_SPACE = `# iALS on the NCF ML-1M protocol: around the shipped defaults (configs/models/ials.yaml)
model.dim: {int: [32, 192], log: true}
train.l2: {log_uniform: [0.0005, 0.05]}
model.unobserved_weight: {log_uniform: [0.01, 1]}
model.init_std: {log_uniform: [0.01, 0.3]}
train.epochs: {int: [4, 20]}
`;

export const TUNE_ARMS = ['mf-median', 'mf-none', 'bpmf', 'ials', 'ials-sampled'] as const;
type ArmName = (typeof TUNE_ARMS)[number];

export interface TuneArm {
  arm: ArmName;
  model: string;
  pruner: string;
  metric: string;
  valid_from_train: number;
  budget_s: number;
  wall_s: number;
  trials: Record<string, number>;
  trials_per_hour: number;
  best_valid: number | null;
  best_params: Record<string, unknown> | null;
  /** The refit (the best config on all of train) on test: rmse for MF, hr@10 and ndcg@10 for iALS. */
  test: Record<string, number> | null;
  refit_seconds: number | null;
  /** The shipped defaults: validation on the same carve, and test trained on all of train as the refit is. */
  defaults: { valid: number | null; test: Record<string, number> | null };
  load_before: number;
  load_after: number;
  command: string;
  error?: string;
}

export interface TuneBench {
  targets: { mf_test_rmse: number; ials_hr10_above_defaults: true };
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

interface Setup {
  data: string;
  model: 'mf' | 'bpmf' | 'ials';
  metric: string;
  carve: number;
  space: string;
  /** Extra flags for every trial, the refit, and the defaults (the NCF eval protocol). */
  extra: string[];
  testMetrics: string[];
}

async function prepare(work: string, arm: ArmName): Promise<Setup | string> {
  if (arm === 'ials' || arm === 'ials-sampled') {
    const ncf = join(SHARED, 'datasets/ncf-eval-files');
    if (!existsSync(join(ncf, 'ml1m-u2999.train.tsv'))) return `${ncf} is absent`;
    const data = join(work, 'ncf');
    if (!existsSync(data)) {
      const p = rec(['prep', join(ncf, 'ml1m-u2999.train.tsv'), '--test', join(ncf, 'ml1m-u2999.test.tsv'), '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--feedback', 'implicit', '--split', 'none', '--max-rejects', '0', '--out', data, '-q']);
      if (p.code !== 0) throw new Error(`prep ncf failed: ${p.stderr}`);
    }
    // The study's one test evaluation (and the defaults') on the paper's candidates. Validation ranks every item
    // (ials), or each carved item against 99 seeded negatives as the test does (ials-sampled).
    const evalConfig = join(work, `${arm}-eval.yaml`);
    const validation = arm === 'ials-sampled' ? 'train:\n  valid_protocol: sampled:99\n' : '';
    await writeFile(evalConfig, `${validation}eval:\n  protocol: candidates:${join(ncf, 'ml1m-u2999.test.candidates.tsv')}\n  k: [10]\n  metrics: [hr, ndcg]\n`);
    await writeFile(join(work, 'ials-space.yaml'), IALS_SPACE);
    return { data, model: 'ials', metric: 'ndcg@10', carve: 0.1, space: join(work, 'ials-space.yaml'), extra: ['--config', evalConfig], testMetrics: ['hr@10', 'ndcg@10'] };
  }
  const base = join(SHARED, 'datasets/movielens-100k');
  if (!existsSync(join(base, 'u1.base'))) return `${base} is absent`;
  const data = join(work, 'u1');
  if (!existsSync(data)) {
    const p = rec(['prep', join(base, 'u1.base'), '--test', join(base, 'u1.test'), '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'none', '--max-rejects', '0', '--out', data, '-q']);
    if (p.code !== 0) throw new Error(`prep u1 failed: ${p.stderr}`);
  }
  const model = arm === 'bpmf' ? 'bpmf' : 'mf';
  await writeFile(join(work, `${model}-space.yaml`), model === 'bpmf' ? BPMF_SPACE : MF_SPACE);
  // A 20% carve: a 10% one (8,000 ratings) has an RMSE standard error near 0.007, more than the settings differ by.
  return { data, model, metric: 'rmse', carve: 0.2, space: join(work, `${model}-space.yaml`), extra: [], testMetrics: ['rmse', 'mae'] };
}

/** The shipped defaults: best validation value on the study's carve, and test trained on all of train (as the refit is). */
function defaults(work: string, arm: ArmName, s: Setup): TuneArm['defaults'] {
  const out: TuneArm['defaults'] = { valid: null, test: null };
  const v = rec(['train', '--data', s.data, '--model', s.model, '--valid-from-train', String(s.carve), '--seed', '2020', ...s.extra, '--out', join(work, `${arm}-defaults-valid`), '--json', '-q']);
  if (v.code === 0) out.valid = (JSON.parse(v.stdout) as { best: { value: number } | null }).best?.value ?? null;
  const ck = join(work, `${arm}-defaults`);
  const t = rec(['train', '--data', s.data, '--model', s.model, '--seed', '2020', ...s.extra, '--out', ck, '--json', '-q']);
  if (t.code !== 0) return out;
  const e = rec(['eval', ck, ...s.extra, '--json', '-q']);
  if (e.code === 0) out.test = pick((JSON.parse(e.stdout) as { metrics: Record<string, number> }).metrics, s.testMetrics);
  return out;
}

const pick = (m: Record<string, number>, keys: string[]): Record<string, number> => Object.fromEntries(keys.filter((k) => k in m).map((k) => [k, m[k]]));

async function runArm(work: string, arm: ArmName, budget: number): Promise<TuneArm | string> {
  const s = await prepare(work, arm);
  if (typeof s === 'string') return s;
  const out = join(work, `study-${arm}`);
  // bpmf's early epochs are burn-in draws, alike for every setting: comparing them would prune on noise.
  const pruner = arm === 'mf-none' || arm === 'bpmf' ? 'none' : 'median';
  const args = ['tune', '--data', s.data, '--valid-from-train', String(s.carve), '--model', s.model, '--space', s.space, '--trials', '1000', '--metric', s.metric, '--budget', `${budget}s`, '--prune', pruner, '--parallel', '1', '--refit', '--seed', '2020', ...s.extra, '--out', out, '--json', '-q'];
  const load = loadavg()[0];
  process.stderr.write(`tune bench: ${arm}, budget ${budget}s (load ${load.toFixed(1)})\n`);
  const r = rec(args);
  const a: TuneArm = { arm, model: s.model, pruner, metric: s.metric, valid_from_train: s.carve, budget_s: budget, wall_s: 0, trials: {}, trials_per_hour: 0, best_valid: null, best_params: null, test: null, refit_seconds: null, defaults: { valid: null, test: null }, load_before: load, load_after: loadavg()[0], command: `rec ${args.join(' ')}` };
  if (r.code !== 0) {
    a.error = r.stderr.slice(-800);
    return a;
  }
  const st = JSON.parse(await readFile(join(out, 'study.json'), 'utf8')) as { wall_seconds: number; counts: Record<string, number>; trials_per_hour: number; best: { value: number; params: Record<string, unknown> } | null; test: { metrics: Record<string, number> } | null; refit: { seconds: number } | null };
  Object.assign(a, { wall_s: st.wall_seconds, trials: st.counts, trials_per_hour: st.trials_per_hour, best_valid: st.best?.value ?? null, best_params: st.best?.params ?? null, test: st.test ? pick(st.test.metrics, s.testMetrics) : null, refit_seconds: st.refit?.seconds ?? null });
  a.defaults = defaults(work, arm, s);
  return a;
}

export async function runTuneBench(opts: { quick: boolean; arms?: readonly string[]; out?: string }): Promise<TuneBench> {
  const unknown = (opts.arms ?? []).filter((a) => !(TUNE_ARMS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new Error(`tune bench: unknown arm ${unknown.join(', ')}; expected some of ${TUNE_ARMS.join(', ')}`);
  const arms = TUNE_ARMS.filter((a) => opts.arms?.includes(a) ?? true);
  const result: TuneBench = { targets: { mf_test_rmse: 0.91, ials_hr10_above_defaults: true }, arms: [], note: '' };
  const work = await mkdtemp(join(tmpdir(), 'rec-tune-bench-'));
  const budget = budgetSeconds(opts.quick);
  const absent: string[] = [];
  for (const arm of arms) {
    const a = await runArm(work, arm, budget);
    if (typeof a === 'string') {
      absent.push(`${arm}: ${a}`);
      continue;
    }
    process.stderr.write(`tune bench: ${arm}: ${JSON.stringify({ trials: a.trials, per_hour: a.trials_per_hour, valid: a.best_valid, test: a.test, defaults: a.defaults, error: a.error })}\n`);
    result.arms.push(a);
  }
  result.note = `${absent.length ? `not measured: ${absent.join('; ')}. ` : ''}2-core machine shared with other work: see each arm's load average. Studies kept in ${work}.`;
  await writeJsonAtomic(opts.out ?? join(REPO, 'bench/results', opts.quick ? 'tune-quick.json' : 'tune.json'), result);
  return result;
}
