import { assertK, hitsAtK, type Hits } from './hits.js';

/**
 * Hit ratio HR@k: 1 when at least one relevant item is in the top k, else 0.
 *
 * .. math:: \mathrm{HR@}k = \mathbb{1}\left(|\hat{R}_k(u) \cap R(u)| > 0\right)
 *
 * (docs/evaluation.md#metrics; RecBole `Hit`; He et al. 2017, "Neural Collaborative Filtering", §4.1.)
 */
export function hrAtK(hits: Hits, k: number): number {
  assertK(k, 'hr@k');
  return hitsAtK(hits, k) > 0 ? 1 : 0;
}
