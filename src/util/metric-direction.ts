/**
 * Which way a number is better, for every layer that compares them: eval's gates and monitored
 * metric, `rec runs`' sort, the report's best-value marks and the gate summaries io reads back.
 * Error metrics (rmse, mae, mse), losses and times are better when lower; every other metric
 * (the ranking metrics, auc, coverage) when higher.
 */
export function lowerIsBetter(metric: string): boolean {
  return /^(rmse|mae|mse|loss|seconds|train seconds)$/.test(metric);
}
