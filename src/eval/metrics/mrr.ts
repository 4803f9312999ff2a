import { assertK, type Hits } from './hits.js';

/**
 * Mean reciprocal rank MRR@k (per user): the reciprocal of the rank of the first relevant item
 * within the top k, 0 when there is none.
 *
 * .. math:: \mathrm{MRR@}k = \frac{1}{\mathrm{rank}_u^*} \text{ if } \mathrm{rank}_u^* \le k \text{ else } 0
 *
 * (docs/evaluation.md#metrics; RecBole `MRR`.) Averaging over users gives the mean.
 */
export function mrrAtK(hits: Hits, k: number): number {
  assertK(k, 'mrr@k');
  const n = Math.min(k, hits.length);
  for (let i = 0; i < n; i++) if (hits[i]) return 1 / (i + 1);
  return 0;
}
