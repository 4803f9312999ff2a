/**
 * `rec prep LOG --items FILE` (issue #21 item 1, docs/datasets.md#a-catalogue-beside-the-log): the steps run.ts
 * takes for a catalogue. Before anything is read: the settings (usage errors). Before the log: the catalogue's
 * columns, key and feature kinds (declared, or guessed and printed), then its rows (rejects to rejects.jsonl).
 * Once the log's items vocabulary is final: the features of every item, catalogue-only items appended after the
 * log's (so no index moves), the two Arrow files, and the manifest's `catalogue` block.
 */
import { parseEncoding } from './encoding.js';
import { join } from 'node:path';
import type { PrepConfig } from '../../config/schema.js';
import { UsageError } from '../../util/errors.js';
import { CATALOGUE_FILES, TITLE_FILES, type DatasetManifest, type ManifestCatalogue } from '../manifest.js';
import { loadItemFeatures, type ItemFeatures } from '../item-features.js';
import { pickTitleFeature, readItemTitles, stringTitles, writeItemTitles, type TitleSource } from '../item-titles.js';
import { TextFeaturizer } from '../text.js';
import { CatalogueStore } from './catalogue-store.js';
import { buildCatalogue, type BuiltCatalogue } from './catalogue-build.js';
import { readCatalogue, sampleCatalogue, type CatalogueRead } from './catalogue-read.js';
import { checkDeclared, chooseKey, describeFeatures, guessFeatures, parseItemFeatures, type CataloguePlan, type CatalogueSpec, type FeatureSpec } from './catalogue-spec.js';
import { writeItemFeatures, writeItemFeatureVocab } from './catalogue-write.js';
import type { WrittenHashes } from './arrow-write.js';
import type { Vocabularies } from './job.js';
import type { RejectSink } from './rejects.js';
import { inputSize } from './source.js';

/**
 * Catalogues of this many bytes (on disk, all files) and more featurise their texts in a worker thread: starting
 * one costs about 30 ms, what a few thousand titles take to featurise.
 */
export const TEXT_WORKER_MIN_BYTES = 1 << 20;

export interface CatalogueInput {
  spec: CatalogueSpec;
  read: CatalogueRead;
  base: ItemFeatures | null;
  /** The display-title feature (null: no text feature), and an --append-to base's titles by item. */
  title: string | null;
  baseTitles: (string | null)[] | null;
}

/** The built features and each item's display title (null for none; `titles` null without a title feature). */
export type AttachedCatalogue = BuiltCatalogue & { titles: TitleSource | null };

/** The catalogue settings, checked before anything is read; null without --items (and no base catalogue). */
export async function planCatalogue(cfg: PrepConfig, base: { dir: string; manifest: DatasetManifest } | null): Promise<CataloguePlan | null> {
  const baseCat = base?.manifest.catalogue ?? null;
  if (cfg.items.length === 0 && baseCat === null) {
    if (cfg.item_features !== null || cfg.item_key !== null) {
      throw new UsageError(`${cfg.item_features !== null ? '--item-features (config prep.item_features)' : '--item-key (config prep.item_key)'} describes a catalogue, but none is given. Expected --items FILE (config prep.items) beside it.`);
    }
    return null;
  }
  let bytes = 0;
  for (const path of cfg.items) bytes += await inputSize(path, 'Catalogue (--items)');
  const declared = cfg.item_features !== null ? parseItemFeatures(cfg.item_features) : null;
  const quoted = { maxLines: cfg.max_quoted_lines, maxBytes: cfg.max_quoted_bytes };
  const encoding = parseEncoding(cfg.encoding);
  if (base === null || baseCat === null) return { paths: [...cfg.items], declared, key: cfg.item_key, bytes, quoted, encoding, base: null };
  // Appending: the base's key, kinds and featuriser, so that its stored features and the new rows agree.
  const where = `--append-to ${base.dir}`;
  const inherited: FeatureSpec[] = Object.entries(baseCat.features).map(([name, kind]) => ({ name, kind }));
  // The manifest keeps features by name (its keys sorted), so the order they were declared in is not compared.
  const byName = (fs: readonly FeatureSpec[]): string => describeFeatures([...fs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  if (declared !== null && byName(declared) !== byName(inherited)) {
    throw new UsageError(`${where}: --item-features ${describeFeatures(declared)} differs from the base dataset's catalogue (${describeFeatures(inherited)}). Expected the base's features (or no --item-features: they are taken from the base).`);
  }
  if (cfg.item_key !== null && cfg.item_key !== baseCat.key) {
    throw new UsageError(`${where}: --item-key ${cfg.item_key} differs from the base dataset's catalogue key ${baseCat.key}. Expected the same key column (or no --item-key).`);
  }
  const spec = new TextFeaturizer().spec();
  const b = baseCat.text_featurizer;
  if (b.version !== spec.version || b.num_buckets !== spec.num_buckets || b.seed !== spec.seed || b.max_chars !== spec.max_chars || b.max_units !== spec.max_units) {
    throw new UsageError(`${where}: the base dataset's titles were featurised by ${b.version} (${b.num_buckets} buckets), this rec featurises by ${spec.version} (${spec.num_buckets} buckets). Prep the logs again from scratch with --items.`);
  }
  const baseTitles = await readItemTitles(base.dir, base.manifest.files_sha256?.item_titles);
  return { paths: [...cfg.items], declared: inherited, key: baseCat.key, bytes, quoted, encoding, base: await loadItemFeatures(base.dir, base.manifest), baseTitle: baseCat.title ?? null, baseTitles };
}

/** The key and features from the first file's columns (declared ones checked, or guessed and printed), then every row. */
export async function readCatalogueInput(plan: CataloguePlan, sink: RejectSink, info: (msg: string) => void, signal?: AbortSignal): Promise<CatalogueInput> {
  if (plan.paths.length === 0) {
    // --append-to a dataset with a catalogue, and no newer one: the base's features are carried as they are.
    const features = plan.declared ?? [];
    const empty: CatalogueRead = { store: new CatalogueStore(features), files: [], read: 0, rejected: 0, rejectedByReason: {}, duplicates: 0, conflicting: 0 };
    const title = pickTitleFeature(features, plan.baseTitle ?? null);
    return { spec: { key: plan.key ?? '', features, guessed: false, skipped: {} }, read: empty, base: plan.base, title, baseTitles: plan.baseTitles ?? null };
  }
  const first = plan.paths[0];
  const sample = await sampleCatalogue(first, plan.quoted, plan.encoding);
  const key = chooseKey(plan.key, sample.columns, first);
  let spec: CatalogueSpec;
  if (plan.declared !== null) {
    checkDeclared(plan.declared, key, sample.columns, first);
    spec = { key, features: plan.declared, guessed: false, skipped: {} };
  } else {
    const guess = guessFeatures(sample.columns, key, sample.rows);
    spec = { key, features: guess.features, guessed: true, skipped: guess.skipped };
    const skipped = Object.entries(guess.skipped).map(([c, why]) => `${c} (${why})`);
    info(
      `prep: catalogue ${first}: key ${key}; guessed --item-features ${describeFeatures(guess.features) || '(none)'}${skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''}. Pass --item-features to choose.`,
    );
  }
  const rejects = { add: (file: string, line: number, reason: string, detail: string, raw: string) => sink.addCatalogue(file, line, reason, detail, raw) };
  const title = pickTitleFeature(spec.features, plan.baseTitle ?? null);
  const titleFeature = spec.features.findIndex((f) => f.name === title);
  const read = await readCatalogue(plan.paths, key, spec.features, rejects, { signal, quoted: plan.quoted, encoding: plan.encoding, textWorker: plan.bytes >= TEXT_WORKER_MIN_BYTES, titleFeature });
  await sink.flush();
  return { spec, read, base: plan.base, title, baseTitles: plan.baseTitles ?? null };
}

/**
 * The features of every item of `vocab`, whose items vocabulary (and its counts and times) gains the
 * catalogue-only items at its end.
 */
export function attachCatalogue(input: CatalogueInput, vocab: Vocabularies, warn: (msg: string) => void): AttachedCatalogue {
  const itemIds = vocab.itemIds.ids;
  const logItems = itemIds.length;
  const built = buildCatalogue(input.read, input.spec.features, itemIds, input.base);
  const items = vocab.sum.items;
  const n = built.items;
  const counts = new Int32Array(n);
  counts.set(items.counts);
  const firstTs = new Float64Array(n).fill(Number.NaN);
  firstTs.set(items.firstTs);
  const lastTs = new Float64Array(n).fill(Number.NaN);
  lastTs.set(items.lastTs);
  vocab.sum.items = { ...items, size: n, counts, firstTs, lastTs };
  // One at a time: a spread of a million catalogue-only ids would overflow the call stack.
  for (const id of built.extraIds) itemIds.push(id);
  let only = 0;
  for (let i = 0; i < n; i++) if (counts[i] === 0 && built.inCatalogue[i] === 1) only++;
  built.catalogueOnly = only;
  if (logItems > 0 && built.logItemsWithoutRow === logItems && input.read.store.size > 0) {
    warn(
      `No item of the log has a catalogue row: the catalogue's key ${JSON.stringify(input.spec.key)} never matches the log's item ids (e.g. log ${JSON.stringify(itemIds[0])}, catalogue ${JSON.stringify(input.read.store.keys.keys().next().value)}). Expected --item-key naming the column that holds the log's item ids.`,
    );
  }
  return { ...built, titles: input.title === null ? null : itemTitles(input, built.keyOf) };
}

/**
 * Each item's title: its latest catalogue row's, else (--append-to, no newer row) the base's, else null. The base's
 * items keep their indices, so item i of the base is item i here. Read from the store's bytes as the file is written.
 */
function itemTitles(input: CatalogueInput, keyOf: Int32Array): TitleSource {
  const { store } = input.read;
  const fromStore = store.titleFeature >= 0;
  const base = stringTitles(input.baseTitles ?? []);
  return {
    size: keyOf.length,
    byteLength: (i) => (fromStore && keyOf[i] >= 0 ? store.titles.byteLength(keyOf[i]) : i < base.size ? base.byteLength(i) : -1),
    copyTo: (i, out, at) => (fromStore && keyOf[i] >= 0 ? store.titles.copyTo(keyOf[i], out, at) : i < base.size ? base.copyTo(i, out, at) : undefined),
  };
}

export async function writeCatalogueFiles(dir: string, built: AttachedCatalogue, spec: CatalogueSpec, hashes?: WrittenHashes): Promise<void> {
  await writeItemFeatures(join(dir, CATALOGUE_FILES.item_features), built, spec.features, hashes);
  await writeItemFeatureVocab(join(dir, CATALOGUE_FILES.item_feature_vocab), built, spec.features, hashes);
  if (built.titles !== null) await writeItemTitles(join(dir, TITLE_FILES.item_titles), built.titles, hashes);
}

/** The manifest's `catalogue` block. */
export function catalogueManifest(input: CatalogueInput, built: BuiltCatalogue): ManifestCatalogue {
  const { read, spec } = input;
  const features: ManifestCatalogue['features'] = {};
  const stats: ManifestCatalogue['feature_stats'] = {};
  spec.features.forEach((f, k) => {
    features[f.name] = f.kind;
    stats[f.name] = { ...built.summaries[k] };
  });
  return {
    files: read.files,
    key: spec.key,
    features,
    features_guessed: spec.guessed,
    skipped: spec.skipped,
    rows: {
      read: read.read,
      accepted: read.read - read.rejected,
      rejected: read.rejected,
      duplicates: read.duplicates,
      conflicting_duplicates: read.conflicting,
      items: read.store.size,
    },
    rejected_by_reason: read.rejectedByReason,
    log_items_without_row: built.logItemsWithoutRow,
    catalogue_only_items: built.catalogueOnly,
    catalogue_only_from: built.items - built.extraIds.length,
    append: input.base !== null ? { base_items: input.base.items, carried: built.fromBase, replaced: built.replaced } : null,
    title: input.title,
    feature_stats: stats,
    text_featurizer: { ...built.textSpec, unicode: process.versions.unicode ?? 'unknown' },
  };
}
