/**
 * Catalogue features benchmark (issue #21, docs/benchmarks.md#catalogue-featurisation-issue-21): the built CLI's
 * `rec prep LOG --items CAT` on synthetic catalogues, each arm one row of ARMS below.
 *
 *  - featurise: a seeded 1M-item CSV catalogue (10-word titles, a brand, a 3-level category path, a price) beside a
 *    log of a few rows naming some of its items; items/s, wall seconds and peak RSS of the prep, and the same at
 *    100k items so that the memory per item shows (flat: the 1M run's RSS above the 100k run's grows only by the
 *    output arrays).
 *  - cold-negatives (bench/features-cold-negatives.ts): the cold arms' nightly pipeline with MF's negatives drawn
 *    uniformly, by time on sale, and half each (--negative-sampling).
 *  - cold, cold-temporal (bench/features-cold.ts): new products ranked from their features against what a model
 *    without features can do; sasrec-beauty (bench/features-models.ts), ncf-beauty (bench/features-beauty.ts):
 *    SASRec, MF and NeuMF on Amazon Beauty with and without its item attributes.
 *
 *   node dist/bench/features.js [--quick] [--arms featurise]   writes bench/results/features.json (features-quick.json)
 *   npm run bench -- features [--quick] [--arms featurise]      the same through the bench driver (bench/run.ts)
 * With --arms, only those arms are measured, and they replace the same arms in an existing results file.
 * With --datasets A,B (cold arms), only their datasets whose name starts with one of these; they replace the datasets
 * of the same name in the arm's earlier measurement (node dist/bench/features.js --arms cold --datasets synth).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { Prng } from '../src/util/prng.js';
import { argValue, printResult, REPO } from './common.js';
import { ncfBeautyArm, type NcfBeautyResult } from './features-beauty.js';
import { coldArm, coldTemporalArm, type ColdArmResult } from './features-cold.js';
import { coldNegativesArm, type NegativesArmResult } from './features-cold-negatives.js';
import { sasrecBeautyArm, type SasrecBeautyResult } from './features-models.js';

/** One measured prep of a catalogue. */
export interface FeaturesRun {
  items: number;
  file_bytes: number;
  wall_s: number;
  items_per_s: number;
  /** CPU seconds of the CLI process (user + system, its helper threads included): steadier than wall on a shared machine. */
  cpu_s: number;
  items_per_cpu_s: number;
  /** Peak RSS of the CLI process (VmHWM, read as it exits). */
  max_rss_bytes: number;
  load_avg_1m: number;
}

export interface FeaturesArmResult {
  arm: 'featurise';
  command: string;
  runs: FeaturesRun[];
  /** (RSS at the largest size − RSS at the smallest) / (items between them). */
  rss_bytes_per_item: number | null;
}

export interface FeaturesBenchResult {
  bench: 'features';
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; node: string };
  arms: FeaturesBenchArm[];
}

interface ArmContext {
  work: string;
  quick: boolean;
  log: (line: string) => void;
}

/** What an arm measures: catalogue featurisation, or models trained on catalogue features (bench/features-cold.ts, features-models.ts, features-beauty.ts). */
export type FeaturesBenchArm = FeaturesArmResult | ColdArmResult | NegativesArmResult | SasrecBeautyResult | NcfBeautyResult;

interface Arm {
  about: string;
  run(ctx: ArmContext): Promise<FeaturesBenchArm>;
}

const FEATURES = 'title:text,brand:category,cats:multi,price:number';

/** A word list: seeded letter strings of 3–9 letters. */
function words(rng: Prng, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + rng.int(7);
    let w = '';
    for (let k = 0; k < len; k++) w += String.fromCharCode(97 + rng.int(26));
    out.push(w);
  }
  return out;
}

/** The id of catalogue item k, as the log names it. */
function itemId(k: number): string {
  return `P${String(k).padStart(8, '0')}`;
}

/**
 * A synthetic catalogue of `items` rows: `item_id,title,brand,cats,price`, a title of 10 words from a 20,000-word
 * list (Zipf-like), one of 2,000 brands, a 3-level `|` category path, a price with cents; every 50th title quoted
 * with a comma inside. Returns its size in bytes.
 */
export async function writeSyntheticCatalogue(path: string, items: number, seed = 2021): Promise<number> {
  const rng = Prng.fromSeed(seed, 'bench.features');
  const vocab = words(rng, 20_000);
  const brands = words(rng, 2_000).map((w) => w[0].toUpperCase() + w.slice(1));
  const out = createWriteStream(path);
  const lines: string[] = ['item_id,title,brand,cats,price\n'];
  for (let i = 0; i < items; i++) {
    const title: string[] = [];
    for (let k = 0; k < 10; k++) title.push(vocab[Math.floor(vocab.length * rng.next() ** 2)]);
    const t = i % 50 === 0 ? `"${title.slice(0, 5).join(' ')}, ${title.slice(5).join(' ')}"` : title.join(' ');
    const c1 = rng.int(20);
    const c2 = rng.int(10);
    const cats = `cat${c1}|cat${c1}-${c2}|cat${c1}-${c2}-${rng.int(10)}`;
    lines.push(`${itemId(i)},${t},${brands[rng.int(brands.length)]},${cats},${(1 + rng.int(50_000) / 100).toFixed(2)}\n`);
    if (lines.length >= 16_384 || i === items - 1) {
      if (!out.write(lines.join(''))) await once(out, 'drain');
      lines.length = 0;
    }
  }
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

/** A log of `rows` rows over 20 users naming items spread over the catalogue. */
export function writeSyntheticLog(path: string, items: number, rows = 40): void {
  const lines = ['user,item,ts'];
  for (let r = 0; r < rows; r++) lines.push(`u${r % 20},${itemId(Math.floor((r * items) / rows))},${1600000000 + r * 3600}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Loaded with --import into the CLI process: as it exits, writes its peak RSS (VmHWM, reset by exec; getrusage's
 * maxRSS elsewhere) and CPU seconds to REC_BENCH_RSS_OUT as JSON.
 */
const RSS_HOOK = `data:text/javascript,${encodeURIComponent(
  "import{readFileSync,writeFileSync}from'node:fs';process.on('exit',()=>{let r=process.resourceUsage().maxRSS*1024;try{const m=/^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status','utf8'));if(m)r=Number(m[1])*1024}catch{}const c=process.cpuUsage();writeFileSync(process.env.REC_BENCH_RSS_OUT,JSON.stringify({rss:r,cpu:(c.user+c.system)/1e6}));});",
)}`;

/** Runs the built CLI with `args`, timing it and reading its peak RSS and CPU seconds. */
function timedRec(args: string[], rssFile: string): { wall: number; rss: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [`--import=${RSS_HOOK}`, join(REPO, 'bin/rec.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', REC_BENCH_RSS_OUT: rssFile },
    maxBuffer: 1 << 26,
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`rec ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { wall, ...(JSON.parse(readFileSync(rssFile, 'utf8')) as { rss: number; cpu: number }) };
}

function round(x: number, digits = 2): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

async function featuriseArm(ctx: ArmContext): Promise<FeaturesArmResult> {
  const sizes = ctx.quick ? [20_000, 200_000] : [100_000, 1_000_000];
  const runs: FeaturesRun[] = [];
  const command = `rec prep LOG --items CAT --item-key item_id --item-features ${FEATURES} --split none -q`;
  for (const items of sizes) {
    const cat = join(ctx.work, `cat-${items}.csv`);
    const log = join(ctx.work, `log-${items}.csv`);
    const bytes = await writeSyntheticCatalogue(cat, items);
    writeSyntheticLog(log, items);
    const out = join(ctx.work, `ds-${items}`);
    const load = loadavg()[0];
    const r = timedRec(['prep', log, '--out', out, '--items', cat, '--item-key', 'item_id', '--item-features', FEATURES, '--split', 'none', '-q'], join(ctx.work, 'rss'));
    const run: FeaturesRun = {
      items,
      file_bytes: bytes,
      wall_s: round(r.wall),
      items_per_s: Math.round(items / r.wall),
      cpu_s: round(r.cpu),
      items_per_cpu_s: Math.round(items / r.cpu),
      max_rss_bytes: r.rss,
      load_avg_1m: round(load),
    };
    runs.push(run);
    ctx.log(`  featurise: ${items} items (${(bytes / 2 ** 20).toFixed(0)} MiB) → ${run.items_per_s} items/s, ${run.wall_s} s (${run.cpu_s} CPU s), peak RSS ${(r.rss / 2 ** 20).toFixed(0)} MiB (load ${run.load_avg_1m})`);
    await rm(cat, { force: true });
    await rm(out, { recursive: true, force: true });
  }
  const [a, b] = [runs[0], runs[runs.length - 1]];
  return { arm: 'featurise', command, runs, rss_bytes_per_item: b.items > a.items ? Math.round((b.max_rss_bytes - a.max_rss_bytes) / (b.items - a.items)) : null };
}

/** Every arm, in the order a plain run measures them. */
export const ARMS: Record<string, Arm> = {
  featurise: { about: 'rec prep --items on a synthetic 100k- and 1M-item CSV catalogue: items/s, wall, peak RSS', run: featuriseArm },
  cold: { about: 'new items ranked from their features (MF) against random, validation-period and oracle popularity, warm items with and without features: synth (temporal) and MovieLens latest-small (a fifth of the movies held out)', run: coldArm },
  'cold-temporal': { about: 'the same on temporal splits: MovieLens latest-small (title, genres, year, tags) and Amazon 2018 Gift Cards and Magazine Subscriptions (title, brand, category, description, price)', run: coldTemporalArm },
  'cold-negatives': {
    about: 'MF bce negatives drawn uniformly, among the items on sale at the positive\'s time, or half each (--negative-sampling): the nightly pipeline on synth, Amazon Gift Cards and Magazines 0.5/0.25/0.25 and MovieLens latest-small by time, new items by kind and warm items',
    run: coldNegativesArm,
  },
  'sasrec-beauty': { about: 'SASRec with and without item attributes on S3-Rec Amazon Beauty, full ranking, against the published table; epoch time of each', run: sasrecBeautyArm },
  'ncf-beauty': { about: 'MF and NeuMF with and without item attributes on S3-Rec Amazon Beauty, full ranking (HR/NDCG@10,20); epoch time of each', run: ncfBeautyArm },
};

export async function runFeaturesBench(
  opts: { quick?: boolean; arms?: readonly string[]; datasets?: readonly string[]; out?: string | null; log?: (line: string) => void } = {},
): Promise<FeaturesBenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = opts.quick === true;
  const names = Object.keys(ARMS);
  const unknown = (opts.arms ?? []).filter((a) => !(a in ARMS));
  if (unknown.length > 0) throw new Error(`Unknown arm ${unknown.join(', ')}. Expected among ${names.join(', ')}.`);
  const selected = opts.arms ? names.filter((n) => opts.arms?.includes(n)) : names;
  const out = opts.out === undefined ? join(REPO, 'bench/results', quick ? 'features-quick.json' : 'features.json') : opts.out;
  const result: FeaturesBenchResult = { bench: 'features', date: new Date().toISOString(), quick, machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version }, arms: [] };
  const work = await mkdtemp(join(tmpdir(), 'rec-features-bench-'));
  try {
    for (const name of selected) {
      log(`features ${name}`);
      result.arms.push(await ARMS[name].run({ work, quick, log, ...(opts.datasets ? { datasets: opts.datasets } : {}) }));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out && opts.arms && existsSync(out)) {
    // Keep the other arms of an earlier measurement.
    const earlier = JSON.parse(readFileSync(out, 'utf8')) as FeaturesBenchResult;
    if (opts.datasets) result.arms = result.arms.map((a) => withEarlierDatasets(a, earlier.arms.find((e) => e.arm === a.arm)));
    result.arms = [...earlier.arms.filter((a) => !selected.includes(a.arm)), ...result.arms];
  }
  if (out) await writeJsonAtomic(out, result);
  return result;
}

/** With --datasets, an arm's new datasets replace those of the same name in its earlier measurement; the others are kept. */
function withEarlierDatasets(arm: FeaturesBenchArm, earlier: FeaturesBenchArm | undefined): FeaturesBenchArm {
  if (!('datasets' in arm) || earlier === undefined || !('datasets' in earlier) || earlier.arm !== arm.arm) return arm;
  const fresh = new Set(arm.datasets.map((d) => d.dataset));
  // The same arm, so the same result type: only the union's spelling needs the casts.
  const kept = earlier.datasets.filter((d) => !fresh.has(d.dataset)) as typeof arm.datasets;
  return { ...arm, datasets: [...kept, ...arm.datasets] } as FeaturesBenchArm;
}

/** The figures `npm run bench` prints for this bench. */
export function summarizeFeaturesBench(r: FeaturesBenchResult): Record<string, unknown> {
  return Object.fromEntries(r.arms.map((a) => [a.arm, summarizeArm(a)]));
}

function summarizeArm(a: FeaturesBenchArm): unknown {
  if ('datasets' in a) return a.datasets;
  if (a.arm === 'ncf-beauty') return { variants: a.variants, epoch_seconds_ratio: a.epoch_seconds_ratio, ...(a.skipped ? { skipped: a.skipped } : {}) };
  if (a.arm === 'sasrec-beauty') return { variants: a.variants, epoch_seconds_ratio: a.epoch_seconds_ratio, published: a.published, ...(a.skipped ? { skipped: a.skipped } : {}) };
  return {
    runs: a.runs.map((x) => ({ items: x.items, items_per_s: x.items_per_s, wall_s: x.wall_s, cpu_s: x.cpu_s, items_per_cpu_s: x.items_per_cpu_s, peak_rss_mib: Math.round(x.max_rss_bytes / 2 ** 20), load: x.load_avg_1m })),
    rss_bytes_per_item: a.rss_bytes_per_item,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--write') {
    // node dist/bench/features.js --write CAT LOG ITEMS: only the files (for profiling by hand).
    const items = Number(process.argv[5]);
    printResult(writeSyntheticCatalogue(process.argv[3], items).then((bytes) => (writeSyntheticLog(process.argv[4], items), { bytes })));
  } else printResult(runFeaturesBench({ quick: process.argv.includes('--quick'), arms: argValue('--arms')?.split(','), datasets: argValue('--datasets')?.split(',') }));
}
