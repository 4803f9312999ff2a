/**
 * Reads a dataset's catalogue (`rec prep --items`; docs/datasets.md#a-catalogue-beside-the-log): item_features.arrow
 * and item_feature_vocab.arrow, each checked against the sha256 manifest.json records, then their structure: one
 * row per item of items.arrow, every category and multi code inside its vocabulary, every text bucket inside
 * [0, num_buckets), and a column per feature the manifest names. Independent of TF.js.
 */
import { tableFromIPC, type Table, type Vector } from 'apache-arrow';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { verifyFileHash } from './dataset-check.js';
import type { ListFeature } from './dataset-types.js';
import { CATALOGUE_FILES, type DatasetManifest, type ManifestCatalogue } from './manifest.js';

export type { ListFeature } from './dataset-types.js';

export type ItemFeature =
  | { name: string; kind: 'text'; buckets: ListFeature; counts: Int32Array }
  | { name: string; kind: 'multi'; codes: ListFeature; vocab: string[] }
  | { name: string; kind: 'category'; codes: Int32Array; vocab: string[] }
  | { name: string; kind: 'number'; values: Float64Array; mean: number | null; std: number | null };

export interface ItemFeatures {
  items: number;
  inCatalogue: Uint8Array;
  features: ItemFeature[];
  catalogue: ManifestCatalogue;
}

function damaged(dir: string, what: string): DataError {
  return new DataError(`Dataset ${dir} is damaged: ${what}. Nothing was read from its catalogue. Re-run rec prep with --items (the same command) to rebuild it.`);
}

async function table(dir: string, file: string, sha256: string | undefined): Promise<Table> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, file));
  } catch (error) {
    throw new DataError(`Dataset ${dir} is incomplete: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}). Re-run rec prep with --items.`, { cause: error });
  }
  if (sha256 !== undefined) verifyFileHash(dir, file, bytes, sha256);
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new DataError(`Dataset file ${join(dir, file)} is not a readable Arrow IPC file (${(error as Error).message}). Re-run rec prep.`, { cause: error });
  }
}

function child(t: Table, name: string, dir: string, file: string): Vector {
  const v = t.getChild(name);
  if (v === null) throw damaged(dir, `${file} has no column ${JSON.stringify(name)}`);
  return v;
}

/**
 * A list column of integers from its buffers (offsets and child values per chunk), without a Vector per cell, as
 * int32 whatever the width stored: text counts are Uint8 or Uint16 since session 13, Int32 before, and both read alike.
 */
export function listFeature(v: Vector): ListFeature {
  const n = v.length;
  const offsets = new Int32Array(n + 1);
  const valid = new Uint8Array(n);
  let size = 0;
  for (const d of v.data) size += (d.valueOffsets as Int32Array)[d.offset + d.length] - (d.valueOffsets as Int32Array)[d.offset];
  const values = new Int32Array(size);
  let row = 0;
  let at = 0;
  for (const d of v.data) {
    const off = d.valueOffsets as Int32Array;
    const child = d.children[0];
    const childValues = child.values as Int32Array | Uint16Array | Uint8Array;
    const bitmap = d.nullCount > 0 ? d.nullBitmap : null;
    for (let i = 0; i < d.length; i++) {
      const j = d.offset + i;
      const from = off[j] + child.offset;
      const to = off[j + 1] + child.offset;
      values.set(childValues.subarray(from, to), at);
      at += to - from;
      offsets[row + 1] = at;
      valid[row] = bitmap === null || bitmap === undefined || (bitmap[j >> 3] & (1 << (j & 7))) !== 0 ? 1 : 0;
      row++;
    }
  }
  return { offsets, values, valid };
}

function checkRange(dir: string, name: string, values: Int32Array, lo: number, hi: number, what: string): void {
  for (let k = 0; k < values.length; k++) {
    if (values[k] < lo || values[k] >= hi) throw damaged(dir, `${CATALOGUE_FILES.item_features} column ${JSON.stringify(name)} holds ${values[k]}, outside ${lo}..${hi - 1} (${what})`);
  }
}

function vocabularies(vt: Table, dir: string): Map<string, string[]> {
  const file = CATALOGUE_FILES.item_feature_vocab;
  const feature = child(vt, 'feature', dir, file);
  const index = child(vt, 'index', dir, file);
  const value = child(vt, 'value', dir, file);
  const out = new Map<string, string[]>();
  for (let r = 0; r < vt.numRows; r++) {
    const f = String(feature.get(r));
    const list = out.get(f) ?? [];
    if (Number(index.get(r)) !== list.length) throw damaged(dir, `${file} row ${r + 1} has index ${String(index.get(r))} for ${JSON.stringify(f)}, expected ${list.length}`);
    list.push(String(value.get(r)));
    out.set(f, list);
  }
  return out;
}

function readFeature(ft: Table, dir: string, name: string, kind: string, cat: ManifestCatalogue, vocabs: Map<string, string[]>): ItemFeature {
  const file = CATALOGUE_FILES.item_features;
  const v = child(ft, name, dir, file);
  const vocab = vocabs.get(name) ?? [];
  if (kind === 'text') {
    const buckets = listFeature(v);
    checkRange(dir, name, buckets.values, 0, cat.text_featurizer.num_buckets, 'the text buckets');
    return { name, kind, buckets, counts: listFeature(child(ft, `${name}#counts`, dir, file)).values };
  }
  if (kind === 'multi') {
    const codes = listFeature(v);
    checkRange(dir, name, codes.values, 0, vocab.length, `the ${vocab.length} values of its vocabulary`);
    return { name, kind, codes, vocab };
  }
  if (kind === 'category') {
    const codes = Int32Array.from(v.toArray() as Int32Array);
    checkRange(dir, name, codes, -1, vocab.length, `−1 or the ${vocab.length} values of its vocabulary`);
    return { name, kind, codes, vocab };
  }
  const values = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) values[i] = v.isValid(i) ? Number(v.get(i)) : Number.NaN;
  const stats = cat.feature_stats[name] ?? {};
  return { name, kind: 'number', values, mean: typeof stats.mean === 'number' ? stats.mean : null, std: typeof stats.std === 'number' ? stats.std : null };
}

/** The dataset's catalogue features, checked; null when it was prepped without --items. */
export async function loadItemFeatures(dir: string, manifest: DatasetManifest): Promise<ItemFeatures | null> {
  const cat = manifest.catalogue ?? null;
  if (cat === null) return null;
  const sha = manifest.files_sha256;
  const [ft, vt] = await Promise.all([table(dir, CATALOGUE_FILES.item_features, sha?.item_features), table(dir, CATALOGUE_FILES.item_feature_vocab, sha?.item_feature_vocab)]);
  if (ft.numRows !== manifest.items) throw damaged(dir, `${CATALOGUE_FILES.item_features} has ${ft.numRows} rows, but the dataset has ${manifest.items} items (one row per item)`);
  const vocabs = vocabularies(vt, dir);
  const flags = child(ft, '#in_catalogue', dir, CATALOGUE_FILES.item_features);
  const inCatalogue = new Uint8Array(ft.numRows);
  for (let i = 0; i < ft.numRows; i++) inCatalogue[i] = flags.get(i) === true ? 1 : 0;
  const features = Object.entries(cat.features).map(([name, kind]) => readFeature(ft, dir, name, kind, cat, vocabs));
  return { items: ft.numRows, inCatalogue, features, catalogue: cat };
}
