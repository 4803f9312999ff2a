/**
 * The cold-start arms of the catalogue-features benchmark (issue #21; bench/features.ts registers them): new products
 * recommended from their features. Each dataset's new items (no training row; catalogue-only items included) are
 * ranked for the test users who touched them against every other new item (`rec eval --protocol candidates:FILE
 * --items cold`, HR/NDCG@10 and recall/NDCG@20), by an MF trained with features, beside the references of
 * bench/cold-references.ts: random (= popularity counted at training time, all zero), the new items' popularity in
 * the validation period (honest under a temporal split) and in the test period (an oracle). The warm side
 * (`--protocol full --items warm`) is measured with and without features.
 *
 * The new test items are also split by kind (`rec eval --items new|recent`): `new`, no row before the test period
 * (valid popularity knows nothing of them), and `recent`, rows in valid but none in train (valid popularity counts
 * them, the model trained on train never saw them). And, as the nightly job would before serving the test period,
 * the model is brought up to the end of valid on the same log prepped with the valid share folded into train (so the
 * test split is the same), two ways: `scratch`, an MF with features trained on train + valid for as many epochs as
 * the first model's best; `fine_tune`, the first model fine-tuned as examples/nightly.sh does (`--init-from`,
 * `--replay 2 --epochs 20 --lr 0.005`: the valid rows plus twice as many replayed train rows each epoch). Each is
 * evaluated on the first dataset's split, so that it ranks the same users' same new items, now with the recent
 * items' rows behind it.
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
import { coldReferences, type ColdFigures, type ColdKind, type KindReferences } from './cold-references.js';
import { must, round, SHARED, zipEntry, type ModelArmContext } from './features-models.js';

/** Figures on one kind of new test item (`rec eval --items new|recent`), the model's beside the references. */
export interface ColdKindResult extends KindReferences {
  /** Users rec eval ranked for the features model (must equal `users`: the references cover the same users). */
  eval_users: number;
  features: ColdFigures;
  /** The models brought up to the end of valid (what the nightly job serves the test period with); absent without one. */
  nightly_scratch?: ColdFigures;
  nightly_fine_tune?: ColdFigures;
}

/** One model brought up to the end of valid, as the nightly job would have it before the test period. */
export interface NightlyModel {
  epochs: number;
  train_seconds: number;
  /** On all new test items, same candidates as `features`. */
  cold: ColdFigures;
}

export interface NightlyResult {
  /** The split its dataset was prepped with (valid folded into train; the same test period). */
  split: string;
  /** MF with features trained from scratch on train + valid. */
  scratch: NightlyModel;
  /** The first model fine-tuned on the valid rows with replay, as examples/nightly.sh does. */
  fine_tune: NightlyModel & { flags: string };
}

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
  /** Users rec eval ranked for it (test users with a training row and a new test item); the references cover the same. */
  eval_users: number;
  /** The new test items by kind: no row before the test period, or rows in valid. */
  by_kind: { new: ColdKindResult; recent: ColdKindResult };
  nightly: NightlyResult | null;
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

export interface ColdSetup {
  dataset: string;
  split: string;
  /** The prepped dataset. */
  data: string;
  epochs: number;
  /** Where warm items are measured: the test split, or valid when the test split holds only new items (an item hold-out). */
  warmSplit: 'test' | 'valid';
  /** Preps the same data with valid folded into train (same test period): the nightly job's training set. Absent: no period after training. */
  nightly?: { split: string; prep: () => Promise<string> | string };
}

function coldFigures(m: Record<string, number>): ColdFigures {
  return { 'hr@10': round(m['hr@10']), 'ndcg@10': round(m['ndcg@10']), 'recall@20': round(m['recall@20']), 'ndcg@20': round(m['ndcg@20']) };
}

/** The references of a prepped dataset, and the candidates file ranking each test user's new items against every new item. */
export async function coldCandidates(data: string, out: string): Promise<ReturnType<typeof coldReferences>> {
  const ds = await loadDataset(data);
  const evaluable = new Uint8Array(ds.users.ids.length);
  for (let r = 0; r < ds.train.length; r++) evaluable[ds.train.users[r]] = 1;
  const refs = coldReferences({ items: ds.items.ids.length, trainItems: ds.train.items, validItems: ds.valid.items, testUsers: ds.test.users, testItems: ds.test.items, evaluable });
  const coldIds = refs.cold.map((i) => ds.items.ids[i]);
  const lines = [...refs.relevant.keys()].map((u) => [ds.users.ids[u], ...coldIds].join('\t'));
  writeFileSync(out, `${lines.join('\n')}\n`);
  return refs;
}

export interface Evaluated {
  figures: ColdFigures;
  users: number;
}

export function evalRun(ck: string, args: string[]): Evaluated {
  const r = rec(['eval', ck, ...args, '--metrics', 'hr@10,ndcg@10,recall@20,ndcg@20', '--json', '-q']);
  must(r, `rec eval ${ck} ${args.join(' ')}`);
  const out = JSON.parse(r.stdout) as { metrics: Record<string, number>; users: { evaluated: number } };
  return { figures: coldFigures(out.metrics), users: out.users.evaluated };
}

/** `rec eval --protocol candidates:FILE --items KIND` on `data`; a kind no evaluable user has gives zeros over 0 users. */
export function evalKind(ck: string, cands: string, kind: ColdKind, data: string, expectedUsers: number): Evaluated {
  const none = { figures: { 'hr@10': 0, 'ndcg@10': 0, 'recall@20': 0, 'ndcg@20': 0 }, users: 0 };
  return expectedUsers === 0 ? none : evalRun(ck, ['--data', data, '--split', 'test', '--protocol', `candidates:${cands}`, '--items', kind]);
}

export function trainMf(data: string, out: string, epochs: number, extra: string[], what: string): { seconds: number; best: number | null } {
  const r = rec(['train', '--data', data, '--model', 'mf', '--loss', 'bce', '--epochs', String(epochs), '--out', out, '--json', '-q', ...extra]);
  must(r, `rec train ${what} ${extra.join(' ')}`);
  const j = JSON.parse(r.stdout) as { train_seconds: number; best: { epoch: number } | null };
  return { seconds: round(j.train_seconds, 1), best: j.best?.epoch ?? null };
}

/** A dataset name as a folder name: `--init-from` takes a comma-separated list, so `0.8,0.1,0.1` cannot be in a path. */
export function pathSafe(name: string): string {
  return name.replace(/,/g, '_');
}

/** examples/nightly.sh's fine-tuning defaults (REPLAY, EPOCHS, LR). */
export const FINE_TUNE = ['--replay', '2', '--lr', '0.005'];
export const FINE_TUNE_EPOCHS = 20;

type KindFigures = Record<'new' | 'recent', ColdFigures>;

/** The nightly models (scratch on train + valid for `epochs`, and `parent` fine-tuned), evaluated on the first dataset's split. */
async function nightlyModels(
  ctx: ModelArmContext,
  setup: ColdSetup,
  epochs: number,
  parent: string,
  cands: string,
  users: Record<ColdKind, number>,
): Promise<{ result: NightlyResult; scratch: KindFigures; fineTune: KindFigures } | null> {
  if (setup.nightly === undefined) return null;
  const data = await setup.nightly.prep();
  const [first, merged] = await Promise.all([loadDataset(setup.data), loadDataset(data)]);
  if (merged.test.length !== first.test.length || merged.valid.length !== 0) {
    throw new Error(`${setup.dataset}: the train+valid dataset has ${merged.test.length} test and ${merged.valid.length} valid rows; expected ${first.test.length} and 0`);
  }
  const run = (out: string, n: number, extra: string[], what: string): { model: NightlyModel; kinds: KindFigures } => {
    const t = trainMf(data, out, n, extra, `${setup.dataset} (${what})`);
    const at = (kind: ColdKind) => evalKind(out, cands, kind, setup.data, users[kind]).figures;
    return { model: { epochs: n, train_seconds: t.seconds, cold: at('cold') }, kinds: { new: at('new'), recent: at('recent') } };
  };
  const scratch = run(join(ctx.work, `${pathSafe(setup.dataset)}-mf-nightly`), epochs, [], 'train+valid');
  const ftEpochs = ctx.quick ? 2 : FINE_TUNE_EPOCHS;
  const ft = run(join(ctx.work, `${pathSafe(setup.dataset)}-mf-fine-tune`), ftEpochs, ['--init-from', parent, ...FINE_TUNE], 'fine-tuned on valid');
  return {
    result: { split: setup.nightly.split, scratch: scratch.model, fine_tune: { ...ft.model, flags: `--init-from FIRST ${FINE_TUNE.join(' ')} --epochs ${ftEpochs}` } },
    scratch: scratch.kinds,
    fineTune: ft.kinds,
  };
}

async function coldDataset(ctx: ModelArmContext, setup: ColdSetup): Promise<ColdDatasetResult> {
  const { data, dataset } = setup;
  const cands = join(ctx.work, `${dataset}-new-items.tsv`);
  const c = await coldCandidates(data, cands);
  const load = loadavg()[0];
  const epochs = ctx.quick ? 2 : setup.epochs;
  const withFeatures = join(ctx.work, `${pathSafe(dataset)}-mf`);
  const idsOnly = join(ctx.work, `${pathSafe(dataset)}-mf-ids`);
  const a = trainMf(data, withFeatures, epochs, [], dataset);
  const seconds = { features: a.seconds, ids_only: trainMf(data, idsOnly, epochs, ['--features', 'none'], dataset).seconds };
  const users: Record<ColdKind, number> = { cold: c.relevant.size, new: c.by_kind.new.users, recent: c.by_kind.recent.users };
  const cold = evalKind(withFeatures, cands, 'cold', data, users.cold);
  const kinds = { new: evalKind(withFeatures, cands, 'new', data, users.new), recent: evalKind(withFeatures, cands, 'recent', data, users.recent) };
  // Logged now: the nightly models take as long again (MovieLens: most of an hour at a shared machine's load).
  const fig = (e: Evaluated) => `${e.figures['recall@20']}/${e.figures['ndcg@20']} (${e.users} users)`;
  ctx.log(`  ${dataset}, trained on train (best epoch ${a.best ?? '-'}): recall@20/ndcg@20 cold ${fig(cold)}, new ${fig(kinds.new)}, recent ${fig(kinds.recent)}`);
  const nightly = await nightlyModels(ctx, setup, a.best ?? epochs, withFeatures, cands, users);
  const kind = (k: 'new' | 'recent'): ColdKindResult => ({
    ...c.by_kind[k],
    eval_users: kinds[k].users,
    features: kinds[k].figures,
    ...(nightly ? { nightly_scratch: nightly.scratch[k], nightly_fine_tune: nightly.fineTune[k] } : {}),
  });
  const warm = (ck: string) => evalRun(ck, ['--split', setup.warmSplit, '--protocol', 'full', '--items', 'warm']).figures;
  const result: ColdDatasetResult = {
    dataset,
    split: setup.split,
    new_items: c.cold.length,
    test_new_items: c.test_new_items,
    test_new_items_in_valid: c.test_new_items_in_valid,
    test_users_with_new_items: c.relevant.size,
    relevant_new_pairs: c.pairs,
    features: cold.figures,
    eval_users: cold.users,
    by_kind: { new: kind('new'), recent: kind('recent') },
    nightly: nightly?.result ?? null,
    random: c.random,
    valid_popularity: c.valid_popularity,
    oracle_test_popularity: c.oracle_test_popularity,
    warm_full: { features: warm(withFeatures), ids_only: warm(idsOnly) },
    warm_split: setup.warmSplit,
    epochs,
    train_seconds: seconds,
    load_avg_1m: round(load, 2),
  };
  logDataset(ctx, result);
  return result;
}

function logDataset(ctx: ModelArmContext, r: ColdDatasetResult): void {
  const f = (x: ColdFigures | undefined) => (x === undefined ? '-' : `${x['recall@20']}/${x['ndcg@20']}`);
  ctx.log(
    `  ${r.dataset}: ${r.new_items} new items (${r.test_new_items} in test, ${r.test_new_items_in_valid} of them in valid), ${r.test_users_with_new_items} users (${r.eval_users} evaluated); recall@20/ndcg@20 features ${f(r.features)}, nightly scratch ${f(r.nightly?.scratch.cold)}, fine-tuned ${f(r.nightly?.fine_tune.cold)}, random ${f(r.random)}, valid popularity ${f(r.valid_popularity)}, oracle ${f(r.oracle_test_popularity)}; warm hr@10 ${r.warm_full.features['hr@10']} with features, ${r.warm_full.ids_only['hr@10']} ids only`,
  );
  for (const k of ['new', 'recent'] as const) {
    const b = r.by_kind[k];
    ctx.log(`    ${k}: ${b.items} items, ${b.users} users (${b.eval_users} evaluated), ${b.pairs} pairs; features ${f(b.features)}, nightly scratch ${f(b.nightly_scratch)}, fine-tuned ${f(b.nightly_fine_tune)}, random ${f(b.random)}, valid popularity ${f(b.valid_popularity)}, oracle ${f(b.oracle_test_popularity)}`);
  }
}

/** rec synth with a catalogue and launches over time, prepped by time. */
export function synthSetup(ctx: ModelArmContext): ColdSetup {
  const dir = join(ctx.work, 'synth');
  const log = join(dir, 'log.csv');
  must(rec(['synth', '--out', log, '--users', '3000', '--items', '2000', '--events', '150000', '--new-items', '0.3', '--catalogue', '--seed', '5', '-q']), 'rec synth');
  const prep = (split: string, data: string) => {
    must(rec(['prep', log, '--out', data, '--split', split, '--items', join(dir, 'items.jsonl'), '--item-features', 'title:text,brand:category,categories:multi,price:number', '-q']), `rec prep synth ${split}`);
    return data;
  };
  const data = prep('temporal:0.8,0.1,0.1', join(ctx.work, 'synth-ds'));
  const nightly = 'temporal:0.9,0,0.1';
  return { dataset: 'synth', split: 'temporal:0.8,0.1,0.1', data, epochs: 10, warmSplit: 'test', nightly: { split: nightly, prep: () => prep(nightly, join(ctx.work, 'synth-ds-nightly')) } };
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
export async function movielensTemporalSetup(ctx: ModelArmContext): Promise<ColdSetup | string> {
  if (!existsSync(ML_ZIP)) return `${ML_ZIP} is absent`;
  const { ratings, movies, tags } = readMovielens();
  const dir = join(ctx.work, 'mlt');
  await mkdir(dir, { recursive: true });
  const log = join(dir, 'ratings.csv');
  writeFileSync(log, `${['user,item,rating,ts', ...ratings].join('\n')}\n`);
  const split = 'temporal:0.8,0.1,0.1';
  const common = ['--feedback', 'implicit', '--ts-unit', 's', '-q'];
  must(rec(['prep', log, '--out', join(dir, 'plain'), ...common, '--split', split]), 'rec prep ml-latest-small (temporal, no catalogue)');
  const plain = await loadDataset(join(dir, 'plain'));
  if (plain.train.ts === null) throw new Error('ml-latest-small: the prepped train split has no timestamps');
  const last = (s: { ts: ArrayLike<number> | null }): number => {
    let m = -Infinity;
    for (let r = 0; r < (s.ts?.length ?? 0); r++) m = Math.max(m, Number(s.ts?.[r]));
    return m;
  };
  const trainEnd = last(plain.train);
  const prep = (until: number, splitOf: string, name: string) => {
    writeFileSync(join(dir, `${name}.items.jsonl`), `${movielensItems(movies, tags, until).join('\n')}\n`);
    const data = join(ctx.work, name);
    const args = ['prep', log, '--out', data, ...common, '--split', splitOf, '--items', join(dir, `${name}.items.jsonl`), '--item-features', 'title:text,genres:multi,year:number,tags:multi'];
    must(rec(args), `rec prep ml-latest-small (${splitOf})`);
    return data;
  };
  const data = prep(trainEnd, split, 'mlt-ds');
  // The nightly job's catalogue is the one of the night before the test period: tags applied by the end of valid.
  const nightly = 'temporal:0.9,0,0.1';
  return { dataset: 'ml-latest-small-temporal', split, data, epochs: 20, warmSplit: 'test', nightly: { split: nightly, prep: () => prep(Math.max(trainEnd, last(plain.valid)), nightly, 'mlt-ds-nightly') } };
}

const AMAZON = join(SHARED, 'amazon2018-small-with-meta');

/** The dataset's name in the results (and for --datasets): `amazon-gift-cards-0.8,0.1,0.1`. */
export function amazonName(category: string, split: string): string {
  return `amazon-${category.toLowerCase().replace(/_/g, '-')}-${split.replace('temporal:', '')}`;
}

/** An Amazon 2018 category's 5-core reviews split by time, its meta file as the catalogue (prep reads both as they are). */
export function amazonSetup(ctx: ModelArmContext, category: string, split: string): ColdSetup | string {
  const reviews = join(AMAZON, `${category}_5.json.gz`);
  const meta = join(AMAZON, `meta_${category}.json.gz`);
  if (!existsSync(reviews) || !existsSync(meta)) return `${reviews} or ${meta} is absent`;
  const name = amazonName(category, split);
  const prep = (splitOf: string, data: string) => {
    const args = ['prep', reviews, '--out', data, '--columns', 'user=reviewerID,item=asin,rating=overall,ts=unixReviewTime', '--feedback', 'implicit', '--split', splitOf];
    must(rec([...args, '--items', meta, '--item-features', 'title:text,brand:category,category:multi,description:text,price:number', '-q']), `rec prep ${name} (${splitOf})`);
    return data;
  };
  const data = prep(split, join(ctx.work, `${pathSafe(name)}-ds`));
  const [train, valid, test] = split.replace('temporal:', '').split(',').map(Number);
  const nightly = `temporal:${round(train + valid, 6)},0,${test}`;
  return { dataset: name, split, data, epochs: 20, warmSplit: 'test', nightly: { split: nightly, prep: () => prep(nightly, join(ctx.work, `${pathSafe(name)}-ds-nightly`)) } };
}

async function runSetups(ctx: ModelArmContext, setups: (() => Promise<ColdSetup | string> | ColdSetup | string)[], names: string[]): Promise<ColdArmResult['datasets']> {
  const datasets: ColdArmResult['datasets'] = [];
  for (let k = 0; k < setups.length; k++) {
    if (ctx.datasets !== undefined && !ctx.datasets.some((d) => names[k].startsWith(d))) continue;
    const setup = await setups[k]();
    if (typeof setup === 'string') {
      ctx.log(`  ${names[k]} skipped: ${setup}`);
      datasets.push({ dataset: names[k], skipped: setup });
    } else datasets.push(await coldDataset(ctx, setup));
  }
  return datasets;
}

const COLD_COMMAND =
  'rec train --model mf --loss bce [--features none]; rec eval --protocol candidates:NEW_ITEMS --items cold|new|recent; rec eval --protocol full --items warm (--metrics hr@10,ndcg@10,recall@20,ndcg@20); nightly: rec train on train+valid (scratch) and --init-from FIRST --replay 2 --epochs 20 --lr 0.005 (fine_tune), evaluated with --data FIRST';

export async function coldArm(ctx: ModelArmContext): Promise<ColdArmResult> {
  return { arm: 'cold', command: COLD_COMMAND, datasets: await runSetups(ctx, [() => synthSetup(ctx), () => movielensHoldoutSetup(ctx)], ['synth', 'ml-latest-small-holdout']) };
}

/** The Amazon sets first (minutes), MovieLens last (its tags make it the slowest by far). */
export async function coldTemporalArm(ctx: ModelArmContext): Promise<ColdArmResult> {
  const setups: (() => Promise<ColdSetup | string> | ColdSetup | string)[] = [];
  const names: string[] = [];
  for (const category of ['Gift_Cards', 'Magazine_Subscriptions']) {
    for (const split of ['temporal:0.8,0.1,0.1', 'temporal:0.5,0.25,0.25']) {
      setups.push(() => amazonSetup(ctx, category, split));
      names.push(amazonName(category, split));
    }
  }
  setups.push(() => movielensTemporalSetup(ctx));
  names.push('ml-latest-small-temporal');
  return { arm: 'cold-temporal', command: COLD_COMMAND, datasets: await runSetups(ctx, setups, names) };
}
