/**
 * Shared conventions of the ranking metrics (docs/evaluation.md#metrics).
 *
 * A user's ranked list is given as a hit vector: `hits[i] = 1` when the item at rank i + 1 is
 * relevant, else 0. The vector may be longer than k (only its first k entries count) or shorter
 * (a catalogue with fewer than k rankable items: the missing ranks count as misses, and
 * precision still divides by k, as in RecBole). `relevant` is R, the user's number of relevant
 * items, which may exceed both k and the number of hits. Users with R = 0 have no defined recall,
 * NDCG or MAP: callers skip them (the accumulator counts them) and these functions throw.
 */
export type Hits = ArrayLike<number>;

/** Number of hits among the first k ranks. */
export function hitsAtK(hits: Hits, k: number): number {
  const n = Math.min(k, hits.length);
  let h = 0;
  for (let i = 0; i < n; i++) h += hits[i] ? 1 : 0;
  return h;
}

export function assertK(k: number, metric: string): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${metric}: k must be a positive integer; got ${k}`);
}

export function assertRelevant(relevant: number, metric: string): void {
  if (!Number.isInteger(relevant) || relevant < 1) {
    throw new RangeError(`${metric}: the user needs at least one relevant item (R ≥ 1); got R = ${relevant}`);
  }
}

let discounts = new Float64Array(0);

/** 1 / log2(i + 1) for ranks i = 1..n (index i - 1), cached: NDCG evaluates it per user. */
export function discountTable(n: number): Float64Array {
  if (discounts.length < n) {
    const next = new Float64Array(Math.max(n, 2 * discounts.length, 64));
    for (let i = 0; i < next.length; i++) next[i] = 1 / Math.log2(i + 2);
    discounts = next;
  }
  return discounts;
}
