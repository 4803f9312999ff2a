/**
 * `npm run bench`: the benchmarks behind docs/benchmarks.md#targets, each writing its JSON under bench/results/, then
 * one summary (a JSON object keyed by bench name) on stdout. Progress goes to stderr.
 *
 *   npm run bench                    every bench
 *   npm run bench -- prep            only the named ones (any of the names below, in any order)
 *   npm run bench -- prep --quick    smaller sizes, for a smoke run (quick results go to *-quick.json where the bench separates them)
 *   npm run bench -- features --arms featurise   only those arms of a bench that has arms (features, tune, search)
 *   npm run bench -- --list          the names
 *
 * Run on an otherwise idle machine: on 2 cores any other load skews the timings.
 */
import { runBaselinesBench } from './baselines.js';
import { runEngineBench } from './engine.js';
import { runFeaturesBench, summarizeFeaturesBench } from './features.js';
import { runFuzzBench, summarizeFuzzBench } from './fuzz.js';
import { runPrepBench, summarizePrepBench } from './prep.js';
import { runSasrecBench } from './sasrec.js';
import { runSearchBm25Bench, type SearchBm25Result } from './search-bm25.js';
import { runSearchBench } from './search.js';
import { runNcfBench } from './ncf.js';
import { runNightlyBench } from './nightly.js';
import { runStartupBench } from './startup.js';
import { runTrainBench } from './train.js';
import { runWarehouseBench } from './warehouse.js';
import { runTuneBench } from './tune.js';
import { runWorkersBench } from './workers.js';

interface Bench {
  /** What it measures (for --list). */
  about: string;
  /** Runs the bench, which writes its own JSON under bench/results/; returns the figures to print. `arms`: --arms, for benches with arms. */
  run(opts: { quick: boolean; arms?: string[] }): Promise<unknown>;
}

/** Every bench, in the order a plain `npm run bench` runs them. */
const BENCHES: Record<string, Bench> = {
  engine: {
    about: 'embedding step cost as the table grows, MF epoch throughput per engine (bench/results/engine.json)',
    run: async ({ quick }) => {
      const r = await runEngineBench({ quick });
      return { stepCost: r.stepCost, mf: r.mf };
    },
  },
  train: {
    about: 'MF test RMSE on ML-100K u1 (target ≤ 0.925); MF epoch time and examples/s on ML-100K u1 and ML-1M (partial) per engine, beside torch_ref.py mf (bench/results/train.json)',
    run: async ({ quick }) => {
      const r = await runTrainBench({ quick });
      return { quality: r.quality, runs: r.runs.map((x) => ({ dataset: x.dataset, engine: x.engine, setting: x.setting, epoch_s: x.epoch_seconds_median, ex_per_s: x.examples_per_s_median })), torch: r.torch, note: r.note };
    },
  },
  tune: {
    about: 'rec tune, validation carved from train, --refit, one trial at a time: MF on ML-100K u1 with median pruning and without, and Bayesian MF (bpmf) unpruned (test RMSE, target ≤ 0.910 in 20 minutes; trials per hour) and iALS on the NCF ML-1M protocol (HR@10 against its shipped defaults); --arms mf-median,mf-none,bpmf,ials,ials-sampled picks arms (ials-sampled validates with --valid-protocol sampled:99) (bench/results/tune.json; REC_BENCH_TUNE_BUDGET sets each arm\'s budget)',
    run: async ({ quick, arms }) => {
      const r = await runTuneBench({ quick, arms });
      return { arms: r.arms.map((a) => ({ arm: a.arm, budget_s: a.budget_s, wall_s: a.wall_s, trials: a.trials, trials_per_hour: a.trials_per_hour, best_valid: a.best_valid, test: a.test, defaults: a.defaults, load: [a.load_before, a.load_after], error: a.error ?? null })), note: r.note };
    },
  },
  ncf: {
    about: 'gmf/mlp/neumf epoch time and HR@10/NDCG@10 on the NCF ML-1M split at the reference settings, each beside torch_ref.py (bench/results/ncf.json)',
    run: async ({ quick }) => {
      const r = await runNcfBench({ quick });
      return { runs: r.runs.map((x) => ({ model: x.model, epoch_s: x.epoch_seconds_median, hr10: x.hr10, torch_epoch_s: x.torch?.epoch_seconds_median ?? null, torch_hr10: x.torch?.hr10 ?? null })), note: r.note };
    },
  },
  baselines: {
    about: 'pop, itemknn, ease and ials beside mf and neumf (shipped defaults): HR@10/NDCG@10 on the NCF ML-1M protocol and on Amazon Games leave-last (sampled:100 and full), with fit times (bench/results/baselines.json)',
    run: async ({ quick }) => {
      const r = await runBaselinesBench({ quick });
      return { runs: r.runs.map((x) => ({ dataset: x.dataset, model: x.model, epochs: x.epochs, train_s: x.train_seconds, metrics: x.metrics, error: x.error ?? null })), note: r.note };
    },
  },
  sasrec: {
    about: 'SASRec on Amazon Games with the shipped defaults: HR@10/NDCG@10 sampled:100 (the paper protocol; cold-item users counted as misses beside it) and full ranking, epochs and wall time; torch_ref.py sasrec epoch time (bench/results/sasrec.json)',
    run: async ({ quick }) => {
      const r = await runSasrecBench({ quick });
      return { runs: r.runs.map((x) => ({ variant: x.variant, epochs: x.epochs, best_epoch: x.best_epoch, train_s: x.train_seconds, epoch_s: x.epoch_seconds_median, sampled100: x.sampled100, full: x.full, meets_paper_all_users: x.meets_paper_all_users })), torch: r.torch, note: r.note };
    },
  },
  nightly: {
    about: 'nightly retraining on periods of Tmall, Taobao and a drifting rec synth log: stale vs fine-tuned (with and without --replay) vs retrained from scratch; on a rec synth log with new products, fine-tuned with and without item features (all, warm and new items); next-period recall@20/ndcg@20 and training time (bench/results/nightly.json)',
    run: async ({ quick }) => {
      const r = await runNightlyBench({ quick });
      return { datasets: r.datasets.map((d) => ({ name: d.name, periods: d.periods, nights: d.nights.length - 1, mean: d.mean, vs_scratch: d.vs_scratch, notes: d.notes })), notes: r.notes };
    },
  },
  workers: {
    about: 'epoch time at --workers 1 and 2: MF on ML-100K u1 (dim 64, batch 1024), NeuMF factor 8 and 64 on the NCF split (batch 256 and the shipped default), SASRec on Amazon Games (bce, batch 128), each beside torch_ref.py (bench/results/workers.json)',
    run: async ({ quick }) => {
      const r = await runWorkersBench({ quick });
      return { cores: r.cores, cases: r.cases.map((c) => ({ name: c.name, epoch_s: c.runs.map((x) => [x.workers_requested, x.workers_used, x.epoch_seconds_median]), ratio_2_over_1: c.ratio_2_over_1, torch_epoch_s: c.torch?.epoch_seconds_median ?? null })), note: r.note };
    },
  },
  prep: {
    about: 'rec prep rows/s on a 1M-row TSV beside pandas, peak RSS at 1M/3M/10M rows (bench/results/prep.json)',
    run: async ({ quick }) => summarizePrepBench(await runPrepBench({ quick })),
  },
  warehouse: {
    about: 'rec prep of the same 10M-row log as CSV and as snappy Parquet partitioned by day, beside DuckDB reading, de-duplicating, factorising and sorting each: time, CPU and peak RSS (bench/results/warehouse.json)',
    run: async ({ quick }) => {
      const r = await runWarehouseBench({ quick });
      return { rows: r.rows, parquet_vs_duckdb: r.parquet_vs_duckdb, runs: r.runs, load_avg_before: r.load_avg_before };
    },
  },
  features: {
    about: 'catalogue features: featurisation items/s and peak RSS (featurise), new items ranked from their features (cold; cold-temporal: MovieLens and Amazon 2018 split by time), SASRec with attributes on Amazon Beauty (sasrec-beauty), MF and NeuMF with and without them (ncf-beauty); --arms picks arms (bench/results/features.json)',
    run: async ({ quick, arms }) => summarizeFeaturesBench(await runFeaturesBench({ quick, arms })),
  },
  startup: {
    about: 'CLI start-up: node -e 0, rec --version, rec --help, rec prep --help, median of 5 (target ≤ 4× node); rec prep on ML-100K u.data (bench/results/startup.json)',
    run: async ({ quick }) => {
      const r = await runStartupBench({ quick });
      return { commands: r.commands.map((c) => ({ name: c.name, median_ms: c.median_ms, ratio: c.ratio })), within_target: r.within_target, prep_ml100k_ms: r.prep_ml100k?.median_ms ?? null };
    },
  },
  search: {
    about: 'search on Home Depot held-out queries through rec prep/train/eval/search: bm25, two-tower and hybrid, judged NDCG@10, full-catalogue recall@100, relevance RMSE, load time and query latency p50/p99 over 1,000 queries; --arms bm25,two-tower,hybrid picks models (bench/results/search.json)',
    run: async ({ quick, arms }) => runSearchBench({ quick, models: arms }),
  },
  'search-bm25': {
    about: 'BM25 alone on Home Depot held-out queries: BM25 per tokenisation (judged NDCG@10, full-catalogue recall@100 of products judged ≥ 2.5, query latency p50/p99 over 1,000 queries) (bench/results/search-bm25.json)',
    run: async ({ quick }) => {
      const r = await runSearchBm25Bench({ quick });
      if ('skipped' in r) return r;
      const row = (v: SearchBm25Result['variants'][number]) => ({ variant: v.variant, k1: v.k1, b: v.b, valid_ndcg10: v.valid.judged['ndcg@10'], test_ndcg10: v.test.judged['ndcg@10'], valid_recall100: v.valid.full_recall100, test_recall100: v.test.full_recall100, p50_ms: v.latency_ms.p50, p99_ms: v.latency_ms.p99 });
      return { data: r.data, references: r.references.map((x) => ({ name: x.name, test_ndcg10: x.test.judged['ndcg@10'], test_recall100: x.test.full_recall100 })), bm25: r.variants.map(row), bm25_params: r.params.map(row) };
    },
  },
  fuzz: {
    about: 'rec prep on 10,000 mutated logs (1,000 with --quick): outcomes, error classes, reject reasons; fails on any contract violation (bench/results/fuzz.json)',
    run: async ({ quick }) => summarizeFuzzBench(await runFuzzBench({ quick })),
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = Object.keys(BENCHES);
  if (args.includes('--list')) {
    for (const name of names) process.stdout.write(`${name.padEnd(10)} ${BENCHES[name].about}\n`);
    return;
  }
  const quick = args.includes('--quick');
  const armsAt = args.indexOf('--arms');
  const arms = armsAt >= 0 ? (args[armsAt + 1] ?? '').split(',').filter((a) => a !== '') : undefined;
  const rest = armsAt >= 0 ? args.filter((_, i) => i !== armsAt && i !== armsAt + 1) : args;
  const unknownFlags = rest.filter((a) => a.startsWith('-') && a !== '--quick');
  const wanted = rest.filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((a) => !(a in BENCHES));
  if (unknownFlags.length > 0 || unknown.length > 0) {
    process.stderr.write(`Unknown bench or option: ${[...unknown, ...unknownFlags].join(' ')}. Expected bench names among ${names.join(', ')}, --quick, --arms A,B or --list.\n`);
    process.exitCode = 2;
    return;
  }
  const selected = wanted.length > 0 ? names.filter((n) => wanted.includes(n)) : names;
  const summary: Record<string, unknown> = {};
  for (const name of selected) {
    process.stderr.write(`bench ${name}${quick ? ' (quick)' : ''}\n`);
    try {
      summary[name] = await BENCHES[name].run({ quick, arms });
    } catch (error) {
      // One failing bench does not hide the others' figures; the exit status still says it failed.
      process.stderr.write(`bench ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      summary[name] = { error: error instanceof Error ? error.message : String(error) };
      process.exitCode = 1;
    }
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
