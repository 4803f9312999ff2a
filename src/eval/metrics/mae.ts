import { assertSameLength, clipRating, type RatingRange } from './rating-range.js';

/**
 * Mean absolute error over all evaluated ratings, predictions clipped to the train rating range
 * (docs/evaluation.md#metrics).
 *
 * .. math:: \mathrm{MAE} = \frac{1}{|T|} \sum_{(u,i) \in T} |\mathrm{clip}(\hat{r}_{ui}) - r_{ui}|
 *
 * (RecBole `MAE`.) Accumulates in float64. Returns NaN for an empty set.
 */
export function mae(predictions: ArrayLike<number>, targets: ArrayLike<number>, range: RatingRange): number {
  assertSameLength(predictions, targets, 'mae');
  let sum = 0;
  for (let j = 0; j < targets.length; j++) sum += Math.abs(clipRating(predictions[j], range) - targets[j]);
  return targets.length === 0 ? NaN : sum / targets.length;
}
