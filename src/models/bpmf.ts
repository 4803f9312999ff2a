/**
 * Bayesian MF (BPMF; Salakhutdinov & Mnih, ICML 2008): the MF model r̂ = μ + p_u·q_i fitted by Gibbs sampling
 * (src/models/fit/gibbs.ts) instead of gradient steps. An epoch is one sweep; after `model.burn_in` sweeps each
 * sweep's draw joins the prediction, the average of the last `model.samples` draws' p_u·q_i.
 *
 * That average is stored as one dot product, so eval, recommend and serving read it like any (user, item) model: the
 * tables are `samples` blocks of `dim` columns, block b holding draw b scaled by 1/√k (k draws kept so far), and
 *   Σ_b (p_b/√k)·(q_b/√k) = (1/k) Σ_b p_b·q_b.
 * During burn-in block 0 holds the current draw unscaled and the other blocks are zero; past `samples` draws the
 * oldest block is replaced (a moving window). The chain's state is the latest draw, read back from its block, so an
 * epoch resumes from the checkpoint's tables alone.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import type { Prng } from '../util/prng.js';
import { refuseParents, type FitData, type FitTask, type FittedFamily } from './family.js';
import { drawHyper, drawRows, ratingRows, type RatingRows } from './fit/gibbs.js';
import { gatherRows, layerVariable, type EmbeddingTable, type ModelBuildOptions, type PairModel } from './model.js';

const USER_TABLE = 'user_embedding';
const ITEM_TABLE = 'item_embedding';

export function buildBpmf(opts: ModelBuildOptions): PairModel {
  const { config, shape } = opts;
  const width = config.dim * config.samples;
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  // Zeros: the first sweep draws its own starting point (blocks past 0 must start empty anyway).
  const embed = (name: string, rows: number, input: TF.SymbolicTensor) =>
    tf.layers
      .flatten({ name: `${name}_flat` })
      .apply(tf.layers.embedding({ name, inputDim: rows, outputDim: width, embeddingsInitializer: 'zeros' }).apply(input)) as TF.SymbolicTensor;
  const dot = tf.layers.dot({ axes: 1, name: 'dot' }).apply([embed(USER_TABLE, shape.users, user), embed(ITEM_TABLE, shape.items, item)]) as TF.SymbolicTensor;
  // μ as the bias of a frozen 1→1 dense layer, as in MF (src/models/mf.ts).
  const out = tf.layers
    .dense({ units: 1, name: 'global_bias', trainable: false, kernelInitializer: 'ones', biasInitializer: tf.initializers.constant({ value: shape.globalMean }) })
    .apply(dot) as TF.SymbolicTensor;
  return wrapBpmf(tf.model({ inputs: [user, item], outputs: out, name: 'bpmf' }), opts);
}

export function wrapBpmf(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel {
  const tables: EmbeddingTable[] = [
    { name: USER_TABLE, kind: 'user', variable: layerVariable(keras, USER_TABLE) },
    { name: ITEM_TABLE, kind: 'item', variable: layerVariable(keras, ITEM_TABLE) },
  ];
  const mu = () => tf.reshape(layerVariable(keras, 'global_bias', 1), []);
  return {
    name: 'bpmf',
    config: opts.config,
    shape: opts.shape,
    keras,
    tables,
    dense: [],
    scoreRows: (rows) => tf.tidy(() => tf.add(tf.sum(tf.mul(rows[USER_TABLE], rows[ITEM_TABLE]), 1), mu()) as TF.Tensor1D),
    scoreMatrix: (users, items) =>
      tf.tidy(() => {
        const rows = gatherRows(tables, users, items);
        return tf.add(tf.matMul(rows[USER_TABLE], rows[ITEM_TABLE], false, true), mu()) as TF.Tensor2D;
      }),
    itemVectors: () => tf.clone(tables[1].variable) as TF.Tensor as TF.Tensor2D,
    // The dot products, the mean added, and the JS copy.
    scoreBytesPerPair: 12,
  };
}

/** Where sweep `sweep` (0-based) stores its draw, and how many draws the average then holds. */
export function drawSlot(sweep: number, burnIn: number, samples: number): { block: number; kept: number } {
  if (sweep < burnIn) return { block: 0, kept: 1 };
  const j = sweep - burnIn;
  return { block: j % samples, kept: Math.min(j + 1, samples) };
}

/** Copies block `block` of a [rows, dim × samples] table, times `scale`, into a [rows, dim] float64 array. */
export function readBlock(table: Float32Array, rows: number, dim: number, samples: number, block: number, scale: number): Float64Array {
  const out = new Float64Array(rows * dim);
  const width = dim * samples;
  for (let r = 0; r < rows; r++) for (let f = 0; f < dim; f++) out[r * dim + f] = table[r * width + block * dim + f] * scale;
  return out;
}

/** Stores a draw as sweep `sweep`'s block, rescaling the blocks already kept when the average grows by one. */
export function storeDraw(table: Float32Array, draw: Float64Array, rows: number, dim: number, samples: number, sweep: number, burnIn: number): void {
  const width = dim * samples;
  const { block, kept } = drawSlot(sweep, burnIn, samples);
  const before = sweep === 0 ? 0 : drawSlot(sweep - 1, burnIn, samples).kept;
  if (sweep > burnIn && kept > before) {
    const shrink = Math.sqrt(before / kept);
    for (let x = 0; x < table.length; x++) table[x] *= shrink;
  }
  const scale = 1 / Math.sqrt(kept);
  for (let r = 0; r < rows; r++) for (let f = 0; f < dim; f++) table[r * width + block * dim + f] = draw[r * dim + f] * scale;
}

/** The chain's current state: sweep `sweep`'s draw read back from its block (before any sweep: init_std noise). */
function chainState(table: Float32Array, rows: number, config: ModelConfig, sweep: number, rng: Prng): Float64Array {
  const { dim, samples, burn_in: burnIn } = config;
  if (sweep < 0) {
    const out = new Float64Array(rows * dim);
    for (let x = 0; x < out.length; x++) out[x] = rng.normal() * config.init_std;
    return out;
  }
  const { block, kept } = drawSlot(sweep, burnIn, samples);
  return readBlock(table, rows, dim, samples, block, Math.sqrt(kept));
}

interface Chain {
  users: RatingRows;
  items: RatingRows;
}

/** One sweep per epoch (one step: the tables are written whole, so a saved state is always between sweeps). */
function gibbsTask(model: PairModel, data: FitData, config: ModelConfig): FitTask {
  const { dim, samples, burn_in: burnIn, noise_precision: alpha } = config;
  const mean = model.shape.globalMean;
  const chain: Chain = {
    users: ratingRows(data.numUsers, data.users, data.items, data.values, mean),
    items: ratingRows(data.numItems, data.items, data.users, data.values, mean),
  };
  const [userTable, itemTable] = [model.tables[0].variable, model.tables[1].variable];
  let sweep = data.epochsDone - 1;
  let rng: Prng | null = null;
  return {
    resumesMidEpoch: false,
    beginEpoch(epochRng) {
      rng = epochRng;
      sweep++;
      return 1;
    },
    epochExamples: () => data.users.length,
    step() {
      if (rng === null) throw new Error('bpmf: step before beginEpoch');
      const users = userTable.dataSync().slice() as Float32Array;
      const items = itemTable.dataSync().slice() as Float32Array;
      const u = chainState(users, data.numUsers, config, sweep - 1, rng);
      const v = new Float64Array(data.numItems * dim);
      drawRows(rng, v, u, chain.items, drawHyper(rng, chainState(items, data.numItems, config, sweep - 1, rng), data.numItems, dim), alpha, dim);
      const sse = drawRows(rng, u, v, chain.users, drawHyper(rng, u, data.numUsers, dim), alpha, dim);
      storeDraw(users, u, data.numUsers, dim, samples, sweep, burnIn);
      storeDraw(items, v, data.numItems, dim, samples, sweep, burnIn);
      for (const [variable, values, rows] of [[userTable, users, data.numUsers], [itemTable, items, data.numItems]] as const) {
        const t = tf.tensor2d(values, [rows, dim * samples]);
        variable.assign(t);
        t.dispose();
      }
      // The current draw's mean squared error on the training ratings.
      return data.users.length > 0 ? sse / data.users.length : 0;
    },
  };
}

export const bpmfFamily: FittedFamily = {
  name: 'bpmf',
  kind: 'fitted',
  scoresFrom: 'user',
  closedForm: false,
  predictsRatings: true,
  unreadTrainKeys: { l2: 'it is regularised by its priors and model.noise_precision (--noise-precision), not by an L2 term' },
  options: ['dim', 'init_std', 'samples', 'burn_in', 'noise_precision'],
  resolveLoss(requested, feedback) {
    if (feedback === 'implicit') {
      throw new UsageError('--model bpmf fits explicit ratings (a Gaussian likelihood), and this dataset has implicit feedback. Train --model ials or --model mf --loss bpr on it instead.');
    }
    if (requested === 'auto' || requested === 'mse') return 'mse';
    throw new UsageError(`--loss ${requested} does not apply to --model bpmf, which samples the MF posterior under squared error (mse). Remove --loss.`);
  },
  build: buildBpmf,
  wrap: wrapBpmf,
  fit: (model, data, config) => gibbsTask(model as PairModel, data, config),
  // Both tables in the engine, their JS copies and the float64 chain state of both sides.
  fitBytes: (config, shape) => {
    const tables = 4 * config.dim * config.samples * (shape.users + shape.items);
    const largest = 4 * config.dim * config.samples * Math.max(shape.users, shape.items);
    return { engine: tables + largest, host: tables + 16 * config.dim * (shape.users + shape.items), largestArray: largest, what: `${config.samples} draws of ${config.dim} factors per user and item` };
  },
  checkParents: refuseParents('bpmf', 'posterior average is sampled'),
};
