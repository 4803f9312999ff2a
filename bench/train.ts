/**
 * MF training benchmark (issue #3, docs/benchmarks.md#targets): epoch time and examples/s of `rec train --model mf`
 * on MovieLens 100K u1 and the partial MovieLens 1M, for each engine that loads here, at the
 * model defaults and at `--dim 64 --batch-size 1024`; beside it, `torch_ref.py mf` (same data,
 * dim 64, batch 1024, Adam, L2 0.1) when /usr/bin/python3 has torch. Runs go one after the other
 * through the real CLI, so the figures are what a user gets. Epoch time is training including
 * negative sampling and shuffling, excluding validation (metrics.jsonl `seconds`); the first epoch
 * (warm-up: wasm compile, kernel registration, JIT) is left out of the median.
 *
 *   node dist/bench/train.js [--quick]      writes bench/results/train.json (train-quick.json)
 *   npm run bench -- train [--quick]
 *
 * Needs ../shared/datasets (skipped, with a note in the JSON, when absent).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { hasTorch, loadingEngines, median, printResult, rec, REPO, runTorch, SHARED, type TrainJson } from './common.js';

interface DatasetSpec {
  name: string;
  prep: string[];
}

const DATASETS: DatasetSpec[] = [
  {
    name: 'ml100k-u1',
    prep: [
      join(SHARED, 'datasets/movielens-100k/u1.base'),
      '--test', join(SHARED, 'datasets/movielens-100k/u1.test'),
      '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'none', '--max-rejects', '0',
    ],
  },
  {
    name: 'ml1m-partial',
    prep: [
      join(SHARED, 'datasets/movielens-1m-partial/ratings.dat.gz'),
      '--delimiter', '::', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'random:0.8,0.1,0.1', '--max-rejects', '0',
    ],
  },
];

const SETTINGS: { name: string; flags: string[] }[] = [
  { name: 'defaults', flags: [] },
  { name: 'dim64-batch1024', flags: ['--dim', '64', '--batch-size', '1024'] },
];

export interface TrainRun {
  dataset: string;
  engine: string;
  setting: string;
  epochs: number;
  epoch_seconds: number[];
  /** Median over epochs 2.. (epoch 1 includes warm-up). */
  epoch_seconds_median: number;
  examples_per_epoch: number;
  examples_per_s_median: number;
  dim: number;
  batch_size: number;
  load_avg_1m: number;
}

export interface TorchRun {
  dataset: string;
  epochs: number;
  epoch_seconds_median: number | null;
  epoch_seconds_median_clean: number | null;
  examples_per_s: number | null;
  test_rmse: number | null;
  error?: string;
}

export interface TrainBenchResult {
  date: string;
  note: string | null;
  /** The quality target of docs/benchmarks.md#targets: MF with its defaults on ML-100K u1, test RMSE (target ≤ 0.925). */
  quality: { dataset: string; epochs: number; test_rmse: number; test_mae: number; train_seconds: number } | null;
  runs: TrainRun[];
  unavailable_engines: Record<string, string>;
  torch: TorchRun | null;
}





export async function runTrainBench(opts: { quick?: boolean; out?: string | null; log?: (s: string) => void } = {}): Promise<TrainBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const out = opts.out === undefined ? join(REPO, 'bench/results', opts.quick ? 'train-quick.json' : 'train.json') : opts.out;
  const result: TrainBenchResult = { date: new Date().toISOString(), note: null, quality: null, runs: [], unavailable_engines: {}, torch: null };
  if (!existsSync(join(SHARED, 'datasets'))) {
    result.note = `${SHARED}/datasets is absent: nothing to measure`;
    if (out) await writeJsonAtomic(out, result);
    return result;
  }
  const epochs = opts.quick ? 2 : 4;
  const work = await mkdtemp(join(tmpdir(), 'rec-train-bench-'));
  try {
    const { engines, unavailable } = loadingEngines();
    result.unavailable_engines = unavailable;
    for (const ds of DATASETS) {
      const dir = join(work, ds.name);
      const p = rec(['prep', ...ds.prep, '--out', dir, '-q']);
      if (p.code !== 0) throw new Error(`prep ${ds.name} failed: ${p.stderr}`);
      if (ds.name === 'ml100k-u1') {
        // The whole default recipe (no --epochs), then the test split: the number the MF target of docs/benchmarks.md#targets is about.
        const ck = join(work, 'quality');
        const t = rec(['train', '--data', dir, '--model', 'mf', '--out', ck, '--json', '-q']);
        if (t.code !== 0) throw new Error(`train (quality) failed: ${t.stderr}`);
        const e = rec(['eval', ck, '--metrics', 'rmse,mae', '--json', '-q']);
        if (e.code !== 0) throw new Error(`eval (quality) failed: ${e.stderr}`);
        const trained = JSON.parse(t.stdout) as TrainJson;
        const metrics = (JSON.parse(e.stdout) as { metrics: { rmse: number; mae: number } }).metrics;
        result.quality = { dataset: ds.name, epochs: trained.epochs.length, test_rmse: metrics.rmse, test_mae: metrics.mae, train_seconds: trained.train_seconds };
        log(`quality ${ds.name}: test RMSE ${metrics.rmse.toFixed(4)} after ${trained.epochs.length} epochs (target ≤ 0.925)`);
      }
      for (const engine of opts.quick ? engines.slice(0, 1) : engines) {
        for (const setting of SETTINGS) {
          const ck = join(work, `${ds.name}-${engine}-${setting.name}`);
          const load = loadavg()[0];
          const r = rec(['train', '--data', dir, '--model', 'mf', '--epochs', String(epochs), '--patience', '0', '--backend', engine, '--out', ck, '--json', '-q', ...setting.flags]);
          if (r.code !== 0) throw new Error(`train ${ds.name} ${engine} ${setting.name} failed: ${r.stderr}`);
          const j = JSON.parse(r.stdout) as TrainJson;
          const config = await readFile(join(ck, 'config.yaml'), 'utf8');
          const num = (key: string) => Number(new RegExp(`^\\s+${key}: (\\d+)`, 'm').exec(config)?.[1] ?? NaN);
          const secs = j.epochs.map((e) => e.seconds);
          const steady = secs.length > 1 ? secs.slice(1) : secs;
          const exPerEpoch = Math.round(j.epochs[0].examples_per_s * j.epochs[0].seconds);
          const run: TrainRun = {
            dataset: ds.name,
            engine: j.engine,
            setting: setting.name,
            epochs: secs.length,
            epoch_seconds: secs,
            epoch_seconds_median: median(steady),
            examples_per_epoch: exPerEpoch,
            examples_per_s_median: median(j.epochs.slice(secs.length > 1 ? 1 : 0).map((e) => e.examples_per_s)),
            dim: num('dim'),
            batch_size: num('batch_size'),
            load_avg_1m: Math.round(load * 100) / 100,
          };
          result.runs.push(run);
          log(`train ${ds.name} ${j.engine} ${setting.name}: ${run.epoch_seconds_median.toFixed(3)} s/epoch, ${run.examples_per_s_median} ex/s (dim ${run.dim}, batch ${run.batch_size})`);
          await rm(ck, { recursive: true, force: true });
        }
      }
    }
    if (hasTorch()) {
      const epochs = opts.quick ? 2 : 5;
      const t = runTorch('mf', ['--epochs', String(epochs)]);
      result.torch =
        'error' in t
          ? { dataset: 'ml100k-u1', epochs, epoch_seconds_median: null, epoch_seconds_median_clean: null, examples_per_s: null, test_rmse: null, error: t.error }
          : {
              dataset: 'ml100k-u1',
              epochs,
              epoch_seconds_median: t.epoch_seconds_median ?? null,
              epoch_seconds_median_clean: t.epoch_seconds_median_clean ?? null,
              examples_per_s: t.examples_per_s ?? null,
              test_rmse: t.final?.test_rmse ?? null,
            };
      log(`torch_ref.py mf: ${result.torch.epoch_seconds_median} s/epoch (clean ${result.torch.epoch_seconds_median_clean}), ${result.torch.examples_per_s} ex/s`);
    } else {
      result.note = 'torch comparison skipped: /usr/bin/python3 lacks torch/pandas (apt-get install -y python3-torch python3-pandas)';
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  printResult(runTrainBench({ quick: process.argv.includes('--quick') }));
}
