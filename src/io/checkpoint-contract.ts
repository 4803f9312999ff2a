/**
 * The checkpoint folder's contract: the names of its entries and what each holds, the eval-file
 * naming, the format version and the types of its records. Pure (no file system, no TF.js), so the
 * readers (checkpoint-read.ts, no TF.js), the writers (checkpoint.ts) and every command that looks
 * into a checkpoint (eval, recommend, runs, report, promote) take the names from one place.
 */
import { join } from 'node:path';
import type { ModelName } from '../config/schema.js';
import type { PrngState } from '../util/prng.js';
import { PROMOTED_MARKER } from './promoted.js';
import { TB_DIR } from './tensorboard.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

/**
 * One entry rec writes in a checkpoint: its name, whether it is a folder, whether its presence
 * makes a folder a checkpoint (complete or not) rather than a folder of checkpoints (`rec runs`),
 * and its row in the checkpoint's README.md (null for rec's own bookkeeping, which the README
 * does not describe). Eval files are named per split and protocol (evalFileName below).
 */
export interface CheckpointEntry {
  name: string;
  dir: boolean;
  marker: boolean;
  readme: string | null;
}

/** Every entry of a checkpoint folder besides the eval files, in the order the README lists them. */
export const CHECKPOINT_ENTRIES = {
  model: { name: 'model', dir: true, marker: true, readme: `the weights of the best epoch by the validation metric (the last epoch when there is no validation split): TF.js format, \`model.json\` + \`weights.bin\`, loadable with \`tf.loadLayersModel\` of \`@tensorflow/tfjs\`. \`rec eval\` and \`rec recommend\` use these. A model trained with item features holds its items' composed vectors (id and features) here, with its item encoder beside them (\`item_encoder_spec.json\`, \`item_encoder.json\` + \`item_encoder.bin\`).` },
  last: { name: 'last', dir: true, marker: true, readme: `the latest resumable state: \`model/\`, the optimizer state (\`optimizer.json\` + \`optimizer.bin\`) and \`trainer_state.json\` (epoch, step, random-stream states). Complete only once \`trainer_state.json\` exists. \`--resume\` uses it.` },
  vocab: { name: 'vocab', dir: true, marker: true, readme: `\`users.arrow\` and \`items.arrow\` (Arrow IPC: \`index\`, \`id\`, \`count\`, \`first_ts\`, \`last_ts\`): the raw id of each embedding row, so the model can be used and fine-tuned without the dataset; \`trained.json\`: which rows the model learned (one bit a row, base64): the others are still random, so eval and recommend do not score them.` },
  data: { name: 'data', dir: true, marker: false, readme: `only when \`--data\` was a raw log: the dataset folder prepped from it.` },
  config: { name: 'config.yaml', dir: false, marker: true, readme: `the resolved configuration, with the source of each value (default, model defaults, config file, environment, flag).` },
  run: { name: 'run.json', dir: false, marker: true, readme: `the run: format version, command line, versions, engine, seed, dataset path and manifest hash, parents (\`--init-from\`), timings, status.` },
  metrics: { name: 'metrics.jsonl', dir: false, marker: true, readme: `one JSON line per epoch: \`epoch\`, \`loss\`, \`seconds\`, \`examples_per_s\`, \`lr\`, \`valid\` (validation metrics).` },
  best: { name: 'best.json', dir: false, marker: true, readme: `the epoch \`model/\` holds, the monitored metric and its validation metrics.` },
  tb: { name: TB_DIR, dir: true, marker: false, readme: `TensorBoard event files (\`tensorboard --logdir DIR\`): \`train/loss\`, \`train/lr\`, \`train/examples_per_s\` by global step; \`epoch/*\` and \`valid/*\` by epoch; \`eval/<split>/<protocol>/<metric>\` at the epoch \`model/\` holds.` },
  readme: { name: 'README.md', dir: false, marker: false, readme: null },
  promoted: { name: PROMOTED_MARKER, dir: false, marker: false, readme: null },
} as const satisfies Record<string, CheckpointEntry>;

/** The README row of the eval files (`rec eval` writes them beside the entries above). */
export const EVAL_FILES_README = `results of \`rec eval\` (e.g. \`eval-test-full.json\`); \`*.negatives.tsv\` beside one holds its sampled negatives for reuse.`;

/** Inside `last/`: the model folder and the record whose presence makes the saved state complete. */
export const LAST_MODEL = 'model';
export const TRAINER_STATE = 'trainer_state.json';

export const paths = (dir: string) => ({
  config: join(dir, CHECKPOINT_ENTRIES.config.name),
  run: join(dir, CHECKPOINT_ENTRIES.run.name),
  vocab: join(dir, CHECKPOINT_ENTRIES.vocab.name),
  model: join(dir, CHECKPOINT_ENTRIES.model.name),
  last: join(dir, CHECKPOINT_ENTRIES.last.name),
  lastModel: join(dir, CHECKPOINT_ENTRIES.last.name, LAST_MODEL),
  trainerState: join(dir, CHECKPOINT_ENTRIES.last.name, TRAINER_STATE),
  metrics: join(dir, CHECKPOINT_ENTRIES.metrics.name),
  best: join(dir, CHECKPOINT_ENTRIES.best.name),
});

const EVAL_PREFIX = 'eval-';
const EVAL_SUFFIX = '.json';
const NEGATIVES_SUFFIX = '.negatives.tsv';

/** `eval-<split>-<protocol>.json`: rec eval's result for one split under one protocol tag (`full`, `sampled100`, `candidates`). */
export function evalFileName(split: string, protocol: string): string {
  return `${EVAL_PREFIX}${split}-${protocol}${EVAL_SUFFIX}`;
}

/**
 * An eval file's name taken apart; null for any other entry. `id` is the name between `eval-` and
 * `.json`; `split` and `protocol` are null when the name does not hold both (the protocol tag never
 * contains a dash, so the split is everything before the last one).
 */
export function parseEvalFileName(name: string): { id: string; split: string | null; protocol: string | null } | null {
  if (!name.startsWith(EVAL_PREFIX) || !name.endsWith(EVAL_SUFFIX) || name.length <= EVAL_PREFIX.length + EVAL_SUFFIX.length) return null;
  const id = name.slice(EVAL_PREFIX.length, -EVAL_SUFFIX.length);
  const dash = id.lastIndexOf('-');
  if (dash <= 0 || dash === id.length - 1) return { id, split: null, protocol: null };
  return { id, split: id.slice(0, dash), protocol: id.slice(dash + 1) };
}

/** Where an eval file's sampled negatives are kept for reuse: `eval-test-sampled100.negatives.tsv` beside it. */
export function negativesFileName(evalFile: string): string {
  return `${evalFile.replace(/\.json$/, '')}${NEGATIVES_SUFFIX}`;
}

/** Whether `name` is an eval result or the negatives saved beside one. */
export function isEvalEntry(name: string): boolean {
  if (parseEvalFileName(name) !== null) return true;
  return name.startsWith(EVAL_PREFIX) && name.endsWith(NEGATIVES_SUFFIX) && name.length > EVAL_PREFIX.length + NEGATIVES_SUFFIX.length;
}

export interface RunJson {
  format_version: number;
  argv: string[];
  versions: { rec: string; tfjs: string; node: string };
  engine: string;
  seed: number;
  model: ModelName;
  loss: string;
  feedback: 'explicit' | 'implicit';
  /** `anonymize`: the dataset's --anonymize record (algorithm, key fingerprint), absent in older checkpoints. */
  /**
   * `train_max_ts`: the latest timestamp (epoch ms) among the training rows, null without
   * timestamps; absent in older checkpoints. A fine-tune with --replay trains on the rows after it.
   */
  dataset: { path: string; manifest_sha256: string; anonymize?: { algorithm: string; key_fingerprint: string } | null; train_max_ts?: number | null };
  parents: ParentRecord[];
  /** What a fine-tune (--init-from) changed; absent for runs from scratch and older checkpoints. */
  fine_tune?: FineTuneRecord;
  shape: { users: number; items: number; global_mean: number };
  /** Rating range seen in train: eval clips rmse/mae predictions to it (docs/evaluation.md#metrics). */
  value_range: [number, number];
  /** `wall_seconds`: the whole run (validation, saves, set-up included), summed over resumes; absent in older checkpoints. */
  timings: { started: string; finished: string | null; train_seconds: number; wall_seconds?: number };
  status: 'running' | 'completed' | 'interrupted' | 'failed' | 'stopped_early';
  /** The resolved configuration and each value's source; `--resume` continues with exactly this. */
  config: unknown;
  config_sources: Record<string, string>;
  /**
   * sha256 of each weights file as last saved (`model/weights.bin`, `last/model/weights.bin`,
   * `last/optimizer.bin`); absent in checkpoints from before hashes were recorded. While the run
   * is `running` (or was killed) a save may be newer than this record; once the run has ended it
   * is exact, and loads check it.
   */
  weights_sha256?: Partial<Record<WeightsFile, string>>;
  /** Replicas the run trained with (`--workers`, resolved); absent in checkpoints from before workers (1). */
  workers?: number;
  /** Things about this run a reader should know (e.g. bce on explicit ratings); absent when none. */
  notes?: string[];
}

export const WEIGHTS_FILES = ['model/weights.bin', 'last/model/weights.bin', 'last/optimizer.bin'] as const;
export type WeightsFile = (typeof WEIGHTS_FILES)[number];

/**
 * A checkpoint this run's weights were initialised from (`--init-from`). `weights_sha256` is the
 * hash of the parent's `model/weights.bin`, i.e. exactly the weights taken (run.json changes when a
 * parent is evaluated or resumed; the weights do not); `epoch` is the parent's epoch those weights
 * are from (its best epoch, or the last without validation). `users`/`items` count this run's ids
 * found in the parent's vocabulary (`matched`, rows copied) and not found (`new`, fresh rows).
 */
export interface ParentRecord {
  path: string;
  model: ModelName;
  weights_sha256: string;
  epoch: number | null;
  users: { matched: number; new: number };
  items: { matched: number; new: number };
}

/**
 * A fine-tune's changes against its parent(s) (docs/nightly.md). Per vocabulary: `reused` ids had
 * a row in the parent (copied before the first step), `added` ids are new (fresh rows),
 * `kept_without_data` are the parent's ids this dataset lacks (appended to the model's vocabulary
 * after the dataset's, rows copied), `total` the model's rows. `frozen`: the --freeze parts, the
 * tables they froze with their rows, the most rows frozen per side, and frozen dense variables.
 */
export interface FineTuneRecord {
  parents: string[];
  users: { reused: number; added: number; kept_without_data: number; total: number };
  items: { reused: number; added: number; kept_without_data: number; total: number };
  frozen: { parts: string[]; tables: Record<string, number>; rows: { users: number; items: number }; dense_variables: number };
  replay: ReplayRecord | null;
}

/** --replay: rows after `since_ts` (the parent's train_max_ts) are new; `replayed_per_epoch` older rows join each epoch. */
export interface ReplayRecord {
  fraction: number;
  since_ts: number;
  new_rows: number;
  old_rows: number;
  replayed_per_epoch: number;
}

export interface TrainerState {
  /** Epochs fully completed. */
  epoch: number;
  /** Steps completed inside the current epoch (0 at an epoch boundary). */
  step_in_epoch: number;
  global_step: number;
  /** PRNG state at the start of the current epoch: replays its shuffle and negatives on resume. */
  epoch_prng: PrngState;
  loss_sum: number;
  loss_count: number;
  best: { epoch: number; metric: string; value: number } | null;
  epochs_without_improvement: number;
  train_seconds: number;
  /** Training seconds of the current epoch's steps so far (0 at an epoch boundary); absent in older states. */
  epoch_seconds?: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  examples_per_s: number;
  lr: number;
  valid: Record<string, number>;
  /** Time the epoch's validation took; absent without validation and in older checkpoints. */
  valid_seconds?: number;
  /** Validation users ranked (a seeded sample when fewer than the split's rankable users). */
  valid_users?: number;
}

