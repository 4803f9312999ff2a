/**
 * Neural Collaborative Filtering (He, Liao, Zhang, Nie, Hu & Chua 2017, "Neural Collaborative
 * Filtering", WWW): GMF, MLP and their fusion NeuMF, following the authors' Keras code
 * (github.com/hexiangnan/neural_collaborative_filtering).
 *
 *   GMF:    φ_gmf = p_u ⊙ q_i                                   (p, q ∈ R^d)
 *   MLP:    φ_mlp = a_L(… a_1(W_1 [p'_u ; q'_i] + b_1) …)         (ReLU tower)
 *   NeuMF:  ŷ = σ(hᵀ [φ_gmf ; φ_mlp] + b)                         (separate embeddings per part)
 *
 * `--layers` is the authors' list: layers[0] is the width of the concatenated MLP embeddings
 * (layers[0]/2 per side) and layers[1..] the Dense ReLU layers, so the default 8d,4d,2d,d (d = 8:
 * 64,32,16,8) means embeddings of 4d per side and three hidden layers ending in d units.
 *
 * The output layer `prediction` is linear: the graph and `scoreRows` both return the logit, which
 * bce takes through sigmoidCrossEntropy (numerically stable) and ranking does not change (σ is
 * monotone). Initialisation as the authors: embeddings N(0, init_std = 0.01), hidden layers
 * glorot-uniform, output lecun-uniform, biases 0.
 *
 * Layer names are shared across the three models (`gmf_user_embedding`, `mlp_layer_1`, …) so that
 * weights move between checkpoints by name: a NeuMF takes the tables of a GMF and an MLP parent.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../config/schema.js';
import { ConfigError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { denseVariables, layerVariable, type EmbeddingTable, type FusedPairKernel, type ModelBuildOptions, type PairModel, type TableKind } from './model.js';

export type NcfKind = 'gmf' | 'mlp' | 'neumf';

export const PREDICTION_LAYER = 'prediction';
export const GMF_TABLES = [
  { name: 'gmf_user_embedding', kind: 'user' },
  { name: 'gmf_item_embedding', kind: 'item' },
] as const satisfies readonly { name: string; kind: TableKind }[];
export const MLP_TABLES = [
  { name: 'mlp_user_embedding', kind: 'user' },
  { name: 'mlp_item_embedding', kind: 'item' },
] as const satisfies readonly { name: string; kind: TableKind }[];

export const mlpLayerName = (k: number): string => `mlp_layer_${k}`;

const hasGmf = (kind: NcfKind): boolean => kind !== 'mlp';
const hasMlp = (kind: NcfKind): boolean => kind !== 'gmf';

/** The MLP tower of a config: `model.layers`, or 8d,4d,2d,d when it is empty (README.md#models-pretraining-and-fine-tuning). */
export function mlpTower(config: ModelConfig): number[] {
  const d = config.dim;
  const layers = config.layers.length > 0 ? [...config.layers] : [8 * d, 4 * d, 2 * d, d];
  if (layers[0] % 2 !== 0) {
    throw new ConfigError(
      `model.layers[0] is the width of the concatenated user and item MLP embeddings, so it must be even. Received: ${layers.join(',')}. Expected e.g. 64,32,16,8.`,
    );
  }
  return layers;
}

function tablesOf(kind: NcfKind): { name: string; kind: TableKind }[] {
  return [...(hasGmf(kind) ? GMF_TABLES : []), ...(hasMlp(kind) ? MLP_TABLES : [])];
}

export function buildNcf(kind: NcfKind, opts: ModelBuildOptions): PairModel {
  const { config, shape, nextSeed } = opts;
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const embed = (name: string, input: TF.SymbolicTensor, rows: number, width: number): TF.SymbolicTensor => {
    const e = tf.layers
      .embedding({
        name,
        inputDim: rows,
        outputDim: width,
        embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: config.init_std, seed: nextSeed() }),
      })
      .apply(input) as TF.SymbolicTensor;
    return tf.layers.flatten({ name: `${name}_flat` }).apply(e) as TF.SymbolicTensor;
  };
  const parts: TF.SymbolicTensor[] = [];
  if (hasGmf(kind)) {
    const p = embed('gmf_user_embedding', user, shape.users, config.dim);
    const q = embed('gmf_item_embedding', item, shape.items, config.dim);
    parts.push(tf.layers.multiply({ name: 'gmf_product' }).apply([p, q]) as TF.SymbolicTensor);
  }
  if (hasMlp(kind)) {
    const layers = mlpTower(config);
    const half = layers[0] / 2;
    const p = embed('mlp_user_embedding', user, shape.users, half);
    const q = embed('mlp_item_embedding', item, shape.items, half);
    let x = tf.layers.concatenate({ name: 'mlp_concat', axis: -1 }).apply([p, q]) as TF.SymbolicTensor;
    for (let k = 1; k < layers.length; k++) {
      x = tf.layers
        .dense({
          name: mlpLayerName(k),
          units: layers[k],
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
          biasInitializer: 'zeros',
        })
        .apply(x) as TF.SymbolicTensor;
      // Kept in the graph so the saved model documents it; it is the identity at inference.
      if (config.dropout > 0) x = tf.layers.dropout({ name: `mlp_dropout_${k}`, rate: config.dropout }).apply(x) as TF.SymbolicTensor;
    }
    parts.push(x);
  }
  const h = parts.length === 1 ? parts[0] : (tf.layers.concatenate({ name: 'neumf_concat', axis: -1 }).apply(parts) as TF.SymbolicTensor);
  const out = tf.layers
    .dense({
      name: PREDICTION_LAYER,
      units: 1,
      kernelInitializer: tf.initializers.leCunUniform({ seed: nextSeed() }),
      biasInitializer: 'zeros',
    })
    .apply(h) as TF.SymbolicTensor;
  const keras = tf.model({ inputs: [user, item], outputs: out, name: kind });
  return wrapNcf(kind, keras, opts);
}

/** Wraps a built or loaded Keras NCF graph of the given kind. */
export function wrapNcf(kind: NcfKind, keras: TF.LayersModel, opts: ModelBuildOptions): PairModel {
  const { config } = opts;
  const tables: EmbeddingTable[] = tablesOf(kind).map((t) => ({ ...t, variable: layerVariable(keras, t.name) }));
  const tower = hasMlp(kind) ? mlpTower(config) : [];
  const hidden = tower.slice(1).map((_, j) => ({
    kernel: layerVariable(keras, mlpLayerName(j + 1), 0),
    bias: layerVariable(keras, mlpLayerName(j + 1), 1),
  }));
  const outKernel = layerVariable(keras, PREDICTION_LAYER, 0);
  const outBias = layerVariable(keras, PREDICTION_LAYER, 1);
  // Dropout masks come from their own seeded stream so a run stays reproducible; after --resume
  // the stream restarts (its state is not in trainer_state.json), so with dropout > 0 a resumed
  // run is deterministic but not bit-identical to an uninterrupted one.
  const dropoutRng = Prng.fromSeed(opts.nextSeed(), 'model/dropout');

  const gmfWidth = hasGmf(kind) ? config.dim : 0;
  const half = tower.length > 0 ? tower[0] / 2 : 0;

  /** The MLP tower's output for aligned rows. */
  const mlpOut = (rows: Readonly<Record<string, TF.Tensor2D>>, training: boolean): TF.Tensor2D => {
    const pu = rows.mlp_user_embedding;
    const qi = rows.mlp_item_embedding;
    if (hidden.length === 0) return tf.concat([pu, qi], 1);
    // [p;q]·W = p·W[:half] + q·W[half:]: the same product without materialising the concatenation
    // (Concat forward and SplitV backward were a fifth of a NeuMF step on wasm).
    const w = hidden[0].kernel;
    const first = tf.add(tf.matMul(pu, tf.slice(w, [0, 0], [half, -1])), tf.fused.matMul({ a: qi, b: tf.slice(w, [half, 0], [half, -1]), bias: hidden[0].bias }));
    let x = tf.relu(first) as TF.Tensor2D;
    for (let k = 0; k < hidden.length; k++) {
      if (k > 0) x = tf.fused.matMul({ a: x, b: hidden[k].kernel, bias: hidden[k].bias, activation: 'relu' }) as TF.Tensor2D;
      if (training && config.dropout > 0) x = tf.dropout(x, config.dropout, undefined, dropoutRng.tfSeed()) as TF.Tensor2D;
    }
    return x;
  };

  /** The logits of aligned rows: hᵀ[φ_gmf ; φ_mlp] + b, again without the concatenation. */
  const scoreRows = (rows: Readonly<Record<string, TF.Tensor2D>>, training: boolean): TF.Tensor1D =>
    tf.tidy(() => {
      let logit: TF.Tensor2D | null = null;
      if (hasGmf(kind)) {
        const h = kind === 'gmf' ? outKernel : tf.slice(outKernel, [0, 0], [gmfWidth, 1]);
        logit = tf.fused.matMul({ a: tf.mul(rows.gmf_user_embedding, rows.gmf_item_embedding), b: h, bias: outBias }) as TF.Tensor2D;
      }
      if (hasMlp(kind)) {
        const h = kind === 'mlp' ? outKernel : tf.slice(outKernel, [gmfWidth, 0], [-1, 1]);
        const part = tf.fused.matMul({ a: mlpOut(rows, training), b: h, bias: logit === null ? outBias : undefined });
        logit = logit === null ? (part as TF.Tensor2D) : (tf.add(logit, part) as TF.Tensor2D);
      }
      return tf.reshape(logit as TF.Tensor2D, [-1]) as TF.Tensor1D;
    });

  return {
    name: kind,
    config,
    shape: opts.shape,
    keras,
    tables,
    dense: denseVariables(keras, tables),
    scoreRows,
    scoreMatrix(users, items) {
      return tf.tidy(() => {
        const I = items.shape[0];
        const byName = (name: string) => (tables.find((t) => t.name === name) as EmbeddingTable).variable;
        let gmf: TF.Tensor2D | null = null;
        if (hasGmf(kind)) {
          // hᵀ(p ⊙ q) = (p ⊙ hᵀ) · qᵀ: one matmul for the whole block.
          const h = kind === 'gmf' ? outKernel : tf.slice(outKernel, [0, 0], [gmfWidth, 1]);
          const p = tf.mul(tf.gather(byName('gmf_user_embedding'), users), tf.reshape(h, [1, -1]));
          gmf = tf.matMul(p, tf.gather(byName('gmf_item_embedding'), items), false, true) as TF.Tensor2D;
        }
        const bias = tf.reshape(outBias, []);
        if (!hasMlp(kind)) return tf.add(gmf as TF.Tensor2D, bias) as TF.Tensor2D;
        const h = kind === 'mlp' ? outKernel : tf.slice(outKernel, [gmfWidth, 0], [-1, 1]);
        const pu = tf.gather(byName('mlp_user_embedding'), users);
        const qi = tf.gather(byName('mlp_item_embedding'), items);
        if (hidden.length === 0) {
          // No hidden layer: hᵀ[p;q] = h_uᵀp + h_iᵀq, a sum of a user and an item term.
          const mlp = tf.add(tf.matMul(pu, tf.slice(h, [0, 0], [half, 1])), tf.reshape(tf.matMul(qi, tf.slice(h, [half, 0], [half, 1])), [1, I]));
          return tf.add(gmf === null ? mlp : tf.add(gmf, mlp), bias) as TF.Tensor2D;
        }
        const mlp = towerScores(pu, qi, hidden, h, half, tower[1]);
        return tf.add(gmf === null ? mlp : tf.add(gmf, mlp), bias) as TF.Tensor2D;
      });
    },
    fused: kind === 'gmf' ? gmfKernel(config.dim, outKernel, outBias) : undefined,
    // Float32 per pair: the GMF and MLP parts, their sums and concatenations, the JS copy; for the
    // tower, its first layer's broadcast sum and ReLU and every narrower layer, as if one chunk.
    scoreBytesPerPair: 4 * (6 + (hidden.length > 0 ? 2 * tower[1] + tower.slice(2).reduce((s, w) => s + w, 0) : 0)),
    itemVectors() {
      // NeuMF: both item embeddings side by side, each part's own similarity space.
      const parts = tables.filter((t) => t.kind === 'item').map((t) => t.variable);
      return (parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts, 1)) as TF.Tensor2D;
    },
  };
}

/**
 * The MLP's scores of every pair of a block of users (`pu`) and items (`qi`). The MLP does not
 * factorise over (user, item), but its first layer does: W₁[p;q] + b₁ = (W₁ᵤp) + (W₁ᵢq + b₁), so
 * each side is multiplied once and every pair costs a broadcast add plus the narrower layers
 * above. A few users at a time keep the widest activation ([chunk · I, width]) near 4M floats.
 */
function towerScores(pu: TF.Tensor, qi: TF.Tensor, hidden: readonly { kernel: TF.Variable; bias: TF.Variable }[], h: TF.Tensor, half: number, width: number): TF.Tensor2D {
  const w = hidden[0].kernel;
  const a = tf.matMul(pu, tf.slice(w, [0, 0], [half, -1]));
  const b = tf.add(tf.matMul(qi, tf.slice(w, [half, 0], [half, -1])), hidden[0].bias);
  const U = pu.shape[0];
  const I = qi.shape[0];
  const chunk = Math.max(1, Math.floor(4_000_000 / Math.max(1, I * width)));
  const blocks: TF.Tensor2D[] = [];
  for (let lo = 0; lo < U; lo += chunk) {
    const n = Math.min(chunk, U - lo);
    // Each chunk's activations go as soon as its scores exist, not at the end of the block.
    const scores = tf.tidy(() => {
      const pairs = tf.add(tf.reshape(tf.slice(a, [lo, 0], [n, -1]), [n, 1, width]), tf.reshape(b, [1, I, width]));
      let x = tf.relu(tf.reshape(pairs, [n * I, width])) as TF.Tensor2D;
      for (let k = 1; k < hidden.length; k++) x = tf.fused.matMul({ a: x, b: hidden[k].kernel, bias: hidden[k].bias, activation: 'relu' }) as TF.Tensor2D;
      return tf.reshape(tf.matMul(x, h), [n, I]);
    });
    blocks.push(scores as TF.Tensor2D);
  }
  return blocks.length === 1 ? blocks[0] : (tf.concat(blocks, 0) as TF.Tensor2D);
}

/** GMF's logit b + Σ_j h_j·p_uj·q_ij and its gradients, straight from table memory (see PairModel.fused). */
function gmfKernel(dim: number, kernel: TF.Variable, bias: TF.Variable): FusedPairKernel {
  return {
    dense: [kernel, bias],
    score(t, [h, b], users, items, out) {
      const P = t.gmf_user_embedding;
      const Q = t.gmf_item_embedding;
      for (let k = 0; k < users.length; k++) {
        const pu = users[k] * dim;
        const qi = items[k] * dim;
        let s = 0;
        for (let j = 0; j < dim; j++) s += h[j] * P[pu + j] * Q[qi + j];
        out[k] = b[0] + s;
      }
    },
    backward(t, [h], users, items, dScore, grads, [dh, db]) {
      const P = t.gmf_user_embedding;
      const Q = t.gmf_item_embedding;
      const gP = grads.gmf_user_embedding;
      const gQ = grads.gmf_item_embedding;
      for (let k = 0; k < users.length; k++) {
        const g = dScore[k];
        const pu = users[k] * dim;
        const qi = items[k] * dim;
        const op = gP.slots[k] * dim;
        const oq = gQ.slots[k] * dim;
        for (let j = 0; j < dim; j++) {
          const p = P[pu + j];
          const q = Q[qi + j];
          gP.sums[op + j] += g * h[j] * q;
          gQ.sums[oq + j] += g * h[j] * p;
          dh[j] += g * p * q;
        }
        db[0] += g;
      }
    },
  };
}
