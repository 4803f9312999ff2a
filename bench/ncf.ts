/**
 * NCF benchmark (issue #4, docs/benchmarks.md#targets): epoch time of gmf, mlp and neumf on the NCF ML-1M split
 * (users 1-2999, 4 negatives per positive) at the reference's settings (factor 8, layers
 * 64,32,16,8, batch 256, Adam lr 0.001), each followed by `torch_ref.py` with the same settings, one
 * after the other; plus HR@10 / NDCG@10 after those epochs on the paper's 99 negatives. Epoch time
 * is training including negative sampling and shuffling (metrics.jsonl `seconds`), excluding
 * evaluation. Quality at the models' own defaults and with pretraining is a longer run; its
 * commands and results are in docs/benchmarks.md.
 *
 *   node dist/bench/ncf.js [--quick]      writes bench/results/ncf.json (ncf-quick.json)
 *   npm run bench -- ncf [--quick]
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { hasTorch, median, printResult, rec, REPO, runTorch, SHARED, type TorchLine, type TrainJson } from './common.js';

const NCF = join(SHARED, 'datasets/ncf-eval-files');

export interface NcfRun {
  model: string;
  epochs: number;
  epoch_seconds: number[];
  epoch_seconds_median: number;
  examples_per_s_median: number;
  hr10: number;
  ndcg10: number;
  load_avg_1m: number;
  torch: { epoch_seconds_median: number | null; epoch_seconds_median_clean: number | null; hr10: number | null; ndcg10: number | null; error?: string } | null;
}

export interface NcfBenchResult {
  date: string;
  settings: string[];
  note: string | null;
  runs: NcfRun[];
}

const SETTINGS = ['--dim', '8', '--layers', '64,32,16,8', '--batch-size', '256', '--lr', '0.001', '--negatives', '4', '--backend', 'wasm'];

export async function runNcfBench(opts: { quick?: boolean; out?: string | null; log?: (s: string) => void } = {}): Promise<NcfBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const out = opts.out === undefined ? join(REPO, 'bench/results', opts.quick ? 'ncf-quick.json' : 'ncf.json') : opts.out;
  const result: NcfBenchResult = { date: new Date().toISOString(), settings: SETTINGS, note: null, runs: [] };
  if (!existsSync(NCF)) {
    result.note = `${NCF} is absent: nothing to measure`;
    if (out) await writeJsonAtomic(out, result);
    return result;
  }
  const epochs = opts.quick ? 1 : 2;
  const torch = hasTorch();
  if (!torch) result.note = 'torch comparison skipped: /usr/bin/python3 lacks torch/pandas (apt-get install -y python3-torch python3-pandas)';
  const work = await mkdtemp(join(tmpdir(), 'rec-ncf-bench-'));
  try {
    const data = join(work, 'ncf');
    const p = rec([
      'prep', join(NCF, 'ml1m-u2999.train.tsv'), '--test', join(NCF, 'ml1m-u2999.test.tsv'), '--out', data,
      '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--feedback', 'implicit', '--split', 'none', '--max-rejects', '0', '-q',
    ]);
    if (p.code !== 0) throw new Error(`prep failed: ${p.stderr}`);
    for (const model of opts.quick ? ['gmf'] : ['gmf', 'mlp', 'neumf']) {
      const ck = join(work, model);
      const load = loadavg()[0];
      // GMF has no MLP tower: rec train refuses --layers for it.
      const settings = model === 'gmf' ? SETTINGS.filter((_, k) => SETTINGS[k] !== '--layers' && SETTINGS[k - 1] !== '--layers') : SETTINGS;
      const t = rec(['train', '--data', data, '--model', model, '--epochs', String(epochs), '--out', ck, '--json', '-q', ...settings]);
      if (t.code !== 0) throw new Error(`train ${model} failed: ${t.stderr}`);
      const e = rec(['eval', ck, '--protocol', `candidates:${join(NCF, 'ml1m-u2999.test.candidates.tsv')}`, '--k', '10', '--metrics', 'hr,ndcg', '--json', '-q']);
      if (e.code !== 0) throw new Error(`eval ${model} failed: ${e.stderr}`);
      const trained = JSON.parse(t.stdout) as TrainJson;
      const metrics = (JSON.parse(e.stdout) as { metrics: Record<string, number> }).metrics;
      const secs = trained.epochs.map((x) => x.seconds);
      const run: NcfRun = {
        model,
        epochs,
        epoch_seconds: secs,
        epoch_seconds_median: median(secs),
        examples_per_s_median: median(trained.epochs.map((x) => x.examples_per_s)),
        hr10: metrics['hr@10'],
        ndcg10: metrics['ndcg@10'],
        load_avg_1m: Math.round(load * 100) / 100,
        torch: null,
      };
      if (torch) {
        const r: TorchLine | { error: string } = runTorch(model, ['--epochs', String(epochs), '--factors', '8', '--layers', '64', '32', '16', '8', '--batch', '256', '--lr', '0.001', '--neg', '4']);
        run.torch =
          'error' in r
            ? { epoch_seconds_median: null, epoch_seconds_median_clean: null, hr10: null, ndcg10: null, error: r.error }
            : {
                epoch_seconds_median: r.epoch_seconds_median ?? null,
                epoch_seconds_median_clean: r.epoch_seconds_median_clean ?? null,
                hr10: r.final?.['hr@10'] ?? null,
                ndcg10: r.final?.['ndcg@10'] ?? null,
              };
      }
      result.runs.push(run);
      log(`ncf ${model}: ${run.epoch_seconds_median.toFixed(2)} s/epoch, HR@10 ${run.hr10.toFixed(4)}; torch ${run.torch?.epoch_seconds_median ?? 'n/a'} s/epoch, HR@10 ${run.torch?.hr10 ?? 'n/a'}`);
      await rm(ck, { recursive: true, force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  printResult(runNcfBench({ quick: process.argv.includes('--quick') }));
}
