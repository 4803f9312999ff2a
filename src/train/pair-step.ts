/**
 * One optimisation step of a (user, item) model. With row-sparse updates (the default, docs/engines.md#what-rec-adds-to-the-bundled-engines-srcengine)
 * gradients are taken with respect to the gathered embedding rows, so a step costs
 * O(batch × dim) whatever the table sizes; dense mode differentiates the whole tables.
 * L2 follows the PyTorch reference: l2 · mean over the batch of the squared norms of the rows used.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ItemEncoder } from '../models/item-encoder.js';
import { gatherRows, type EmbeddingTable, type PairModel } from '../models/model.js';
import type { Prng } from '../util/prng.js';
import { distinct, featureLeaves, type RowLeaf } from './feature-rows.js';
import type { PairLoss } from './pair-data.js';

export interface StepBatch {
  users: Int32Array;
  items: Int32Array;
  labels: Float32Array;
  /** bpr only: the sampled negative item of each (user, positive) pair. */
  negatives: Int32Array | null;
}

export interface StepUpdaters {
  /** Applies row gradients to one embedding table (rows may repeat). */
  applyRows(table: TF.Variable, rows: Int32Array, grads: TF.Tensor2D): void;
  /** Applies gradients to dense variables (and, in dense mode, to whole tables). */
  applyDense(grads: TF.NamedTensorMap): void;
}

/**
 * Mean binary cross-entropy on logits x with labels y: mean(softplus(x) − x·y), which is
 * −[y·log σ(x) + (1−y)·log(1−σ(x))] written without overflow (softplus is thresholded on every
 * engine). Its gradient (σ(x) − y)/n is given directly: a handful of kernels instead of the ~40 of
 * tf.losses.sigmoidCrossEntropy, which differentiates through relu/abs/exp/log1p and was a third
 * of a GMF step at batch 256 on wasm.
 */
export const bceWithLogits = tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
  const [x, y, save] = args as [TF.Tensor, TF.Tensor, TF.GradSaveFunc];
  save([x, y]);
  return {
    value: tf.mean(tf.sub(tf.softplus(x), tf.mul(x, y))),
    gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => {
      const [xs, ys] = saved;
      return [tf.mul(tf.sub(tf.sigmoid(xs), ys), tf.div(dy, xs.size)), tf.zerosLike(ys)];
    },
  };
});

function lossOf(model: PairModel, rows: Record<string, TF.Tensor2D>, labels: TF.Tensor1D, loss: PairLoss, l2: number, batch: number): TF.Scalar {
  const scores = model.scoreRows(rows, true);
  let value: TF.Scalar;
  if (loss === 'mse') value = tf.mean(tf.squaredDifference(scores, labels)) as TF.Scalar;
  else if (loss === 'bce') value = bceWithLogits(scores, labels) as TF.Scalar;
  else {
    const pos = tf.slice(scores, 0, batch);
    const neg = tf.slice(scores, batch, batch);
    // −mean(log σ(pos − neg)) written as mean(softplus(neg − pos)): tf.logSigmoid's gradient
    // reads a tensor its own tidy already disposed ("reading 'backend'") inside valueAndGrads.
    value = tf.mean(tf.softplus(tf.sub(neg, pos))) as TF.Scalar;
  }
  if (l2 > 0) {
    let penalty: TF.Tensor = tf.scalar(0);
    for (const r of Object.values(rows)) penalty = tf.add(penalty, tf.sum(tf.square(r)));
    value = tf.add(value, tf.mul(l2 / batch, penalty)) as TF.Scalar;
  }
  return value;
}

/** A model's item encoder in a step: its vectors are composed from id and feature rows, ids dropped by `rng`. */
export interface StepFeatures {
  encoder: ItemEncoder;
  rng: Prng;
  /** Scratch item → position map, all -1 between uses (numItems long). */
  scratch: Int32Array;
}

/**
 * The leaves of a row-sparse step and the rows scoreRows reads, built from them inside the
 * differentiated function: each table's gathered rows, or, with an item encoder, the user tables'
 * rows and the composed item vectors of the batch's distinct items.
 */
function stepLeaves(model: PairModel, users: TF.Tensor1D, items: TF.Tensor1D, idx: { users: Int32Array; items: Int32Array }, frozen: ReadonlySet<string>, features: StepFeatures | null): { leaves: RowLeaf[]; rows: () => Record<string, TF.Tensor2D> } {
  const trainable = (t: EmbeddingTable) => !frozen.has(t.name);
  if (features === null) {
    const rows = gatherRows(model.tables, users, items);
    const leaves = model.tables.filter(trainable).map((t) => ({ table: t.variable, rows: t.kind === 'user' ? idx.users : idx.items, tensor: rows[t.name] }));
    return { leaves, rows: () => rows };
  }
  const userTables = model.tables.filter((t) => t.kind === 'user');
  const itemTables = model.tables.filter((t) => t.kind === 'item');
  const userRows = gatherRows(userTables, users, items);
  const { list, local } = distinct(idx.items, features.scratch);
  const f = featureLeaves(features.encoder, itemTables, frozen, list, features.rng);
  const positions = tf.tensor1d(local, 'int32');
  const leaves = [...userTables.filter(trainable).map((t) => ({ table: t.variable, rows: idx.users, tensor: userRows[t.name] })), ...f.leaves];
  return {
    leaves,
    rows: () => {
      const composed = f.assemble();
      const out: Record<string, TF.Tensor2D> = { ...userRows };
      for (const t of itemTables) out[t.name] = composed[t.name] ? (tf.gather(composed[t.name], positions) as TF.Tensor2D) : (tf.gather(t.variable, items) as TF.Tensor2D);
      return out;
    },
  };
}

/** Runs one step and returns the batch loss (synchronously read, for the NaN check and logs). */
export function pairStep(
  model: PairModel,
  batch: StepBatch,
  loss: PairLoss,
  l2: number,
  sparse: boolean,
  updaters: StepUpdaters,
  frozen: ReadonlySet<string>,
  features: StepFeatures | null = null,
): number {
  const n = batch.users.length;
  const userIdx = loss === 'bpr' ? concatInt(batch.users, batch.users) : batch.users;
  const itemIdx = loss === 'bpr' && batch.negatives ? concatInt(batch.items, batch.negatives) : batch.items;
  const dense = model.dense.filter((v) => !frozen.has(v.name));
  let lossValue = 0;
  tf.tidy(() => {
    const users = tf.tensor1d(userIdx, 'int32');
    const items = tf.tensor1d(itemIdx, 'int32');
    const labels = tf.tensor1d(batch.labels, 'float32');
    if (sparse) {
      const { leaves, rows } = stepLeaves(model, users, items, { users: userIdx, items: itemIdx }, frozen, features);
      const inputs: TF.Tensor[] = [...leaves.map((l) => l.tensor), ...dense];
      const { value, grads } = tf.valueAndGrads((..._xs: TF.Tensor[]) => lossOf(model, rows(), labels, loss, l2, n))(inputs);
      lossValue = value.dataSync()[0];
      if (!Number.isFinite(lossValue)) return;
      leaves.forEach((l, k) => updaters.applyRows(l.table, l.rows, grads[k] as TF.Tensor2D));
      const named: TF.NamedTensorMap = {};
      dense.forEach((v, k) => (named[v.name] = grads[leaves.length + k]));
      if (dense.length > 0) updaters.applyDense(named);
    } else {
      const vars = [...model.tables.filter((t) => !frozen.has(t.name)).map((t) => t.variable), ...dense];
      const { value, grads } = tf.variableGrads(() => lossOf(model, gatherRows(model.tables, users, items), labels, loss, l2, n), vars);
      lossValue = value.dataSync()[0];
      if (!Number.isFinite(lossValue)) return;
      updaters.applyDense(grads);
    }
  });
  return lossValue;
}

export function concatInt(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
