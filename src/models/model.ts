/**
 * The one interface every (user, item) model implements: MF, GMF, MLP, NeuMF. A model is a Keras
 * functional model (so `model/` is loadable by plain `tf.loadLayersModel`) whose weight variables
 * the trainer updates directly: embedding tables row-sparsely from gathered rows, everything else
 * with a dense optimizer.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig, ModelName } from '../config/schema.js';

export type TableKind = 'user' | 'item';

export interface EmbeddingTable {
  /** Stable name, also the Keras layer name: `user_embedding`, `item_bias`, `mlp_user_embedding`, … */
  readonly name: string;
  readonly kind: TableKind;
  readonly variable: tf.Variable;
}

export interface ModelShape {
  users: number;
  items: number;
  /** Global mean of the training values (explicit ratings); 0 for implicit feedback. */
  globalMean: number;
}

export interface PairModel {
  readonly name: ModelName;
  readonly config: ModelConfig;
  readonly shape: ModelShape;
  /** The savable Keras model: inputs [user index, item index] int32 of shape [n,1]; output score [n,1]. */
  readonly keras: tf.LayersModel;
  readonly tables: readonly EmbeddingTable[];
  /** Trainable variables that are not embedding tables (MLP kernels, output layer). */
  readonly dense: readonly tf.Variable[];
  /**
   * Scores of aligned (user, item) pairs computed from rows already gathered from each table
   * (`rows[table.name]` is [n, width]), so gradients can be taken with respect to the rows.
   * Logits for bce/bpr, predicted ratings for mse.
   */
  scoreRows(rows: Readonly<Record<string, tf.Tensor2D>>, training: boolean): tf.Tensor1D;
  /** Scores of all `items` for each of `users`: [users.length, items.length]. */
  scoreMatrix(users: tf.Tensor1D, items: tf.Tensor1D): tf.Tensor2D;
  /** Item vectors for item-to-item similarity (`rec recommend --similar-to`). */
  itemVectors(): tf.Tensor2D;
}

export interface ModelBuildOptions {
  config: ModelConfig;
  shape: ModelShape;
  /** Nonzero 31-bit seeds for the initialisers, drawn from the run's PRNG. */
  nextSeed: () => number;
}

/** Gathers each table's rows for a batch of (user, item) index pairs. */
export function gatherRows(
  tables: readonly EmbeddingTable[],
  users: tf.Tensor1D,
  items: tf.Tensor1D,
): Record<string, tf.Tensor2D> {
  const rows: Record<string, tf.Tensor2D> = {};
  for (const table of tables) rows[table.name] = tf.gather(table.variable, table.kind === 'user' ? users : items) as tf.Tensor2D;
  return rows;
}

/** Reads the tf.Variable behind a Keras layer weight by its layer name. */
export function layerVariable(model: tf.LayersModel, layerName: string, index = 0): tf.Variable {
  const weight = model.getLayer(layerName).weights[index];
  const value = weight.read();
  if (!(value instanceof tf.Variable)) throw new Error(`Layer ${layerName} weight ${index} is not a variable`);
  return value;
}

export function denseVariables(model: tf.LayersModel, tables: readonly EmbeddingTable[]): tf.Variable[] {
  const tableVars = new Set(tables.map((t) => t.variable.name));
  return model.trainableWeights
    .map((w) => w.read())
    .filter((v): v is tf.Variable => v instanceof tf.Variable && !tableVars.has(v.name));
}
