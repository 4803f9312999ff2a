/**
 * `--workers` benchmark (issue #9, docs/engines.md#training-on-every-core---workers-nauto, docs/benchmarks.md#targets): epoch time with 1 and 2 training threads, each
 * model beside `torch_ref.py` (2 threads) with the same settings, run one after the other:
 *   - MF, ML-100K u1, dim 64, batch 1024 (the shipped fused step, and the autograd step with
 *     --no-fused, which is the one that runs data-parallel: the fused step stays on one thread);
 *   - NeuMF factor 8 (layers 64,32,16,8) and factor 64 (layers 512,256,128,64) on the NCF ML-1M
 *     split, 4 negatives, lr 0.001, at batch 256 (the paper's) and the shipped default batch;
 *   - SASRec on the SASRec paper's Amazon Games (leave-last), the paper's settings (dim 50,
 *     max_len 50, 2 blocks, 1 head, dropout 0.5, batch 128, bce with one negative a position).
 * Epoch time is metrics.jsonl `seconds` (training with negative sampling and shuffling, no
 * validation); the median over epochs 2-3 (epoch 1 includes every replica's engine warm-up).
 * `workers_used` is what run.json recorded. The full run takes about an hour on 2 idle cores.
 *
 *   node dist/bench/workers.js [--quick] [--epochs N] [--cases TEXT,...] [--out FILE]
 *                                           writes bench/results/workers.json (workers-quick.json)
 *   npm run bench -- workers [--quick]
 *
 * --epochs (default 3) and --cases (run only the cases whose name contains one of the texts, e.g.
 * "factor 64") make a shorter idle-machine run; --out writes the result elsewhere, so that two such
 * runs keep both. With --epochs 1 the figure is epoch 1 itself, warm-up included (each engine's
 * start, about a second: noise for the cases whose epoch takes minutes, not for the others).
 *
 * --quick trains one epoch on the first 60,000 training rows of the NCF split (ML-100K whole) and
 * skips torch, which has no subset option: a smoke run, not a comparison.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { argValue, hasTorch, median, printResult, rec, REPO, runTorch, SHARED, type TorchLine, type TrainJson } from './common.js';

const ML100K = join(SHARED, 'datasets/movielens-100k');
const NCF = join(SHARED, 'datasets/ncf-eval-files');
const GAMES = join(SHARED, 'datasets/sasrec-amazon-games/Video.txt');
const QUICK_ROWS = 60_000;

export interface WorkersRun {
  name: string;
  args: string[];
  workers_requested: number;
  workers_used: number | null;
  epoch_seconds: number[];
  epoch_seconds_median: number;
  examples_per_s_median: number;
  load_avg_1m: number;
}

export interface WorkersCase {
  name: string;
  runs: WorkersRun[];
  /** epoch_seconds_median at 2 workers over 1 worker. */
  ratio_2_over_1: number | null;
  torch: { args: string[]; epoch_seconds_median: number | null; epoch_seconds_median_clean: number | null; error?: string } | null;
}

export interface WorkersBenchResult {
  date: string;
  quick: boolean;
  cores: number;
  note: string | null;
  cases: WorkersCase[];
}

interface CaseSpec {
  name: string;
  data: 'ml100k' | 'ncf' | 'games';
  args: string[];
  torch: { model: string; args: string[] } | null;
}

const NCF_COMMON = ['--negatives', '4', '--lr', '0.001', '--backend', 'wasm'];
/** The batch neumf ships with (configs/models/neumf.yaml), given to torch for the "default batch" cases. */
const NEUMF_BATCH = Number(/^\s*batch_size:\s*(\d+)/m.exec(readFileSync(join(REPO, 'configs/models/neumf.yaml'), 'utf8'))?.[1] ?? Number.NaN);
const CASES: CaseSpec[] = [
  { name: 'mf dim 64 batch 1024 (fused)', data: 'ml100k', args: ['--model', 'mf', '--dim', '64', '--batch-size', '1024', '--backend', 'wasm'], torch: { model: 'mf', args: ['--dim', '64', '--batch', '1024'] } },
  { name: 'mf dim 64 batch 1024 (--no-fused)', data: 'ml100k', args: ['--model', 'mf', '--dim', '64', '--batch-size', '1024', '--no-fused', '--backend', 'wasm'], torch: null },
  ...[8, 64].flatMap((f): CaseSpec[] => {
    const layers = f === 8 ? [64, 32, 16, 8] : [512, 256, 128, 64];
    return [256, null].map((batch) => ({
      name: `neumf factor ${f} batch ${batch ?? 'default'}`,
      data: 'ncf' as const,
      args: ['--model', 'neumf', '--dim', String(f), '--layers', layers.join(','), ...(batch ? ['--batch-size', String(batch)] : []), ...NCF_COMMON],
      torch: { model: 'neumf', args: ['--factors', String(f), '--layers', ...layers.map(String), '--neg', '4', '--lr', '0.001', '--batch', String(batch ?? NEUMF_BATCH), '--eval-every', '1000'] },
    }));
  }),
  {
    name: 'sasrec games bce batch 128',
    data: 'games',
    args: ['--model', 'sasrec', '--loss', 'bce', '--dim', '50', '--max-len', '50', '--blocks', '2', '--heads', '1', '--dropout', '0.5', '--batch-size', '128', '--lr', '0.001', '--backend', 'wasm'],
    torch: { model: 'sasrec', args: ['--dim', '50', '--maxlen', '50', '--blocks', '2', '--heads', '1', '--dropout', '0.5', '--batch', '128', '--lr', '0.001', '--eval-every', '1000'] },
  },
];

export async function runWorkersBench(opts: { quick?: boolean; out?: string | null; log?: (s: string) => void; epochs?: number; cases?: readonly string[] } = {}): Promise<WorkersBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const quick = opts.quick === true;
  const out = opts.out === undefined ? join(REPO, 'bench/results', quick ? 'workers-quick.json' : 'workers.json') : opts.out;
  const doctor = rec(['doctor', '--json']);
  const cores = doctor.code === 0 ? (JSON.parse(doctor.stdout) as { cores: number }).cores : 0;
  const result: WorkersBenchResult = { date: new Date().toISOString(), quick, cores, note: null, cases: [] };
  const missing = [ML100K, NCF, GAMES].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    result.note = `${missing.join(', ')} absent: nothing to measure`;
    if (out) await writeJsonAtomic(out, result);
    return result;
  }
  const torch = !quick && hasTorch();
  if (quick) result.note = `quick: 1 epoch, NCF on its first ${QUICK_ROWS} training rows; torch skipped`;
  else if (!torch) result.note = 'torch comparison skipped: /usr/bin/python3 lacks torch/pandas (apt-get install -y python3-torch python3-pandas)';
  const epochs = quick ? 1 : (opts.epochs ?? 3);
  const cases = opts.cases && opts.cases.length > 0 ? CASES.filter((c) => opts.cases?.some((t) => c.name.includes(t))) : CASES;
  const work = await mkdtemp(join(tmpdir(), 'rec-workers-bench-'));
  try {
    const data = { ml100k: join(work, 'ml100k'), ncf: join(work, 'ncf'), games: join(work, 'games') };
    const prep = (args: string[]) => {
      const p = rec(['prep', ...args, '-q']);
      if (p.code !== 0) throw new Error(`prep failed: ${p.stderr}`);
    };
    prep([join(ML100K, 'u1.base'), '--test', join(ML100K, 'u1.test'), '--out', data.ml100k, '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'none', '--max-rejects', '0']);
    let ncfTrain = join(NCF, 'ml1m-u2999.train.tsv');
    if (quick) {
      const head = readFileSync(ncfTrain, 'utf8').split('\n').slice(0, QUICK_ROWS).join('\n');
      ncfTrain = join(work, 'ncf-head.tsv');
      writeFileSync(ncfTrain, `${head}\n`);
    }
    prep([ncfTrain, '--out', data.ncf, '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--feedback', 'implicit', '--split', 'none', '--max-rejects', '0']);
    if (cases.some((c) => c.data === 'games')) {
      let games = GAMES;
      if (quick) {
        games = join(work, 'games-head.txt');
        writeFileSync(games, `${readFileSync(GAMES, 'utf8').split('\n').slice(0, QUICK_ROWS).join('\n')}\n`);
      }
      prep([games, '--out', data.games, '--delimiter', ' ', '--no-header', '--columns', 'user=0,item=1', '--feedback', 'implicit', '--dedupe', 'none', '--split', 'leave-last', '--max-rejects', '0']);
    }
    for (const spec of cases) {
      const c: WorkersCase = { name: spec.name, runs: [], ratio_2_over_1: null, torch: null };
      for (const workers of [1, 2]) {
        const ck = join(work, `ck-${result.cases.length}-${workers}`);
        const load = loadavg()[0];
        const args = [...spec.args, '--workers', String(workers), '--epochs', String(epochs), '--patience', '0'];
        const t = rec(['train', '--data', data[spec.data], ...args, '--out', ck, '--json', '-q']);
        if (t.code !== 0) throw new Error(`train ${spec.name} --workers ${workers} failed: ${t.stderr}`);
        const trained = JSON.parse(t.stdout) as TrainJson;
        const runJson = JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { workers?: number };
        const secs = trained.epochs.map((e) => e.seconds);
        const run: WorkersRun = {
          name: spec.name,
          args,
          workers_requested: workers,
          workers_used: runJson.workers ?? null,
          epoch_seconds: secs,
          // Epoch 1 carries each engine's warm-up (every worker has its own): the median is over the rest.
          epoch_seconds_median: median(secs.length > 1 ? secs.slice(1) : secs),
          examples_per_s_median: median(trained.epochs.slice(secs.length > 1 ? 1 : 0).map((e) => e.examples_per_s)),
          load_avg_1m: Math.round(load * 100) / 100,
        };
        c.runs.push(run);
        log(`workers ${spec.name} --workers ${workers} (used ${run.workers_used}): ${run.epoch_seconds_median.toFixed(2)} s/epoch (load ${run.load_avg_1m})`);
        await rm(ck, { recursive: true, force: true });
      }
      c.ratio_2_over_1 = Math.round((c.runs[1].epoch_seconds_median / c.runs[0].epoch_seconds_median) * 1000) / 1000;
      if (torch && spec.torch) {
        const args = [...spec.torch.args, '--epochs', String(epochs)];
        const r: TorchLine | { error: string } = runTorch(spec.torch.model, args);
        c.torch =
          'error' in r
            ? { args, epoch_seconds_median: null, epoch_seconds_median_clean: null, error: r.error }
            : { args, epoch_seconds_median: r.epoch_seconds_median ?? null, epoch_seconds_median_clean: r.epoch_seconds_median_clean ?? null };
        log(`workers ${spec.name}: torch_ref.py ${c.torch.epoch_seconds_median ?? 'n/a'} s/epoch`);
      }
      result.cases.push(c);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const epochs = argValue('--epochs');
  const out = argValue('--out');
  printResult(
    runWorkersBench({
      quick: process.argv.includes('--quick'),
      epochs: epochs === undefined ? undefined : Math.max(1, Number(epochs)),
      cases: argValue('--cases')?.split(','),
      ...(out === undefined ? {} : { out: resolve(out) }),
    }),
  );
}
