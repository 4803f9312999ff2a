/**
 * Search metrics over one query's candidate list (docs/evaluation.md#search, docs/search.md): the model's scores of
 * the candidates and their judged relevance, e.g. Home Depot's 1–3 grades. Float64 accumulation throughout.
 *
 * Order: candidates are ranked by score, highest first. Ties are pessimistic, as everywhere in rec: among equal
 * scores the LOWER relevance ranks first (a non-relevant item scoring equal to a relevant one ranks above it, and
 * for graded NDCG a tie yields the smallest DCG its members allow), then the lower candidate index. A NaN score
 * ranks below every number.
 *
 * Graded NDCG@k: gain_i = relevance_i − minRelevance (the scale's minimum, 1 for Home Depot, so the
 * worst grade gains nothing), with the linear numerator of the recommendation NDCG (docs/evaluation.md#metrics) (gain / log2(i + 1), not 2^gain − 1):
 *
 *   DCG@k  = Σ_{i ≤ k} gain_(i) / log2(i + 1)           (gain_(i): the gain of the candidate at rank i)
 *   IDCG@k = the same sum over the gains sorted descending
 *   NDCG@k = DCG@k / IDCG@k; undefined (NaN) when IDCG@k = 0, i.e. no candidate gains anything: callers skip such
 *            queries, as recommendation skips users with no relevant item.
 *
 * MRR@k and recall@k use a binary cut: a candidate is relevant when relevance ≥ threshold (e.g. 2.5 on Home
 * Depot's scale). MRR@k = 1 / the rank of the first relevant candidate within k, else 0; recall@k = relevant
 * candidates within k / relevant candidates in the list (or `relevantTotal`, when relevant items can lie outside
 * the list, as in retrieval from a whole catalogue); NaN when there is none.
 */
import { assertK, discountTable } from './hits.js';
import { assertSameLength, clipRating, type RatingRange } from './rating-range.js';

function assertLists(scores: ArrayLike<number>, relevance: ArrayLike<number>, metric: string): void {
  if (scores.length !== relevance.length) {
    throw new RangeError(`${metric}: ${scores.length} scores for ${relevance.length} relevance labels`);
  }
  for (let i = 0; i < relevance.length; i++) {
    if (!Number.isFinite(relevance[i])) throw new RangeError(`${metric}: relevance[${i}] = ${relevance[i]} is not a finite number`);
  }
}

/** Candidate indices in ranked order: score descending, ties pessimistic (module comment). */
export function pessimisticOrder(scores: ArrayLike<number>, relevance: ArrayLike<number>): Int32Array {
  assertLists(scores, relevance, 'pessimisticOrder');
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  const key = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  order.sort((a, b) => {
    const sa = key(a);
    const sb = key(b);
    if (sa !== sb) return sb > sa ? 1 : -1;
    if (Number.isNaN(scores[a]) !== Number.isNaN(scores[b])) return Number.isNaN(scores[a]) ? 1 : -1;
    if (relevance[a] !== relevance[b]) return relevance[a] - relevance[b];
    return a - b;
  });
  return order;
}

/** NDCG@k with graded gains relevance − minRelevance (module comment); NaN when no candidate gains anything. */
export function gradedNdcgAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k: number, minRelevance: number): number {
  assertK(k, 'ndcg@k');
  assertLists(scores, relevance, 'ndcg@k');
  if (!Number.isFinite(minRelevance)) throw new RangeError(`ndcg@k: minRelevance must be a finite number; got ${minRelevance}`);
  const gains = new Float64Array(relevance.length);
  for (let i = 0; i < gains.length; i++) {
    gains[i] = relevance[i] - minRelevance;
    if (gains[i] < 0) throw new RangeError(`ndcg@k: relevance[${i}] = ${relevance[i]} is below the minimum ${minRelevance}`);
  }
  const n = Math.min(k, gains.length);
  const disc = discountTable(n);
  const ideal = gains.slice().sort().reverse();
  let idcg = 0;
  for (let i = 0; i < n; i++) idcg += ideal[i] * disc[i];
  if (idcg === 0) return NaN;
  const order = pessimisticOrder(scores, relevance);
  let dcg = 0;
  for (let i = 0; i < n; i++) dcg += gains[order[i]] * disc[i];
  return dcg / idcg;
}

/** MRR@k: 1 / rank of the first candidate with relevance ≥ threshold within k, else 0; NaN when no candidate is relevant. */
export function searchMrrAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k: number, threshold: number): number {
  assertK(k, 'mrr@k');
  assertLists(scores, relevance, 'mrr@k');
  let any = false;
  for (let i = 0; i < relevance.length && !any; i++) any = relevance[i] >= threshold;
  if (!any) return NaN;
  const order = pessimisticOrder(scores, relevance);
  const n = Math.min(k, order.length);
  for (let i = 0; i < n; i++) if (relevance[order[i]] >= threshold) return 1 / (i + 1);
  return 0;
}

/**
 * Recall@k: candidates with relevance ≥ threshold within the top k, over `relevantTotal` (default: those in the
 * list). NaN when the denominator is 0.
 */
export function searchRecallAtK(
  scores: ArrayLike<number>,
  relevance: ArrayLike<number>,
  k: number,
  threshold: number,
  relevantTotal?: number,
): number {
  assertK(k, 'recall@k');
  assertLists(scores, relevance, 'recall@k');
  let inList = 0;
  for (let i = 0; i < relevance.length; i++) if (relevance[i] >= threshold) inList++;
  const total = relevantTotal ?? inList;
  if (!Number.isInteger(total) || total < inList) {
    throw new RangeError(`recall@k: relevantTotal must be an integer ≥ the ${inList} relevant candidates listed; got ${total}`);
  }
  if (total === 0) return NaN;
  const order = pessimisticOrder(scores, relevance);
  const n = Math.min(k, order.length);
  let hits = 0;
  for (let i = 0; i < n; i++) if (relevance[order[i]] >= threshold) hits++;
  return hits / total;
}

/**
 * RMSE and MAE of predicted relevance against the judged grades, predictions first clipped to the scale (as rmse.ts
 * and mae.ts clip to the train rating range). NaN for no rows.
 */
export function relevanceErrors(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  range: RatingRange,
): { rmse: number; mae: number } {
  assertSameLength(predictions, targets, 'rmse');
  let sq = 0;
  let abs = 0;
  for (let j = 0; j < targets.length; j++) {
    const e = clipRating(predictions[j], range) - targets[j];
    sq += e * e;
    abs += Math.abs(e);
  }
  const n = targets.length;
  return n === 0 ? { rmse: NaN, mae: NaN } : { rmse: Math.sqrt(sq / n), mae: abs / n };
}

export interface SearchMetricOptions {
  /** Cutoffs of ndcg@k, mrr@k and recall@k. */
  readonly ks: readonly number[];
  /** The scale's minimum: gains are relevance − minRelevance. */
  readonly minRelevance: number;
  /** Relevant for mrr and recall: relevance ≥ threshold. */
  readonly threshold: number;
}

/** Per-query metrics averaged over queries (float64), each metric over the queries where it is defined. */
export interface SearchAccumulator {
  /** Adds one query's candidate list; `relevantTotal` as in searchRecallAtK. */
  addQuery(scores: ArrayLike<number>, relevance: ArrayLike<number>, relevantTotal?: number): void;
  /** Means keyed `ndcg@10`, `mrr@10`, `recall@10`, and the queries each was averaged over. */
  result(): { metrics: Record<string, number>; queries: Record<string, number>; added: number };
}

export function createSearchAccumulator(options: SearchMetricOptions): SearchAccumulator {
  for (const k of options.ks) assertK(k, 'search metrics');
  const keys: string[] = [];
  const fns: ((s: ArrayLike<number>, r: ArrayLike<number>, total?: number) => number)[] = [];
  for (const k of options.ks) {
    keys.push(`ndcg@${k}`, `mrr@${k}`, `recall@${k}`);
    fns.push(
      (s, r) => gradedNdcgAtK(s, r, k, options.minRelevance),
      (s, r) => searchMrrAtK(s, r, k, options.threshold),
      (s, r, total) => searchRecallAtK(s, r, k, options.threshold, total),
    );
  }
  const sums = new Float64Array(keys.length);
  const counts = new Float64Array(keys.length);
  let added = 0;
  return {
    addQuery(scores, relevance, relevantTotal) {
      added++;
      for (let m = 0; m < fns.length; m++) {
        const v = fns[m](scores, relevance, relevantTotal);
        if (Number.isNaN(v)) continue;
        sums[m] += v;
        counts[m]++;
      }
    },
    result() {
      const metrics: Record<string, number> = {};
      const queries: Record<string, number> = {};
      keys.forEach((key, m) => {
        metrics[key] = counts[m] > 0 ? sums[m] / counts[m] : NaN;
        queries[key] = counts[m];
      });
      return { metrics, queries, added };
    },
  };
}
