/**
 * One optimisation step of a (user, item) model. With row-sparse updates (the default, docs/engines.md#what-rec-adds-to-the-bundled-engines-srcengine)
 * gradients are taken with respect to the gathered embedding rows, so a step costs
 * O(batch × dim) whatever the table sizes; dense mode differentiates the whole tables.
 * L2 follows the PyTorch reference: l2 · mean over the batch of the squared norms of the rows used.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherRows, type PairModel } from '../models/model.js';
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
  applyRows(table: tf.Variable, rows: Int32Array, grads: tf.Tensor2D): void;
  /** Applies gradients to dense variables (and, in dense mode, to whole tables). */
  applyDense(grads: tf.NamedTensorMap): void;
}

/**
 * Mean binary cross-entropy on logits x with labels y: mean(softplus(x) − x·y), which is
 * −[y·log σ(x) + (1−y)·log(1−σ(x))] written without overflow (softplus is thresholded on every
 * engine). Its gradient (σ(x) − y)/n is given directly: a handful of kernels instead of the ~40 of
 * tf.losses.sigmoidCrossEntropy, which differentiates through relu/abs/exp/log1p and was a third
 * of a GMF step at batch 256 on wasm.
 */
export const bceWithLogits = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, y]);
  return {
    value: tf.mean(tf.sub(tf.softplus(x), tf.mul(x, y))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ys] = saved;
      return [tf.mul(tf.sub(tf.sigmoid(xs), ys), tf.div(dy, xs.size)), tf.zerosLike(ys)];
    },
  };
});

function lossOf(model: PairModel, rows: Record<string, tf.Tensor2D>, labels: tf.Tensor1D, loss: PairLoss, l2: number, batch: number): tf.Scalar {
  const scores = model.scoreRows(rows, true);
  let value: tf.Scalar;
  if (loss === 'mse') value = tf.mean(tf.squaredDifference(scores, labels)) as tf.Scalar;
  else if (loss === 'bce') value = bceWithLogits(scores, labels) as tf.Scalar;
  else {
    const pos = tf.slice(scores, 0, batch);
    const neg = tf.slice(scores, batch, batch);
    // −mean(log σ(pos − neg)) written as mean(softplus(neg − pos)): tf.logSigmoid's gradient
    // reads a tensor its own tidy already disposed ("reading 'backend'") inside valueAndGrads.
    value = tf.mean(tf.softplus(tf.sub(neg, pos))) as tf.Scalar;
  }
  if (l2 > 0) {
    let penalty: tf.Tensor = tf.scalar(0);
    for (const r of Object.values(rows)) penalty = tf.add(penalty, tf.sum(tf.square(r)));
    value = tf.add(value, tf.mul(l2 / batch, penalty)) as tf.Scalar;
  }
  return value;
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
): number {
  const n = batch.users.length;
  const userIdx = loss === 'bpr' ? concatInt(batch.users, batch.users) : batch.users;
  const itemIdx = loss === 'bpr' && batch.negatives ? concatInt(batch.items, batch.negatives) : batch.items;
  const trainable = model.tables.filter((t) => !frozen.has(t.name));
  const dense = model.dense.filter((v) => !frozen.has(v.name));
  let lossValue = 0;
  tf.tidy(() => {
    const users = tf.tensor1d(userIdx, 'int32');
    const items = tf.tensor1d(itemIdx, 'int32');
    const labels = tf.tensor1d(batch.labels, 'float32');
    if (sparse) {
      const rows = gatherRows(model.tables, users, items);
      const inputs: tf.Tensor[] = [...trainable.map((t) => rows[t.name]), ...dense];
      const { value, grads } = tf.valueAndGrads((..._xs: tf.Tensor[]) => lossOf(model, rows, labels, loss, l2, n))(inputs);
      lossValue = value.dataSync()[0];
      if (!Number.isFinite(lossValue)) return;
      trainable.forEach((t, k) => updaters.applyRows(t.variable, t.kind === 'user' ? userIdx : itemIdx, grads[k] as tf.Tensor2D));
      const named: tf.NamedTensorMap = {};
      dense.forEach((v, k) => (named[v.name] = grads[trainable.length + k]));
      if (dense.length > 0) updaters.applyDense(named);
    } else {
      const vars = [...trainable.map((t) => t.variable), ...dense];
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
