/**
 * Biased matrix factorisation (Koren, Bell & Volinsky 2009):
 *   r̂(u,i) = μ + b_u + b_i + p_u · q_i
 * μ is the global mean of the training ratings (0 for implicit feedback) and stays fixed; the
 * tables p, q, b_u, b_i are trained. For bce/bpr the score is a logit.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { checkSameModelParent, resolvePairLoss, type PairFamily } from './family.js';
import { gatherRows, layerVariable, type FusedPairKernel, type ModelBuildOptions, type PairModel, type EmbeddingTable } from './model.js';

type Initializer = ReturnType<typeof tf.initializers.randomNormal>;

export const MF_TABLES = [
  { name: 'user_embedding', kind: 'user' },
  { name: 'item_embedding', kind: 'item' },
  { name: 'user_bias', kind: 'user' },
  { name: 'item_bias', kind: 'item' },
] as const;

export function buildMf(opts: ModelBuildOptions): PairModel {
  const { config, shape, nextSeed } = opts;
  const d = config.dim;
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const embed = (name: string, rows: number, width: number, init: Initializer | 'zeros') =>
    tf.layers.embedding({
      name,
      inputDim: rows,
      outputDim: width,
      embeddingsInitializer: init,
    });
  const normal = () => tf.initializers.randomNormal({ mean: 0, stddev: config.init_std, seed: nextSeed() });
  const flat = (name: string) => tf.layers.flatten({ name });
  const p = flat('user_vector').apply(embed('user_embedding', shape.users, d, normal()).apply(user)) as TF.SymbolicTensor;
  const q = flat('item_vector').apply(embed('item_embedding', shape.items, d, normal()).apply(item)) as TF.SymbolicTensor;
  const bu = flat('user_bias_flat').apply(embed('user_bias', shape.users, 1, 'zeros').apply(user)) as TF.SymbolicTensor;
  const bi = flat('item_bias_flat').apply(embed('item_bias', shape.items, 1, 'zeros').apply(item)) as TF.SymbolicTensor;
  const dot = tf.layers.dot({ axes: 1, name: 'dot' }).apply([p, q]) as TF.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([dot, bu, bi]) as TF.SymbolicTensor;
  // μ as the bias of a frozen 1→1 dense layer keeps the saved model a plain Keras graph.
  const out = tf.layers
    .dense({
      units: 1,
      name: 'global_bias',
      trainable: false,
      kernelInitializer: 'ones',
      biasInitializer: tf.initializers.constant({ value: shape.globalMean }),
    })
    .apply(sum) as TF.SymbolicTensor;
  const keras = tf.model({ inputs: [user, item], outputs: out, name: 'mf' });
  return wrapMf(keras, opts);
}

/** Wraps a built or loaded Keras MF graph. */
export function wrapMf(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel {
  const tables: EmbeddingTable[] = MF_TABLES.map((t) => ({ ...t, variable: layerVariable(keras, t.name) }));
  const byName = Object.fromEntries(tables.map((t) => [t.name, t.variable]));
  const mu = () => layerVariable(keras, 'global_bias', 1);
  const config = opts.config;
  return {
    name: 'mf',
    config: opts.config,
    shape: opts.shape,
    keras,
    tables,
    dense: [],
    scoreRows(rows) {
      return tf.tidy(() => {
        const dot = tf.sum(tf.mul(rows.user_embedding, rows.item_embedding), 1);
        const bias = tf.add(tf.reshape(rows.user_bias, [-1]), tf.reshape(rows.item_bias, [-1]));
        return tf.add(tf.add(dot, bias), tf.reshape(mu(), [])) as TF.Tensor1D;
      });
    },
    scoreMatrix(users, items) {
      return tf.tidy(() => {
        const rows = gatherRows(tables, users, items);
        const dots = tf.matMul(rows.user_embedding, rows.item_embedding, false, true);
        const withUser = tf.add(dots, rows.user_bias);
        const withItem = tf.add(withUser, tf.reshape(rows.item_bias, [1, -1]));
        return tf.add(withItem, tf.reshape(mu(), [])) as TF.Tensor2D;
      });
    },
    itemVectors() {
      return tf.clone(byName.item_embedding) as TF.Tensor2D;
    },
    fused: mfKernel(config.dim, () => mu().dataSync()[0]),
    // The dot products, two bias sums, the mean added, and the JS copy: five float32 per pair.
    scoreBytesPerPair: 20,
  };
}

/** r̂ = μ + b_u + b_i + p_u·q_i and its row gradients, straight from table memory. */
function mfKernel(dim: number, mean: () => number): FusedPairKernel {
  return {
    // μ sits in a frozen layer: not differentiated.
    dense: [],
    score(t, _dense, users, items, out) {
      const P = t.user_embedding;
      const Q = t.item_embedding;
      const bu = t.user_bias;
      const bi = t.item_bias;
      const mu = mean();
      for (let k = 0; k < users.length; k++) {
        const u = users[k];
        const i = items[k];
        const pu = u * dim;
        const qi = i * dim;
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += P[pu + j] * Q[qi + j];
        out[k] = mu + bu[u] + bi[i] + dot;
      }
    },
    backward(t, _dense, users, items, dScore, grads) {
      const P = t.user_embedding;
      const Q = t.item_embedding;
      const gP = grads.user_embedding;
      const gQ = grads.item_embedding;
      const gbu = grads.user_bias;
      const gbi = grads.item_bias;
      for (let k = 0; k < users.length; k++) {
        const g = dScore[k];
        const pu = users[k] * dim;
        const qi = items[k] * dim;
        const op = gP.slots[k] * dim;
        const oq = gQ.slots[k] * dim;
        for (let j = 0; j < dim; j++) {
          gP.sums[op + j] += g * Q[qi + j];
          gQ.sums[oq + j] += g * P[pu + j];
        }
        gbu.sums[gbu.slots[k]] += g;
        gbi.sums[gbi.slots[k]] += g;
      }
    },
  };
}

/** MF as a family: fits explicit ratings (mse) or ranks implicit feedback; tables of d + 1 floats (factors and bias). */
export const mfFamily: PairFamily = {
  name: 'mf',
  kind: 'pair',
  scoresFrom: 'user',
  fitsRatings: true,
  options: ['dim', 'init_std', 'id_dropout'],
  resolveLoss: resolvePairLoss,
  build: buildMf,
  wrap: wrapMf,
  stepWidths: (config) => ({ user: config.dim + 1, item: config.dim + 1, activationsPerExample: 0 }),
  checkParents: (models, paths, described) => checkSameModelParent('mf', models, paths, described),
};
