/**
 * Evaluation of search models on held-out queries (PRODUCT.md §6, docs/evaluation.md#search):
 *  - `judged`: each query's judged items are ranked by the model (NDCG@k with gains relevance − minimum, MRR@k and
 *    recall@k of items with relevance ≥ the threshold, and RMSE / MAE of the relevance head);
 *  - `full`: each query retrieves from the whole catalogue; unjudged items gain nothing.
 * Also the calibration that only the validation split may do: the hybrid's α and the relevance head.
 */
import { createSearchAccumulator, relevanceErrors } from './metrics/search.js';
import { fitHead, headFeatures, predictRelevance, type SearchModel, SearchRanker } from '../models/search/search-model.js';
import type { EncodedQuery, QueryEncoder } from '../models/search/query.js';
import type { Dataset } from '../data/dataset.js';

/** A split of a search log: one row per (query, item) pair. */
export interface SearchRows {
  queries: Int32Array;
  items: Int32Array;
  values: Float32Array;
}

export interface SearchEvalData {
  rows: SearchRows;
  /** The dataset's query texts, by query index. */
  texts: readonly string[];
  /** The relevance scale [min, max] of a graded log; null for clicks/events (every pair relevant, no head). */
  scale: [number, number] | null;
  /** Relevant for MRR and recall: value ≥ threshold. */
  threshold: number;
}

/** The relevance scale of a search dataset: --relevance-range as prepped, else the grades seen; null for events. */
export function searchScale(ds: Dataset): [number, number] | null {
  const s = ds.manifest.search ?? null;
  if (s === null) return null;
  if (s.relevance_range !== null) return s.relevance_range;
  return s.relevance === null ? null : [s.relevance.min, s.relevance.max];
}

/** What MRR and recall count as relevant: the upper quarter of the scale (2.5 of Home Depot's 1–3), any pair for events. */
export function relevantThreshold(scale: [number, number] | null): number {
  return scale === null ? Number.MIN_VALUE : scale[0] + 0.75 * (scale[1] - scale[0]);
}

export function searchSplit(ds: Dataset, split: 'train' | 'valid' | 'test'): SearchEvalData {
  const d = ds[split];
  const scale = searchScale(ds);
  return { rows: { queries: d.queries as Int32Array, items: d.items, values: d.values }, texts: (ds.queries as NonNullable<Dataset['queries']>).texts, scale, threshold: relevantThreshold(scale) };
}

export type SearchProtocol = 'judged' | 'full';

export interface SearchEvalResult {
  metrics: Record<string, number>;
  queries: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
  pairs: number;
}

/** Row positions per query, queries in first-seen order. */
export function rowsByQuery(rows: SearchRows): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let r = 0; r < rows.queries.length; r++) {
    const list = out.get(rows.queries[r]);
    if (list === undefined) out.set(rows.queries[r], [r]);
    else list.push(r);
  }
  return out;
}

/** Encoded texts of the queries a split uses (each once). */
export function encodeQueries(encoder: QueryEncoder, texts: readonly string[], byQuery: Map<number, number[]>): Map<number, EncodedQuery> {
  const out = new Map<number, EncodedQuery>();
  for (const q of byQuery.keys()) out.set(q, encoder.encode(texts[q]));
  return out;
}

export function evaluateSearch(ranker: SearchRanker, data: SearchEvalData, encoded: Map<number, EncodedQuery>, protocol: SearchProtocol, ks: readonly number[], signal?: AbortSignal): SearchEvalResult {
  const byQuery = rowsByQuery(data.rows);
  const minRelevance = data.scale?.[0] ?? 0;
  const acc = createSearchAccumulator({ ks, minRelevance, threshold: data.threshold });
  const head = ranker.model.spec.head;
  const preds: number[] = [];
  const targets: number[] = [];
  const maxK = Math.max(...ks);
  let skipped = 0;
  for (const [q, rows] of byQuery) {
    signal?.throwIfAborted();
    const items = Int32Array.from(rows, (r) => data.rows.items[r]);
    const rel = Float64Array.from(rows, (r) => data.rows.values[r]);
    const query = encoded.get(q) as EncodedQuery;
    const s = ranker.score(query, items);
    if (head !== null && data.scale !== null) {
      const p = predictRelevance(head, headFeatures(ranker.model, query, items, s).rows);
      for (let k = 0; k < rows.length; k++) {
        preds.push(p[k]);
        targets.push(rel[k]);
      }
    }
    let any = false;
    for (const v of rel) any ||= v > minRelevance;
    if (!any) {
      skipped++;
      continue;
    }
    if (protocol === 'judged') acc.addQuery(s.score, rel);
    else {
      const list = retrieved(ranker, query, items, rel, maxK, minRelevance);
      acc.addQuery(list.scores, list.relevance);
    }
  }
  const { metrics } = acc.result();
  if (preds.length > 0 && data.scale !== null) {
    const e = relevanceErrors(preds, targets, { min: data.scale[0], max: data.scale[1] });
    metrics.rmse = e.rmse;
    metrics.mae = e.mae;
  }
  return { metrics, queries: { evaluated: byQuery.size - skipped, skipped, skipped_by_reason: skipped > 0 ? { no_relevant_item: skipped } : {} }, pairs: data.rows.queries.length };
}

/**
 * The candidates that decide a full-catalogue top-k: every item scoring at least the k-th best score (ties at the cut
 * included, so pessimistic tie-breaking sees them) plus the judged items; unjudged ones get the minimum relevance.
 */
function retrieved(ranker: SearchRanker, query: EncodedQuery, judged: Int32Array, rel: Float64Array, k: number, minRelevance: number): { scores: Float32Array; relevance: Float64Array } {
  const all = ranker.score(query, null).score;
  const cut = kthLargest(all, k);
  const judgedAt = new Map<number, number>();
  judged.forEach((i, j) => judgedAt.set(i, j));
  const scores: number[] = [];
  const relevance: number[] = [];
  for (let i = 0; i < all.length; i++) {
    const j = judgedAt.get(i);
    if (all[i] < cut && j === undefined) continue;
    scores.push(all[i]);
    relevance.push(j === undefined ? minRelevance : rel[j]);
  }
  return { scores: Float32Array.from(scores), relevance: Float64Array.from(relevance) };
}

function kthLargest(values: Float32Array, k: number): number {
  if (values.length <= k) return -Infinity;
  // A min-heap of the k largest seen.
  const heap = new Float32Array(k).fill(-Infinity);
  for (const v of values) {
    if (!(v > heap[0])) continue;
    heap[0] = v;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < k && heap[l] < heap[m]) m = l;
      if (r < k && heap[r] < heap[m]) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  }
  return heap[0];
}

/**
 * Fits what the validation split decides beyond the weights: the hybrid's α (grid 0, 0.05, …, 1 by judged NDCG@10) and
 * the relevance head (least squares of the judged grades), in place on `model.spec`.
 */
export function calibrate(model: SearchModel, ranker: SearchRanker, valid: SearchEvalData, encoded: Map<number, EncodedQuery>): void {
  if (model.spec.model === 'hybrid') {
    let best = { alpha: 0.5, ndcg: -Infinity };
    for (let a = 0; a <= 20; a++) {
      const alpha = a / 20;
      const acc = createSearchAccumulator({ ks: [10], minRelevance: valid.scale?.[0] ?? 0, threshold: valid.threshold });
      for (const [q, rows] of rowsByQuery(valid.rows)) {
        const items = Int32Array.from(rows, (r) => valid.rows.items[r]);
        const rel = Float64Array.from(rows, (r) => valid.rows.values[r]);
        if (!rel.some((v) => v > (valid.scale?.[0] ?? 0))) continue;
        acc.addQuery(ranker.score(encoded.get(q) as EncodedQuery, items, alpha).score, rel);
      }
      const ndcg = acc.result().metrics['ndcg@10'];
      if (ndcg > best.ndcg) best = { alpha, ndcg };
    }
    model.spec = { ...model.spec, alpha: best.alpha };
  }
  if (valid.scale === null) return;
  const rowsX: Float64Array[] = [];
  const targets: number[] = [];
  let names: string[] = [];
  for (const [q, rows] of rowsByQuery(valid.rows)) {
    const items = Int32Array.from(rows, (r) => valid.rows.items[r]);
    const query = encoded.get(q) as EncodedQuery;
    const f = headFeatures(model, query, items, ranker.score(query, items));
    names = f.names;
    rowsX.push(...f.rows);
    for (const r of rows) targets.push(valid.rows.values[r]);
  }
  if (rowsX.length > 0) model.spec = { ...model.spec, head: fitHead(names, rowsX, targets, valid.scale) };
}
