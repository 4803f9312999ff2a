/**
 * The cold-start arms of the catalogue-features benchmark (issue #21; bench/features.ts registers them): new products
 * recommended from their features. Each dataset's new items (no training row; catalogue-only items included) are
 * ranked for the test users who touched them against every other new item (`rec eval --protocol candidates:FILE
 * --items cold`, HR/NDCG@10 and recall/NDCG@20), by an MF trained with features, beside the references of
 * bench/cold-references.ts: random (= popularity counted at training time, all zero), the new items' popularity in
 * the validation period (honest under a temporal split) and in the test period (an oracle). The warm side
 * (`--protocol full --items warm`) is measured with and without features.
 *
 *  - cold: `synth` (rec synth --catalogue --new-items 0.3, split by time) and `ml-latest-small-holdout` (MovieLens
 *    latest-small, a seeded fifth of the movies held out whole, the usual item cold-start protocol).
 *  - cold-temporal: the issue's protocol, a temporal split, so the test period's new items are those launched after
 *    training: MovieLens latest-small (titles, genres, year, and the tags applied before the test period) and the
 *    Amazon 2018 Gift Cards and Magazine Subscriptions 5-core reviews with their meta (title, brand, category,
 *    description, price) at 0.8/0.1/0.1 and, since the 5-core leaves so few new items at that cut, 0.5/0.25/0.25.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../src/data/dataset.js';
import { Prng } from '../src/util/prng.js';
import { rec } from './common.js';
import { coldReferences, type ColdFigures } from './cold-references.js';
import { metricsOf, must, round, SHARED, zipEntry, type ModelArmContext } from './features-models.js';

export interface ColdDatasetResult {
  dataset: string;
  /** How the test period's new items arise. */
  split: string;
  /** Items without a training row: the candidates (catalogue-only items included). */
  new_items: number;
  /** Of those, how many have a test row, and how many of these a validation row too. */
  test_new_items: number;
  test_new_items_in_valid: number;
  test_users_with_new_items: number;
  relevant_new_pairs: number;
  /** MF with features, new items ranked among the new items. */
  features: ColdFigures;
  /** Nothing known; also popularity counted at training time (every new item at zero). */
  random: ColdFigures;
  /** The new items ordered by their validation-split counts (the period after training under a temporal split). */
  valid_popularity: ColdFigures;
  /** The new items ordered by their test-split counts: knows the future. */
  oracle_test_popularity: ColdFigures;
  /** Warm items, full ranking, on `warm_split`: with and without features. */
  warm_full: { features: ColdFigures; ids_only: ColdFigures };
  warm_split: 'test' | 'valid';
  epochs: number;
  train_seconds: { features: number; ids_only: number };
  load_avg_1m: number;
}

export interface ColdArmResult {
  arm: 'cold' | 'cold-temporal';
  command: string;
  datasets: (ColdDatasetResult | { dataset: string; skipped: string })[];
}

interface ColdSetup {
  dataset: string;
  split: string;
  /** The prepped dataset. */
  data: string;
  epochs: number;
  /** Where warm items are measured: the test split, or valid when the test split holds only new items (an item hold-out). */
  warmSplit: 'test' | 'valid';
}

function coldFigures(m: Record<string, number>): ColdFigures {
  return { 'hr@10': round(m['hr@10']), 'ndcg@10': round(m['ndcg@10']), 'recall@20': round(m['recall@20']), 'ndcg@20': round(m['ndcg@20']) };
}

/** The references of a prepped dataset, and the candidates file ranking each test user's new items against every new item. */
async function coldCandidates(data: string, out: string): Promise<ReturnType<typeof coldReferences>> {
  const ds = await loadDataset(data);
  const refs = coldReferences({ items: ds.items.ids.length, trainItems: ds.train.items, validItems: ds.valid.items, testUsers: ds.test.users, testItems: ds.test.items });
  const coldIds = refs.cold.map((i) => ds.items.ids[i]);
  const lines = [...refs.relevant.keys()].map((u) => [ds.users.ids[u], ...coldIds].join('\t'));
  writeFileSync(out, `${lines.join('\n')}\n`);
  return refs;
}

async function coldDataset(ctx: ModelArmContext, setup: ColdSetup): Promise<ColdDatasetResult> {
  const { data, dataset } = setup;
  const cands = join(ctx.work, `${dataset}-new-items.tsv`);
  const c = await coldCandidates(data, cands);
  const load = loadavg()[0];
  const epochs = ctx.quick ? 2 : setup.epochs;
  const train = (out: string, extra: string[]) => {
    const r = rec(['train', '--data', data, '--model', 'mf', '--loss', 'bce', '--epochs', String(epochs), '--out', out, '--json', '-q', ...extra]);
    must(r, `rec train ${dataset} ${extra.join(' ')}`);
    return (JSON.parse(r.stdout) as { train_seconds: number }).train_seconds;
  };
  const withFeatures = join(ctx.work, `${dataset}-mf`);
  const idsOnly = join(ctx.work, `${dataset}-mf-ids`);
  const seconds = { features: round(train(withFeatures, []), 1), ids_only: round(train(idsOnly, ['--features', 'none']), 1) };
  const evalJson = (ck: string, args: string[]) => {
    const r = rec(['eval', ck, ...args, '--metrics', 'hr@10,ndcg@10,recall@20,ndcg@20', '--json', '-q']);
    must(r, `rec eval ${ck} ${args.join(' ')}`);
    return coldFigures(metricsOf(r.stdout));
  };
  const result: ColdDatasetResult = {
    dataset,
    split: setup.split,
    new_items: c.cold.length,
    test_new_items: c.test_new_items,
    test_new_items_in_valid: c.test_new_items_in_valid,
    test_users_with_new_items: c.relevant.size,
    relevant_new_pairs: c.pairs,
    features: evalJson(withFeatures, ['--protocol', `candidates:${cands}`, '--items', 'cold']),
    random: c.random,
    valid_popularity: c.valid_popularity,
    oracle_test_popularity: c.oracle_test_popularity,
    warm_full: {
      features: evalJson(withFeatures, ['--split', setup.warmSplit, '--protocol', 'full', '--items', 'warm']),
      ids_only: evalJson(idsOnly, ['--split', setup.warmSplit, '--protocol', 'full', '--items', 'warm']),
    },
    warm_split: setup.warmSplit,
    epochs,
    train_seconds: seconds,
    load_avg_1m: round(load, 2),
  };
  const f = result.features;
  ctx.log(
    `  ${dataset}: ${c.cold.length} new items (${c.test_new_items} in test, ${c.test_new_items_in_valid} of them in valid), ${c.relevant.size} users; features recall@20 ${f['recall@20']} ndcg@20 ${f['ndcg@20']} (random ${c.random['recall@20']}, valid popularity ${c.valid_popularity['recall@20']}, oracle ${c.oracle_test_popularity['recall@20']}); warm hr@10 ${result.warm_full.features['hr@10']} with features, ${result.warm_full.ids_only['hr@10']} ids only`,
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
  return { dataset: 'synth', split: 'temporal:0.8,0.1,0.1', data, epochs: 10, warmSplit: 'test' };
}

const ML_ZIP = join(SHARED, 'movielens-latest-small', 'ml-latest-small.zip');

/** CSV fields of a MovieLens line: plain, or quoted with "" inside (titles and tags hold commas). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  const re = /("(?:[^"]|"")*"|[^,]*)(,|$)/g;
  for (let m = re.exec(line); m !== null && m.index < line.length + 1; m = re.exec(line)) {
    out.push(m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1]);
    if (m[2] === '') break;
  }
  return out;
}

/**
 * MovieLens movies.csv (and tags.csv) as a JSONL catalogue: title, genres (multi; none for "(no genres listed)"),
 * year (from the title), and with `tags`, the distinct lower-cased tags applied at or before `tagsUntilMs` (so that
 * no tag comes from the test period: a tag is user activity, known only once applied).
 */
export function movielensItems(movies: readonly string[], tags: readonly string[] | null, tagsUntilMs: number): string[] {
  const byMovie = new Map<string, Set<string>>();
  for (const line of tags ?? []) {
    const [, movie, tag, ts] = csvFields(line.trim());
    if (movie === undefined || tag === undefined || !(Number(ts) * 1000 <= tagsUntilMs)) continue;
    const set = byMovie.get(movie) ?? new Set<string>();
    set.add(tag.trim().toLowerCase());
    byMovie.set(movie, set);
  }
  return movies.map((line) => {
    const f = csvFields(line.trim());
    if (f.length !== 3) throw new Error(`movies.csv: cannot read ${line}`);
    const [item, title, genres] = f;
    const year = /\((\d{4})\)\s*$/.exec(title);
    const row: Record<string, unknown> = { item, title, genres: genres === '(no genres listed)' ? [] : genres.split('|'), year: year ? Number(year[1]) : null };
    if (tags !== null) row.tags = [...(byMovie.get(item) ?? [])].filter((t) => t !== '');
    return JSON.stringify(row);
  });
}

function readMovielens(): { ratings: string[]; movies: string[]; tags: string[] } {
  const zip = readFileSync(ML_ZIP);
  const lines = (name: string) => zipEntry(zip, `ml-latest-small/${name}`).toString('utf8').trim().split('\n').slice(1);
  return { ratings: lines('ratings.csv'), movies: lines('movies.csv'), tags: lines('tags.csv') };
}

/** MovieLens latest-small: a seeded fifth of the rated movies held out whole as the test split; the catalogue is movies.csv (title, genres, year). */
async function movielensHoldoutSetup(ctx: ModelArmContext): Promise<ColdSetup | string> {
  if (!existsSync(ML_ZIP)) return `${ML_ZIP} is absent`;
  const { ratings, movies } = readMovielens();
  const rated = [...new Set(ratings.map((l) => l.split(',')[1]))].sort((a, b) => Number(a) - Number(b));
  const rng = Prng.fromSeed(7, 'bench.features.cold');
  const order = rng.permutation(rated.length);
  const held = new Set(Array.from(order.subarray(0, Math.floor(rated.length / 5)), (k) => rated[k]));
  const dir = join(ctx.work, 'mls');
  await mkdir(dir, { recursive: true });
  const header = 'user,item,rating,ts';
  writeFileSync(join(dir, 'train.csv'), `${[header, ...ratings.filter((l) => !held.has(l.split(',')[1]))].join('\n')}\n`);
  writeFileSync(join(dir, 'test.csv'), `${[header, ...ratings.filter((l) => held.has(l.split(',')[1]))].join('\n')}\n`);
  writeFileSync(join(dir, 'items.jsonl'), `${movielensItems(movies, null, 0).join('\n')}\n`);
  const data = join(ctx.work, 'mls-ds');
  must(
    rec(['prep', join(dir, 'train.csv'), '--test', join(dir, 'test.csv'), '--out', data, '--split', 'random:0.9,0.1,0', '--feedback', 'implicit', '--items', join(dir, 'items.jsonl'), '--item-features', 'title:text,genres:multi,year:number', '-q']),
    'rec prep ml-latest-small',
  );
  return { dataset: 'ml-latest-small-holdout', split: 'a seeded fifth of the movies held out whole', data, epochs: 20, warmSplit: 'valid' };
}

/**
 * MovieLens latest-small split by time (0.8/0.1/0.1 of the ratings): prepped once without a catalogue to learn the
 * end of the training period, then with movies.csv and the tags applied by then.
 */
async function movielensTemporalSetup(ctx: ModelArmContext): Promise<ColdSetup | string> {
  if (!existsSync(ML_ZIP)) return `${ML_ZIP} is absent`;
  const { ratings, movies, tags } = readMovielens();
  const dir = join(ctx.work, 'mlt');
  await mkdir(dir, { recursive: true });
  const log = join(dir, 'ratings.csv');
  writeFileSync(log, `${['user,item,rating,ts', ...ratings].join('\n')}\n`);
  const split = 'temporal:0.8,0.1,0.1';
  const common = ['--split', split, '--feedback', 'implicit', '--ts-unit', 's', '-q'];
  must(rec(['prep', log, '--out', join(dir, 'plain'), ...common]), 'rec prep ml-latest-small (temporal, no catalogue)');
  const plain = await loadDataset(join(dir, 'plain'));
  const ts = plain.train.ts;
  if (ts === null) throw new Error('ml-latest-small: the prepped train split has no timestamps');
  const trainEnd = ts.reduce((a, b) => Math.max(a, b), -Infinity);
  writeFileSync(join(dir, 'items.jsonl'), `${movielensItems(movies, tags, trainEnd).join('\n')}\n`);
  const data = join(ctx.work, 'mlt-ds');
  must(rec(['prep', log, '--out', data, ...common, '--items', join(dir, 'items.jsonl'), '--item-features', 'title:text,genres:multi,year:number,tags:multi']), 'rec prep ml-latest-small (temporal)');
  return { dataset: 'ml-latest-small-temporal', split, data, epochs: 20, warmSplit: 'test' };
}

const AMAZON = join(SHARED, 'amazon2018-small-with-meta');

/** An Amazon 2018 category's 5-core reviews split by time, its meta file as the catalogue (prep reads both as they are). */
function amazonSetup(ctx: ModelArmContext, category: string, split: string): ColdSetup | string {
  const reviews = join(AMAZON, `${category}_5.json.gz`);
  const meta = join(AMAZON, `meta_${category}.json.gz`);
  if (!existsSync(reviews) || !existsSync(meta)) return `${reviews} or ${meta} is absent`;
  const name = `amazon-${category.toLowerCase().replace(/_/g, '-')}-${split.replace('temporal:', '')}`;
  const data = join(ctx.work, `${name}-ds`);
  must(
    rec([
      'prep', reviews, '--out', data, '--columns', 'user=reviewerID,item=asin,rating=overall,ts=unixReviewTime', '--feedback', 'implicit', '--split', split,
      '--items', meta, '--item-features', 'title:text,brand:category,category:multi,description:text,price:number', '-q',
    ]),
    `rec prep ${name}`,
  );
  return { dataset: name, split, data, epochs: 20, warmSplit: 'test' };
}

async function runSetups(ctx: ModelArmContext, setups: (() => Promise<ColdSetup | string> | ColdSetup | string)[], names: string[]): Promise<ColdArmResult['datasets']> {
  const datasets: ColdArmResult['datasets'] = [];
  for (let k = 0; k < setups.length; k++) {
    const setup = await setups[k]();
    if (typeof setup === 'string') {
      ctx.log(`  ${names[k]} skipped: ${setup}`);
      datasets.push({ dataset: names[k], skipped: setup });
    } else datasets.push(await coldDataset(ctx, setup));
  }
  return datasets;
}

const COLD_COMMAND = 'rec train --model mf --loss bce [--features none]; rec eval --protocol candidates:NEW_ITEMS --items cold; rec eval --protocol full --items warm (--metrics hr@10,ndcg@10,recall@20,ndcg@20)';

export async function coldArm(ctx: ModelArmContext): Promise<ColdArmResult> {
  return { arm: 'cold', command: COLD_COMMAND, datasets: await runSetups(ctx, [() => synthSetup(ctx), () => movielensHoldoutSetup(ctx)], ['synth', 'ml-latest-small-holdout']) };
}

export async function coldTemporalArm(ctx: ModelArmContext): Promise<ColdArmResult> {
  const setups: (() => Promise<ColdSetup | string> | ColdSetup | string)[] = [() => movielensTemporalSetup(ctx)];
  const names = ['ml-latest-small-temporal'];
  for (const category of ['Gift_Cards', 'Magazine_Subscriptions']) {
    for (const split of ['temporal:0.8,0.1,0.1', 'temporal:0.5,0.25,0.25']) {
      setups.push(() => amazonSetup(ctx, category, split));
      names.push(`amazon-${category}-${split}`);
    }
  }
  return { arm: 'cold-temporal', command: COLD_COMMAND, datasets: await runSetups(ctx, setups, names) };
}
