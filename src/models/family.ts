/**
 * What the rest of `rec` knows about a model family, in one object per family (src/models/registry.ts
 * lists them): how to build and load it, whether it scores (user, item) pairs or histories (and so
 * which training step trains it), the losses it takes, the `model.*` options it reads, what validation
 * monitors, how big a training step's tables are, and which checkpoints it warm-starts from. The
 * trainer, the CLI and the memory check ask the family; none of them branches on a model name.
 */
import type * as TF from '@tensorflow/tfjs';
import type { ModelConfig, ModelName, TrainConfig } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import type { Prng } from '../util/prng.js';
import type { HistoryModel, ModelBuildOptions, NamedWeight, PairModel, SequenceModel } from './model.js';

export type Feedback = 'explicit' | 'implicit';
/** Losses of (user, item) models: mse fits values, bce and bpr rank positives above sampled negatives. */
export type PairLoss = 'mse' | 'bce' | 'bpr';
/** Losses of sequence models: bce with one sampled negative per position, or the (sampled) softmax ce. */
export type SequenceLoss = 'bce' | 'ce';
export type ModelOption = keyof ModelConfig;

/** A parent checkpoint's model as warm-starting sees it: where it is and its Keras graph. */
export interface ParentModel {
  readonly path: string;
  readonly model: ModelName;
  readonly keras: TF.LayersModel;
}

/**
 * A family built from parents of other families (NeuMF from a GMF and an MLP): every weight the
 * parents share with it by key is copied, except the layers `mix` computes from both.
 */
export interface Composition {
  /** The parents' models, one checkpoint each. */
  readonly parts: readonly ModelName[];
  /** Layers left to `mix` rather than copied from a parent. */
  readonly mixedLayers: readonly string[];
  /** Sets the mixed layers of `child` (weights by stable key) from the parents, `alpha` weighing the first part. */
  mix(child: ReadonlyMap<string, NamedWeight>, parents: readonly ParentModel[], alpha: number): void;
}

interface FamilyBase {
  readonly name: ModelName;
  /**
   * What ranks a user: their learned row (`user`: PairModel), or their item history in the dataset
   * (`history`: HistoryModel), which also decides what --positive-threshold keeps out of histories.
   */
  readonly scoresFrom: 'user' | 'history';
  /** The `model.*` keys this family reads; a user setting another one is refused. */
  readonly options: readonly ModelOption[];
  /** Checks the models of the `--init-from` checkpoints (in order; `described` names them for messages). */
  checkParents(models: readonly ModelName[], paths: readonly string[], described: string): void;
  /** Set where the family is built from parents of other families. */
  readonly composition?: Composition;
}

/** What src/train/memory.ts needs to size a gradient step of a family. */
interface SteppedFamily {
  /**
   * Floats per row of the user and item embedding tables, and the size of a training example's
   * activations (a sequence model's positions × features; 0 where they are negligible), which
   * src/train/memory.ts scales by the bytes it measured per unit to size a step.
   */
  stepWidths(config: ModelConfig): { user: number; item: number; activationsPerExample: number };
}

export interface PairFamily extends FamilyBase, SteppedFamily {
  readonly kind: 'pair';
  /** Whether the family is meant to fit explicit ratings with mse, so a ranking loss on ratings may point there. */
  readonly fitsRatings: boolean;
  resolveLoss(requested: string, feedback: Feedback): PairLoss;
  build(opts: ModelBuildOptions): PairModel;
  wrap(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel;
}

export interface SequenceFamily extends FamilyBase, SteppedFamily {
  readonly kind: 'sequence';
  resolveLoss(requested: string, feedback: Feedback): SequenceLoss;
  build(opts: ModelBuildOptions): SequenceModel;
  wrap(keras: TF.LayersModel, opts: ModelBuildOptions): SequenceModel;
}

/**
 * What a fitted family's solver reads: the rows the run learns from (after --positive-threshold),
 * their times, and the catalogue's size. Indices are the checkpoint's (the dataset's, then any
 * ids kept from a parent).
 */
export interface FitData {
  users: Int32Array;
  items: Int32Array;
  values: Float32Array;
  /** Epoch ms of each row; null when the log has no times. */
  ts: Float64Array | null;
  numUsers: number;
  numItems: number;
  /** Epochs finished before this process started (a resumed run's position; 0 for a new run). */
  epochsDone: number;
}

/**
 * The epochs of a fitted family's solver, as the training loop runs them (src/train/loop.ts
 * TrainTask, without a learning rate): steps are blocks of rows solved (iALS), pieces of a closed
 * form (EASE's pivot blocks) or the whole of a small one (pop, ItemKNN), and a step's value is what
 * the solver minimises, per training row (0 where a closed form has no objective to report).
 */
export interface FitTask {
  beginEpoch(rng: Prng): number;
  epochExamples(): number;
  step(index: number): number;
  /**
   * Whether an epoch interrupted after some steps goes on from there in a new process. iALS's
   * state is its tables, which the checkpoint saves; a closed form's work in progress (EASE's
   * half-inverted matrix) is not saved, so its epoch starts over on --resume.
   */
  readonly resumesMidEpoch: boolean;
}

/** An epoch of one step that computes the whole model: popularity, ItemKNN. */
export function closedFormTask(examples: number, compute: () => void): FitTask {
  return {
    resumesMidEpoch: false,
    beginEpoch: () => 1,
    epochExamples: () => examples,
    step() {
      compute();
      return 0;
    },
  };
}

/**
 * A family fitted by its own solver instead of gradient steps: in closed form (popularity, EASE,
 * ItemKNN: one epoch computes the model) or by alternating least squares (iALS: each epoch solves
 * every user row, then every item row). Its epochs are ordinary TrainTask epochs, so validation,
 * checkpoints, --resume, metrics.jsonl and TensorBoard work as for the other families; there are
 * no optimizer moments and no batches.
 */
export interface FittedFamily extends FamilyBase {
  readonly kind: 'fitted';
  /** One epoch computes the model exactly; further epochs would repeat it. */
  readonly closedForm: boolean;
  /** Whether the family predicts explicit ratings (validated by rmse, clipped to the train range) rather than ranks. */
  readonly predictsRatings?: boolean;
  /** `train.*` keys outside the gradient ones that the fit does not read either, each with the reason (bpmf: `l2`). */
  readonly unreadTrainKeys?: Readonly<Record<string, string>>;
  /** What the solver minimises or computes, recorded as the run's loss; only `auto` is accepted. */
  resolveLoss(requested: string, feedback: Feedback): string;
  build(opts: ModelBuildOptions): PairModel | HistoryModel;
  wrap(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel | HistoryModel;
  /** The task whose epochs fit `model` to `data` (`model` is one this family built or wrapped). */
  fit(model: PairModel | HistoryModel, data: FitData, config: ModelConfig, train: TrainConfig): FitTask;
  /** What the fit holds at its peak for this catalogue, checked against the engine and the machine before anything is built. */
  fitBytes(config: ModelConfig, shape: { users: number; items: number }): FitMemory;
}

/** A fit's peak memory, by where it lives. */
export interface FitMemory {
  /** In the engine's memory: the model's weights and the engine's operands (the wasm heap is capped at 4 GiB). */
  engine: number;
  /** In JS memory beside the engine's: the solver's own arrays. */
  host: number;
  /** The largest single JS array, which Node caps (4 GiB). */
  largestArray: number;
  /** What the memory is for, in words, for the message that refuses a catalogue. */
  what: string;
}

export type ModelFamily = PairFamily | SequenceFamily | FittedFamily;

/** The `train.*` keys that steer gradient steps: a fitted family reads none of them. */
const GRADIENT_KEYS = ['lr', 'lr_schedule', 'lr_decay', 'lr_step_epochs', 'batch_size', 'optimizer', 'weight_decay', 'negatives', 'sparse', 'fused', 'freeze', 'replay'];

/**
 * The --init-from rule of a family computed from every row of its dataset (pop, ItemKNN, EASE):
 * there is nothing to warm-start, since an appended dataset holds the older rows too.
 */
export function refuseParents(model: ModelName, computed: string): () => never {
  return () => {
    throw new UsageError(`--init-from does not apply to --model ${model}: its ${computed} from every row of the dataset it is trained on (an appended dataset holds the older rows too). Train it on the new dataset without --init-from.`);
  };
}

/** The loss of a fitted family: `auto` names its objective; anything else is refused. */
export function resolveFittedLoss(requested: string, model: string, objective: string): string {
  if (requested === 'auto' || requested === objective) return objective;
  throw new UsageError(`--loss ${requested} does not apply to --model ${model}, which is fitted without gradient steps (${objective}). Remove --loss.`);
}

/**
 * Refuses `train.*` keys that a fitted family does not read, when the user set them (a `--lr`
 * given to EASE would be recorded and change nothing), and more than one epoch of a closed-form
 * fit, which would compute the same model again.
 */
export function checkFittedOptions(family: FittedFamily, sources: Readonly<Record<string, string>>, epochs: number): void {
  for (const [path, source] of Object.entries(sources)) {
    if (!path.startsWith('train.') || !userSet(source)) continue;
    const key = path.slice('train.'.length);
    const unread = family.unreadTrainKeys?.[key];
    if (unread !== undefined) throw new UsageError(`${path} (from ${source}) does not apply to --model ${family.name}: ${unread}. Remove it.`);
    if (!GRADIENT_KEYS.includes(key)) continue;
    throw new UsageError(`${path} (from ${source}) does not apply to --model ${family.name}, which is fitted without gradient steps. Remove it.`);
  }
  const epochSource = sources['train.epochs'];
  if (family.closedForm && epochs !== 1 && epochSource !== undefined && userSet(epochSource)) {
    throw new UsageError(`train.epochs ${epochs} (from ${epochSource}): --model ${family.name} is computed in closed form by one epoch; more would compute the same model again. Expected --epochs 1.`);
  }
}

/** The losses of every (user, item) family: auto is mse on ratings, bce on implicit feedback. */
export function resolvePairLoss(requested: string, feedback: Feedback): PairLoss {
  if (requested === 'auto') return feedback === 'explicit' ? 'mse' : 'bce';
  if (requested === 'mse' || requested === 'bce' || requested === 'bpr') return requested;
  throw new UsageError(`--loss ${requested} does not apply to (user, item) models. Expected mse, bce or bpr.`);
}

/** The losses of every sequence family: auto is bce. */
export function resolveSequenceLoss(requested: string, model: string): SequenceLoss {
  if (requested === 'auto' || requested === 'bce') return 'bce';
  if (requested === 'ce') return 'ce';
  throw new UsageError(`--loss ${requested} does not apply to sequence models (--model ${model}). Expected bce (one sampled negative per position) or ce (softmax; --negatives N samples N items, 0 uses the whole catalogue).`);
}

const flag = (path: string) => `--init-from ${path}`;

/** The rule of a family that warm-starts only from a checkpoint of its own (fine-tuning). */
export function checkSameModelParent(model: ModelName, models: readonly ModelName[], paths: readonly string[], described: string): void {
  if (models.length !== 1) {
    throw new UsageError(`--init-from for --model ${model} takes one ${model} checkpoint to fine-tune. Received ${models.length}: ${described}.`);
  }
  if (models[0] !== model) {
    throw new UsageError(`${flag(paths[0])} is a ${models[0]} checkpoint; --model ${model} fine-tunes only from a ${model} checkpoint.`);
  }
}

/**
 * What validation measures and early stopping watches: rmse when the run fits explicit ratings
 * with mse (the requested loss, before it is resolved, so an unknown one is the trainer's error to
 * report), else ndcg@10; `train.early_stopping.metric` overrides the choice.
 */
export function monitoredMetric(family: ModelFamily, train: Pick<TrainConfig, 'loss' | 'early_stopping'>, feedback: Feedback): { metric: string; ratings: boolean } {
  const fitsValues = family.kind === 'pair' || (family.kind === 'fitted' && family.predictsRatings === true);
  const ratings = fitsValues && feedback === 'explicit' && (train.loss === 'auto' || train.loss === 'mse');
  const requested = train.early_stopping.metric;
  return { metric: requested === 'auto' ? (ratings ? 'rmse' : 'ndcg@10') : requested, ratings };
}

/** Whether a key's value came from the user (a flag, the environment, a config file) rather than from defaults. */
const userSet = (source: string): boolean => source !== 'default' && !source.startsWith('configs/models/');

/**
 * Refuses `model.*` options the family does not read, when the user set them: a `--heads 2` given
 * to MF would otherwise be recorded in config.yaml and silently change nothing. Model defaults
 * (configs/models/*.yaml) set what suits their family and are not checked. `readers` names the
 * families that do read a key, for the message.
 */
export function checkFamilyOptions(family: ModelFamily, sources: Readonly<Record<string, string>>, readers: (option: ModelOption) => readonly ModelName[]): void {
  for (const [path, source] of Object.entries(sources)) {
    if (!path.startsWith('model.') || !userSet(source)) continue;
    const option = path.slice('model.'.length) as ModelOption;
    if (family.options.includes(option)) continue;
    const others = readers(option);
    throw new UsageError(
      `${path} (from ${source}) does not apply to --model ${family.name}, which takes ${family.options.map((o) => `model.${o}`).join(', ')}.${others.length > 0 ? ` ${path} is read by ${others.join(', ')}.` : ''} Remove it, or train a model that reads it.`,
    );
  }
}
