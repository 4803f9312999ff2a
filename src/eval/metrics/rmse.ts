import { assertSameLength, clipRating, type RatingRange } from './rating-range.js';

/**
 * Root mean squared error over all evaluated ratings, each prediction first clipped to the rating
 * range seen in train (docs/evaluation.md#metrics).
 *
 * .. math:: \mathrm{RMSE} = \sqrt{\frac{1}{|T|} \sum_{(u,i) \in T} (\mathrm{clip}(\hat{r}_{ui}) - r_{ui})^2}
 *
 * (RecBole `RMSE`; Koren et al. 2009, "Matrix factorization techniques for recommender systems".)
 * Accumulates in float64. Returns NaN for an empty set.
 */
export function rmse(predictions: ArrayLike<number>, targets: ArrayLike<number>, range: RatingRange): number {
  assertSameLength(predictions, targets, 'rmse');
  let sum = 0;
  for (let j = 0; j < targets.length; j++) {
    const e = clipRating(predictions[j], range) - targets[j];
    sum += e * e;
  }
  return targets.length === 0 ? NaN : Math.sqrt(sum / targets.length);
}
