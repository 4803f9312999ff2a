/**
 * `rec train` for (user, item) models: builds or restores the model, runs the shared loop with
 * checkpoint callbacks, and leaves a complete checkpoint folder (docs/design.md#the-checkpoint-folder). Validation is
 * injected by the caller (cli composes train with eval), so train/ does not depend on eval/.
 */
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ResolvedConfig } from '../config/load.js';
import { configToYaml } from '../config/load.js';
import { valueRange } from '../data/dataset.js';
import type { ItemFeatures } from '../data/item-features.js';
import type { EngineInfo } from '../engine/backend.js';
import { createDenseOptimizer, createRowSparseOptimizer, type DenseOptimizer, type OptimizerConfig, type RowSparseOptimizer } from '../engine/sparse-optimizer.js';
import { type EventWriter, openEventWriter, repairEventFiles, TB_DIR } from '../io/tensorboard.js';
import { paths, readTrainedRows, type EpochRecord, type ParentRecord, type RunJson, type TrainedRows, type TrainerState } from '../io/checkpoint.js';
import { createTrainingCheckpoint, finishedRun, resumeTrainingCheckpoint, type RunEnd, type TrainingCheckpoint } from '../io/training-checkpoint.js';
import type { ModelName } from '../config/schema.js';
import { checkFittedOptions, type FitData, type ModelFamily, type PairLoss, type SequenceLoss } from '../models/family.js';
import { withComposedTables, type ItemEncoder } from '../models/item-encoder.js';
import { isSequenceModel, namedWeights, tablesOf, type AnyModel, type PairModel, type SequenceModel, type TrainableModel } from '../models/model.js';
import { buildModel, checkModelOptions, family } from '../models/registry.js';
import { wrapSavedModel } from '../models/saved.js';
import { DataError, InterruptedError, UsageError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import type { RunIO } from '../util/run-io.js';
import { positiveRows, type Interactions } from './pair-data.js';
import { fusable } from './fused-step.js';
import { createPairTask, pairEpochBuilder } from './tasks/pair.js';
import { countTrainingSequences, createSequenceTask, MIN_SEQUENCE_ROWS, type SequenceTaskOptions } from './tasks/sequence.js';
import { renameSlots, stateToTensors, tensorsToState } from './optimizer-state.js';
import { checkParents, initFromParents, readVocabIds, trainedRows } from './init-from.js';
import { encoderSidecar, newItemEncoder, restoredItemEncoder } from './item-features.js';
import { type CatalogueExtension, catalogueExtension, fineTuneRecord, planReplay, type Replay, replayEpoch, trainMaxTs, writeCheckpointVocab } from './fine-tune.js';
import { createDenseParamUpdater, type DenseParamUpdater, resolveFrozen } from './params.js';
import { initialState, type LoopCallbacks, runLoop, type TrainTask } from './loop.js';
import { learningRate } from './schedule.js';
import { checkFitMemory, checkStepMemory } from './memory.js';
import type { ParallelTask } from './parallel/pool.js';
import { startPairParallel, workersFor } from './parallel/train-pair.js';
import { startSequenceParallel } from './parallel/train-sequence.js';

export interface TrainData {
  dir: string;
  manifestSha256: string;
  /** The dataset's anonymisation record (manifest.json), kept in run.json for lookups without the dataset. */
  anonymize?: RunJson['dataset']['anonymize'];
  feedback: 'explicit' | 'implicit';
  numUsers: number;
  numItems: number;
  train: Interactions;
  /** Epoch ms of each train row (null or absent without timestamps): --replay and run.json's train_max_ts. */
  trainTs?: Float64Array | null;
  /** Interactions of the other splits, excluded from negative sampling. */
  others: { users: Int32Array; items: Int32Array }[];
  hasValid: boolean;
  /** The dataset's catalogue features (rec prep --items); null or absent without a catalogue, or with --features none. */
  itemFeatures?: ItemFeatures | null;
}

export interface Validator {
  /** Pair and sequence models alike (src/eval/validate.ts picks each one's input). */
  (model: AnyModel, epoch: number): Promise<Record<string, number>>;
  /** The users it ranks: `users` of `of`, a sample drawn with `seed` (null when all are ranked). */
  readonly sample?: { users: number; of: number; seed: number | null };
}

export interface TrainRequest {
  data: TrainData;
  out: string;
  resume: boolean;
  resolved: ResolvedConfig;
  argv: string[];
  recVersion: string;
  engine: EngineInfo;
  /** Null when there is no validation split: fixed epochs, model/ = last weights. */
  validator: Validator | null;
  /** Metric used for early stopping and best epoch, with its direction. */
  monitor: { metric: string; higherIsBetter: boolean } | null;
  /** `--init-from` checkpoints, absolute (config.train.init_from resolved by cli/); ignored on resume. */
  initFrom?: readonly string[];
  /** Asked after each saved epoch whether to stop there (rec tune's pruning and budget); absent: never. */
  stopAfter?: (record: EpochRecord) => Promise<boolean>;
}

export interface TrainResult {
  checkpoint: string;
  epochs: EpochRecord[];
  best: TrainerState['best'];
  status: RunJson['status'];
  parents: ParentRecord[];
  engine: string;
  model: string;
  loss: string;
  train_seconds: number;
  /** The run's wall-clock time (validation, saves and set-up included), summed over resumes. */
  wall_seconds: number;
}

/** Global steps between TensorBoard points of train/loss, train/lr and train/examples_per_s (epoch ends add one). */
export const TB_STEP_INTERVAL = 100;

export interface TrainingPositives {
  /** The rows the loss learns from: every training row, or for bce/bpr with a threshold those ≥ it. */
  train: Interactions;
  /** Warnings about the loss and the feedback, also kept in run.json `notes`. */
  notes: string[];
  /** How the threshold split the rows, for the log; null without one. */
  summary: string | null;
}

/**
 * What the loss learns from. bce and bpr take every row they are given as a positive, which on
 * explicit ratings means a 1-star rating is trained exactly like a 5-star one: legitimate (the NCF
 * paper does it on MovieLens, "interacted" as the signal) but a surprise when unannounced, so it is
 * said, and `train.positive_threshold` binarises the ratings instead (see positiveRows for what
 * happens to the rows below it). mse fits the values themselves, so a threshold there is an error.
 * A sequence model (`kind` 'sequence') has the same surprise in another form: every rating enters
 * the user's history; with a threshold only ratings >= it do, in training as in validation, eval
 * and recommend (data/sequences.ts rowsAtLeast).
 */
export function trainingPositives(
  data: Pick<TrainData, 'train' | 'feedback'>,
  loss: string,
  model: string,
  threshold: number | null,
  source = 'config train.positive_threshold',
  kind: 'pair' | 'sequence' = 'pair',
): TrainingPositives {
  const from = `train.positive_threshold ${threshold} (from ${source})`;
  if (threshold !== null && loss === 'mse') {
    throw new UsageError(
      `${from} applies to losses bce and bpr, which learn from positives; loss mse fits every value as it is. Remove the threshold, or train with --loss bce or --loss bpr.`,
    );
  }
  if (threshold === null) {
    const notes = data.feedback === 'explicit' && loss !== 'mse' ? [ratingsNote(family(model as ModelName), loss)] : [];
    return { train: data.train, notes, summary: null };
  }
  const train = positiveRows(data.train, threshold);
  const total = data.train.values.length;
  if (train.values.length === 0) {
    const [lo, hi] = total > 0 ? valueRange(data.train.values) : [Number.NaN, Number.NaN];
    throw new UsageError(`${from} keeps none of the ${total} training rows (their values range from ${lo} to ${hi}). Expected a threshold at or below the highest value.`);
  }
  const withPositive = new Uint8Array(data.train.numUsers);
  const inTrain = new Uint8Array(data.train.numUsers);
  for (let i = 0; i < train.users.length; i++) withPositive[train.users[i]] = 1;
  for (let i = 0; i < data.train.users.length; i++) inTrain[data.train.users[i]] = 1;
  let without = 0;
  for (let u = 0; u < inTrain.length; u++) if (inTrain[u] === 1 && withPositive[u] === 0) without++;
  const dropped = total - train.values.length;
  const summary =
    kind === 'sequence'
      ? `sequences: ${train.values.length} of ${total} training rows have a value >= ${threshold} and form the users' histories (in validation, eval and recommend too); the other ${dropped} are left out of them and not sampled as negatives${without > 0 ? `; users without a row >= ${threshold}: ${without} (no history to train on or rank from)` : ''}.`
      : `positives: ${train.values.length} of ${total} training rows have a value >= ${threshold}; the other ${dropped} are neither positives nor sampled as negatives${without > 0 ? `; users without a row >= ${threshold}: ${without} (they keep their initial embeddings)` : ''}.`;
  return { train, notes: [], summary };
}

function ratingsNote(f: ModelFamily, loss: string): string {
  if (f.kind === 'sequence') {
    return `model ${f.name} trains on explicit ratings: every rated item enters the user's history as an interaction (a rating of 1 counts like a 5). Pass --positive-threshold R (config train.positive_threshold), e.g. 4, to keep only ratings >= R as the sequence.`;
  }
  return `model ${f.name} trains with loss ${loss} on explicit ratings: every rating counts as a positive (a rating of 1 is trained like a 5) and unrated items are the negatives. Pass --positive-threshold R (config train.positive_threshold), e.g. 4, to keep only ratings >= R as positives${f.kind === 'pair' && f.fitsRatings ? ', or --loss mse to fit the ratings' : ''}.`;
}

/**
 * Refuses a (user, item) model on a search log prepped without a user column (docs/datasets.md#search-logs): its
 * rows have no user (index -1), so there is no one to learn preferences for.
 */
export function checkHasUsers(data: { dir: string; numUsers: number; trainRows: number }, model: string): void {
  if (data.numUsers > 0 || data.trainRows === 0) return;
  throw new UsageError(
    `--model ${model} learns per-user preferences, but ${data.dir} has no users: it is a search log prepped without a user column (rec prep --columns query=…,item=… with no user=C), so its ${data.trainRows} training rows are (query, item) pairs. Train a search model on it (--model bm25|two-tower|hybrid), or prep the log again with --columns …,user=C if it has one.`,
  );
}

/**
 * Refuses a run with nothing to learn from: an empty train split (every family), or, for sequence
 * models, no user with MIN_SEQUENCE_ROWS training rows (single-row users, a one-item catalogue
 * after deduplication) or a catalogue of one item (its next item is always that one).
 */
export function checkTrainable(data: Pick<TrainData, 'dir' | 'numUsers' | 'numItems' | 'others'>, train: Interactions, model: string, sequence: boolean): void {
  const held = data.others.map((o) => o.users.length).reduce((a, b) => a + b, 0);
  if (train.users.length === 0) {
    throw new DataError(
      `no training rows: the train split of ${data.dir} is empty (${held} rows are in its valid/test splits). Expected training rows; prep the log again with a split that keeps most rows in train (e.g. --split temporal:0.8,0.1,0.1 or leave-last).`,
    );
  }
  if (!sequence) return;
  const sequences = countTrainingSequences(train);
  if (sequences === 0 || data.numItems < 2) {
    const why =
      sequences === 0
        ? `none of the ${data.numUsers} users has ${MIN_SEQUENCE_ROWS} or more of the train split's ${train.users.length} rows (a window and the item after it)`
        : `the catalogue holds ${data.numItems} item, so the next item is always that one`;
    throw new DataError(
      `no training sequences: --model ${model} learns each user's next item from their history, and in ${data.dir} ${why}. Expected users with several events over several items; train a (user, item) model (e.g. --model mf) on this log instead, or check the user and item columns (--columns).`,
    );
  }
}

function meanValue(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length ? sum / values.length : 0;
}

/** The loss a run trains with, tagged with the kind of step it belongs to. */
type Objective = { kind: 'pair'; loss: PairLoss } | { kind: 'sequence'; loss: SequenceLoss } | { kind: 'fitted'; loss: string };

/** What a run trains on and with, decided before any file is read or written. */
interface Plan {
  family: ModelFamily;
  objective: Objective;
  positives: TrainingPositives;
}

/** A run opened for training: resumed from its last state, or built (and not yet written) for a new one. */
interface Opened {
  model: AnyModel;
  state: TrainerState;
  replay: Replay | null;
  /** The checkpoint of a resumed run (its run.json as read until begin); null for a new one (created once --freeze is resolved). */
  resumed: TrainingCheckpoint | null;
  /** The optimizer moments of a resumed run's last save; null for a new run. */
  optimizer: TF.NamedTensorMap | null;
  fresh: FreshRun | null;
  /** The model's item encoder (catalogue features); null for a run without them. */
  encoder: ItemEncoder | null;
}

/** What a new run learned while building its model, for run.json and the checkpoint's files. */
interface FreshRun {
  ids: { users: string[]; items: string[] };
  ext: CatalogueExtension;
  parents: ParentRecord[];
  learned: TrainedRows;
  globalMean: number;
}

interface Optimizers {
  sparse: RowSparseOptimizer;
  dense: DenseOptimizer;
  params: DenseParamUpdater;
  /** tfjs optimizer slots are keyed by variable names, which differ between processes. */
  stableKeys: Map<string, string>;
  config: OptimizerConfig;
}

interface Tasks {
  single: TrainTask;
  startParallel: (() => Promise<ParallelTask>) | null;
}

export async function runTrain(req: TrainRequest, io: RunIO): Promise<TrainResult> {
  const wallStart = performance.now();
  const plan = planRun(req, io);
  const opened = req.resume ? await restoreRun(req, io) : await buildRun(req, io, plan);
  // Before any file is written: a misspelt --freeze must not leave a half-made checkpoint.
  const frozen = isTrainable(plan, opened.model) ? resolveFrozen(opened.model, req.resolved.config.train.freeze) : new Set<string>();
  const checkpoint = opened.fresh ? await createCheckpoint(req, io, plan, opened, opened.fresh, frozen) : (opened.resumed as TrainingCheckpoint);
  const workers = workersOf(req, plan, opened, io);
  await checkpoint.begin({ engine: req.engine.name, workers });
  const { optimizers, tasks } = await trainerFor(req, io, plan, opened, { frozen, workers });
  return trainAndFinish(req, io, { checkpoint, opened, optimizers, tasks, wallStart, loss: plan.objective.loss });
}

/** A gradient family's optimizers and tasks, or a fitted family's solver epochs (without optimizers). */
async function trainerFor(req: TrainRequest, io: RunIO, plan: Plan, opened: Opened, how: { frozen: Set<string>; workers: number }): Promise<{ optimizers: Optimizers | null; tasks: Tasks }> {
  const { model } = opened;
  if (!isTrainable(plan, model)) return { optimizers: null, tasks: fittedTasks(req, io, plan, opened) };
  const optimizers = await createOptimizers(req, model, opened.optimizer, opened.encoder);
  return { optimizers, tasks: createTasks(req, io, plan, { ...opened, model }, optimizers, how.frozen, how.workers) };
}

/** The loss (resolved once, by the family), the rows it learns from, and the checks that need no file. */
function planRun(req: TrainRequest, io: RunIO): Plan {
  const { config } = req.resolved;
  const { data } = req;
  const f = family(config.train.model);
  checkHasUsers({ dir: data.dir, numUsers: data.numUsers, trainRows: data.train.users.length }, config.train.model);
  // A resumed run keeps the options its checkpoint was accepted with.
  if (!req.resume) checkModelOptions(config.train.model, req.resolved.sources);
  const objective = objectiveOf(f, config.train.loss, data.feedback);
  if (f.kind === 'fitted' && !req.resume) checkFittedOptions(f, req.resolved.sources, config.train.epochs);
  const loss = objective.loss;
  if (loss === 'mse' && data.feedback === 'implicit') io.log.warn('loss mse on implicit feedback regresses the event weights; bce or bpr is usually what you want');
  const positives = trainingPositives(data, loss, config.train.model, config.train.positive_threshold, req.resolved.sources['train.positive_threshold'], f.kind === 'sequence' ? 'sequence' : 'pair');
  for (const note of positives.notes) io.log.warn(note);
  if (positives.summary !== null) io.log.info(positives.summary);
  // Before any file is written: an epoch of nothing "completes" with loss 0 and a checkpoint that scores at random.
  checkTrainable(data, positives.train, config.train.model, f.kind === 'sequence');
  checkNegativeSampling(req, f.kind, loss);
  if (f.kind === 'fitted') checkFitMemory(f, config.model, { users: data.numUsers, items: data.numItems }, req.engine.name);
  else
    checkStepMemory(
    {
      model: config.train.model,
      config: config.model,
      users: data.numUsers,
      items: data.numItems,
      batchSize: config.train.batch_size,
      fullSoftmax: loss === 'ce' && config.train.negatives === 0,
      dense: !config.train.sparse,
    },
    req.engine.name,
  );
  return { family: f, objective, positives };
}

/** The loss a run trains with, resolved once by its family. */
function objectiveOf(f: ModelFamily, requested: string, feedback: TrainData['feedback']): Objective {
  if (f.kind === 'sequence') return { kind: 'sequence', loss: f.resolveLoss(requested, feedback) };
  if (f.kind === 'fitted') return { kind: 'fitted', loss: f.resolveLoss(requested, feedback) };
  return { kind: 'pair', loss: f.resolveLoss(requested, feedback) };
}

/** Whether the run steps the model by gradients (so it has optimizers, --freeze and worker replicas). */
function isTrainable(plan: Plan, model: AnyModel): model is TrainableModel {
  return plan.family.kind !== 'fitted' && 'tables' in model;
}

/** `--resume`: the model, optimizer and loop state of the checkpoint's last save. */
async function restoreRun(req: TrainRequest, io: RunIO): Promise<Opened> {
  const { checkpoint, model, optimizer, state, lastModelDir } = await resumeTrainingCheckpoint(req.out, wrapSavedModel, io.log);
  const replay = await planReplay(replayRequest(req, io), checkpoint.run.fine_tune?.replay ?? null);
  const learned = (await readTrainedRows(req.out))?.items ?? new Uint8Array(model.shape.items).fill(1);
  const encoder = await restoredItemEncoder(lastModelDir, model, req.data.itemFeatures ?? null, learned);
  io.log.info(`resuming ${req.out} at epoch ${state.epoch + 1}, step ${state.step_in_epoch}`);
  return { model, state, replay, resumed: checkpoint, optimizer, fresh: null, encoder };
}

/** A new run's model: built from the seed, extended by and initialised from its --init-from parents. */
async function buildRun(req: TrainRequest, io: RunIO, plan: Plan): Promise<Opened> {
  const { config } = req.resolved;
  const { data } = req;
  const seedRng = Prng.fromSeed(config.seed, 'model/init');
  const globalMean = data.feedback === 'explicit' && plan.objective.loss === 'mse' ? meanValue(data.train.values) : 0;
  const initFrom = req.initFrom ?? [];
  const parentModels = initFrom.length > 0 ? await checkParents(initFrom, config.train.model) : [];
  if (config.train.replay !== null && initFrom.length === 0) {
    throw new UsageError(`train.replay ${config.train.replay} (from ${req.resolved.sources['train.replay']}) mixes older rows into a fine-tune; it needs --init-from CKPT (the parent whose training data the new rows follow).`);
  }
  if (config.train.replay !== null && plan.family.kind === 'sequence') {
    throw new UsageError(`train.replay ${config.train.replay} (from ${req.resolved.sources['train.replay']}) applies to (user, item) models; --model ${config.train.model} trains on whole histories, so a fine-tune with --init-from reads every user's history in the dataset. Remove --replay.`);
  }
  const replay = await planReplay(replayRequest(req, io));
  const dataIds = await readVocabIds(data.dir);
  const ext = await catalogueExtension(initFrom, parentModels[0] === config.train.model, dataIds);
  const ids = { users: [...dataIds.users, ...ext.users.ids], items: [...dataIds.items, ...ext.items.ids] };
  const model = buildModel(config.train.model, {
    config: config.model,
    shape: { users: ids.users.length, items: ids.items.length, globalMean },
    nextSeed: () => seedRng.tfSeed(),
  });
  const parents = initFrom.length > 0 ? await initFromParents({ parents: initFrom, model, alpha: config.model.alpha, ...ids, log: io.log }, parentModels) : [];
  const learned = await trainedRows(plan.positives.train, ids, initFrom);
  const encoder = await runEncoder(req, io, plan, model, learned);
  if (encoder !== null) learned.featured = encoder.featured;
  return { model, state: initialState(config.seed), replay, resumed: null, optimizer: null, fresh: { ids, ext, parents, learned, globalMean }, encoder };
}

/** A new run's item encoder when the dataset has a catalogue and the family uses one (see TrainRequest's data.itemFeatures). */
async function runEncoder(req: TrainRequest, io: RunIO, plan: Plan, model: AnyModel, learned: TrainedRows): Promise<ItemEncoder | null> {
  const features = req.data.itemFeatures ?? null;
  const { config } = req.resolved;
  if (features === null || config.train.features === 'none') return null;
  if (plan.family.kind === 'fitted') {
    io.log.info(`--model ${plan.family.name} scores items by their interactions only: the dataset's catalogue features are not used (mf, gmf, mlp, neumf and sasrec use them)`);
    return null;
  }
  if (!config.train.sparse) throw new UsageError(`item features are trained row-sparsely: train.sparse false (--dense, from ${req.resolved.sources['train.sparse'] ?? 'default'}) cannot compose them. Drop --dense, or train on ids only with --features none.`);
  const initFrom = req.initFrom ?? [];
  const { encoder, carried } = await newItemEncoder({ features, model, learned: learned.items, idDropout: config.model.id_dropout, parentModelDir: initFrom.length > 0 ? paths(initFrom[0]).model : null });
  let featured = 0;
  let cold = 0;
  for (let i = 0; i < encoder.featured.length; i++) {
    featured += encoder.featured[i];
    if (encoder.featured[i] === 1 && learned.items[i] === 0) cold++;
  }
  const fields = encoder.spec.fields.map((f) => `${f.name}:${f.kind}`).join(', ');
  io.log.info(
    `item features: ${encoder.spec.tokens.length} feature values with rows from ${fields}${initFrom.length > 0 ? ` (${carried} of them, with their rows, from --init-from ${initFrom[0]})` : ''}; ${featured} of ${encoder.featured.length} items have features, ${cold} of them without a training row (scored from their features alone); id dropout ${encoder.spec.id_dropout}`,
  );
  return encoder;
}

/** A new run's checkpoint: its run.json (written by begin), config.yaml, vocab/ with the trained rows, and the README. */
async function createCheckpoint(req: TrainRequest, io: RunIO, plan: Plan, opened: Opened, fresh: FreshRun, frozen: Set<string>): Promise<TrainingCheckpoint> {
  const { config } = req.resolved;
  const { data } = req;
  const { ext, parents, ids, globalMean } = fresh;
  if (ext.users.ids.length + ext.items.ids.length > 0) {
    io.log.info(`--init-from: kept ${ext.users.ids.length} users and ${ext.items.ids.length} items of the parent that this dataset lacks (their rows are the parent's; the checkpoint's vocab/ lists them after the dataset's ids)`);
  }
  const initFrom = req.initFrom ?? [];
  const run: Omit<RunJson, 'format_version'> = {
    argv: req.argv,
    versions: { rec: req.recVersion, tfjs: tf.version.tfjs, node: process.version },
    engine: req.engine.name,
    seed: config.seed,
    model: config.train.model,
    loss: plan.objective.loss,
    feedback: data.feedback,
    dataset: { path: data.dir, manifest_sha256: data.manifestSha256, anonymize: data.anonymize ?? null, train_max_ts: trainMaxTs(data.trainTs) },
    parents,
    ...(parents.length > 0
      ? {
          fine_tune: fineTuneRecord({
            parents: initFrom,
            matched: { users: parents[0].users.matched - ext.users.ids.length, items: parents[0].items.matched - ext.items.ids.length },
            dataset: { users: data.numUsers, items: data.numItems },
            ext,
            model: opened.model,
            frozen,
            freeze: config.train.freeze,
            replay: opened.replay,
          }),
        }
      : {}),
    shape: { users: ids.users.length, items: ids.items.length, global_mean: globalMean },
    value_range: valueRange(data.train.values),
    timings: { started: new Date().toISOString(), finished: null, train_seconds: 0 },
    status: 'running',
    config: req.resolved.config,
    config_sources: req.resolved.sources,
    ...(plan.positives.notes.length > 0 ? { notes: plan.positives.notes } : {}),
  };
  return createTrainingCheckpoint(req.out, opened.model, {
    run,
    configYaml: configToYaml(req.resolved),
    writeVocab: (ckpt) => writeCheckpointVocab(ckpt, data.dir, ext),
    trainedRows: fresh.learned,
  });
}

/** Replicas of data-parallel training: the fused step is the pair family's, when the model has one. */
function workersOf(req: TrainRequest, plan: Plan, opened: Opened, io: RunIO): number {
  const { config } = req.resolved;
  const { model } = opened;
  if (!isTrainable(plan, model)) return 1;
  if (opened.encoder !== null) {
    if (config.train.workers !== 1 && config.train.workers !== 'auto') io.log.info(`item features train on one thread for now: --workers ${config.train.workers} ignored`);
    return 1;
  }
  return isSequenceModel(model)
    ? workersFor(config, opened.resumed?.run ?? null, req.engine.name, false, io.log, 'sequence')
    : workersFor(config, opened.resumed?.run ?? null, req.engine.name, config.train.fused && config.train.sparse && fusable(model), io.log);
}

/** The row-sparse, dense and parameter optimizers, with a resumed run's moments restored. */
async function createOptimizers(req: TrainRequest, model: TrainableModel, restored: TF.NamedTensorMap | null, encoder: ItemEncoder | null): Promise<Optimizers> {
  const { config } = req.resolved;
  const optCfg: OptimizerConfig = { name: config.train.optimizer, lr: config.train.lr, weightDecay: config.train.weight_decay };
  const tables = Object.fromEntries([...model.tables, ...(encoder?.tables ?? [])].map((t) => [t.name, t.variable]));
  const sparse = createRowSparseOptimizer(optCfg, tables);
  const dense = createDenseOptimizer(optCfg);
  const params = createDenseParamUpdater(optCfg, model);
  const stableKeys = new Map(namedWeights(model.keras).map((w) => [w.variable.name, w.key]));
  if (restored) {
    sparse.setState(tensorsToState('sparse', restored));
    await dense.setState(renameSlots(tensorsToState('dense', restored), new Map([...stableKeys].map(([name, key]) => [key, name]))));
    params.setState(tensorsToState('params', restored));
    tf.dispose(Object.values(restored));
  }
  return { sparse, dense, params, stableKeys, config: optCfg };
}

/** train.negative_sampling on_sale or mixed needs what it draws by: sampled negatives, and a time on every training row. */
function checkNegativeSampling(req: TrainRequest, kind: ModelFamily['kind'], loss: string): void {
  const { config } = req.resolved;
  const sampling = config.train.negative_sampling;
  if (sampling === 'uniform') return;
  const flag = `train.negative_sampling ${sampling} (from ${req.resolved.sources['train.negative_sampling'] ?? 'default'})`;
  if (kind !== 'pair' || loss === 'mse') {
    throw new UsageError(
      `${flag} draws the sampled negatives of (user, item) models trained with loss bce or bpr (mf, gmf, mlp, neumf); --model ${config.train.model} with loss ${loss} samples none this way. Expected train.negative_sampling uniform here, or one of those models and losses.`,
    );
  }
  const ts = req.data.trainTs ?? null;
  if (ts === null) {
    throw new UsageError(`${flag} draws each positive's negatives among the items on sale at its time, but the dataset ${req.data.dir} has no timestamps. Prep the log with a ts column, or use train.negative_sampling uniform.`);
  }
}

/** The times of the positives' rows (trainingPositives): positiveRows keeps the rows at or above the threshold in order, so theirs are those rows' times. */
function positiveTimes(req: TrainRequest): Float64Array | null {
  const all = req.data.trainTs ?? null;
  const threshold = req.resolved.config.train.positive_threshold;
  return all === null || threshold === null ? all : all.filter((_, r) => req.data.train.values[r] >= threshold);
}

/** The positives with their rows' times, for on_sale negatives. */
function timedPositives(req: TrainRequest, rows: Interactions): Interactions {
  if (rows.ts !== undefined) return rows;
  const ts = positiveTimes(req);
  return ts === null ? rows : { ...rows, ts };
}

/** A fitted family's epochs, on one thread: its solver in place of batches and an optimizer. */
function fittedTasks(req: TrainRequest, io: RunIO, plan: Plan, opened: Opened): Tasks {
  const { model, state } = opened;
  const f = plan.family;
  if (f.kind !== 'fitted') throw new Error(`${f.name}: fittedTasks of a ${f.kind} family`);
  const { config } = req.resolved;
  const rows = plan.positives.train;
  const ts = positiveTimes(req);
  const data: FitData = { users: rows.users, items: rows.items, values: rows.values, ts, numUsers: model.shape.users, numItems: model.shape.items, epochsDone: state.epoch };
  const fit = f.fit(model, data, config.model, config.train);
  if (!fit.resumesMidEpoch && state.step_in_epoch > 0) {
    io.log.info(`--model ${f.name} keeps no work in progress in its checkpoint: epoch ${state.epoch + 1} starts over (it was interrupted after step ${state.step_in_epoch})`);
    restartEpoch(state);
  }
  return { single: { ...fit, setLearningRate: () => undefined }, startParallel: null };
}

/** Rewinds a resumed state to the start of its epoch; the seconds already spent stay counted. */
function restartEpoch(state: TrainerState): void {
  state.global_step -= state.step_in_epoch;
  state.step_in_epoch = 0;
  state.loss_sum = 0;
  state.loss_count = 0;
}

/** What an epoch and a step are: the one place the kind of family matters to the trainer. */
function createTasks(req: TrainRequest, io: RunIO, plan: Plan, opened: Opened & { model: TrainableModel }, opt: Optimizers, frozen: Set<string>, workers: number): Tasks {
  const { model } = opened;
  const { objective } = plan;
  if (objective.kind === 'fitted') throw new Error(`${model.name}: createTasks of a fitted family`);
  if (objective.kind === 'sequence') {
    if (!isSequenceModel(model)) throw new Error(`${model.name}: a sequence family built a (user, item) model`);
    return sequenceTasks(req, io, plan.positives, { model, loss: objective.loss, opt, frozen, workers, encoder: opened.encoder });
  }
  if (isSequenceModel(model)) throw new Error(`${model.name}: a (user, item) family built a sequence model`);
  return pairTasks(req, io, plan.positives, { model, loss: objective.loss, opt, frozen, workers, replay: opened.replay, encoder: opened.encoder });
}

interface TaskParts<M, L> {
  model: M;
  loss: L;
  opt: Optimizers;
  frozen: Set<string>;
  workers: number;
  encoder: ItemEncoder | null;
}

function sequenceTasks(req: TrainRequest, io: RunIO, positives: TrainingPositives, parts: TaskParts<SequenceModel, SequenceLoss>): Tasks {
  const { config } = req.resolved;
  const { data } = req;
  const { model, opt, workers } = parts;
  const task: SequenceTaskOptions = {
    model,
    train: positives.train,
    // Rows below the threshold are out of the histories but were seen: never sampled as negatives.
    others: positives.train === data.train ? data.others : [data.train, ...data.others],
    loss: parts.loss,
    negatives: config.train.negatives,
    batchSize: config.train.batch_size,
    l2: config.train.l2,
    sparse: config.train.sparse,
    frozen: parts.frozen,
    sparseOptimizer: opt.sparse,
    params: opt.params,
    encoder: parts.encoder,
  };
  const parallel = () => startSequenceParallel({ workers, config, engine: req.engine.name, model, task, optimizer: opt.config, log: io.log, signal: io.signal });
  return { single: createSequenceTask(task), startParallel: workers > 1 ? parallel : null };
}

function pairTasks(req: TrainRequest, io: RunIO, positives: TrainingPositives, parts: TaskParts<PairModel, PairLoss> & { replay: Replay | null }): Tasks {
  const { config } = req.resolved;
  const { data } = req;
  const { model, loss, opt, frozen, workers, replay } = parts;
  const sampling = config.train.negative_sampling;
  const makeEpoch = pairEpochBuilder({
    train: sampling === 'uniform' ? positives.train : timedPositives(req, positives.train),
    sampling,
    others: data.others,
    numUsers: data.numUsers,
    numItems: data.numItems,
    loss,
    negatives: config.train.negatives,
    replay: replay === null ? null : (rng: Prng) => replayEpoch(replay, rng),
    log: io.log,
  });
  const single = createPairTask({
    model,
    makeEpoch,
    loss,
    batchSize: config.train.batch_size,
    l2: config.train.l2,
    sparse: config.train.sparse,
    fused: config.train.fused,
    frozen,
    sparseOptimizer: opt.sparse,
    denseOptimizer: opt.dense,
    params: opt.params,
    encoder: parts.encoder,
  });
  const parallel = () =>
    startPairParallel({ workers, config, engine: req.engine.name, model, sparse: opt.sparse, params: opt.params, frozen, loss, optimizer: opt.config, makeEpoch, log: io.log, signal: io.signal });
  return { single, startParallel: workers > 1 ? parallel : null };
}

interface Training {
  checkpoint: TrainingCheckpoint;
  opened: Opened;
  /** Null for a fitted family, which has no gradient steps. */
  optimizers: Optimizers | null;
  tasks: Tasks;
  /** performance.now() when this process began the run: wall_seconds adds this process's time. */
  wallStart: number;
  loss: string;
}

/** Runs the loop with the checkpoint's callbacks and records how it ended in run.json. */
async function trainAndFinish(req: TrainRequest, io: RunIO, t: Training): Promise<TrainResult> {
  const { config } = req.resolved;
  const { checkpoint, opened } = t;
  const saveState = stateSaver(checkpoint, t.optimizers);
  // Opened after a resume's restore: steps a killed run logged past its last save are not logged twice.
  const tb = await openTrainEventWriter(join(checkpoint.dir, TB_DIR), opened.resumed ? checkpoint.epochs : null, io);
  const monitor = req.validator && req.monitor ? { ...req.monitor, patience: config.train.early_stopping.patience } : null;
  let state = opened.state;
  let outcome: RunEnd;
  let parallel: ParallelTask | null = null;
  try {
    const { startParallel } = t.tasks;
    if (startParallel !== null) parallel = await startParallel().catch(async (error: unknown) => interruptedAtStart(error, state, saveState));
    const result = await runLoop(
      parallel?.task ?? t.tasks.single,
      state,
      {
        epochs: config.train.epochs,
        seed: config.seed,
        saveEvery: config.train.save_every,
        // A fitted family has no learning rate: its epochs record 0.
        learningRate: (e) => (t.optimizers === null ? 0 : learningRate(config.train, e)),
        monitor,
        log: io.log,
        progress: io.progress,
        signal: io.signal,
        logEvery: TB_STEP_INTERVAL,
      },
      loopCallbacks(req, { model: opened.model, checkpoint, tb, saveState, monitored: monitor !== null, encoder: opened.encoder }),
    );
    state = result.state;
    outcome = result.outcome;
  } catch (error) {
    const trainSeconds = checkpoint.epochs.reduce((s, r) => s + r.seconds, 0);
    await checkpoint.finish(error instanceof InterruptedError ? 'interrupted' : 'failed', { trainSeconds, wallStart: t.wallStart });
    throw error;
  } finally {
    t.optimizers?.dense.dispose();
    await parallel?.close();
  }
  await checkpoint.finish(outcome, { trainSeconds: state.train_seconds, wallStart: t.wallStart });
  return { ...finishedRun(checkpoint, state.best), checkpoint: req.out, parents: checkpoint.run.parents, engine: req.engine.name, model: config.train.model, loss: t.loss };
}

/** Saves last/: the model, the optimizers' moments under stable keys, and the loop state. */
function stateSaver(checkpoint: TrainingCheckpoint, opt: Optimizers | null): (s: TrainerState) => Promise<void> {
  return async (s: TrainerState) => {
    // A fitted family has no moments: its state is the model and the loop's position.
    const named =
      opt === null
        ? {}
        : {
            ...stateToTensors('sparse', opt.sparse.getState()),
            ...stateToTensors('dense', renameSlots(await opt.dense.getState(), opt.stableKeys)),
            ...stateToTensors('params', opt.params.getState()),
          };
    try {
      await checkpoint.saveState(named, s);
    } finally {
      tf.dispose(Object.values(named));
    }
  };
}

interface CallbackParts {
  model: AnyModel;
  checkpoint: TrainingCheckpoint;
  tb: EventWriter;
  saveState: (s: TrainerState) => Promise<void>;
  /** Whether an epoch's validation picks the best epoch (else model/ holds the last weights). */
  monitored: boolean;
  encoder: ItemEncoder | null;
}

/** Validation, saves, metrics.jsonl, TensorBoard points and model/ + best.json at each best epoch. */
function loopCallbacks(req: TrainRequest, c: CallbackParts): LoopCallbacks {
  const { model, checkpoint, tb, encoder } = c;
  // With an encoder, validation and model/ see the composed item vectors (cold items from their
  // features), as eval and recommend will; the id rows are put back for training, and model/ keeps
  // them beside the composed ones for a fine-tune.
  const composed = <T>(fn: () => Promise<T>): Promise<T> => {
    if (encoder === null) return fn();
    const items = tablesOf(model).filter((t) => t.kind === 'item');
    return withComposedTables(encoder, items, async (raw) => {
      checkpoint.setSidecar(() => encoderSidecar(encoder, raw));
      try {
        return await fn();
      } finally {
        checkpoint.setSidecar(() => encoderSidecar(encoder, null));
      }
    });
  };
  if (encoder !== null) checkpoint.setSidecar(() => encoderSidecar(encoder, null));
  return {
    validate: async (e) => (req.validator ? composed(() => (req.validator as Validator)(model, e)) : {}),
    saveState: c.saveState,
    ...(req.stopAfter ? { stopAfter: req.stopAfter } : {}),
    onStep: ({ state: s, lr, examplesPerS }) =>
      tb.scalars(s.global_step, {
        'train/loss': s.loss_count ? s.loss_sum / s.loss_count : 0,
        'train/lr': lr,
        ...(examplesPerS !== null ? { 'train/examples_per_s': examplesPerS } : {}),
      }),
    onEpochEnd: async ({ record, state: s }) => {
      await tb.scalars(record.epoch, epochScalars(record));
      if (req.validator?.sample && record.valid_seconds !== undefined) record.valid_users = req.validator.sample.users;
      // Until an epoch measures the monitored metric, model/ holds the last weights, as without validation.
      const isBest = !c.monitored || s.best === null || s.best.epoch === record.epoch;
      // Only a best epoch writes model/, which holds the composed vectors.
      if (isBest) await composed(() => checkpoint.recordEpoch(record, { best: s.best, sample: req.validator?.sample ?? null }));
      else await checkpoint.recordEpoch(record, null);
    },
  };
}

/** The TensorBoard points of an epoch (its record in metrics.jsonl holds every value). */
function epochScalars(record: EpochRecord): Record<string, number> {
  return {
    'epoch/loss': record.loss,
    'epoch/seconds': record.seconds,
    ...(record.valid_seconds !== undefined ? { 'epoch/valid_seconds': record.valid_seconds } : {}),
    ...Object.fromEntries(Object.entries(record.valid).map(([k, v]) => [`valid/${k}`, v])),
  };
}

/**
 * The run's event writer. On resume, first cuts the event files at a torn record (a kill mid-append;
 * TensorBoard stops reading a file there), then writes again the epoch points of metrics.jsonl that no complete record holds, so
 * each epoch is in tb/ once. The step points at the resume point are the loop's (runLoop calls
 * onStep for it again, and the writer skips what is already there).
 */
async function openTrainEventWriter(dir: string, resumedRecords: readonly EpochRecord[] | null, io: RunIO): Promise<EventWriter> {
  if (resumedRecords === null) return openEventWriter(dir);
  for (const torn of await repairEventFiles(dir)) {
    io.log.warn(`TensorBoard event file ${torn.file} ended in a torn record (a killed write): cut after its ${torn.records} complete records (${torn.bytes} bytes dropped); the points it lost are written again.`);
  }
  const tb = await openEventWriter(dir);
  for (const record of resumedRecords) await tb.scalars(record.epoch, epochScalars(record));
  return tb;
}

/**
 * A signal during the worker threads' start-up: the run stops there with the state it started
 * from saved (a new run's initial weights), so that `--resume` continues it like any interruption.
 */
async function interruptedAtStart(error: unknown, state: TrainerState, saveState: (s: TrainerState) => Promise<void>): Promise<never> {
  if (!(error instanceof InterruptedError)) throw error;
  await saveState(state);
  throw new InterruptedError(error.signal, `${error.message} Saved a resumable state at epoch ${state.epoch + 1}, step ${state.step_in_epoch}.`);
}

function replayRequest(req: TrainRequest, io: RunIO): Parameters<typeof planReplay>[0] {
  const { train } = req.resolved.config;
  return {
    fraction: train.replay,
    source: req.resolved.sources['train.replay'] ?? 'default',
    parents: req.initFrom ?? [],
    train: req.data.train,
    ts: req.data.trainTs ?? null,
    threshold: train.positive_threshold,
    log: io.log,
  };
}
