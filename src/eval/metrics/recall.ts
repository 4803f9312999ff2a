import { assertK, assertRelevant, hitsAtK, type Hits } from './hits.js';

/**
 * Recall@k: the share of the user's relevant items found in the top k.
 *
 * .. math:: \mathrm{Recall@}k = \frac{|\hat{R}_k(u) \cap R(u)|}{|R(u)|}
 *
 * (docs/evaluation.md#metrics: hits / R; RecBole `Recall`). With R > k recall@k cannot reach 1: that is the
 * definition, not min(R, k) in the denominator.
 */
export function recallAtK(hits: Hits, k: number, relevant: number): number {
  assertK(k, 'recall@k');
  assertRelevant(relevant, 'recall@k');
  return hitsAtK(hits, k) / relevant;
}
