/**
 * What the rest of `rec` knows about a model family, in one object per family (src/models/registry.ts
 * lists them): how to build and load it, whether it scores (user, item) pairs or histories (and so
 * which training step trains it), the losses it takes, the `model.*` options it reads, what validation
 * monitors, how big a training step's tables are, and which checkpoints it warm-starts from. The
 * trainer, the CLI and the memory check ask the family; none of them branches on a model name.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig, ModelName, TrainConfig } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import type { ModelBuildOptions, NamedWeight, PairModel, SequenceModel } from './model.js';

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
  readonly keras: tf.LayersModel;
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
  /** The `model.*` keys this family reads; a user setting another one is refused. */
  readonly options: readonly ModelOption[];
  /**
   * Floats per row of the user and item embedding tables, and the size of a training example's
   * activations (a sequence model's positions × features; 0 where they are negligible), which
   * src/train/memory.ts scales by the bytes it measured per unit to size a step.
   */
  stepWidths(config: ModelConfig): { user: number; item: number; activationsPerExample: number };
  /** Checks the models of the `--init-from` checkpoints (in order; `described` names them for messages). */
  checkParents(models: readonly ModelName[], paths: readonly string[], described: string): void;
  /** Set where the family is built from parents of other families. */
  readonly composition?: Composition;
}

export interface PairFamily extends FamilyBase {
  readonly kind: 'pair';
  /** Whether the family is meant to fit explicit ratings with mse, so a ranking loss on ratings may point there. */
  readonly fitsRatings: boolean;
  resolveLoss(requested: string, feedback: Feedback): PairLoss;
  build(opts: ModelBuildOptions): PairModel;
  wrap(keras: tf.LayersModel, opts: ModelBuildOptions): PairModel;
}

export interface SequenceFamily extends FamilyBase {
  readonly kind: 'sequence';
  resolveLoss(requested: string, feedback: Feedback): SequenceLoss;
  build(opts: ModelBuildOptions): SequenceModel;
  wrap(keras: tf.LayersModel, opts: ModelBuildOptions): SequenceModel;
}

export type ModelFamily = PairFamily | SequenceFamily;

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
  const ratings = family.kind === 'pair' && feedback === 'explicit' && (train.loss === 'auto' || train.loss === 'mse');
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
