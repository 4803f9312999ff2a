/**
 * Training of (user, item) models (MF, GMF, MLP, NeuMF): an epoch is the training rows with their
 * sampled negatives (pair-data.ts), shuffled; a step is the fused closed-form step where the model
 * has one and the engine exposes table memory, else the autograd step (pair-step.ts).
 */
import type * as TF from '@tensorflow/tfjs';
import { userItemSets } from '../../data/user-items.js';
import type { DenseOptimizer, RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import type { ItemEncoder } from '../../models/item-encoder.js';
import type { PairModel } from '../../models/model.js';
import type { Logger } from '../../util/log.js';
import { Prng } from '../../util/prng.js';
import { createFusedScratch, fusable, fusedPairStep } from '../fused-step.js';
import type { TrainTask } from '../loop.js';
import { buildEpoch, negativePool, onSalePool, type EpochExamples, type Interactions, type NegativeSampling, type OnSalePool, type PairLoss } from '../pair-data.js';
import { pairStep } from '../pair-step.js';
import type { DenseParamUpdater } from '../params.js';

export interface PairEpochOptions {
  /** The rows the loss learns from (trainingPositives). */
  train: Interactions;
  /** Rows of the other splits: never sampled as negatives. */
  others: readonly { users: Int32Array; items: Int32Array }[];
  numUsers: number;
  numItems: number;
  loss: PairLoss;
  negatives: number;
  /** train.negative_sampling: on_sale draws each positive's negatives among the items on sale at its time, mixed half of them (`train` and replay rows carry `ts`). */
  sampling?: NegativeSampling;
  /** --replay: the epoch's rows (new rows plus a fresh sample of older ones); null: `train` every epoch. */
  replay: ((rng: Prng) => Interactions) | null;
  log: Logger;
}

/**
 * An epoch's examples from the PRNG: rows, sampled negatives, shuffle. Shared by the single-thread
 * task and the worker pool (parallel/train-pair.ts), so both see the same epochs.
 */
export function pairEpochBuilder(opts: PairEpochOptions): (rng: Prng) => EpochExamples {
  const sets = userItemSets(opts.numUsers, [opts.train, ...opts.others]);
  const pool = opts.loss === 'mse' ? null : negativePool(opts.train);
  if (pool !== null) opts.log.info(`negatives are drawn from the ${pool.length} items with training rows; the other ${opts.numItems - pool.length} (only in valid/test, or only in the catalogue) are never trained as negatives`);
  const sampling = opts.sampling ?? 'uniform';
  const onSale = sampling !== 'uniform' && opts.loss !== 'mse' ? onSalePoolOf(opts.train, pool, sampling === 'mixed') : null;
  if (onSale !== null) opts.log.info(`negatives by time on sale${onSale.mixed ? ' for half of them (mixed; the others uniform)' : ''}: each positive's among the items whose first training row is at or before its time (${onSale.items.length} items, launched from ${isoOf(onSale.launch[0])} to ${isoOf(onSale.launch[onSale.launch.length - 1])})`);
  return (rng) => buildEpoch(opts.replay ? opts.replay(rng) : opts.train, sets, opts.loss, opts.negatives, rng, pool, onSale);
}

function onSalePoolOf(train: Interactions, pool: Int32Array | null, mixed: boolean): OnSalePool {
  const ts = train.ts;
  if (ts === undefined) throw new Error('on_sale negatives: the training rows carry no times');
  return onSalePool({ items: train.items, numItems: train.numItems, ts }, pool, mixed);
}

function isoOf(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? 'the start' : new Date(ms).toISOString();
}

export interface PairTaskOptions {
  model: PairModel;
  makeEpoch: (rng: Prng) => EpochExamples;
  loss: PairLoss;
  batchSize: number;
  l2: number;
  sparse: boolean;
  fused: boolean;
  frozen: ReadonlySet<string>;
  sparseOptimizer: RowSparseOptimizer;
  denseOptimizer: DenseOptimizer;
  params: DenseParamUpdater;
  /** The model's item encoder (catalogue features): each step composes the batch's item vectors from it. */
  encoder?: ItemEncoder | null;
}

export function createPairTask(opts: PairTaskOptions): TrainTask {
  const { model, loss, batchSize, frozen } = opts;
  const sparse = opts.sparseOptimizer;
  let epoch: EpochExamples | null = null;
  const updaters = {
    applyRows: (table: TF.Variable, rows: Int32Array, grads: TF.Tensor2D) => sparse.applyRows(table, rows, grads),
    applyDense: (grads: TF.NamedTensorMap) => {
      const rest = opts.params.apply(grads);
      if (Object.keys(rest).length > 0) opts.denseOptimizer.applyGradients(rest);
    },
  };
  // The closed-form step where the model has one and the engine exposes table memory (cpu, wasm);
  // fusedPairStep returns null elsewhere and the autograd step runs instead. With an item encoder
  // the fused step composes the batch's item rows from table memory first (fused-features.ts).
  const encoder = opts.encoder ?? null;
  const fusedModel = opts.fused && opts.sparse && fusable(model) ? model : null;
  const scratch = encoder === null ? null : new Int32Array(model.shape.items).fill(-1);
  let featureSeed = 0;
  const fusedScratch = createFusedScratch();
  const fusedUpdaters = {
    view: (t: TF.Variable) => sparse.view(t),
    prepareRows: (t: TF.Variable, rows: Int32Array) => sparse.prepareRows(t, rows),
    applyPrepared: (t: TF.Variable, c: number) => sparse.applyPrepared(t, c),
    applyDense: (v: TF.Variable, g: Float32Array) => opts.params.applyArray(v, g),
  };
  return {
    beginEpoch(rng) {
      epoch = opts.makeEpoch(rng);
      // Drawn after the epoch's examples, so a run without features samples exactly what it did before.
      if (encoder !== null) featureSeed = rng.nextUint32();
      return Math.ceil(epoch.size / batchSize);
    },
    epochExamples: () => epoch?.size ?? 0,
    step(index) {
      const e = epoch as EpochExamples;
      const lo = index * batchSize;
      const hi = Math.min(e.size, lo + batchSize);
      const batch = {
        users: e.users.subarray(lo, hi),
        items: e.items.subarray(lo, hi),
        labels: e.labels.subarray(lo, hi),
        negatives: e.negatives ? e.negatives.subarray(lo, hi) : null,
      };
      const features = encoder === null || scratch === null ? null : { encoder, scratch, rng: Prng.fromSeed(featureSeed, `id-dropout/${index}`) };
      if (fusedModel) {
        const value = fusedPairStep(fusedModel, batch, loss, opts.l2, fusedUpdaters, frozen, fusedScratch, features);
        if (value !== null) return value;
      }
      return pairStep(model, batch, loss, opts.l2, opts.sparse, updaters, frozen, features);
    },
    setLearningRate(lr) {
      sparse.setLearningRate(lr);
      opts.denseOptimizer.setLearningRate(lr);
      opts.params.setLearningRate(lr);
    },
  };
}
