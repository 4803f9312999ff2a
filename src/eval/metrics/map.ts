import { assertK, assertRelevant, type Hits } from './hits.js';

/**
 * Mean average precision MAP@k (per user: average precision at k).
 *
 * .. math:: \mathrm{AP@}k = \frac{1}{\min(|R(u)|, k)} \sum_{i=1}^{k} \mathrm{Precision@}i \cdot rel_i
 *
 * (docs/evaluation.md#metrics; RecBole `MAP`, which also normalises by min(R, k).) Averaging over users gives MAP.
 */
export function mapAtK(hits: Hits, k: number, relevant: number): number {
  assertK(k, 'map@k');
  assertRelevant(relevant, 'map@k');
  const n = Math.min(k, hits.length);
  let found = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (hits[i]) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / Math.min(relevant, k);
}
