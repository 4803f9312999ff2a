/**
 * The classic baselines beside the neural models (issue #20, docs/benchmarks.md#baselines-issue-20): pop,
 * itemknn, ease and ials with their shipped defaults, and mf and neumf with theirs, on
 *  - the NCF protocol (ML-1M users 1–2999, the paper's 99 negatives: HR@10 / NDCG@10), and
 *  - Amazon Games leave-last (sampled:100, the SASRec paper's protocol, and full ranking),
 * each with its fit time (training, validation excluded) and wall time. EASE on Games is what its
 * memory check says: fitted when the dense 23,715 × 23,715 matrix fits, else the refusal.
 *
 *   node dist/bench/baselines.js [--quick] [--datasets ncf-ml1m,amazon-games] [--models pop,ease]
 *   npm run bench -- baselines [--quick]
 * writes bench/results/baselines.json (baselines-quick.json); with --datasets or --models, only
 * those runs are measured, and they replace the same (dataset, model) runs in an existing file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { argValue, printResult, rec, REPO, SHARED } from './common.js';

const NCF = join(SHARED, 'datasets/ncf-eval-files');
const GAMES = join(SHARED, 'datasets/sasrec-amazon-games/Video.txt');

export interface BaselineRun {
  dataset: 'ncf-ml1m' | 'amazon-games';
  model: string;
  /** null when training was refused or failed; `error` says why. */
  epochs: number | null;
  train_seconds: number | null;
  wall_seconds: number | null;
  /** protocol → metric → value, e.g. { candidates: { 'hr@10': 0.71 } }. */
  metrics: Record<string, Record<string, number>>;
  load_avg_1m: number;
  error?: string;
}

export interface BaselinesBenchResult {
  date: string;
  note: string | null;
  runs: BaselineRun[];
}

interface Dataset {
  name: BaselineRun['dataset'];
  prep: string[];
  protocols: Record<string, string>;
}

const DATASETS: Dataset[] = [
  {
    name: 'ncf-ml1m',
    prep: [join(NCF, 'ml1m-u2999.train.tsv'), '--test', join(NCF, 'ml1m-u2999.test.tsv'), '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--feedback', 'implicit', '--split', 'none', '--max-rejects', '0'],
    protocols: { candidates: `candidates:${join(NCF, 'ml1m-u2999.test.candidates.tsv')}` },
  },
  {
    name: 'amazon-games',
    prep: [GAMES, '--delimiter', ' ', '--no-header', '--columns', 'user=0,item=1', '--feedback', 'implicit', '--dedupe', 'none', '--split', 'leave-last', '--max-rejects', '0'],
    protocols: { sampled100: 'sampled:100', full: 'full' },
  },
];

const MODELS = ['pop', 'itemknn', 'ease', 'ials', 'mf', 'neumf'];

function trainOne(data: string, ck: string, dataset: BaselineRun['dataset'], model: string, extra: string[], protocols: Record<string, string>): BaselineRun {
  const run: BaselineRun = { dataset, model, epochs: null, train_seconds: null, wall_seconds: null, metrics: {}, load_avg_1m: Math.round(loadavg()[0] * 100) / 100 };
  const t = rec(['train', '--data', data, '--model', model, '--out', ck, '--json', '-q', ...extra]);
  if (t.code !== 0) {
    run.error = t.stderr.trim().split('\n').pop() ?? `exit ${t.code}`;
    return run;
  }
  const trained = JSON.parse(t.stdout) as { epochs: unknown[]; train_seconds: number; wall_seconds: number };
  run.epochs = trained.epochs.length;
  run.train_seconds = trained.train_seconds;
  run.wall_seconds = trained.wall_seconds;
  for (const [name, protocol] of Object.entries(protocols)) {
    const e = rec(['eval', ck, '--protocol', protocol, '--k', '10', '--metrics', 'hr,ndcg', '--json', '-q']);
    // A failed eval is recorded with the run, so the other models are still measured.
    if (e.code !== 0) run.error = `eval ${protocol}: ${e.stderr.trim().split('\n').pop() ?? `exit ${e.code}`}`;
    else run.metrics[name] = (JSON.parse(e.stdout) as { metrics: Record<string, number> }).metrics;
  }
  return run;
}

export async function runBaselinesBench(
  opts: { quick?: boolean; datasets?: readonly string[]; models?: readonly string[]; out?: string | null; log?: (s: string) => void } = {},
): Promise<BaselinesBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const out = opts.out === undefined ? join(REPO, 'bench/results', opts.quick ? 'baselines-quick.json' : 'baselines.json') : opts.out;
  const result: BaselinesBenchResult = { date: new Date().toISOString(), note: null, runs: [] };
  const present = DATASETS.filter((d) => existsSync(d.prep[0]));
  if (present.length < DATASETS.length) result.note = `absent, not measured: ${DATASETS.filter((d) => !present.includes(d)).map((d) => d.prep[0]).join(', ')}`;
  // --quick: the NCF split only, the fast baselines, ials for 2 epochs.
  const chosen = opts.datasets ? present.filter((d) => opts.datasets?.includes(d.name)) : present;
  const datasets = opts.quick ? chosen.slice(0, 1) : chosen;
  const work = await mkdtemp(join(tmpdir(), 'rec-baselines-bench-'));
  try {
    for (const d of datasets) {
      const data = join(work, d.name);
      const p = rec(['prep', ...d.prep, '--out', data, '-q']);
      if (p.code !== 0) throw new Error(`prep ${d.name} failed: ${p.stderr}`);
      for (const model of (opts.quick ? ['pop', 'itemknn', 'ials'] : MODELS).filter((m) => opts.models?.includes(m) ?? true)) {
        const run = trainOne(data, join(work, `${d.name}-${model}`), d.name, model, opts.quick && model === 'ials' ? ['--epochs', '2'] : [], d.protocols);
        result.runs.push(run);
        const figures = Object.entries(run.metrics).map(([k, m]) => `${k} HR@10 ${m['hr@10'].toFixed(4)} NDCG@10 ${m['ndcg@10'].toFixed(4)}`);
        log(`${d.name} ${model}: ${run.error ?? `${run.epochs} epochs, ${run.train_seconds} s training; ${figures.join('; ')}`}`);
        await rm(join(work, `${d.name}-${model}`), { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out && (opts.datasets || opts.models) && existsSync(out)) {
    // Keep the other runs of an earlier measurement.
    const earlier = JSON.parse(readFileSync(out, 'utf8')) as BaselinesBenchResult;
    const measured = (r: BaselineRun) => result.runs.some((x) => x.dataset === r.dataset && x.model === r.model);
    result.runs = [...earlier.runs.filter((r) => !measured(r)), ...result.runs];
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  printResult(runBaselinesBench({ quick: process.argv.includes('--quick'), datasets: argValue('--datasets')?.split(','), models: argValue('--models')?.split(',') }));
}
