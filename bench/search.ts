/**
 * Search on Home Depot through the product (issue #22, docs/benchmarks.md "Search"): the judged search log prepped
 * with its titles as the catalogue (`rec prep --columns query=…,item=…,relevance=… --items … --encoding latin1`,
 * held-out queries 80/10/10 with the prep seed), then `rec train --model bm25`, `two-tower` and `hybrid`, and for each:
 *  - `rec eval --protocol judged`: NDCG@10 re-ranking each test query's judged products (gain = relevance − 1),
 *    MRR@10, and the RMSE of the relevance head (fitted on the validation pairs);
 *  - `rec eval --protocol full --k 10,100`: recall@100 of the products judged ≥ 2.5, retrieving from all 54,667;
 *  - `rec search --queries` over 1,000 test queries: the model's load time and the per-query latency p50/p99 that
 *    rec search reports (encode, score every item exactly, top 10).
 * References: predicting the mean relevance of the train pairs (RMSE), and the targets of the issue.
 *
 *   npm run bench -- search [--quick] [--arms bm25,two-tower,hybrid]    writes bench/results/search.json (--quick: 2
 *   epochs of the towers; --arms: only those models, the targets left NaN/false without theirs)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../src/data/dataset.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { rec, REPO, SHARED } from './common.js';
import { zipEntry } from './features-models.js';

const HD_ZIP = join(SHARED, 'datasets', 'homedepot-search-relevance', 'train.csv.zip');
const MODELS = ['bm25', 'two-tower', 'hybrid'] as const;

export interface SearchModelResult {
  model: (typeof MODELS)[number];
  train_seconds: number;
  epochs: number;
  judged: Record<string, number>;
  full: Record<string, number>;
  latency: { queries: number; load_ms: number; query_ms_p50: number; query_ms_p99: number };
}

export interface SearchBenchResult {
  data: { pairs: number; queries: Record<string, number>; items: number; rejected: number };
  mean_predictor_rmse: number;
  models: SearchModelResult[];
  targets: { hybrid_over_bm25_ndcg10: number; recall100_learned_over_bm25: boolean; rmse_at_most_048: boolean };
  machine: { cpus: number; loadavg_start: number[]; loadavg_end: number[] };
}

function run(args: string[]): string {
  const r = rec(args);
  if (r.code !== 0) throw new Error(`rec ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

export async function runSearchBench(opts: { quick: boolean; models?: readonly string[] }): Promise<SearchBenchResult | { skipped: string }> {
  let zip: Buffer;
  try {
    zip = readFileSync(HD_ZIP);
  } catch {
    return { skipped: `${HD_ZIP} is not here (../shared is absent)` };
  }
  const loadavgStart = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'rec-bench-search-'));
  try {
    const csv = join(dir, 'homedepot.csv');
    writeFileSync(csv, zipEntry(zip, 'train.csv'));
    const ds = join(dir, 'ds');
    const prep = JSON.parse(run(['prep', csv, '--columns', 'query=search_term,item=product_uid,relevance=relevance', '--items', csv, '--item-key', 'product_uid', '--item-features', 'product_title:text', '--encoding', 'latin1', '--out', ds, '--json'])) as { rows: { read: number; rejected: number }; items: number };
    const manifest = JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as { search: { queries_per_split: Record<string, number> } };
    const models: SearchModelResult[] = [];
    for (const model of MODELS.filter((m) => opts.models === undefined || opts.models.includes(m))) {
      const ck = join(dir, model);
      const train = JSON.parse(run(['train', '--data', ds, '--model', model, '--out', ck, '--no-progress', '--json', ...(opts.quick && model !== 'bm25' ? ['--epochs', '2'] : [])])) as { epochs: unknown[]; train_seconds?: number };
      const runJson = JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { timings: { train_seconds: number } };
      const judged = JSON.parse(run(['eval', ck, '--protocol', 'judged', '--k', '10', '--json'])) as { metrics: Record<string, number> };
      const full = JSON.parse(run(['eval', ck, '--protocol', 'full', '--k', '10,100', '--json'])) as { metrics: Record<string, number> };
      models.push({ model, train_seconds: runJson.timings.train_seconds, epochs: train.epochs.length, judged: judged.metrics, full: full.metrics, latency: await latency(ds, ck, dir) });
    }
    const by = (m: string) => models.find((x) => x.model === m);
    const ndcg = (m: string) => by(m)?.judged['ndcg@10'] ?? Number.NaN;
    const recall = (m: string) => by(m)?.full['recall@100'] ?? Number.NaN;
    const result: SearchBenchResult = {
      data: { pairs: prep.rows.read, queries: manifest.search.queries_per_split, items: prep.items, rejected: prep.rows.rejected },
      mean_predictor_rmse: await meanPredictorRmse(ds),
      models,
      targets: {
        hybrid_over_bm25_ndcg10: ndcg('hybrid') / ndcg('bm25') - 1,
        recall100_learned_over_bm25: Math.max(recall('two-tower'), recall('hybrid')) > recall('bm25'),
        rmse_at_most_048: Math.min(...models.map((m) => m.judged.rmse)) <= 0.48,
      },
      machine: { cpus: cpus().length, loadavg_start: loadavgStart, loadavg_end: loadavg() },
    };
    await writeJsonAtomic(join(REPO, 'bench', 'results', opts.quick ? 'search-quick.json' : 'search.json'), result);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** rec search over the first 1,000 test queries (by query index), as one batch: its load time and query latencies. */
async function latency(ds: string, ck: string, dir: string): Promise<SearchModelResult['latency']> {
  const file = join(dir, 'test-queries.txt');
  writeFileSync(file, `${(await testQueries(ds)).slice(0, 1000).join('\n')}\n`);
  const out = JSON.parse(run(['search', ck, '--queries', file, '--k', '10', '--json'])) as { results: unknown[]; timing: { load_ms: number; query_ms_p50: number; query_ms_p99: number } };
  return { queries: out.results.length, ...out.timing };
}

/** The test split's distinct query texts, in query-index order. */
async function testQueries(ds: string): Promise<string[]> {
  const d = await loadDataset(ds);
  const texts = d.queries?.texts ?? [];
  return [...new Set(d.test.queries ?? [])].sort((a, b) => a - b).map((q) => texts[q]);
}

/** RMSE on the test pairs of predicting the train pairs' mean relevance. */
async function meanPredictorRmse(ds: string): Promise<number> {
  const d = await loadDataset(ds);
  let s = 0;
  for (const v of d.train.values) s += v;
  const m = s / d.train.values.length;
  let e = 0;
  for (const v of d.test.values) e += (v - m) ** 2;
  return Math.sqrt(e / d.test.values.length);
}
