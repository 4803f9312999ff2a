/**
 * `rec prep LOG --items FILE` (issue #21 item 1, docs/datasets.md#a-catalogue-beside-the-log): the steps run.ts
 * takes for a catalogue. Before anything is read: the settings (usage errors). Before the log: the catalogue's
 * columns, key and feature kinds (declared, or guessed and printed), then its rows (rejects to rejects.jsonl).
 * Once the log's items vocabulary is final: the features of every item, catalogue-only items appended after the
 * log's (so no index moves), the two Arrow files, and the manifest's `catalogue` block.
 */
import { join } from 'node:path';
import type { PrepConfig } from '../../config/schema.js';
import { UsageError } from '../../util/errors.js';
import { CATALOGUE_FILES, type DatasetManifest, type ManifestCatalogue } from '../manifest.js';
import { TextFeaturizer } from '../text.js';
import { buildCatalogue, type BuiltCatalogue } from './catalogue-build.js';
import { readCatalogue, sampleCatalogue, type CatalogueRead } from './catalogue-read.js';
import { checkDeclared, chooseKey, describeFeatures, guessFeatures, parseItemFeatures, type CataloguePlan, type CatalogueSpec } from './catalogue-spec.js';
import { writeItemFeatures, writeItemFeatureVocab } from './catalogue-write.js';
import type { Vocabularies } from './job.js';
import type { RejectSink } from './rejects.js';
import { inputSize } from './source.js';

export interface CatalogueInput {
  spec: CatalogueSpec;
  read: CatalogueRead;
}

/** The catalogue settings, checked before anything is read; null without --items. */
export async function planCatalogue(cfg: PrepConfig, base: { dir: string; manifest: DatasetManifest } | null): Promise<CataloguePlan | null> {
  if (cfg.items.length === 0) {
    if (cfg.item_features !== null || cfg.item_key !== null) {
      throw new UsageError(`${cfg.item_features !== null ? '--item-features (config prep.item_features)' : '--item-key (config prep.item_key)'} describes a catalogue, but none is given. Expected --items FILE (config prep.items) beside it.`);
    }
    if (base !== null && (base.manifest.catalogue ?? null) !== null) {
      throw new UsageError(
        `--append-to ${base.dir}: the base dataset has a catalogue (item_features.arrow), and appending to a dataset with a catalogue is not supported yet. Prep the logs again from scratch with --items (rec prep LOGS... --items FILE --out DIR).`,
      );
    }
    return null;
  }
  if (base !== null) {
    throw new UsageError(`--items (config prep.items) with --append-to is not supported yet. Prep the logs from scratch with the catalogue (rec prep LOGS... --items FILE --out DIR).`);
  }
  let bytes = 0;
  for (const path of cfg.items) bytes += await inputSize(path, 'Catalogue (--items)');
  return { paths: [...cfg.items], declared: cfg.item_features !== null ? parseItemFeatures(cfg.item_features) : null, key: cfg.item_key, bytes };
}

/** The key and features from the first file's columns (declared ones checked, or guessed and printed), then every row. */
export async function readCatalogueInput(plan: CataloguePlan, sink: RejectSink, info: (msg: string) => void): Promise<CatalogueInput> {
  const first = plan.paths[0];
  const sample = await sampleCatalogue(first);
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
  const read = await readCatalogue(plan.paths, key, spec.features, { add: (file, line, reason, detail, raw) => sink.addCatalogue(file, line, reason, detail, raw) });
  await sink.flush();
  return { spec, read };
}

/**
 * The features of every item of `vocab`, whose items vocabulary (and its counts and times) gains the
 * catalogue-only items at its end.
 */
export function attachCatalogue(input: CatalogueInput, vocab: Vocabularies, warn: (msg: string) => void): BuiltCatalogue {
  const logItems = vocab.itemIds.length;
  const built = buildCatalogue(input.read, input.spec.features, vocab.itemIds, new TextFeaturizer());
  const items = vocab.sum.items;
  const n = built.items;
  const counts = new Int32Array(n);
  counts.set(items.counts);
  const firstTs = new Float64Array(n).fill(Number.NaN);
  firstTs.set(items.firstTs);
  const lastTs = new Float64Array(n).fill(Number.NaN);
  lastTs.set(items.lastTs);
  vocab.sum.items = { ...items, size: n, counts, firstTs, lastTs };
  vocab.itemIds.push(...built.extraIds);
  if (logItems > 0 && built.logItemsWithoutRow === logItems && input.read.rows.size > 0) {
    warn(
      `No item of the log has a catalogue row: the catalogue's key ${JSON.stringify(input.spec.key)} never matches the log's item ids (e.g. log ${JSON.stringify(vocab.itemIds[0])}, catalogue ${JSON.stringify(input.read.rows.keys().next().value)}). Expected --item-key naming the column that holds the log's item ids.`,
    );
  }
  return built;
}

export async function writeCatalogueFiles(dir: string, built: BuiltCatalogue, spec: CatalogueSpec): Promise<void> {
  await writeItemFeatures(join(dir, CATALOGUE_FILES.item_features), built, spec.features);
  await writeItemFeatureVocab(join(dir, CATALOGUE_FILES.item_feature_vocab), built, spec.features);
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
      items: read.rows.size,
    },
    rejected_by_reason: read.rejectedByReason,
    log_items_without_row: built.logItemsWithoutRow,
    catalogue_only_items: built.extraIds.length,
    catalogue_only_from: built.items - built.extraIds.length,
    feature_stats: stats,
    text_featurizer: { ...built.textSpec, unicode: process.versions.unicode ?? 'unknown' },
  };
}
