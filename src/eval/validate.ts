/**
 * Per-epoch validation for early stopping and best-epoch selection (never the test split): the
 * same evaluator as `rec eval` (full protocol, docs/evaluation.md) on the valid split, prepared
 * once per run and re-run after each epoch.
 *
 * A full ranking costs users × catalogue scores, every epoch; on a large split that dwarfs the
 * epoch itself (the Taobao excerpt: 8,740 users × 84,793 items through NeuMF is 3.5 minutes on
 * wasm against a 4-second epoch). So by default a seeded uniform sample of users is ranked, fixed
 * for the whole run (every epoch is compared on the same users), stated in the log and recorded in
 * metrics.jsonl/best.json: at most 10,000 users and about VALID_SCORES_PER_EPOCH scores, but never
 * fewer than 1,000 users (below that the metric's noise swamps the differences between epochs).
 *
 * Any model validates the same way: a sequence model ranks each user from their train items (the
 * leave-last protocol's input for valid), a pair model from their user row. The validator learns
 * which from the model it is handed, so the trainer needs no model-specific wiring.
 */
import { valueRange, type Dataset } from '../data/dataset.js';
import type { AnyModel } from '../models/model.js';
import { weightBytes } from '../models/weights.js';
import { UsageError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { Progress } from '../util/progress.js';
import { currentEngine } from '../engine/backend.js';
import { evaluate, scoreInputOf, type EvalProtocol } from './evaluate.js';
import type { ProtocolSpec } from './protocols.js';
import { startRankPool, type RankPool } from './parallel/pool.js';
import { resolveRankWorkers, type RankWorkersSetting } from './parallel/workers.js';
import { parseMetrics } from './metrics/registry.js';
import { type PreparedEval, prepareEval, type ScoreInput, subsampleUsers } from './prepare.js';

export const DEFAULT_VALID_USERS = 10_000;
const MIN_DEFAULT_VALID_USERS = 1_000;
const VALID_SCORES_PER_EPOCH = 100_000_000;

/** The default sample size for a catalogue of `numItems` items (train.valid_users: null). */
export function defaultValidUsers(numItems: number): number {
  const byCost = Math.floor(VALID_SCORES_PER_EPOCH / Math.max(1, numItems));
  return Math.max(MIN_DEFAULT_VALID_USERS, Math.min(DEFAULT_VALID_USERS, byCost));
}

export interface ValidatorOptions {
  /** Whether the model predicts ratings (mse): then rmse/mae, else ranking metrics. */
  ratings: boolean;
  /** The early-stopping metric; always computed. */
  monitor: string;
  /** Most users scored per block (eval.user_block / --user-block); the memory budget may lower it. */
  userBlock: number;
  /** Most users ranked per epoch (train.valid_users); 0 ranks them all; null: defaultValidUsers. */
  maxUsers: number | null;
  /** Seeds the user sample and sampled negatives (the run seed). */
  seed: number;
  /** `full` (default) ranks every item; `sampled` each valid item against n seeded negatives, the same every epoch. */
  protocol?: ProtocolSpec;
  /**
   * Threads of the ranking (the run's --workers: the training workers idle while it validates);
   * default 1. The pool is started at the first validation and kept until `close`.
   */
  workers?: RankWorkersSetting;
  /** Epochs the run validates at most: `auto` spreads a ranking thread's start-up over them. */
  epochs?: number;
  /** Sequence models: only rows with a value >= this form the histories (train.positive_threshold). */
  historyThreshold?: number | null;
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
  /** The metrics of `model` (a pair or a sequence model) on the validation users. */
  (model: AnyModel): Promise<Record<string, number>>;
  readonly sample: ValidationSample;
  /** Stops the ranking threads, if any were started; call it in a `finally`. */
  close(): Promise<void>;
}

export function createValidator(ds: Dataset, opts: ValidatorOptions): Validator {
  const names = opts.ratings ? ['rmse', 'mae'] : ['ndcg@10', 'recall@10'];
  if (!names.includes(opts.monitor)) names.push(opts.monitor);
  const specs = parseMetrics(names, [], '--early-stop');
  if (!opts.ratings && specs.some((s) => s.kind === 'error')) {
    throw new UsageError(`--early-stop ${opts.monitor}: rmse and mae need a model trained with mse on explicit ratings.`);
  }
  const prepare = (input: ScoreInput) => prepareEval({ dataset: ds, split: 'valid', model: { users: ds.users, items: ds.items }, relevanceThreshold: null, input, historyThreshold: opts.historyThreshold ?? null });
  const full = prepare('user');
  const maxUsers = opts.maxUsers ?? defaultValidUsers(full.modelItems);
  const prep = subsampleUsers(full, maxUsers, opts.seed);
  const of = full.users.model.length;
  const users = prep.users.model.length;
  const sample: ValidationSample = { users, of, seed: users < of ? opts.seed : null };
  if (users < of) {
    const why = opts.maxUsers === null ? `at most ${maxUsers} for ${full.modelItems} items` : `--valid-users ${maxUsers}`;
    opts.log?.info(`validation: ranking ${users} of ${of} valid users (seeded sample, seed ${opts.seed}, ${why}; --valid-users 0 ranks all)`);
  }
  // rmse/mae clip to the train range, as `rec eval` does with run.json's value_range.
  const [min, max] = valueRange(ds.train.values);
  const range = { min, max };
  // The model is the dataset's own vocabulary here, so no user is unknown, and a user's train
  // history is empty exactly when they have no train row: both inputs evaluate the same users, and
  // the sample drawn from `full` holds for a sequence model too (prepared on its first call). A
  // history threshold empties the history of a user whose train rows all fall below it: such users
  // are skipped (no_history) and the seeded sample is drawn from the others.
  const prepared: Partial<Record<ScoreInput, PreparedEval>> = { user: prep };
  const prepFor = (input: ScoreInput): PreparedEval => (prepared[input] ??= subsampleUsers(prepare(input), maxUsers, opts.seed));
  if (opts.protocol?.name === 'candidates') throw new UsageError('--valid-protocol: candidates files name test candidates; validate with full or sampled:N.');
  const protocol: EvalProtocol = opts.protocol?.name === 'sampled' ? { name: 'sampled', n: opts.protocol.n, seed: opts.seed } : { name: 'full' };
  if (protocol.name === 'sampled') opts.log?.info(`validation: each valid item ranked against ${protocol.n} seeded negatives (--valid-protocol sampled:${protocol.n})`);
  // Ranking threads share the full protocol's scoring only.
  const ranks = specs.some((s) => s.kind !== 'error') && protocol.name === 'full';
  let pool: RankPool | null = null;
  const poolFor = async (model: AnyModel, prepared: PreparedEval): Promise<RankPool | null> => {
    if (pool !== null && pool.prep === prepared) {
      pool.refresh(model);
      return pool;
    }
    await pool?.close();
    pool = null;
    const engine = currentEngine()?.name ?? null;
    const choice = ranks ? resolveRankWorkers(opts.workers ?? 1, { engine, users: prepared.users.model.length, items: prepared.modelItems, rankings: opts.epochs, modelBytes: weightBytes(model.keras) }) : { workers: 1, reason: null };
    // `auto`'s own choice is not news (the training log already says how many threads it runs).
    if (choice.reason !== null && opts.workers !== 'auto') opts.log?.info(`validation: ${choice.reason}`);
    if (choice.workers > 1 && engine !== null) pool = await startRankPool({ workers: choice.workers, engine, model, prep: prepared, log: opts.log ?? silentLogger, signal: opts.signal });
    return pool;
  };
  const validate = async (model: AnyModel) => {
    const input = scoreInputOf(model);
    if (input === 'history' && opts.ratings) {
      throw new UsageError(`--early-stop ${opts.monitor}: ${model.name} is a sequence model; its scores rank the next item and are not ratings, so it is validated with ranking metrics (e.g. --early-stop ndcg@10), not rmse/mae.`);
    }
    const prepared = prepFor(input);
    const ranking = await poolFor(model, prepared);
    const out = await evaluate(model, prepared, {
      pool: ranking ?? undefined,
      protocol,
      metrics: specs,
      ratingRange: opts.ratings ? range : null,
      userBlock: opts.userBlock,
      signal: opts.signal,
      progress: opts.progress,
      label: 'validate',
    });
    return out.metrics;
  };
  const close = async () => {
    const p = pool;
    pool = null;
    await p?.close();
  };
  return Object.assign(validate, { sample, close });
}
