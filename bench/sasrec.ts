/**
 * SASRec benchmark (issue #8, docs/benchmarks.md#targets): quality and time on the SASRec paper's Amazon Games
 * (`Video.txt`, prepped leave-last), against the paper's HR@10 0.741 / NDCG@10 0.536 and beside
 * `torch_ref.py sasrec` (2 threads, the paper's settings, bce) for epoch time.
 *
 * Each variant is `rec train --model sasrec` with the variant's flags on top of the shipped
 * config, then `rec eval` of its model/ on the test split: `sampled:100` (the paper's protocol:
 * each test item against 100 items the user never touched, seeded and saved) and `full` (the
 * whole catalogue; labelled as such, it is a different and much harder number).
 *
 * Users whose test item never occurs in train (`cold_item`: 1,167 of 30,901 on Games) are skipped
 * by `rec eval`: the model has no learned row for the item. The paper and torch_ref rank them
 * (their row was only ever pushed down, as a negative), so the comparable number counts them as
 * misses: `all_users` = metric × evaluated / (evaluated + cold_item), a lower bound of what
 * ranking them would give. Both are written.
 *
 *   node dist/bench/sasrec.js [--quick] [--variants defaults,bce,ce-sampled] [--workers N]
 *                                  writes bench/results/sasrec.json (sasrec-quick.json)
 *   npm run bench -- sasrec [--quick]
 *
 * `defaults` is the shipped configs/models/sasrec.yaml (early stopping included); a full run of
 * every variant takes hours on 2 cores. --quick trains one epoch per variant on the first
 * 60,000 rows and skips torch: a smoke run, not a result.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { argValue, hasTorch, median, printResult, rec, REPO, runTorch, SHARED, type TorchLine, type TrainJson } from './common.js';

const GAMES = join(SHARED, 'datasets/sasrec-amazon-games/Video.txt');
const QUICK_ROWS = 60_000;
const PAPER = { hr10: 0.741, ndcg10: 0.536 };

/** Flags on top of the shipped config, per variant. */
const VARIANTS: Record<string, string[]> = {
  defaults: [],
  bce: ['--loss', 'bce', '--epochs', '200', '--patience', '20'],
  'ce-full': ['--loss', 'ce', '--negatives', '0'],
  'ce-sampled': ['--loss', 'ce', '--negatives', '1000'],
};

interface EvalJson {
  metrics: Record<string, number>;
  users: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
}

export interface SasrecRun {
  variant: string;
  args: string[];
  epochs: number;
  best_epoch: number | null;
  train_seconds: number;
  wall_seconds: number;
  epoch_seconds_median: number;
  load_avg_1m: number;
  sampled100: { hr10: number; ndcg10: number; evaluated: number; cold_item: number; all_users: { hr10: number; ndcg10: number } };
  full: { hr10: number; ndcg10: number; evaluated: number };
  meets_paper_all_users: boolean;
}

export interface SasrecBenchResult {
  date: string;
  quick: boolean;
  paper: typeof PAPER;
  note: string | null;
  runs: SasrecRun[];
  torch: { args: string[]; epoch_seconds_median: number | null; epoch_seconds_median_clean: number | null; hr10: number | null; ndcg10: number | null; error?: string } | null;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

function evalJson(ck: string, protocol: string): EvalJson {
  const e = rec(['eval', ck, '--protocol', protocol, '--k', '10', '--metrics', 'hr,ndcg', '--json', '-q']);
  if (e.code !== 0) throw new Error(`eval ${protocol} of ${ck} failed: ${e.stderr}`);
  return JSON.parse(e.stdout) as EvalJson;
}

export async function runSasrecBench(
  opts: { quick?: boolean; out?: string | null; log?: (s: string) => void; variants?: readonly string[]; workers?: string } = {},
): Promise<SasrecBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const quick = opts.quick === true;
  const out = opts.out === undefined ? join(REPO, 'bench/results', quick ? 'sasrec-quick.json' : 'sasrec.json') : opts.out;
  const result: SasrecBenchResult = { date: new Date().toISOString(), quick, paper: PAPER, note: null, runs: [], torch: null };
  if (!existsSync(GAMES)) {
    result.note = `${GAMES} is absent: nothing to measure`;
    if (out) await writeJsonAtomic(out, result);
    return result;
  }
  const names = opts.variants && opts.variants.length > 0 ? opts.variants : ['defaults'];
  for (const n of names) if (!(n in VARIANTS)) throw new Error(`unknown variant ${n}; expected one of ${Object.keys(VARIANTS).join(', ')}`);
  const torch = !quick && hasTorch();
  if (quick) result.note = `quick: 1 epoch on the first ${QUICK_ROWS} rows; torch skipped`;
  else if (!torch) result.note = 'torch comparison skipped: /usr/bin/python3 lacks torch/pandas (apt-get install -y python3-torch python3-pandas)';
  const work = await mkdtemp(join(tmpdir(), 'rec-sasrec-bench-'));
  try {
    let source = GAMES;
    if (quick) {
      source = join(work, 'games-head.txt');
      writeFileSync(source, `${readFileSync(GAMES, 'utf8').split('\n').slice(0, QUICK_ROWS).join('\n')}\n`);
    }
    const data = join(work, 'games');
    const p = rec(['prep', source, '--out', data, '--delimiter', ' ', '--no-header', '--columns', 'user=0,item=1', '--feedback', 'implicit', '--dedupe', 'none', '--split', 'leave-last', '--max-rejects', '0', '-q']);
    if (p.code !== 0) throw new Error(`prep failed: ${p.stderr}`);
    for (const variant of names) {
      const ck = join(work, `ck-${variant}`);
      const args = [...VARIANTS[variant], ...(quick ? ['--epochs', '1'] : []), ...(opts.workers ? ['--workers', opts.workers] : [])];
      const load = loadavg()[0];
      const t = rec(['train', '--data', data, '--model', 'sasrec', ...args, '--out', ck, '--json', '-q']);
      if (t.code !== 0) throw new Error(`train ${variant} failed: ${t.stderr}`);
      const trained = JSON.parse(t.stdout) as TrainJson & { best: { epoch: number } | null; wall_seconds: number };
      const sampled = evalJson(ck, 'sampled:100');
      const full = evalJson(ck, 'full');
      const cold = sampled.users.skipped_by_reason.cold_item ?? 0;
      const share = sampled.users.evaluated / Math.max(1, sampled.users.evaluated + cold);
      const all = { hr10: round(sampled.metrics['hr@10'] * share), ndcg10: round(sampled.metrics['ndcg@10'] * share) };
      const secs = trained.epochs.map((e) => e.seconds);
      const run: SasrecRun = {
        variant,
        args,
        epochs: trained.epochs.length,
        best_epoch: trained.best?.epoch ?? null,
        train_seconds: Math.round(trained.train_seconds * 10) / 10,
        wall_seconds: Math.round(trained.wall_seconds * 10) / 10,
        epoch_seconds_median: median(secs.length > 1 ? secs.slice(1) : secs),
        load_avg_1m: Math.round(load * 100) / 100,
        sampled100: { hr10: round(sampled.metrics['hr@10']), ndcg10: round(sampled.metrics['ndcg@10']), evaluated: sampled.users.evaluated, cold_item: cold, all_users: all },
        full: { hr10: round(full.metrics['hr@10']), ndcg10: round(full.metrics['ndcg@10']), evaluated: full.users.evaluated },
        meets_paper_all_users: all.hr10 >= PAPER.hr10 && all.ndcg10 >= PAPER.ndcg10,
      };
      result.runs.push(run);
      log(
        `sasrec ${variant}: ${run.epochs} epochs (best ${run.best_epoch}), ${run.train_seconds} s training; sampled:100 HR@10 ${run.sampled100.hr10} / NDCG@10 ${run.sampled100.ndcg10} (all users ${all.hr10} / ${all.ndcg10}); full ${run.full.hr10} / ${run.full.ndcg10}`,
      );
      await rm(ck, { recursive: true, force: true });
    }
    if (torch) {
      const args = ['--epochs', '3', '--eval-every', '1000'];
      const r: TorchLine | { error: string } = runTorch('sasrec', args);
      result.torch =
        'error' in r
          ? { args, epoch_seconds_median: null, epoch_seconds_median_clean: null, hr10: null, ndcg10: null, error: r.error }
          : { args, epoch_seconds_median: r.epoch_seconds_median ?? null, epoch_seconds_median_clean: r.epoch_seconds_median_clean ?? null, hr10: r.final?.['test_hr@10'] ?? null, ndcg10: r.final?.['test_ndcg@10'] ?? null };
      log(`sasrec torch_ref.py (3 epochs): ${result.torch.epoch_seconds_median ?? 'n/a'} s/epoch`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  printResult(runSasrecBench({ quick: process.argv.includes('--quick'), variants: argValue('--variants')?.split(','), workers: argValue('--workers') }));
}
