/**
 * Item coverage@k: the share of the catalogue that appears in at least one user's top-k list.
 *
 * .. math:: \mathrm{Coverage@}k = \frac{\left|\bigcup_{u} \hat{R}_k(u)\right|}{|I|}
 *
 * (docs/evaluation.md#metrics; RecBole `ItemCoverage`; Ge et al. 2010, "Beyond accuracy".) |I| is the number of
 * items in the model's vocabulary. Unlike the other ranking metrics it is a property of all lists
 * together, not an average over users.
 */
export function coverage(distinctRecommended: number, vocabularyItems: number): number {
  if (!(vocabularyItems > 0)) throw new RangeError(`coverage@k: the vocabulary must hold items; got ${vocabularyItems}`);
  return distinctRecommended / vocabularyItems;
}

/** Collects the distinct items of many top-k lists (one bit per vocabulary item). */
export interface CoverageSet {
  add(items: ArrayLike<number>, k: number): void;
  readonly distinct: number;
}

export function createCoverageSet(vocabularyItems: number): CoverageSet {
  const seen = new Uint8Array(vocabularyItems);
  let distinct = 0;
  return {
    add(items, k) {
      const n = Math.min(k, items.length);
      for (let i = 0; i < n; i++) {
        const it = items[i];
        if (seen[it] === 0) {
          seen[it] = 1;
          distinct++;
        }
      }
    },
    get distinct() {
      return distinct;
    },
  };
}
