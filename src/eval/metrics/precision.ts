import { assertK, hitsAtK, type Hits } from './hits.js';

/**
 * Precision@k: the share of the top-k recommendations that are relevant.
 *
 * .. math:: \mathrm{Precision@}k = \frac{|\hat{R}_k(u) \cap R(u)|}{k}
 *
 * where \hat{R}_k(u) is the top-k list and R(u) the relevant items (docs/evaluation.md#metrics: hits / k; RecBole
 * `recbole/evaluator/metrics.py`, class `Precision`). The denominator is k even when the list is
 * shorter than k.
 */
export function precisionAtK(hits: Hits, k: number): number {
  assertK(k, 'precision@k');
  return hitsAtK(hits, k) / k;
}
