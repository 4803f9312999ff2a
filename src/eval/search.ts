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
  /** The user per row, −1 for an anonymous log. */
  users: Int32Array;
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
  return { rows: { queries: d.queries as Int32Array, items: d.items, values: d.values, users: d.users }, texts: (ds.queries as NonNullable<Dataset['queries']>).texts, scale, threshold: relevantThreshold(scale) };
}

export type SearchProtocol = 'judged' | 'full';

export interface SearchEvalResult {
  metrics: Record<string, number>;
  queries: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
  pairs: number;
}

/** Encoded texts of the queries a split uses (each once). */
export function encodeQueries(encoder: QueryEncoder, texts: readonly string[], rows: Pick<SearchRows, 'queries'>): Map<number, EncodedQuery> {
  const out = new Map<number, EncodedQuery>();
  for (const q of rows.queries) if (!out.has(q)) out.set(q, encoder.encode(texts[q]));
  return out;
}

/** One ranking: a query as one user typed it (user −1 when anonymous), and its rows. */
interface Group {
  query: number;
  user: number;
  rows: number[];
}

/** Rows per (user, query): a query typed by two users is two rankings once the ranking is personal. */
export function rowsByGroup(rows: SearchRows): Group[] {
  const out = new Map<string, Group>();
  for (let r = 0; r < rows.queries.length; r++) {
    const key = `${rows.users[r]}:${rows.queries[r]}`;
    const g = out.get(key);
    if (g === undefined) out.set(key, { query: rows.queries[r], user: rows.users[r], rows: [r] });
    else g.rows.push(r);
  }
  return [...out.values()];
}

/** What a graded log is evaluated and calibrated by: judged lists; a click log, whose judged items are all relevant: retrieval. */
export function defaultProtocol(data: Pick<SearchEvalData, 'scale'>): SearchProtocol {
  return data.scale === null ? 'full' : 'judged';
}

/** Overrides of the model's blend and personal weights (calibration), and the model's index of a dataset user. */
interface Weights {
  alpha?: number | null;
  beta?: number;
  /** Default: the same index (the dataset the model was trained on). A user the model does not know is −1. */
  modelUser?: (user: number) => number;
}

export function evaluateSearch(ranker: SearchRanker, data: SearchEvalData, encoded: Map<number, EncodedQuery>, protocol: SearchProtocol, ks: readonly number[], signal?: AbortSignal, weights: Weights = {}): SearchEvalResult {
  const groups = rowsByGroup(data.rows);
  const minRelevance = data.scale?.[0] ?? 0;
  const acc = createSearchAccumulator({ ks, minRelevance, threshold: data.threshold });
  const head = ranker.model.spec.head;
  const preds: number[] = [];
  const targets: number[] = [];
  const maxK = Math.max(...ks);
  let skipped = 0;
  for (const { query: q, user, rows } of groups) {
    signal?.throwIfAborted();
    const items = Int32Array.from(rows, (r) => data.rows.items[r]);
    const rel = Float64Array.from(rows, (r) => data.rows.values[r]);
    const query = encoded.get(q) as EncodedQuery;
    const modelUser = user < 0 ? -1 : (weights.modelUser?.(user) ?? user);
    const score = (list: Int32Array | null) => ranker.score(query, list, weights.alpha === undefined ? ranker.model.spec.alpha : weights.alpha, modelUser, weights.beta);
    const s = score(items);
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
      const list = retrieved(score(null).score, items, rel, maxK, minRelevance);
      acc.addQuery(list.scores, list.relevance);
    }
  }
  const { metrics } = acc.result();
  if (preds.length > 0 && data.scale !== null) {
    const e = relevanceErrors(preds, targets, { min: data.scale[0], max: data.scale[1] });
    metrics.rmse = e.rmse;
    metrics.mae = e.mae;
  }
  return { metrics, queries: { evaluated: groups.length - skipped, skipped, skipped_by_reason: skipped > 0 ? { no_relevant_item: skipped } : {} }, pairs: data.rows.queries.length };
}

/**
 * The candidates that decide a full-catalogue top-k: every item scoring at least the k-th best score (ties at the cut
 * included, so pessimistic tie-breaking sees them) plus the judged items; unjudged ones get the minimum relevance.
 */
function retrieved(all: Float32Array, judged: Int32Array, rel: Float64Array, k: number, minRelevance: number): { scores: Float32Array; relevance: Float64Array } {
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
 * Fits what the validation split decides beyond the weights, in place on `model.spec`: the hybrid's α and the personal
 * weight β (grids 0, 0.05, …, 1 by NDCG@10 under the log's protocol, α first) and the relevance head (least squares of
 * the judged grades).
 */
export function calibrate(model: SearchModel, ranker: SearchRanker, valid: SearchEvalData, encoded: Map<number, EncodedQuery>): void {
  const protocol = defaultProtocol(valid);
  const best = (weights: (x: number) => Weights): number => {
    let top = { x: 0, ndcg: -Infinity };
    for (let a = 0; a <= 20; a++) {
      const ndcg = evaluateSearch(ranker, valid, encoded, protocol, [10], undefined, weights(a / 20)).metrics['ndcg@10'];
      if (ndcg > top.ndcg) top = { x: a / 20, ndcg };
    }
    return top.x;
  };
  if (model.spec.model === 'hybrid') model.spec = { ...model.spec, alpha: best((alpha) => ({ alpha, beta: 0 })) };
  const personal = model.spec.personal ?? null;
  if (personal !== null) model.spec = { ...model.spec, personal: { ...personal, beta: best((beta) => ({ beta })) } };
  if (valid.scale === null) return;
  const rowsX: Float64Array[] = [];
  const targets: number[] = [];
  let names: string[] = [];
  for (const { query: q, user, rows } of rowsByGroup(valid.rows)) {
    const items = Int32Array.from(rows, (r) => valid.rows.items[r]);
    const query = encoded.get(q) as EncodedQuery;
    const f = headFeatures(model, query, items, ranker.score(query, items, model.spec.alpha, user));
    names = f.names;
    rowsX.push(...f.rows);
    for (const r of rows) targets.push(valid.rows.values[r]);
  }
  if (rowsX.length > 0) model.spec = { ...model.spec, head: fitHead(names, rowsX, targets, valid.scale) };
}
