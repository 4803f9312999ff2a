/**
 * What the search towers read: each query and each item as a bag of token rows with weights (mean pooling), over one
 * token vocabulary. Text tokens are the hashed buckets of src/data/text.ts, shared by queries and item text, so a word
 * learned from titles means the same in a query (the shared embedding of Nigam et al., "Semantic Product Search",
 * KDD 2019); category and multi values of the catalogue are item-only tokens. Independent of TF.js.
 */
import type { ItemFeatures, ListFeature } from '../../data/item-features.js';

/** Rows of a token table per entity: rows[offsets[e], offsets[e + 1]) with their pooling weights (summing to 1). */
export interface TokenBags {
  offsets: Int32Array;
  rows: Int32Array;
  weights: Float32Array;
}

/**
 * The token vocabulary: text buckets (ascending, row = position) then feature values `FIELD\tVALUE` (row = buckets
 * length + position). Saved in the checkpoint, so a query is encoded without the dataset.
 */
export interface TokenVocab {
  buckets: Int32Array;
  values: string[];
}

/** The row of a text bucket, or −1 when the vocabulary does not hold it (a word no title or training query had). */
export function bucketRow(vocab: TokenVocab, bucket: number): number {
  const b = vocab.buckets;
  let lo = 0;
  let hi = b.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (b[mid] === bucket) return mid;
    if (b[mid] < bucket) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export function vocabSize(vocab: TokenVocab): number {
  return vocab.buckets.length + vocab.values.length;
}

/**
 * The vocabulary of a catalogue and its training queries: every bucket of an item's text or of a training query, and
 * every category and multi value some item holds. Numbers are not tokens (yet): price says little about a query.
 */
export function buildVocab(features: ItemFeatures | null, queryBuckets: ListFeature | null, trainQueries: Int32Array | null): TokenVocab {
  const seen = new Set<number>();
  for (const f of features?.features ?? []) if (f.kind === 'text') for (const b of f.buckets.values) seen.add(b);
  if (queryBuckets !== null && trainQueries !== null) {
    const { offsets, values } = queryBuckets;
    for (const q of trainQueries) for (let k = offsets[q]; k < offsets[q + 1]; k++) seen.add(values[k]);
  }
  const buckets = Int32Array.from(seen).sort();
  const values: string[] = [];
  for (const f of features?.features ?? []) {
    if (f.kind !== 'category' && f.kind !== 'multi') continue;
    for (const v of f.vocab) values.push(`${f.name}\t${v}`);
  }
  return { buckets, values };
}

/** One text's bag: its buckets' rows weighted by feature counts; buckets outside the vocabulary are dropped. */
export function textBag(vocab: TokenVocab, buckets: ArrayLike<number>, counts: ArrayLike<number>): { rows: Int32Array; weights: Float32Array } {
  const rows: number[] = [];
  const w: number[] = [];
  let total = 0;
  for (let k = 0; k < buckets.length; k++) {
    const r = bucketRow(vocab, buckets[k]);
    if (r < 0) continue;
    rows.push(r);
    w.push(counts[k]);
    total += counts[k];
  }
  return { rows: Int32Array.from(rows), weights: Float32Array.from(w, (x) => x / total) };
}

/** Per-query bags of a dataset's queries (bucket lists with their counts aligned). */
export function queryBags(vocab: TokenVocab, buckets: ListFeature, counts: Int32Array): TokenBags {
  const n = buckets.offsets.length - 1;
  const parts: { rows: Int32Array; weights: Float32Array }[] = [];
  for (let q = 0; q < n; q++) {
    const a = buckets.offsets[q];
    const b = buckets.offsets[q + 1];
    parts.push(textBag(vocab, buckets.values.subarray(a, b), counts.subarray(a, b)));
  }
  return concatBags(parts);
}

/**
 * Per-item bags: each present field weighs the same (a long description does not drown the title), its weight spread
 * over its tokens (text by feature counts, multi values evenly). An item with no token has an empty bag.
 */
export function itemBags(vocab: TokenVocab, features: ItemFeatures | null, items: number): TokenBags {
  const valueRow = new Map(vocab.values.map((v, k) => [v, vocab.buckets.length + k]));
  const parts: { rows: Int32Array; weights: Float32Array }[] = [];
  for (let i = 0; i < items; i++) {
    const fields: { rows: Int32Array; weights: Float32Array }[] = [];
    for (const f of features?.features ?? []) {
      if (i >= (features as ItemFeatures).items) break;
      if (f.kind === 'text') {
        const a = f.buckets.offsets[i];
        const b = f.buckets.offsets[i + 1];
        const bag = textBag(vocab, f.buckets.values.subarray(a, b), f.counts.subarray(a, b));
        if (bag.rows.length > 0) fields.push(bag);
      } else if (f.kind === 'category') {
        const r = f.codes[i] >= 0 ? valueRow.get(`${f.name}\t${f.vocab[f.codes[i]]}`) : undefined;
        if (r !== undefined) fields.push({ rows: Int32Array.of(r), weights: Float32Array.of(1) });
      } else if (f.kind === 'multi') {
        const rows: number[] = [];
        for (let k = f.codes.offsets[i]; k < f.codes.offsets[i + 1]; k++) {
          const r = valueRow.get(`${f.name}\t${f.vocab[f.codes.values[k]]}`);
          if (r !== undefined) rows.push(r);
        }
        if (rows.length > 0) fields.push({ rows: Int32Array.from(rows), weights: new Float32Array(rows.length).fill(1 / rows.length) });
      }
    }
    const rows = new Int32Array(fields.reduce((s, f) => s + f.rows.length, 0));
    const weights = new Float32Array(rows.length);
    let at = 0;
    for (const f of fields) {
      rows.set(f.rows, at);
      for (let k = 0; k < f.weights.length; k++) weights[at + k] = f.weights[k] / fields.length;
      at += f.rows.length;
    }
    parts.push({ rows, weights });
  }
  return concatBags(parts);
}

function concatBags(parts: readonly { rows: Int32Array; weights: Float32Array }[]): TokenBags {
  const offsets = new Int32Array(parts.length + 1);
  for (let e = 0; e < parts.length; e++) offsets[e + 1] = offsets[e] + parts[e].rows.length;
  const rows = new Int32Array(offsets[parts.length]);
  const weights = new Float32Array(rows.length);
  for (let e = 0; e < parts.length; e++) {
    rows.set(parts[e].rows, offsets[e]);
    weights.set(parts[e].weights, offsets[e]);
  }
  return { offsets, rows, weights };
}
