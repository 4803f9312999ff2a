import { assertK, assertRelevant, hitsAtK, type Hits } from './hits.js';

/**
 * F1@k: the harmonic mean of precision@k and recall@k, 0 when both are 0.
 *
 * .. math:: \mathrm{F1@}k = \frac{2 \cdot P@k \cdot R@k}{P@k + R@k} = \frac{2 \cdot hits}{k + |R(u)|}
 *
 * (docs/evaluation.md#metrics; RecBole `F1`). The closed form on the right avoids dividing two rounded ratios.
 */
export function f1AtK(hits: Hits, k: number, relevant: number): number {
  assertK(k, 'f1@k');
  assertRelevant(relevant, 'f1@k');
  return (2 * hitsAtK(hits, k)) / (k + relevant);
}
