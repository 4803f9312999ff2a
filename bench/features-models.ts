/**
 * The model arms of the catalogue-features benchmark (issue #21; bench/features.ts registers them):
 *
 *  - cold: new products recommended from their features. Each dataset's new items (no training
 *    row) are ranked for the test users who touched them against every other new item
 *    (`rec eval --protocol candidates:FILE --items cold`), by an MF trained with features, beside
 *    two references computed here with the same semantics: random order, and the new items'
 *    popularity in the test split itself (an oracle no model has: it is the future). The warm
 *    side (`--protocol full --items warm`) is measured with and without features.
 *    Datasets: `synth` (rec synth --catalogue --new-items 0.3, split by time, so the new items are
 *    those launched after the training period) and `ml-latest-small` (MovieLens latest-small with
 *    titles, genres and year; a seeded fifth of the movies held out whole, the usual item
 *    cold-start protocol).
 *  - sasrec-beauty: SASRec (shipped defaults, ce over every item) on S3-Rec's Amazon Beauty with and
 *    without its item attributes, leave-one-out, full ranking of the test item (the published
 *    table in ../shared/datasets/s3rec-amazon-beauty/SOURCE.md), and the epoch time of each.
 *
 * Both need ../shared; an arm whose data is absent reports `skipped` with the reason.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { loadDataset } from '../src/data/dataset.js';
import { Prng } from '../src/util/prng.js';
import { REPO, rec } from './common.js';

const SHARED = join(REPO, '..', 'shared', 'datasets');

export interface ModelArmContext {
  work: string;
  quick: boolean;
  log: (line: string) => void;
}

export interface RankingFigures {
  'hr@10': number;
  'ndcg@10': number;
}

export interface ColdDatasetResult {
  dataset: string;
  new_items: number;
  test_users_with_new_items: number;
  relevant_new_pairs: number;
  /** MF with features, new items ranked among the new items. */
  features: RankingFigures;
  random: RankingFigures;
  /** The new items ordered by their test-split counts: knows the future. */
  oracle_test_popularity: RankingFigures;
  /** Warm items, full ranking, on `warm_split`: with and without features. */
  warm_full: { features: RankingFigures; ids_only: RankingFigures };
  warm_split: 'test' | 'valid';
  train_seconds: { features: number; ids_only: number };
  load_avg_1m: number;
}

export interface ColdArmResult {
  arm: 'cold';
  command: string;
  datasets: (ColdDatasetResult | { dataset: string; skipped: string })[];
}

export interface SasrecBeautyVariant {
  features: boolean;
  epochs: number;
  best_epoch: number | null;
  mean_epoch_seconds: number;
  test_full: Record<string, number>;
}

export interface SasrecBeautyResult {
  arm: 'sasrec-beauty';
  command: string;
  variants: SasrecBeautyVariant[] | null;
  skipped?: string;
  published: Record<string, RankingFigures>;
  epoch_seconds_ratio: number | null;
  load_avg_1m: number;
}

function must(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
}

function metricsOf(stdout: string): Record<string, number> {
  return (JSON.parse(stdout) as { metrics: Record<string, number> }).metrics;
}

function figures(m: Record<string, number>): RankingFigures {
  return { 'hr@10': round(m['hr@10']), 'ndcg@10': round(m['ndcg@10']) };
}

function round(x: number, digits = 4): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/** Expected HR@10 and NDCG@10 of an item whose position is uniform over [ahead, ahead + ties] (ties broken at random). */
function expectedAt10(ahead: number, ties: number): { hr: number; ndcg: number } {
  let hr = 0;
  let ndcg = 0;
  for (let pos = ahead; pos <= Math.min(ahead + ties, 9); pos++) {
    hr += 1;
    ndcg += 1 / Math.log2(pos + 2);
  }
  return { hr: hr / (ties + 1), ndcg: ndcg / (ties + 1) };
}

interface ColdSetup {
  dataset: string;
  /** The prepped dataset. */
  data: string;
  epochs: number;
  /** Where warm items are measured: the test split, or valid when the test split holds only new items (an item hold-out). */
  warmSplit: 'test' | 'valid';
}

/**
 * The new items of a prepped dataset (catalogue items without a training row), the candidates file
 * ranking each test user's new items against them, and the two references, with rec eval's
 * semantics: per user the mean over its relevant items, each ranked against the non-relevant
 * candidates; users averaged.
 */
async function coldCandidates(data: string, out: string): Promise<{ items: number; users: number; pairs: number; random: RankingFigures; oracle: RankingFigures }> {
  const ds = await loadDataset(data);
  const inTrain = new Uint8Array(ds.items.ids.length);
  for (const i of ds.train.items) inTrain[i] = 1;
  const cold: number[] = [];
  for (let i = 0; i < ds.items.ids.length; i++) if (inTrain[i] === 0) cold.push(i);
  const count = new Float64Array(ds.items.ids.length);
  const relevant = new Map<number, Set<number>>();
  for (let r = 0; r < ds.test.users.length; r++) {
    const i = ds.test.items[r];
    if (inTrain[i] === 1) continue;
    count[i]++;
    const set = relevant.get(ds.test.users[r]) ?? new Set<number>();
    set.add(i);
    relevant.set(ds.test.users[r], set);
  }
  const coldIds = cold.map((i) => ds.items.ids[i]);
  const lines: string[] = [];
  let pairs = 0;
  const sums = { rHr: 0, rNdcg: 0, oHr: 0, oNdcg: 0 };
  for (const [u, items] of relevant) {
    lines.push([ds.users.ids[u], ...coldIds].join('\t'));
    const negatives = cold.filter((i) => !items.has(i));
    const per = { rHr: 0, rNdcg: 0, oHr: 0, oNdcg: 0 };
    for (const i of items) {
      pairs++;
      const rnd = expectedAt10(0, negatives.length);
      let ahead = 0;
      let ties = 0;
      for (const j of negatives) {
        if (count[j] > count[i]) ahead++;
        else if (count[j] === count[i]) ties++;
      }
      const orc = expectedAt10(ahead, ties);
      per.rHr += rnd.hr;
      per.rNdcg += rnd.ndcg;
      per.oHr += orc.hr;
      per.oNdcg += orc.ndcg;
    }
    sums.rHr += per.rHr / items.size;
    sums.rNdcg += per.rNdcg / items.size;
    sums.oHr += per.oHr / items.size;
    sums.oNdcg += per.oNdcg / items.size;
  }
  writeFileSync(out, `${lines.join('\n')}\n`);
  const n = Math.max(1, relevant.size);
  return {
    items: cold.length,
    users: relevant.size,
    pairs,
    random: { 'hr@10': round(sums.rHr / n), 'ndcg@10': round(sums.rNdcg / n) },
    oracle: { 'hr@10': round(sums.oHr / n), 'ndcg@10': round(sums.oNdcg / n) },
  };
}

async function coldDataset(ctx: ModelArmContext, setup: ColdSetup): Promise<ColdDatasetResult> {
  const { data, dataset } = setup;
  const cands = join(ctx.work, `${dataset}-new-items.tsv`);
  const c = await coldCandidates(data, cands);
  const load = loadavg()[0];
  const train = (out: string, extra: string[]) => {
    const r = rec(['train', '--data', data, '--model', 'mf', '--loss', 'bce', '--epochs', String(ctx.quick ? 2 : setup.epochs), '--out', out, '--json', '-q', ...extra]);
    must(r, `rec train ${dataset} ${extra.join(' ')}`);
    return (JSON.parse(r.stdout) as { train_seconds: number }).train_seconds;
  };
  const withFeatures = join(ctx.work, `${dataset}-mf`);
  const idsOnly = join(ctx.work, `${dataset}-mf-ids`);
  const seconds = { features: round(train(withFeatures, []), 1), ids_only: round(train(idsOnly, ['--features', 'none']), 1) };
  const evalJson = (ck: string, args: string[]) => {
    const r = rec(['eval', ck, ...args, '--metrics', 'hr,ndcg', '--k', '10', '--json', '-q']);
    must(r, `rec eval ${ck} ${args.join(' ')}`);
    return figures(metricsOf(r.stdout));
  };
  const result: ColdDatasetResult = {
    dataset,
    new_items: c.items,
    test_users_with_new_items: c.users,
    relevant_new_pairs: c.pairs,
    features: evalJson(withFeatures, ['--protocol', `candidates:${cands}`, '--items', 'cold']),
    random: c.random,
    oracle_test_popularity: c.oracle,
    warm_full: {
      features: evalJson(withFeatures, ['--split', setup.warmSplit, '--protocol', 'full', '--items', 'warm']),
      ids_only: evalJson(idsOnly, ['--split', setup.warmSplit, '--protocol', 'full', '--items', 'warm']),
    },
    warm_split: setup.warmSplit,
    train_seconds: seconds,
    load_avg_1m: round(load, 2),
  };
  ctx.log(
    `  cold ${dataset}: ${c.items} new items; features hr@10 ${result.features['hr@10']} ndcg@10 ${result.features['ndcg@10']} (random ${c.random['hr@10']}, oracle popularity ${c.oracle['hr@10']}); warm full hr@10 ${result.warm_full.features['hr@10']} with features, ${result.warm_full.ids_only['hr@10']} ids only`,
  );
  return result;
}

/** rec synth with a catalogue and launches over time, prepped by time. */
function synthSetup(ctx: ModelArmContext): ColdSetup {
  const dir = join(ctx.work, 'synth');
  const log = join(dir, 'log.csv');
  must(rec(['synth', '--out', log, '--users', '3000', '--items', '2000', '--events', '150000', '--new-items', '0.3', '--catalogue', '--seed', '5', '-q']), 'rec synth');
  const data = join(ctx.work, 'synth-ds');
  must(rec(['prep', log, '--out', data, '--split', 'temporal:0.8,0.1,0.1', '--items', join(dir, 'items.jsonl'), '--item-features', 'title:text,brand:category,categories:multi,price:number', '-q']), 'rec prep synth');
  return { dataset: 'synth', data, epochs: 10, warmSplit: 'test' };
}

/** The entry `name` of a zip file (stored or deflated), read without a dependency. */
export function zipEntry(zip: Buffer, name: string): Buffer {
  let at = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const entries = zip.readUInt16LE(at + 10);
  at = zip.readUInt32LE(at + 16);
  for (let k = 0; k < entries; k++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLen) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const body = zip.subarray(start, start + size);
      return method === 0 ? body : inflateRawSync(body);
    }
    at += 46 + nameLen + extra + comment;
  }
  throw new Error(`no ${name} in the zip`);
}

/** MovieLens latest-small: a seeded fifth of the rated movies held out whole as the test split; the catalogue is movies.csv (title, genres, year). */
async function movielensSetup(ctx: ModelArmContext): Promise<ColdSetup | string> {
  const zipPath = join(SHARED, 'movielens-latest-small', 'ml-latest-small.zip');
  if (!existsSync(zipPath)) return `${zipPath} is absent`;
  const zip = readFileSync(zipPath);
  const ratings = zipEntry(zip, 'ml-latest-small/ratings.csv').toString('utf8').trim().split('\n').slice(1);
  const movies = zipEntry(zip, 'ml-latest-small/movies.csv').toString('utf8').trim().split('\n').slice(1);
  const rated = [...new Set(ratings.map((l) => l.split(',')[1]))].sort((a, b) => Number(a) - Number(b));
  const rng = Prng.fromSeed(7, 'bench.features.cold');
  const order = rng.permutation(rated.length);
  const held = new Set(Array.from(order.subarray(0, Math.floor(rated.length / 5)), (k) => rated[k]));
  const dir = join(ctx.work, 'mls');
  await mkdir(dir, { recursive: true });
  const header = 'user,item,rating,ts';
  writeFileSync(join(dir, 'train.csv'), `${[header, ...ratings.filter((l) => !held.has(l.split(',')[1]))].join('\n')}\n`);
  writeFileSync(join(dir, 'test.csv'), `${[header, ...ratings.filter((l) => held.has(l.split(',')[1]))].join('\n')}\n`);
  const items = movies.map((line) => {
    // movieId,title,genres, with the title quoted when it holds a comma.
    const m = /^(\d+),("(?:[^"]|"")*"|[^,]*),(.*)$/.exec(line.trim());
    if (m === null) throw new Error(`movies.csv: cannot read ${line}`);
    const title = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/""/g, '"') : m[2];
    const year = /\((\d{4})\)\s*$/.exec(title);
    return JSON.stringify({ item: m[1], title, genres: m[3] === '(no genres listed)' ? [] : m[3].split('|'), year: year ? Number(year[1]) : null });
  });
  writeFileSync(join(dir, 'items.jsonl'), `${items.join('\n')}\n`);
  const data = join(ctx.work, 'mls-ds');
  must(
    rec(['prep', join(dir, 'train.csv'), '--test', join(dir, 'test.csv'), '--out', data, '--split', 'random:0.9,0.1,0', '--feedback', 'implicit', '--items', join(dir, 'items.jsonl'), '--item-features', 'title:text,genres:multi,year:number', '-q']),
    'rec prep ml-latest-small',
  );
  return { dataset: 'ml-latest-small', data, epochs: 20, warmSplit: 'valid' };
}

export async function coldArm(ctx: ModelArmContext): Promise<ColdArmResult> {
  const datasets: ColdArmResult['datasets'] = [];
  datasets.push(await coldDataset(ctx, synthSetup(ctx)));
  const mls = await movielensSetup(ctx);
  if (typeof mls === 'string') {
    ctx.log(`  cold ml-latest-small skipped: ${mls}`);
    datasets.push({ dataset: 'ml-latest-small', skipped: mls });
  } else datasets.push(await coldDataset(ctx, mls));
  return { arm: 'cold', command: 'rec train --model mf --loss bce [--features none]; rec eval --protocol candidates:NEW_ITEMS --items cold; rec eval --protocol full --items warm', datasets };
}

const BEAUTY_PUBLISHED: Record<string, RankingFigures> = {
  SASRec: { 'hr@10': 0.0605, 'ndcg@10': 0.0318 },
  SASRec_F: { 'hr@10': 0.0458, 'ndcg@10': 0.0232 },
  FDSA: { 'hr@10': 0.0407, 'ndcg@10': 0.0208 },
  'S3-Rec': { 'hr@10': 0.0647, 'ndcg@10': 0.0327 },
};

/** Beauty.txt (`user item item …` per line) as one `user item` row per action, and the attributes as a multi-valued catalogue. */
function beautyFiles(dir: string): { log: string; items: string } {
  const src = join(SHARED, 's3rec-amazon-beauty');
  const rows: string[] = [];
  for (const line of readFileSync(join(src, 'Beauty.txt'), 'utf8').trim().split('\n')) {
    const [user, ...items] = line.trim().split(/\s+/);
    for (const item of items) rows.push(`${user} ${item}`);
  }
  const log = join(dir, 'beauty.txt');
  writeFileSync(log, `${rows.join('\n')}\n`);
  const attributes = JSON.parse(readFileSync(join(src, 'Beauty_item2attributes.json'), 'utf8')) as Record<string, number[]>;
  const items = join(dir, 'beauty-items.jsonl');
  writeFileSync(items, `${Object.entries(attributes).map(([item, a]) => JSON.stringify({ item, attributes: a.map(String) })).join('\n')}\n`);
  return { log, items };
}

export async function sasrecBeautyArm(ctx: ModelArmContext): Promise<SasrecBeautyResult> {
  const command = 'rec train --model sasrec [--features none] (shipped defaults: ce over every item, early stopping on valid ndcg@10); rec eval --protocol full --metrics hr,ndcg --k 10,20';
  const base = { arm: 'sasrec-beauty' as const, command, published: BEAUTY_PUBLISHED, load_avg_1m: round(loadavg()[0], 2) };
  if (!existsSync(join(SHARED, 's3rec-amazon-beauty', 'Beauty.txt'))) return { ...base, variants: null, skipped: 'the s3rec-amazon-beauty data is absent', epoch_seconds_ratio: null };
  const dir = join(ctx.work, 'beauty');
  await mkdir(dir, { recursive: true });
  const files = beautyFiles(dir);
  const data = join(dir, 'ds');
  must(
    rec(['prep', files.log, '--out', data, '--delimiter', ' ', '--no-header', '--columns', 'user=0,item=1', '--feedback', 'implicit', '--dedupe', 'none', '--split', 'leave-last', '--max-rejects', '0', '--items', files.items, '--item-features', 'attributes:multi', '-q']),
    'rec prep beauty',
  );
  const variants: SasrecBeautyVariant[] = [];
  for (const features of [true, false]) {
    const ck = join(dir, features ? 'sasrec-features' : 'sasrec-ids');
    // One thread each (features train on one), so the epoch times compare.
    must(rec(['train', '--data', data, '--model', 'sasrec', '--workers', '1', '--out', ck, '-q', ...(features ? [] : ['--features', 'none']), ...(ctx.quick ? ['--epochs', '1'] : [])]), `rec train sasrec beauty features=${features}`);
    const epochs = readFileSync(join(ck, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seconds: number });
    const best = JSON.parse(readFileSync(join(ck, 'best.json'), 'utf8')) as { epoch?: number };
    const e = rec(['eval', ck, '--protocol', 'full', '--metrics', 'hr,ndcg', '--k', '10,20', '--json', '-q']);
    must(e, 'rec eval sasrec beauty');
    const test = Object.fromEntries(Object.entries(metricsOf(e.stdout)).map(([k, v]) => [k, round(v)]));
    const variant = { features, epochs: epochs.length, best_epoch: best.epoch ?? null, mean_epoch_seconds: round(epochs.reduce((s, x) => s + x.seconds, 0) / epochs.length, 1), test_full: test };
    ctx.log(`  sasrec-beauty features=${features}: ${variant.epochs} epochs (${variant.mean_epoch_seconds} s each), test hr@10 ${test['hr@10']} ndcg@10 ${test['ndcg@10']}`);
    variants.push(variant);
  }
  return { ...base, variants, epoch_seconds_ratio: round(variants[0].mean_epoch_seconds / variants[1].mean_epoch_seconds, 2) };
}
