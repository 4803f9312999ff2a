/**
 * Area under the ROC curve for one user: the share of (relevant, non-relevant) candidate pairs in
 * which the relevant item scores strictly higher.
 *
 * .. math::
 *    \mathrm{AUC}(u) = \frac{1}{|P|\,|N|} \sum_{p \in P} \sum_{n \in N} \mathbb{1}(s_p > s_n)
 *
 * P are the user's relevant candidates, N the non-relevant ones (docs/evaluation.md#metrics; Rendle et al. 2009,
 * "BPR", §6.2 uses the same per-user AUC averaged over users; RecBole's `GAUC` is its
 * user-weighted variant). A tie counts as ordered wrongly: docs/evaluation.md#metrics breaks ties against the
 * relevant item, where the usual ROC convention would count ½. NaN scores count as -∞.
 * Returns NaN when P or N is empty (undefined); the accumulator skips such users for AUC.
 */
export function auc(positiveScores: ArrayLike<number>, negativeScores: ArrayLike<number>): number {
  const P = positiveScores.length;
  const N = negativeScores.length;
  if (P === 0 || N === 0) return NaN;
  const pos = new Float64Array(P);
  for (let j = 0; j < P; j++) pos[j] = orderable(positiveScores[j]);
  pos.sort();
  // For each negative, the positives scoring ≤ it are the wrongly ordered pairs it takes part in.
  let wrong = 0;
  for (let j = 0; j < N; j++) wrong += countAtMost(pos, orderable(negativeScores[j]));
  return (P * N - wrong) / (P * N);
}

/**
 * AUC of a single relevant item from its pessimistic rank among N candidates: `rank` is the number
 * of candidates scoring ≥ it (see ranking.ts `rankAmong`), so (N − rank) pairs are ordered correctly.
 */
export function aucFromRank(rank: number, candidates: number): number {
  if (candidates === 0) return NaN;
  return (candidates - rank) / candidates;
}

function orderable(x: number): number {
  return Number.isNaN(x) ? -Infinity : x;
}

/** Number of entries of the ascending array `sorted` that are ≤ x. */
function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (sorted[m] <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
