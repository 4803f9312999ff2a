import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { modelSchema } from '../../../src/config/schema.js';
import { layerVariable, type PairModel, type SequenceModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';

/**
 * A small deterministic SequenceModel: score(history, item) = E[item] · Σ E[h] over the last
 * `maxLen` items of the history (an empty one scores every item 0). Built from tf ops over a real
 * Keras embedding layer, so it is a SequenceModel in every field; with integer embeddings every
 * score is exact, which lets tests compare it with an MF whose user vectors are those sums.
 */
export interface FakeSequenceModel extends SequenceModel {
  /** Every history scoreHistories was given, in call order (copies). */
  readonly calls: Int32Array[][];
}

export function fakeSequenceModel(embeddings: readonly (readonly number[])[], opts: { maxLen?: number; bytesPerUser?: number } = {}): FakeSequenceModel {
  const items = embeddings.length;
  const dim = embeddings[0].length;
  const maxLen = opts.maxLen ?? 50;
  const keras = tf.sequential({
    layers: [tf.layers.embedding({ inputDim: items, outputDim: dim, inputLength: 1, name: 'item_embedding', embeddingsInitializer: 'zeros' })],
  });
  const table = layerVariable(keras, 'item_embedding');
  table.assign(tf.tensor2d(embeddings.map((row) => [...row])));
  const calls: Int32Array[][] = [];
  return {
    name: 'sasrec',
    config: modelSchema.parse({ dim }),
    shape: { users: 0, items, globalMean: 0 },
    keras,
    maxLen,
    tables: [{ name: 'item_embedding', kind: 'item', variable: table }],
    dense: [],
    scoreBytesPerPair: 8,
    scoreBytesPerUser: opts.bytesPerUser,
    calls,
    scoreHistories(histories, itemIndices) {
      calls.push(histories.map((h) => Int32Array.from(h)));
      return tf.tidy(() => {
        const n = histories.length;
        const padded = new Int32Array(n * maxLen);
        const mask = new Float32Array(n * maxLen);
        histories.forEach((h, j) => {
          const tail = h.subarray(Math.max(0, h.length - maxLen));
          // Left padding, as a causal model would have it; the mask zeroes the padding rows.
          const at = j * maxLen + maxLen - tail.length;
          padded.set(tail, at);
          mask.fill(1, at, at + tail.length);
        });
        const rows = tf.gather(table, tf.tensor2d(padded, [n, maxLen], 'int32')) as TF.Tensor3D;
        const summed = tf.sum(tf.mul(rows, tf.tensor3d(mask, [n, maxLen, 1])), 1) as TF.Tensor2D;
        return tf.matMul(summed, tf.gather(table, itemIndices) as TF.Tensor2D, false, true);
      });
    },
    itemVectors: () => tf.tidy(() => table.clone() as TF.Tensor2D),
    // Slot t's state is the sum of the rows of slots 0..t (padding, -1, adds nothing): causal, and
    // at the last slot the same vector scoreHistories scores with.
    encode(batch, itemRows) {
      return tf.tidy(() => {
        const mask = Float32Array.from(batch.ids, (id) => (id < 0 ? 0 : 1));
        const ids = Int32Array.from(batch.ids, (id) => Math.max(0, id));
        const rows = tf.gather(itemRows, tf.tensor1d(ids, 'int32')).as3D(batch.rows, batch.width, itemRows.shape[1]);
        return tf.cumsum<TF.Tensor3D>(tf.mul(rows, tf.tensor3d(mask, [batch.rows, batch.width, 1])), 1);
      });
    },
  };
}

/** Σ E[h] over the last maxLen items of `history`. */
export function historySum(embeddings: readonly (readonly number[])[], history: ArrayLike<number>, maxLen = 50): number[] {
  const out = new Array<number>(embeddings[0].length).fill(0);
  for (let j = Math.max(0, history.length - maxLen); j < history.length; j++) embeddings[history[j]].forEach((v, d) => (out[d] += v));
  return out;
}

/**
 * The pair model a fake sequence model equals once each user's history is fixed: an MF with user
 * vectors historySum(history(u)), item vectors E, no biases.
 */
export function equivalentMf(embeddings: readonly (readonly number[])[], histories: readonly (ArrayLike<number>)[], maxLen = 50): PairModel {
  const dim = embeddings[0].length;
  const model = buildModel('mf', {
    config: modelSchema.parse({ dim }),
    shape: { users: histories.length, items: embeddings.length, globalMean: 0 },
    nextSeed: () => 1,
  });
  const values: Record<string, number[][]> = {
    user_embedding: histories.map((h) => historySum(embeddings, h, maxLen)),
    item_embedding: embeddings.map((row) => [...row]),
    user_bias: histories.map(() => [0]),
    item_bias: embeddings.map(() => [0]),
  };
  for (const t of model.tables) t.variable.assign(tf.tensor2d(values[t.name]));
  return model;
}
