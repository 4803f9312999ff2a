/** The rating range seen in train; rmse and mae clip predictions to it (docs/evaluation.md#metrics). */
export interface RatingRange {
  min: number;
  max: number;
}

export function clipRating(prediction: number, range: RatingRange): number {
  return prediction < range.min ? range.min : prediction > range.max ? range.max : prediction;
}

export function assertSameLength(predictions: ArrayLike<number>, targets: ArrayLike<number>, metric: string): void {
  if (predictions.length !== targets.length) {
    throw new RangeError(`${metric}: ${predictions.length} predictions for ${targets.length} targets`);
  }
}
