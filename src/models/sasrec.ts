/**
 * SASRec (Kang & McAuley 2018, "Self-Attentive Sequential Recommendation", ICDM), following the
 * authors' TensorFlow code (github.com/kang205/SASRec):
 *
 *   x⁰_t = √d · E[s_t] + P[t]                      (learned positions; padding rows are zero)
 *   per block:  q = LN₁(x);  a = softmax(q Wq (x Wk)ᵀ / √d_h + mask) (x Wv)
 *               x = LN₂(q + a);  x = x + W₂ relu(W₁ x)      (dropout after embedding, on the
 *               attention weights and in the feed-forward, as the authors)
 *   F_t = LN_f(x_t);   score(next = i | s_≤t) = F_t · E[i]   (output shares the item table)
 *
 * A history is right-aligned in a window of `max_len` slots, oldest first, padded on the left with
 * SASREC_PADDING. Padding is masked out of attention as keys (and the causal mask keeps every slot
 * from attending to later ones), and its embeddings are zero, so a real slot's output depends only
 * on the real items at or before it and on its distance from the window's right end: adding left
 * padding, or trimming a batch to its longest real history, never changes a score.
 *
 * The saved graph is one custom layer (`SasrecEncoder`, registered with tf.serialization at import)
 * over an int32 input `history` [n, max_len] whose output is the next-item score of every item,
 * [n, items]: plain TF.js loads it once this module (or a copy of the layer class) is imported.
 * The same `encode` function runs in the layer, in training and in scoring, so they cannot drift.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../config/schema.js';
import { ConfigError } from '../util/errors.js';
import { checkSameModelParent, resolveSequenceLoss, type SequenceFamily } from './family.js';
import { denseVariables, type EmbeddingTable, type ModelBuildOptions, type SequenceBatch, type SequenceModel } from './model.js';

/** The item index of an empty slot in a history window. */
export const SASREC_PADDING = -1;
export const SASREC_LAYER = 'sasrec';
export const SASREC_ITEM_TABLE = 'item_embedding';
/** The authors' layer-norm epsilon. */
const LN_EPSILON = 1e-8;
/** Added to masked attention logits: exp underflows to exactly 0, and a row of only masked keys stays finite. */
const MASKED = -1e9;

interface SasrecShape {
  items: number;
  maxLen: number;
  dim: number;
  blocks: number;
  heads: number;
  dropout: number;
}

/** The weights `encode` reads, by role. */
export interface SasrecWeights {
  position: TF.Tensor2D;
  blocks: {
    ln1: [TF.Tensor1D, TF.Tensor1D];
    q: [TF.Tensor2D, TF.Tensor1D];
    k: [TF.Tensor2D, TF.Tensor1D];
    v: [TF.Tensor2D, TF.Tensor1D];
    ln2: [TF.Tensor1D, TF.Tensor1D];
    ffn1: [TF.Tensor2D, TF.Tensor1D];
    ffn2: [TF.Tensor2D, TF.Tensor1D];
  }[];
  lnFinal: [TF.Tensor1D, TF.Tensor1D];
}

export interface EncodeOptions {
  training: boolean;
  /** A fresh nonzero seed per dropout mask (training only). */
  nextSeed?: () => number;
}

function layerNorm(x: TF.Tensor, [gamma, beta]: [TF.Tensor1D, TF.Tensor1D]): TF.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPSILON))), gamma), beta);
}

function dense2d(x: TF.Tensor2D, [kernel, bias]: [TF.Tensor2D, TF.Tensor1D], activation?: 'relu'): TF.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel, bias, activation }) as TF.Tensor2D;
}

/**
 * Hidden states F [n, T, d] of a batch of right-aligned windows `ids` [n, T] (T ≤ max_len; indices
 * into `itemRows`, SASREC_PADDING for empty slots). The slots are the last T of the model's window.
 */
export function encode(shape: SasrecShape, w: SasrecWeights, itemRows: TF.Tensor2D, ids: TF.Tensor2D, opts: EncodeOptions): TF.Tensor3D {
  const [n, T] = ids.shape;
  const d = shape.dim;
  const h = shape.heads;
  const dh = d / h;
  const rate = opts.training ? shape.dropout : 0;
  const drop = <R extends TF.Tensor>(x: R): R => (rate > 0 ? (tf.dropout(x, rate, undefined, opts.nextSeed?.() ?? 1) as R) : x);

  const valid = tf.cast(tf.greaterEqual(ids, 0), 'float32'); // [n, T]
  const validCol = tf.reshape(valid, [n * T, 1]);
  const gathered = tf.gather(itemRows, tf.reshape(tf.maximum(ids, tf.scalar(0, 'int32')), [-1])); // [n·T, d]
  const positions = tf.slice(w.position, [shape.maxLen - T, 0], [T, d]);
  let x = tf.reshape(tf.add(tf.reshape(tf.mul(gathered, Math.sqrt(d)), [n, T, d]), positions), [n * T, d]) as TF.Tensor2D;
  x = tf.mul(drop(x), validCol);
  // Additive attention mask [n, 1, T, T]: key j is visible from query i when j ≤ i and j is real.
  const causal = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), MASKED);
  const keyPad = tf.reshape(tf.mul(tf.sub(1, valid), MASKED), [n, 1, 1, T]);
  const mask = h === 1 ? tf.reshape(tf.add(keyPad, causal), [n, T, T]) : tf.add(keyPad, causal);
  const scale = 1 / Math.sqrt(dh);
  const splitHeads = (t: TF.Tensor2D): TF.Tensor => (h === 1 ? tf.reshape(t, [n, T, d]) : tf.transpose(tf.reshape(t, [n, T, h, dh]), [0, 2, 1, 3]));
  for (const b of w.blocks) {
    const q = layerNorm(x, b.ln1) as TF.Tensor2D;
    const Q = splitHeads(tf.mul(dense2d(q, b.q), scale));
    const K = splitHeads(dense2d(x, b.k));
    const V = splitHeads(dense2d(x, b.v));
    const attention = drop(tf.softmax(tf.add(tf.matMul(Q, K, false, true), mask)));
    let a = tf.matMul(attention, V);
    a = h === 1 ? tf.reshape(a, [n * T, d]) : tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [n * T, d]);
    const y = layerNorm(tf.add(q, a), b.ln2) as TF.Tensor2D;
    const f = drop(dense2d(drop(dense2d(y, b.ffn1, 'relu')), b.ffn2));
    x = tf.mul(tf.add(y, f), validCol);
  }
  return tf.reshape(layerNorm(x, w.lnFinal), [n, T, d]) as TF.Tensor3D;
}

interface EncoderArgs extends SasrecShape {
  name?: string;
  /** Initialiser seeds, in weight order (only when building; a loaded layer takes the saved values). */
  seeds?: number[];
}

type Serializable = TF.serialization.ConfigDict;

/** The saved graph's one layer: history [n, max_len] → scores of every item [n, items]. */
export class SasrecEncoder extends tf.layers.Layer {
  static className = 'SasrecEncoder';
  readonly shape: SasrecShape;
  private readonly seeds: number[];
  private named = new Map<string, TF.LayerVariable>();

  constructor(args: EncoderArgs) {
    super({ name: args.name ?? SASREC_LAYER });
    this.shape = { items: args.items, maxLen: args.maxLen, dim: args.dim, blocks: args.blocks, heads: args.heads, dropout: args.dropout };
    this.seeds = args.seeds ?? [];
  }

  override build(): void {
    const { items, maxLen, dim: d, blocks } = this.shape;
    let k = 0;
    const glorot = () => tf.initializers.glorotNormal({ seed: this.seeds[k++] });
    const add = (name: string, shape: number[], init: ReturnType<typeof tf.initializers.glorotNormal> | 'zeros' | 'ones') => {
      const initializer = typeof init === 'string' ? (init === 'zeros' ? tf.initializers.zeros() : tf.initializers.ones()) : init;
      this.named.set(name, this.addWeight(name, shape, 'float32', initializer));
    };
    add(SASREC_ITEM_TABLE, [items, d], glorot());
    add('position_embedding', [maxLen, d], glorot());
    for (let b = 1; b <= blocks; b++) {
      const p = `block_${b}`;
      add(`${p}/ln1/gamma`, [d], 'ones');
      add(`${p}/ln1/beta`, [d], 'zeros');
      for (const m of ['query', 'key', 'value', 'ffn1', 'ffn2']) {
        add(`${p}/${m}/kernel`, [d, d], glorot());
        add(`${p}/${m}/bias`, [d], 'zeros');
      }
      add(`${p}/ln2/gamma`, [d], 'ones');
      add(`${p}/ln2/beta`, [d], 'zeros');
    }
    add('final_ln/gamma', [d], 'ones');
    add('final_ln/beta', [d], 'zeros');
    this.built = true;
  }

  variable(name: string): TF.Variable {
    const w = this.named.get(name);
    const v = w?.read();
    if (!(v instanceof tf.Variable)) throw new Error(`SasrecEncoder has no weight ${name}`);
    return v;
  }

  weightsByRole(): SasrecWeights {
    const v = (name: string) => this.variable(name);
    const pair = <A extends TF.Tensor, B extends TF.Tensor>(a: string, b: string): [A, B] => [v(a) as TF.Tensor as A, v(b) as TF.Tensor as B];
    const blocks: SasrecWeights['blocks'] = [];
    for (let b = 1; b <= this.shape.blocks; b++) {
      const p = `block_${b}`;
      blocks.push({
        ln1: pair(`${p}/ln1/gamma`, `${p}/ln1/beta`),
        q: pair(`${p}/query/kernel`, `${p}/query/bias`),
        k: pair(`${p}/key/kernel`, `${p}/key/bias`),
        v: pair(`${p}/value/kernel`, `${p}/value/bias`),
        ln2: pair(`${p}/ln2/gamma`, `${p}/ln2/beta`),
        ffn1: pair(`${p}/ffn1/kernel`, `${p}/ffn1/bias`),
        ffn2: pair(`${p}/ffn2/kernel`, `${p}/ffn2/bias`),
      });
    }
    return { position: v('position_embedding') as TF.Tensor as TF.Tensor2D, blocks, lnFinal: pair('final_ln/gamma', 'final_ln/beta') };
  }

  override computeOutputShape(inputShape: TF.Shape | TF.Shape[]): TF.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as TF.Shape;
    return [s[0], this.shape.items];
  }

  override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
    return tf.tidy(() => {
      const ids = tf.cast(Array.isArray(inputs) ? inputs[0] : inputs, 'int32') as TF.Tensor2D;
      const table = this.variable(SASREC_ITEM_TABLE) as TF.Tensor as TF.Tensor2D;
      const F = encode(this.shape, this.weightsByRole(), table, ids, { training: false });
      const T = ids.shape[1];
      const last = tf.reshape(tf.slice(F, [0, T - 1, 0], [-1, 1, -1]), [-1, this.shape.dim]) as TF.Tensor2D;
      return tf.matMul(last, table, false, true);
    });
  }

  override getConfig(): Serializable {
    const { items, maxLen, dim, blocks, heads, dropout } = this.shape;
    return { ...super.getConfig(), items, maxLen, dim, blocks, heads, dropout };
  }

  static override fromConfig<T extends TF.serialization.Serializable>(cls: TF.serialization.SerializableConstructor<T>, config: Serializable): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(SasrecEncoder);

function checkShape(config: ModelConfig): void {
  if (config.dim % config.heads !== 0) {
    throw new ConfigError(`model.dim ${config.dim} must be a multiple of model.heads ${config.heads} (each head gets dim/heads features). Expected e.g. --dim 64 --heads 2.`);
  }
}

export function buildSasrec(opts: ModelBuildOptions): SequenceModel {
  const { config, shape, nextSeed } = opts;
  checkShape(config);
  const seeds = Array.from({ length: 2 + 5 * config.blocks }, () => nextSeed());
  const input = tf.input({ shape: [config.max_len], dtype: 'int32', name: 'history' });
  const layer = new SasrecEncoder({ items: shape.items, maxLen: config.max_len, dim: config.dim, blocks: config.blocks, heads: config.heads, dropout: config.dropout, seeds });
  const out = layer.apply(input) as TF.SymbolicTensor;
  const keras = tf.model({ inputs: input, outputs: out, name: 'sasrec' });
  return wrapSasrec(keras, opts);
}

/** Pads or cuts histories into right-aligned windows of the longest one's length (at most maxLen). */
export function windows(histories: readonly Int32Array[], maxLen: number): SequenceBatch {
  let width = 1;
  for (const h of histories) width = Math.max(width, Math.min(maxLen, h.length));
  const ids = new Int32Array(histories.length * width).fill(SASREC_PADDING);
  histories.forEach((h, r) => {
    const take = Math.min(width, h.length);
    ids.set(h.subarray(h.length - take), (r + 1) * width - take);
  });
  return { ids, rows: histories.length, width };
}

export function wrapSasrec(keras: TF.LayersModel, opts: ModelBuildOptions): SequenceModel {
  const layer = keras.getLayer(SASREC_LAYER);
  if (!(layer instanceof SasrecEncoder)) throw new Error(`sasrec model has no ${SASREC_LAYER} layer`);
  checkShape(opts.config);
  const table = layer.variable(SASREC_ITEM_TABLE);
  const tables: EmbeddingTable[] = [{ name: SASREC_ITEM_TABLE, kind: 'item', variable: table }];
  const weights = layer.weightsByRole();
  const maxLen = layer.shape.maxLen;
  const d = layer.shape.dim;

  const encodeBatch = (batch: SequenceBatch, itemRows: TF.Tensor2D, training: boolean, nextSeed?: () => number): TF.Tensor3D =>
    encode(layer.shape, weights, itemRows, tf.tensor2d(batch.ids, [batch.rows, batch.width], 'int32'), { training, nextSeed });

  return {
    name: 'sasrec',
    config: opts.config,
    shape: opts.shape,
    keras,
    maxLen,
    tables,
    dense: denseVariables(keras, tables),
    encode: encodeBatch,
    scoreHistories(histories, items) {
      return tf.tidy(() => {
        const batch = windows(histories, maxLen);
        const F = encodeBatch(batch, table as TF.Tensor as TF.Tensor2D, false);
        const last = tf.reshape(tf.slice(F, [0, batch.width - 1, 0], [-1, 1, -1]), [-1, d]) as TF.Tensor2D;
        return tf.matMul(last, tf.gather(table, items), false, true) as TF.Tensor2D;
      });
    },
    // The score matrix, its transposed item block and the JS copy; activations are per user, not per pair.
    scoreBytesPerPair: 4 * 3,
    itemVectors: () => tf.clone(table) as TF.Tensor2D,
  };
}

/**
 * SASRec as a family: scores histories, so it has no user table; a step holds the encoder's
 * activations over max_len positions of dim features per example.
 */
export const sasrecFamily: SequenceFamily = {
  name: 'sasrec',
  kind: 'sequence',
  scoresFrom: 'history',
  options: ['dim', 'max_len', 'blocks', 'heads', 'dropout', 'id_dropout'],
  resolveLoss: (requested) => resolveSequenceLoss(requested, 'sasrec'),
  build: buildSasrec,
  wrap: wrapSasrec,
  stepWidths: (config) => ({ user: 0, item: config.dim, activationsPerExample: config.max_len * config.dim }),
  checkParents: (models, paths, described) => checkSameModelParent('sasrec', models, paths, described),
};
