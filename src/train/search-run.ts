/**
 * `rec train` for the search models (`bm25`, `two-tower`, `hybrid`; src/models/search): the same checkpoint folder,
 * loop, validation, early stopping, `--resume` and TensorBoard curves as the recommendation models, over (query, item)
 * pairs of a search log instead of (user, item) rows. What only validation may decide (the hybrid's α, the relevance
 * head) is fitted by the injected `calibrate` at each best epoch, before model/ is written, so model/ is always
 * complete. Validation and calibration come from the caller (cli composes train with eval), as for runTrain.
 */
import { tf } from '../engine/tf.js';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { configToYaml } from '../config/load.js';
import type { ItemFeatures, ListFeature } from '../data/item-features.js';
import type { TextFeaturizerSpec } from '../data/text.js';
import type { EngineInfo } from '../engine/backend.js';
import { createRowSparseOptimizer, type RowSparseOptimizer } from '../engine/sparse-optimizer.js';
import type { EpochRecord, RunJson, TrainerState } from '../io/checkpoint.js';
import { readSidecar } from '../io/checkpoint.js';
import { openEventWriter, TB_DIR } from '../io/tensorboard.js';
import { createTrainingCheckpoint, finishedRun, resumeTrainingCheckpoint, type TrainingCheckpoint } from '../io/training-checkpoint.js';
import { buildVocab, itemBags, queryBags, type TokenBags } from '../models/search/bags.js';
import { buildSearchModel, itemPrior, refreshServing, userHistories, SEARCH_FORMAT, SEARCH_SIDECAR, wrapSearchModel, type SearchModel, type SearchModelName, type SearchSpec } from '../models/search/search-model.js';
import { DataError, InterruptedError } from '../util/errors.js';
import type { RunIO } from '../util/run-io.js';
import { initialState, runLoop, type TrainTask } from './loop.js';
import { stateToTensors, tensorsToState } from './optimizer-state.js';
import { learningRate } from './schedule.js';
import { createTowerTask, logFrequency, type TowerPairs } from './tasks/tower.js';

/** A split of the search log as the trainer reads it. */
export interface SearchPairs {
  queries: Int32Array;
  items: Int32Array;
  values: Float32Array;
  /** User index per pair, −1 for an anonymous log. */
  users: Int32Array;
}

/** Training items per user that make the user's vector in a personalised ranking. */
export const HISTORY_ITEMS = 20;

export interface SearchTrainData {
  dir: string;
  manifestSha256: string;
  feedback: 'explicit' | 'implicit';
  users: number;
  items: number;
  features: ItemFeatures | null;
  queries: { buckets: ListFeature; bucketCounts: Int32Array; spec: TextFeaturizerSpec };
  train: SearchPairs;
  /** The relevance scale of a graded log; null for events (a pair's weight is its value over the largest). */
  scale: [number, number] | null;
  writeVocab(ckpt: string): Promise<void>;
}

export interface SearchTrainRequest {
  model: SearchModelName;
  data: SearchTrainData;
  out: string;
  resume: boolean;
  resolved: ResolvedConfig;
  argv: string[];
  recVersion: string;
  engine: EngineInfo;
  /** Validation metrics of the model as it stands (its serving vectors refreshed); null without a valid split. */
  validate: ((model: SearchModel) => Promise<Record<string, number>>) | null;
  /** Fits α and the relevance head on validation, in place on model.spec. */
  calibrate: ((model: SearchModel) => void) | null;
  monitor: { metric: string; higherIsBetter: boolean } | null;
}

export interface SearchTrainResult {
  checkpoint: string;
  epochs: EpochRecord[];
  best: TrainerState['best'];
  status: RunJson['status'];
  model: string;
  engine: string;
  loss: string;
  train_seconds: number;
  wall_seconds: number;
}

/** Each pair's weight as a positive: graded relevance rescaled to [0, 1] (the minimum grade weighs 0), else value / max. */
export function pairWeights(values: Float32Array, scale: [number, number] | null): Float32Array {
  if (scale !== null) return Float32Array.from(values, (v) => (scale[1] > scale[0] ? (v - scale[0]) / (scale[1] - scale[0]) : 1));
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return Float32Array.from(values, (v) => (max > 0 ? Math.max(0, v) / max : 1));
}

function specOf(name: SearchModelName, resolved: ResolvedConfig, featurizer: TextFeaturizerSpec, values: string[]): SearchSpec {
  const m = resolved.config.model;
  const tower = name === 'bm25' ? null : { dim: m.dim, temperature: m.temperature, id_dropout: m.id_dropout };
  const bm25 = name === 'two-tower' ? null : { k1: m.bm25_k1, b: m.bm25_b };
  return { format: SEARCH_FORMAT, model: name, featurizer, values, tower, bm25, alpha: name === 'hybrid' ? 0.5 : null, head: null };
}

/** Feature counts per item-bag entry where the entry is a text bucket (BM25's term frequencies), else 1. */
function bagCounts(features: ItemFeatures | null, bags: TokenBags, vocabBuckets: Int32Array): Int32Array {
  const out = new Int32Array(bags.rows.length).fill(1);
  const texts = (features?.features ?? []).filter((f) => f.kind === 'text');
  for (let i = 0; i < bags.offsets.length - 1; i++) {
    const count = new Map<number, number>();
    for (const f of texts) {
      if (i >= f.buckets.offsets.length - 1) continue;
      for (let k = f.buckets.offsets[i]; k < f.buckets.offsets[i + 1]; k++) count.set(f.buckets.values[k], (count.get(f.buckets.values[k]) ?? 0) + f.counts[k]);
    }
    for (let k = bags.offsets[i]; k < bags.offsets[i + 1]; k++) {
      const row = bags.rows[k];
      if (row < vocabBuckets.length) out[k] = count.get(vocabBuckets[row]) ?? 1;
    }
  }
  return out;
}

interface Opened {
  model: SearchModel;
  checkpoint: TrainingCheckpoint;
  state: TrainerState;
  optimizer: RowSparseOptimizer | null;
  queryBags: TokenBags;
}

export async function runSearchTrain(req: SearchTrainRequest, io: RunIO): Promise<SearchTrainResult> {
  const wallStart = performance.now();
  const { data } = req;
  if (data.features === null || !data.features.features.some((f) => f.kind === 'text')) {
    throw new DataError(`--model ${req.model} ranks the catalogue's text: dataset ${data.dir} has no text feature. Prep the search log with its catalogue: rec prep LOG --items FILE --item-features title:text,…`);
  }
  const opened = req.resume ? await resumeSearch(req, io) : await startSearch(req, io);
  const { model, checkpoint } = opened;
  checkpoint.setSidecar(() => model.sidecar());
  await checkpoint.begin({ engine: req.engine.name, workers: 1 });
  const task = opened.optimizer === null ? closedForm(data.train.queries.length) : towerTask(req, model, opened.optimizer, opened.queryBags);
  const tb = await openEventWriter(join(checkpoint.dir, TB_DIR));
  const { config } = req.resolved;
  const monitor = req.validate && req.monitor ? { ...req.monitor, patience: config.train.early_stopping.patience } : null;
  const saveState = async (s: TrainerState) => {
    const named = opened.optimizer === null ? {} : stateToTensors('sparse', opened.optimizer.getState());
    try {
      await checkpoint.saveState(named, s);
    } finally {
      tf.dispose(Object.values(named));
    }
  };
  let state = opened.state;
  let outcome: 'completed' | 'stopped_early';
  try {
    const result = await runLoop(
      task,
      state,
      {
        epochs: opened.optimizer === null ? 1 : config.train.epochs,
        seed: config.seed,
        saveEvery: config.train.save_every,
        learningRate: (e) => (opened.optimizer === null ? 0 : learningRate(config.train, e)),
        monitor,
        log: io.log,
        progress: io.progress,
        signal: io.signal,
        logEvery: 100,
      },
      {
        // Every epoch ends here before onEpochEnd, with no step between: the serving vectors refreshed once serve
        // validation, calibration and model/.
        validate: async () => {
          refreshServing(model);
          return req.validate === null ? {} : req.validate(model);
        },
        saveState,
        onStep: ({ state: s, lr }) => tb.scalars(s.global_step, { 'train/loss': s.loss_count ? s.loss_sum / s.loss_count : 0, 'train/lr': lr }),
        onEpochEnd: async ({ record, state: s }) => {
          await tb.scalars(record.epoch, { 'epoch/loss': record.loss, ...Object.fromEntries(Object.entries(record.valid).map(([k, v]) => [`valid/${k}`, v])) });
          const isBest = monitor === null || s.best === null || s.best.epoch === record.epoch;
          if (!isBest) return checkpoint.recordEpoch(record, null);
          req.calibrate?.(model);
          await checkpoint.recordEpoch(record, { best: s.best, sample: null });
        },
      },
    );
    state = result.state;
    outcome = result.outcome;
  } catch (error) {
    await checkpoint.finish(error instanceof InterruptedError ? 'interrupted' : 'failed', { trainSeconds: checkpoint.epochs.reduce((s, r) => s + r.seconds, 0), wallStart });
    throw error;
  }
  await checkpoint.finish(outcome, { trainSeconds: state.train_seconds, wallStart });
  return { ...finishedRun(checkpoint, state.best), checkpoint: req.out, model: req.model, engine: req.engine.name, loss: checkpoint.run.loss };
}

/** The vocabulary, the bags and a new model, and its checkpoint folder (config.yaml, vocab/, README). */
async function startSearch(req: SearchTrainRequest, io: RunIO): Promise<Opened> {
  const { data, resolved } = req;
  const { config } = resolved;
  const vocab = buildVocab(data.features, data.queries.buckets, data.train.queries);
  const bags = itemBags(vocab, data.features, data.items);
  const trained = new Uint8Array(data.items);
  for (const i of data.train.items) trained[i] = 1;
  const spec = specOf(req.model, resolved, data.queries.spec, vocab.values);
  const prior = itemPrior(data.train.items, pairWeights(data.train.values, data.scale), data.items);
  const histories = data.users > 0 && spec.tower !== null ? userHistories(data.train.users, data.train.items, data.users, HISTORY_ITEMS) : null;
  if (histories !== null) spec.personal = { beta: 0, history: HISTORY_ITEMS };
  const model = buildSearchModel({ spec, vocab, itemBags: bags, bagCounts: bagCounts(data.features, bags, vocab.buckets), trained, prior, histories, seed: config.seed, initStd: config.model.init_std });
  io.log.info(`${req.model}: ${vocab.buckets.length} text buckets and ${vocab.values.length} feature values in the token vocabulary; ${data.items} items, ${trained.reduce((s, x) => s + x, 0)} with training pairs; ${data.train.queries.length} training pairs`);
  const run: Omit<RunJson, 'format_version'> = {
    argv: req.argv,
    versions: { rec: req.recVersion, tfjs: tf.version.tfjs, node: process.version },
    engine: req.engine.name,
    seed: config.seed,
    model: req.model,
    loss: req.model === 'bm25' ? 'bm25' : 'in-batch softmax',
    feedback: data.feedback,
    dataset: { path: data.dir, manifest_sha256: data.manifestSha256, anonymize: null, train_max_ts: null },
    parents: [],
    shape: { users: data.users, items: data.items, global_mean: 0 },
    value_range: data.scale ?? [0, 1],
    timings: { started: new Date().toISOString(), finished: null, train_seconds: 0 },
    status: 'running',
    config: resolved.config,
    config_sources: resolved.sources,
  };
  const checkpoint = await createTrainingCheckpoint(req.out, model, {
    run,
    configYaml: configToYaml(resolved),
    writeVocab: (ckpt) => data.writeVocab(ckpt),
    trainedRows: { users: new Uint8Array(data.users), items: trained },
  });
  return { model, checkpoint, state: initialState(config.seed), optimizer: optimizerFor(req, model), queryBags: queryBags(vocab, data.queries.buckets, data.queries.bucketCounts) };
}

/** `--resume`: the last save's model (graph and sidecar), optimizer moments and loop state. */
async function resumeSearch(req: SearchTrainRequest, io: RunIO): Promise<Opened> {
  const { checkpoint, model: bare, optimizer: moments, state, lastModelDir } = await resumeTrainingCheckpoint(req.out, (keras) => ({ keras }), io.log);
  const side = await readSidecar(lastModelDir, SEARCH_SIDECAR);
  if (side === null) throw new DataError(`--resume: ${lastModelDir} has no ${SEARCH_SIDECAR}_spec.json: the saved state is not a search model's. Start a new run without --resume.`);
  const model = wrapSearchModel(bare.keras, side, lastModelDir);
  const optimizer = optimizerFor(req, model);
  if (optimizer !== null) optimizer.setState(tensorsToState('sparse', moments));
  tf.dispose(Object.values(moments));
  io.log.info(`resuming ${req.out} at epoch ${state.epoch + 1}, step ${state.step_in_epoch}`);
  const { data } = req;
  return { model, checkpoint, state, optimizer, queryBags: queryBags(model.vocab, data.queries.buckets, data.queries.bucketCounts) };
}

function optimizerFor(req: SearchTrainRequest, model: SearchModel): RowSparseOptimizer | null {
  if (model.tower === null) return null;
  const { train } = req.resolved.config;
  return createRowSparseOptimizer({ name: train.optimizer, lr: train.lr, weightDecay: train.weight_decay }, { [`token`]: model.tower.tokens, [`item_id`]: model.tower.itemIds });
}

function towerTask(req: SearchTrainRequest, model: SearchModel, optimizer: RowSparseOptimizer, qBags: TokenBags): TrainTask {
  const { data } = req;
  const { train } = req.resolved.config;
  const pairs: TowerPairs = { queries: data.train.queries, items: data.train.items, weights: pairWeights(data.train.values, data.scale) };
  return createTowerTask({
    model: model.tower as NonNullable<SearchModel['tower']>,
    pairs,
    queryBags: qBags,
    itemBags: model.itemBags,
    logQ: logFrequency(pairs, data.items),
    batchSize: train.batch_size,
    l2: train.l2,
    optimizer,
    groupByQuery: true,
  });
}

/** BM25's one epoch: the index was built with the model; the epoch validates and writes it. */
function closedForm(examples: number): TrainTask {
  return { beginEpoch: () => 1, epochExamples: () => examples, step: () => 0, setLearningRate: () => undefined };
}
