/**
 * Per-epoch validation for early stopping and best-epoch selection (never the test split): the
 * same evaluator as `rec eval` (full protocol, PRODUCT §6 semantics) on the valid split, prepared
 * once per run and re-run after each epoch.
 *
 * A full ranking costs users × catalogue scores, every epoch; on a large split that dwarfs the
 * epoch itself (Taobao: ~8k users × 85k items through NeuMF). So by default at most
 * DEFAULT_VALID_USERS users are ranked, a seeded uniform sample fixed for the whole run (every
 * epoch is compared on the same users), stated in the log and recorded in metrics.jsonl/best.json.
 */
import { valueRange, type Dataset } from '../data/dataset.js';
import type { PairModel } from '../models/model.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Progress } from '../util/progress.js';
import { evaluate } from './evaluate.js';
import { parseMetrics } from './metrics/registry.js';
import { prepareEval, subsampleUsers } from './prepare.js';

export const DEFAULT_VALID_USERS = 10_000;

export interface ValidatorOptions {
  /** Whether the model predicts ratings (mse): then rmse/mae, else ranking metrics. */
  ratings: boolean;
  /** The early-stopping metric; always computed. */
  monitor: string;
  /** Most users scored per block (eval.user_block / --user-block); the memory budget may lower it. */
  userBlock: number;
  /** Most users ranked per epoch (train.valid_users); 0 ranks them all. */
  maxUsers: number;
  /** Seeds the user sample (the run seed). */
  seed: number;
  log?: Logger;
  progress?: Progress;
  signal?: AbortSignal;
}

/** Which users validation ranks: `users` of the `of` rankable ones; `seed` is null when all are. */
export interface ValidationSample {
  users: number;
  of: number;
  seed: number | null;
}

export interface Validator {
  (model: PairModel): Promise<Record<string, number>>;
  readonly sample: ValidationSample;
}

export function createValidator(ds: Dataset, opts: ValidatorOptions): Validator {
  const names = opts.ratings ? ['rmse', 'mae'] : ['ndcg@10', 'recall@10'];
  if (!names.includes(opts.monitor)) names.push(opts.monitor);
  const specs = parseMetrics(names, [], '--early-stop');
  if (!opts.ratings && specs.some((s) => s.kind === 'error')) {
    throw new UsageError(`--early-stop ${opts.monitor}: rmse and mae need a model trained with mse on explicit ratings.`);
  }
  const full = prepareEval({ dataset: ds, split: 'valid', model: { users: ds.users, items: ds.items }, relevanceThreshold: null });
  const prep = subsampleUsers(full, opts.maxUsers, opts.seed);
  const of = full.users.model.length;
  const users = prep.users.model.length;
  const sample: ValidationSample = { users, of, seed: users < of ? opts.seed : null };
  if (users < of) {
    opts.log?.info(`validation: ranking ${users} of ${of} valid users (seeded sample, seed ${opts.seed}; --valid-users 0 ranks all)`);
  }
  // rmse/mae clip to the train range, as `rec eval` does with run.json's value_range.
  const [min, max] = valueRange(ds.train.values);
  const range = { min, max };
  const validate = async (model: PairModel) => {
    const out = await evaluate(model, prep, {
      protocol: { name: 'full' },
      metrics: specs,
      ratingRange: opts.ratings ? range : null,
      userBlock: opts.userBlock,
      signal: opts.signal,
      progress: opts.progress,
      label: 'validate',
    });
    return out.metrics;
  };
  return Object.assign(validate, { sample });
}
