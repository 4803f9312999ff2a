/**
 * The data-parallel replica of the sequence models (sasrec). A step's batch of sequences is split
 * by rows: every replica builds the whole batch's input from the epoch's step PRNG (so a row's
 * window, targets and negatives are the single-thread step's whatever the worker count), and
 * differentiates its rows' slice (sequence.ts sliceInput) with a dropout stream of that row range.
 *
 * The sequence loss is the summed slot losses over an epoch constant, so the shards' gradients
 * ADD to the batch's: the reduction scatters each shard's item-row gradients into the batch's row
 * list (the single-thread step's, in its order) and sums dense gradients, shards in order. The
 * item-row L2 term is charged once per row in the reduction (per shard it would count a row that
 * two shards read twice), so shard tasks are built with l2 0. Every replica then applies the
 * batch's gradients through the same SequenceTask.apply as the single-thread step.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../engine/tf.js';
import type { OptimizerConfig, RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import { namedWeights, type SequenceModel } from '../../models/model.js';
import { buildModel, type SequenceModelName } from '../../models/registry.js';
import type { Interactions } from '../pair-data.js';
import { resolveFrozen, type DenseParamUpdater } from '../params.js';
import { createSequenceTask, sliceInput, type SequenceGradients, type SequenceLoss, type SequenceStepInput, type SequenceTask, type SequenceTaskOptions } from '../tasks/sequence.js';
import { checkLayout, replicaState, restoreReplica, type GradientBuffers, type GradientLayout, type OwnReductionReplica, type ReplicaEpoch, type ReplicaModelInit, type Shard } from './replica.js';

export interface SequenceReplicaParts {
  /** Built with l2 0: the reduction adds the L2 term (see above). */
  task: SequenceTask;
  model: SequenceModel;
  frozen: ReadonlySet<string>;
  loss: SequenceLoss;
  negatives: number;
  sparse: boolean;
  l2: number;
}

/** What a worker needs to rebuild the main thread's replica (structured-clonable). */
export interface SequenceReplicaInit extends ReplicaModelInit {
  family: 'sequence';
  model: SequenceModelName;
  loss: SequenceLoss;
  negatives: number;
  batchSize: number;
  sparse: boolean;
  l2: number;
  train: Interactions;
  others: { users: Int32Array; items: Int32Array }[];
}

export function sequenceLayout(model: SequenceModel, frozen: ReadonlySet<string>): GradientLayout {
  const keys = new Map(namedWeights(model.keras).map((w) => [w.variable.name, w.key]));
  const table = model.tables[0];
  return {
    // perExample is unused: the replica sizes its own row buffers (a batch's distinct items).
    rows: frozen.has(table.name) ? [] : [{ name: table.name, width: model.config.dim, perExample: 0 }],
    dense: model.dense.filter((v) => !frozen.has(v.name)).map((v) => ({ name: keys.get(v.name) ?? v.name, size: v.size })),
  };
}

/** The sequence epoch as the pool's: its arrays (shared with the workers), its step seed and slot count. */
export function sequenceEpoch(task: SequenceTask): ReplicaEpoch & { steps: Int32Array } {
  const e = task.exportEpoch();
  return { family: 'sequence', arrays: { users: e.users, offsets: e.offsets }, size: e.users.length, stepSeed: e.stepSeed, slots: e.slots, steps: e.offsets };
}

export function createSequenceReplica(parts: SequenceReplicaParts): OwnReductionReplica {
  const { task, model, frozen, loss, negatives, sparse, l2 } = parts;
  const layout = sequenceLayout(model, frozen);
  const table = model.tables[0];
  const tableFrozen = frozen.has(table.name);
  const dense = model.dense.filter((v) => !frozen.has(v.name));
  const dim = model.config.dim;
  const numItems = model.shape.items;
  const perSlot = loss === 'bce';
  const wholeTable = (loss === 'ce' && negatives === 0) || !sparse;
  const local = new Int32Array(numItems).fill(-1);
  let offsets: Int32Array = new Int32Array(1);
  let cached: { index: number; input: SequenceStepInput; rows: Int32Array } | null = null;

  const step = (index: number) => {
    if (cached === null || cached.index !== index) {
      const input = task.input(index);
      cached = { index, input, rows: task.rowsOf(input) };
    }
    return cached;
  };
  const part = (shard: Shard) => {
    const index = stepOf(offsets, shard.lo);
    const s = step(index);
    const lo = shard.lo - offsets[index];
    const hi = shard.hi - offsets[index];
    return { index, s, lo, hi, input: sliceInput(s.input, lo, hi, perSlot) };
  };

  return {
    strategy: 'own-reduction',
    layout,
    setEpoch(epoch) {
      if (epoch.family !== 'sequence') throw new Error(`sequence replica: a ${epoch.family} epoch`);
      offsets = epoch.arrays.offsets as Int32Array;
      task.importEpoch({ users: epoch.arrays.users as Int32Array, offsets, stepSeed: epoch.stepSeed, slots: epoch.slots });
      cached = null;
    },
    computeShard(shard, out) {
      const p = part(shard);
      return copyGradients(task.gradients(p.input, task.dropout(p.index, { lo: p.lo, hi: p.hi })), dense, out);
    },
    sizes(examples) {
      const perRow = model.maxLen * (perSlot ? 3 : 2);
      const sampled = loss === 'ce' && negatives > 0 ? negatives : 0;
      // A shard's distinct items, or the whole batch's for the reduced buffer: never more than the catalogue.
      const rows = wholeTable ? numItems : Math.min(numItems, examples * perRow + sampled);
      return { rows: layout.rows.map(() => rows * dim), dense: layout.dense.map((d) => d.size) };
    },
    reduce(shards, losses, parts, out) {
      let lossSum = 0;
      let first: Shard | null = null;
      shards.forEach((sh, k) => {
        if (sh.hi === sh.lo) return;
        lossSum += losses[k];
        first ??= sh;
      });
      if (first === null || !Number.isFinite(lossSum)) return lossSum;
      const { s } = part(first);
      if (!tableFrozen) {
        const R = s.rows;
        const dst = out.rows[0];
        dst.fill(0, 0, R.length * dim);
        for (let j = 0; j < R.length; j++) local[R[j]] = j;
        shards.forEach((sh, k) => {
          if (sh.hi > sh.lo) addRows(dst, parts[k].rows[0], task.rowsOf(part(sh).input), local, dim);
        });
        for (let j = 0; j < R.length; j++) local[R[j]] = -1;
      }
      // The single-thread step's l2/D · Σ w² over the batch's rows, once per row (its value
      // counts in the loss even when the table is frozen).
      if (l2 > 0) lossSum += chargeL2(wholeTable ? table.variable : null, table.variable, s.rows, s.input.denominator, l2, tableFrozen ? null : out.rows[0], dim);
      sumDenseShards(layout, shards, parts, out);
      return lossSum;
    },
    applyStep(shards, grads) {
      const first = shards.find((sh) => sh.hi > sh.lo);
      if (first === undefined) return;
      const { s } = part(first);
      const R = s.rows;
      const named: TF.NamedTensorMap = {};
      dense.forEach((v, k) => (named[v.name] = tf.tensor(grads.dense[k].slice(0, v.size), v.shape, 'float32')));
      task.apply({
        loss: 0,
        positions: s.input.slots.length,
        itemRows: tableFrozen ? null : R,
        itemGrad: tableFrozen ? null : tf.tensor2d(grads.rows[0].slice(0, R.length * dim), [R.length, dim]),
        dense: named,
      });
    },
    setLearningRate(lr) {
      task.setLearningRate(lr);
    },
  };
}

/** The step whose examples [offsets[i], offsets[i + 1]) hold example `at`. */
function stepOf(offsets: Int32Array, at: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A shard's gradients into `out` (its tensors disposed); returns the shard's loss. */
function copyGradients(g: SequenceGradients, dense: readonly TF.Variable[], out: GradientBuffers): number {
  try {
    if (!Number.isFinite(g.loss)) return g.loss;
    if (g.itemGrad !== null) out.rows[0].set(g.itemGrad.dataSync());
    dense.forEach((v, k) => {
      const grad = g.dense[v.name];
      if (grad === undefined) throw new Error(`sequence replica: no gradient for ${v.name}`);
      out.dense[k].set(grad.dataSync());
    });
    return g.loss;
  } finally {
    tf.dispose([...(g.itemGrad ? [g.itemGrad] : []), ...Object.values(g.dense)]);
  }
}

/** A shard's item-row gradients `src` (rows `own`) added into the batch's rows (slot of item r: local[r]). */
function addRows(dst: Float32Array, src: Float32Array, own: Int32Array, local: Int32Array, dim: number): void {
  for (let j = 0; j < own.length; j++) {
    const at = local[own[j]] * dim;
    for (let c = 0; c < dim; c++) dst[at + c] += src[j * dim + c];
  }
}

/**
 * The L2 term l2/D · Σ w² of the batch's rows R (of `whole` when the batch's rows are the whole
 * table): its gradient added to `dst` (null: the table is frozen), its value returned.
 */
function chargeL2(whole: TF.Variable | null, table: TF.Variable, R: Int32Array, D: number, l2: number, dst: Float32Array | null, dim: number): number {
  const w = tf.tidy(() => (whole ?? tf.gather(table, tf.tensor1d(R, 'int32'))).dataSync() as Float32Array);
  let sq = 0;
  for (let j = 0; j < R.length * dim; j++) {
    sq += w[j] * w[j];
    if (dst !== null) dst[j] += ((2 * l2) / D) * w[j];
  }
  return (l2 / D) * sq;
}

/** The shards' dense gradients summed in shard order (they add up to the batch's). */
function sumDenseShards(layout: GradientLayout, shards: readonly Shard[], parts: readonly GradientBuffers[], out: GradientBuffers): void {
  layout.dense.forEach((d, t) => {
    const dst = out.dense[t];
    let started = false;
    shards.forEach((sh, k) => {
      if (sh.hi === sh.lo) return;
      const src = parts[k].dense[t];
      if (!started) dst.set(src.subarray(0, d.size));
      else for (let j = 0; j < d.size; j++) dst[j] += src[j];
      started = true;
    });
  });
}

export interface SequenceReplicaSource {
  name: SequenceModelName;
  seed: number;
  optimizer: OptimizerConfig;
  freeze: readonly string[];
  batchSize: number;
  train: Interactions;
  others: readonly { users: Int32Array; items: Int32Array }[];
  sparseOptimizer: RowSparseOptimizer;
  params: DenseParamUpdater;
}

/** The main thread's replica as a worker's init payload. */
export function sequenceReplicaInit(parts: SequenceReplicaParts & SequenceReplicaSource, replica: number): SequenceReplicaInit {
  return {
    // No applyShared: every replica applies the whole update (2.9 ms of a ~42 ms Games step), so each keeps its own moments.
    ...replicaState({ model: parts.model, sparse: parts.sparseOptimizer, params: parts.params, seed: parts.seed, replica, optimizer: parts.optimizer, freeze: parts.freeze, share: false }),
    family: 'sequence',
    model: parts.name,
    loss: parts.loss,
    negatives: parts.negatives,
    batchSize: parts.batchSize,
    sparse: parts.sparse,
    l2: parts.l2,
    train: parts.train,
    others: parts.others.map((o) => ({ users: o.users, items: o.items })),
    layout: sequenceLayout(parts.model, resolveFrozen(parts.model, parts.freeze)),
  };
}

/** The options of a replica's shard task (l2 0: the reduction charges it). */
export function shardTaskOptions(o: SequenceTaskOptions): SequenceTaskOptions {
  return { ...o, l2: 0 };
}

/** A worker's replica: the same model and optimizer state as the main thread's. */
export function sequenceReplicaFromInit(init: SequenceReplicaInit): OwnReductionReplica {
  const { model, frozen, sparse: sparseOptimizer, params } = restoreReplica(init, (nextSeed) => buildModel(init.model, { config: init.modelConfig, shape: init.shape, nextSeed }));
  const task = createSequenceTask({
    model,
    train: init.train,
    others: init.others,
    loss: init.loss,
    negatives: init.negatives,
    batchSize: init.batchSize,
    l2: 0,
    sparse: init.sparse,
    frozen,
    sparseOptimizer,
    params,
  });
  const replica = createSequenceReplica({ task, model, frozen, loss: init.loss, negatives: init.negatives, sparse: init.sparse, l2: init.l2 });
  replica.setLearningRate(init.lr);
  checkLayout(init.replica, replica.layout, init.layout);
  return replica;
}
