/**
 * Implicit ALS (Hu, Koren & Volinsky, ICDM 2008), with the regularisation and weighting of Rendle
 * et al., "Revisiting the Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022):
 *
 *   min  Σ_{(u,i) observed} w_ui (1 − p_u·q_i)²  +  α0 Σ_{all (u,i)} (p_u·q_i)²  +  λ Σ_u (|I_u| + α0|I|)^ν ‖p_u‖² + (same for items)
 *
 * with w_ui = 1 + confidence × value, α0 = `model.unobserved_weight`, λ = `train.l2`, ν =
 * `model.reg_exponent`. An epoch solves every user row with the item table fixed, then every item
 * row with the users fixed (src/models/fit/als.ts: the Gramian makes the all-pairs term cost d² a
 * row); steps are blocks of rows, so an epoch checkpoints and resumes mid-way like a gradient
 * epoch. A (user, item) model like MF without biases, score p_u·q_i: eval, recommend and
 * --init-from (fine-tuning by raw id) treat it like MF, and a row with no training pairs keeps its
 * value (a parent's row for an id the new data lacks).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { checkSameModelParent, resolveFittedLoss, type FitData, type FitTask, type FittedFamily } from './family.js';
import { gramian, solveRows, weightedRows, type AlsSettings, type WeightedRows } from './fit/als.js';
import { gatherRows, layerVariable, type EmbeddingTable, type ModelBuildOptions, type PairModel } from './model.js';
import type { ModelConfig, TrainConfig } from '../config/schema.js';

const USER_TABLE = 'user_embedding';
const ITEM_TABLE = 'item_embedding';
/** Rows a step solves at least; an epoch has at most ~2 × MAX_BLOCKS steps (each writes its table back). */
const MIN_BLOCK = 1024;
const MAX_BLOCKS = 8;

export function buildIals(opts: ModelBuildOptions): PairModel {
  const { config, shape, nextSeed } = opts;
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const embed = (name: string, rows: number, input: TF.SymbolicTensor) =>
    tf.layers
      .flatten({ name: `${name}_flat` })
      .apply(
        tf.layers
          .embedding({ name, inputDim: rows, outputDim: config.dim, embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: config.init_std, seed: nextSeed() }) })
          .apply(input),
      ) as TF.SymbolicTensor;
  const dot = tf.layers.dot({ axes: 1, name: 'dot' }).apply([embed(USER_TABLE, shape.users, user), embed(ITEM_TABLE, shape.items, item)]) as TF.SymbolicTensor;
  return wrapIals(tf.model({ inputs: [user, item], outputs: dot, name: 'ials' }), opts);
}

export function wrapIals(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel {
  const tables: EmbeddingTable[] = [
    { name: USER_TABLE, kind: 'user', variable: layerVariable(keras, USER_TABLE) },
    { name: ITEM_TABLE, kind: 'item', variable: layerVariable(keras, ITEM_TABLE) },
  ];
  return {
    name: 'ials',
    config: opts.config,
    shape: opts.shape,
    keras,
    tables,
    dense: [],
    scoreRows: (rows) => tf.tidy(() => tf.sum(tf.mul(rows[USER_TABLE], rows[ITEM_TABLE]), 1) as TF.Tensor1D),
    scoreMatrix: (users, items) =>
      tf.tidy(() => {
        const rows = gatherRows(tables, users, items);
        return tf.matMul(rows[USER_TABLE], rows[ITEM_TABLE], false, true) as TF.Tensor2D;
      }),
    itemVectors: () => tf.clone(tables[1].variable) as TF.Tensor as TF.Tensor2D,
    // The dot products and the JS copy.
    scoreBytesPerPair: 8,
  };
}

/** One side of the alternation: the table it solves, its observed pairs and its step range. */
interface Side {
  variable: TF.Variable;
  rows: number;
  obs: WeightedRows;
  block: number;
  steps: number;
}

function side(variable: TF.Variable, rows: number, keys: Int32Array, cols: Int32Array, weights: Float32Array): Side {
  const block = Math.max(MIN_BLOCK, Math.ceil(rows / MAX_BLOCKS));
  return { variable, rows, obs: weightedRows(rows, keys, cols, weights), block, steps: Math.max(1, Math.ceil(rows / block)) };
}

export function alsSettings(config: ModelConfig, train: Pick<TrainConfig, 'l2'>): AlsSettings {
  return { dim: config.dim, unobservedWeight: config.unobserved_weight, reg: train.l2, regExponent: config.reg_exponent, solver: config.solver, cgSteps: config.cg_steps };
}

/**
 * The epochs: steps [0, users.steps) solve user blocks against the items, the rest item blocks
 * against the users. Each half's Gramian is computed at its first step (or the first after a
 * resume) from the other table, which that half does not change.
 */
function alsTask(model: PairModel, data: FitData, settings: AlsSettings, confidence: number): FitTask {
  const weights = new Float32Array(data.values.length);
  for (let r = 0; r < weights.length; r++) weights[r] = 1 + confidence * data.values[r];
  const users = side(model.tables[0].variable, data.numUsers, data.users, data.items, weights);
  const items = side(model.tables[1].variable, data.numItems, data.items, data.users, weights);
  let tables: { users: Float32Array; items: Float32Array } | null = null;
  let gram: { half: Side; G: Float64Array } | null = null;
  return {
    resumesMidEpoch: true,
    beginEpoch() {
      // JS copies of both tables, solved in place and written back after each step.
      tables = { users: users.variable.dataSync().slice() as Float32Array, items: items.variable.dataSync().slice() as Float32Array };
      gram = null;
      return users.steps + items.steps;
    },
    epochExamples: () => data.users.length,
    step(index) {
      if (tables === null) throw new Error('ials: step before beginEpoch');
      const solving = index < users.steps ? users : items;
      const [target, fixed, fixedRows] = solving === users ? [tables.users, tables.items, data.numItems] : [tables.items, tables.users, data.numUsers];
      if (gram === null || gram.half !== solving) gram = { half: solving, G: gramian(fixed, fixedRows, settings.dim) };
      const lo = (solving === users ? index : index - users.steps) * solving.block;
      const hi = Math.min(solving.rows, lo + solving.block);
      const { objective, observed } = solveRows(target, fixed, fixedRows, gram.G, solving.obs, lo, hi, settings);
      const t = tf.tensor2d(target.slice(), [solving.rows, settings.dim]);
      solving.variable.assign(t);
      t.dispose();
      return observed > 0 ? objective / observed : 0;
    },
  };
}

export const ialsFamily: FittedFamily = {
  name: 'ials',
  kind: 'fitted',
  scoresFrom: 'user',
  closedForm: false,
  options: ['dim', 'init_std', 'unobserved_weight', 'confidence', 'reg_exponent', 'solver', 'cg_steps'],
  resolveLoss: (requested) => resolveFittedLoss(requested, 'ials', 'weighted_least_squares'),
  build: buildIals,
  wrap: wrapIals,
  fit: (model, data, config, train) => alsTask(model as PairModel, data, alsSettings(config, train), config.confidence),
  // Both tables in the engine, their JS copies and one more of the side being written back.
  fitBytes: (config, shape) => {
    const tables = 4 * config.dim * (shape.users + shape.items);
    const largest = 4 * config.dim * Math.max(shape.users, shape.items);
    return { engine: tables + largest, host: tables + largest, largestArray: largest, what: `${config.dim} factors per user and item` };
  },
  checkParents: (models, paths, described) => checkSameModelParent('ials', models, paths, described),
};
