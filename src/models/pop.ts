/**
 * Popularity (`pop`): every user is offered the items with the most training rows,
 *
 *   score(i) = Σ_{training rows r of item i} 2^(−(t_max − t_r) / half_life)
 *
 * with t_max the newest training row's time; without `model.half_life_days` (or without times in
 * the log) every row counts 1. The baseline any personalised model has to beat, and on
 * short-lived catalogues a hard one: a half-life of a few days ranks what sells now.
 *
 * A (user, item) model with one item table and no user table: the saved graph takes the usual
 * [user, item] inputs and ignores the user, so `rec eval` and `rec recommend` treat it like MF.
 * It is counted in closed form by one epoch; --init-from does not apply (the counts come from
 * this dataset: an appended dataset is counted again in seconds).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { UsageError } from '../util/errors.js';
import { closedFormTask, refuseParents, resolveFittedLoss, type FitData, type FittedFamily } from './family.js';
import { layerVariable, type ModelBuildOptions, type PairModel } from './model.js';

export const POP_TABLE = 'item_popularity';
const DAY_MS = 86_400_000;

export function buildPop(opts: ModelBuildOptions): PairModel {
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const counts = tf.layers.embedding({ name: POP_TABLE, inputDim: opts.shape.items, outputDim: 1, embeddingsInitializer: 'zeros' }).apply(item);
  const out = tf.layers.flatten({ name: 'popularity' }).apply(counts) as TF.SymbolicTensor;
  return wrapPop(tf.model({ inputs: [user, item], outputs: out, name: 'pop' }), opts);
}

export function wrapPop(keras: TF.LayersModel, opts: ModelBuildOptions): PairModel {
  const variable = layerVariable(keras, POP_TABLE);
  return {
    name: 'pop',
    config: opts.config,
    shape: opts.shape,
    keras,
    tables: [{ name: POP_TABLE, kind: 'item', variable }],
    dense: [],
    scoreRows: (rows) => tf.tidy(() => tf.reshape(rows[POP_TABLE], [-1]) as TF.Tensor1D),
    scoreMatrix: (users, items) =>
      tf.tidy(() => tf.tile(tf.reshape(tf.gather(variable, items), [1, -1]), [users.shape[0], 1]) as TF.Tensor2D),
    // The gathered column, its tiled copy and the JS copy.
    scoreBytesPerPair: 12,
  };
}

/** Each item's (time-decayed) count of training rows. */
export function popularity(data: Pick<FitData, 'items' | 'ts' | 'numItems'>, halfLifeDays: number | null): Float32Array {
  const scores = new Float64Array(data.numItems);
  const ts = halfLifeDays === null ? null : data.ts;
  if (ts === null) {
    for (let r = 0; r < data.items.length; r++) scores[data.items[r]] += 1;
    return Float32Array.from(scores);
  }
  let newest = -Infinity;
  for (let r = 0; r < ts.length; r++) if (ts[r] > newest) newest = ts[r];
  const halfLife = (halfLifeDays as number) * DAY_MS;
  for (let r = 0; r < data.items.length; r++) scores[data.items[r]] += 2 ** (-(newest - ts[r]) / halfLife);
  return Float32Array.from(scores);
}

export const popFamily: FittedFamily = {
  name: 'pop',
  kind: 'fitted',
  scoresFrom: 'user',
  closedForm: true,
  options: ['half_life_days'],
  resolveLoss: (requested) => resolveFittedLoss(requested, 'pop', 'popularity'),
  build: buildPop,
  wrap: wrapPop,
  fit(model, data, config) {
    if (config.half_life_days !== null && data.ts === null) {
      throw new UsageError(`model.half_life_days ${config.half_life_days} decays counts by the age of each row, and this dataset has no timestamps. Remove --half-life-days, or prep the log with its time column (--columns ...,ts=COLUMN).`);
    }
    const variable = (model as PairModel).tables[0].variable;
    return closedFormTask(data.items.length, () => {
      const counts = tf.tensor2d(popularity(data, config.half_life_days), [data.numItems, 1]);
      variable.assign(counts);
      counts.dispose();
    });
  },
  fitBytes: (_config, shape) => ({ engine: 8 * shape.items, host: 12 * shape.items, largestArray: 8 * shape.items, what: 'one count per item' }),
  checkParents: refuseParents('pop', 'counts come'),
};
