/**
 * Per-epoch validation for early stopping and best-epoch selection (never the test split): the
 * same evaluator as `rec eval` (full protocol, PRODUCT §6 semantics) on the valid split, prepared
 * once per run and re-run after each epoch.
 */
import { valueRange, type Dataset } from '../data/dataset.js';
import type { PairModel } from '../models/model.js';
import { evaluate } from './evaluate.js';
import { parseMetrics } from './metrics/registry.js';
import { prepareEval } from './prepare.js';
import { UsageError } from '../util/errors.js';

export interface ValidatorOptions {
  /** Whether the model predicts ratings (mse): then rmse/mae, else ranking metrics. */
  ratings: boolean;
  /** The early-stopping metric; always computed. */
  monitor: string;
  userBlock: number;
}

export function createValidator(ds: Dataset, opts: ValidatorOptions): (model: PairModel) => Promise<Record<string, number>> {
  const names = opts.ratings ? ['rmse', 'mae'] : ['ndcg@10', 'recall@10'];
  if (!names.includes(opts.monitor)) names.push(opts.monitor);
  const specs = parseMetrics(names, [], '--early-stop');
  if (!opts.ratings && specs.some((s) => s.kind === 'error')) {
    throw new UsageError(`--early-stop ${opts.monitor}: rmse and mae need a model trained with mse on explicit ratings.`);
  }
  const prep = prepareEval({ dataset: ds, split: 'valid', model: { users: ds.users, items: ds.items }, relevanceThreshold: null });
  // rmse/mae clip to the train range, as `rec eval` does with run.json's value_range.
  const [min, max] = valueRange(ds.train.values);
  const range = { min, max };
  return async (model) => {
    const out = await evaluate(model, prep, { protocol: { name: 'full' }, metrics: specs, ratingRange: opts.ratings ? range : null, userBlock: opts.userBlock });
    return out.metrics;
  };
}
