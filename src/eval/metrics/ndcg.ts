import { assertK, assertRelevant, discountTable, type Hits } from './hits.js';

/**
 * Normalised discounted cumulative gain NDCG@k with binary relevance.
 *
 * .. math::
 *    \mathrm{DCG@}k = \sum_{i=1}^{k} \frac{rel_i}{\log_2(i+1)}, \qquad
 *    \mathrm{IDCG@}k = \sum_{i=1}^{\min(|R(u)|, k)} \frac{1}{\log_2(i+1)}, \qquad
 *    \mathrm{NDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k}
 *
 * The ideal ranking puts min(R, k) relevant items first (docs/evaluation.md#metrics; RecBole `NDCG`;
 * Järvelin & Kekäläinen 2002, "Cumulated gain-based evaluation of IR techniques").
 */
export function ndcgAtK(hits: Hits, k: number, relevant: number): number {
  assertK(k, 'ndcg@k');
  assertRelevant(relevant, 'ndcg@k');
  const disc = discountTable(k);
  const n = Math.min(k, hits.length);
  let dcg = 0;
  for (let i = 0; i < n; i++) if (hits[i]) dcg += disc[i];
  if (dcg === 0) return 0;
  const ideal = Math.min(relevant, k);
  let idcg = 0;
  for (let i = 0; i < ideal; i++) idcg += disc[i];
  return dcg / idcg;
}
