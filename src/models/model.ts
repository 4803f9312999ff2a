/**
 * The one interface every (user, item) model implements: MF, GMF, MLP, NeuMF. A model is a Keras
 * functional model (so `model/` is loadable by plain `tf.loadLayersModel`) whose weight variables
 * the trainer updates directly: embedding tables row-sparsely from gathered rows, everything else
 * with a dense optimizer.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ModelConfig, ModelName } from '../config/schema.js';

export type TableKind = 'user' | 'item';

export interface EmbeddingTable {
  /** Stable name, also the Keras layer name: `user_embedding`, `item_bias`, `mlp_user_embedding`, … */
  readonly name: string;
  readonly kind: TableKind;
  readonly variable: TF.Variable;
}

export interface ModelShape {
  users: number;
  items: number;
  /** Global mean of the training values (explicit ratings); 0 for implicit feedback. */
  globalMean: number;
}

/**
 * What ranking needs from any model (per-epoch validation, `rec eval`, `rec recommend`): scores of
 * user indices over item indices. A PairModel is one as it is; a SequenceModel becomes one through
 * historyScorer once the caller says which history each user index ranks from.
 */
export interface Scorer {
  readonly shape: ModelShape;
  /** Scores of all `items` for each of `users`: [users.length, items.length]. */
  scoreMatrix(users: TF.Tensor1D, items: TF.Tensor1D): TF.Tensor2D;
  /** Engine bytes scoreMatrix holds per (user, item) score at its peak (src/eval/score-blocks.ts). */
  readonly scoreBytesPerPair?: number;
  /**
   * Engine bytes scoreMatrix holds per user at its peak whatever the number of items: a sequence
   * model's activations over the history (attention, feed-forward), which a per-pair figure cannot
   * express since the items scored per user vary (whole catalogue, or ~100 candidates).
   */
  readonly scoreBytesPerUser?: number;
  /** Item vectors for item-to-item similarity (`rec recommend --similar-to`); absent when the model has none (pop). */
  itemVectors?(): TF.Tensor2D;
  /** A model's own item-to-item similarity (HistoryModel.similarTo). */
  similarTo?(item: number): Float64Array;
}

export interface PairModel {
  readonly name: ModelName;
  readonly config: ModelConfig;
  readonly shape: ModelShape;
  /** The savable Keras model: inputs [user index, item index] int32 of shape [n,1]; output score [n,1]. */
  readonly keras: TF.LayersModel;
  readonly tables: readonly EmbeddingTable[];
  /** Trainable variables that are not embedding tables (MLP kernels, output layer). */
  readonly dense: readonly TF.Variable[];
  /**
   * Scores of aligned (user, item) pairs computed from rows already gathered from each table
   * (`rows[table.name]` is [n, width]), so gradients can be taken with respect to the rows.
   * Logits for bce/bpr, predicted ratings for mse.
   */
  scoreRows(rows: Readonly<Record<string, TF.Tensor2D>>, training: boolean): TF.Tensor1D;
  /** Scores of all `items` for each of `users`: [users.length, items.length]. */
  scoreMatrix(users: TF.Tensor1D, items: TF.Tensor1D): TF.Tensor2D;
  /**
   * Engine bytes scoreMatrix holds per (user, item) score at its peak, intermediate activations
   * included: callers size their blocks from it (src/eval/score-blocks.ts).
   */
  readonly scoreBytesPerPair?: number;
  /** Item vectors for item-to-item similarity (`rec recommend --similar-to`); absent when the model has none (pop). */
  itemVectors?(): TF.Tensor2D;
  /**
   * A closed-form forward/backward over the embedding tables' own memory, for models whose score
   * is a small function of gathered rows and a few dense weights (MF, GMF). The trainer uses it
   * where the engine exposes table memory (cpu, wasm): one pass over batch × dim floats instead
   * of the ~60 TF.js kernel launches of an autograd step, which dominate at these sizes.
   */
  readonly fused?: FusedPairKernel;
}

/** Table memory by table name: row-major [rows, width] views (live; valid for one step). */
export type TableViews = Readonly<Record<string, Float32Array>>;

export interface FusedPairKernel {
  /** The dense (non-table) variables the kernel reads and differentiates, in a fixed order. */
  readonly dense: readonly TF.Variable[];
  /** out[k] = score of (users[k], items[k]): the value scoreRows would give (a logit for bce/bpr). */
  score(tables: TableViews, dense: readonly Float32Array[], users: Int32Array, items: Int32Array, out: Float32Array): void;
  /**
   * Adds d(loss)/d(row) of every gathered row, given d(loss)/d(score) per pair, into the row's
   * slot: grads[table].sums[grads[table].slots[k] · width + j] for pair k (the row-sparse
   * optimizer's prepared buffers, so a row used twice accumulates in place); and d(loss)/d(w) of
   * each dense variable into denseGrads (zeroed by the caller, aligned with `dense`).
   */
  backward(
    tables: TableViews,
    dense: readonly Float32Array[],
    users: Int32Array,
    items: Int32Array,
    dScore: Float32Array,
    grads: Readonly<Record<string, SlotGrads>>,
    denseGrads: readonly Float32Array[],
  ): void;
}

export interface SlotGrads {
  sums: Float32Array;
  slots: Int32Array;
}

/**
 * What ranking needs from a model that scores from a user's item history rather than from a user
 * row (SASRec, EASE, ItemKNN). There is no user table: a user is their history, so a user the
 * model never saw is scored from the items they touched.
 */
export interface HistoryModel {
  readonly name: ModelName;
  readonly config: ModelConfig;
  readonly shape: ModelShape;
  /** The savable Keras model (plain `tf.loadLayersModel` loads it; custom layers registered). */
  readonly keras: TF.LayersModel;
  /**
   * Scores of `items` for each history: [histories.length, items.length]. A history holds item
   * indices oldest first; an empty one is allowed.
   */
  scoreHistories(histories: readonly Int32Array[], items: TF.Tensor1D): TF.Tensor2D;
  /** Engine bytes per (history, item) score at scoreHistories' peak: the logits and their copies. */
  readonly scoreBytesPerPair?: number;
  /** Engine bytes per history at scoreHistories' peak: the encoder's activations over maxLen positions (see Scorer). */
  readonly scoreBytesPerUser?: number;
  /** Item vectors for `rec recommend --similar-to`; absent when the model has none. */
  itemVectors?(): TF.Tensor2D;
  /** The model's own similarity of `item` to every item (ItemKNN's neighbours), which `--similar-to` ranks by instead of vectors. */
  similarTo?(item: number): Float64Array;
}

/**
 * A history model trained by gradient steps over time-ordered windows (SASRec): its item tables
 * are updated row-sparsely like a PairModel's, so fine-tuning moves item rows only.
 */
export interface SequenceModel extends HistoryModel {
  /** Longest history the model reads: the last `maxLen` items of a longer one. */
  readonly maxLen: number;
  /** Item tables (kind 'item'), updated row-sparsely like a PairModel's. */
  readonly tables: readonly EmbeddingTable[];
  /** Trainable variables that are not embedding tables. */
  readonly dense: readonly TF.Variable[];
  /**
   * The training forward pass: hidden states [rows, width, dim] of right-aligned history windows
   * whose ids index `itemRows` (the item table, or rows gathered from it so that gradients can be
   * taken with respect to them). Slot t's state scores the item that follows it by a dot product
   * with that item's row. Dropout masks take their seeds from `nextSeed` when `training`.
   */
  encode(batch: SequenceBatch, itemRows: TF.Tensor2D, training: boolean, nextSeed?: () => number): TF.Tensor3D;
}

/**
 * History windows of a batch: [rows, width] item indices, row-major, oldest first and right-aligned;
 * empty slots hold -1 (SASREC_PADDING). `width` may be below the model's maxLen: the slots are the
 * last `width` of its window.
 */
export interface SequenceBatch {
  ids: Int32Array;
  rows: number;
  width: number;
}

/**
 * The embedding tables of any model: what warm-starting copies by raw id and what a fine-tune
 * record counts. A history model fitted in closed form (EASE, ItemKNN) has none.
 */
export function tablesOf(model: AnyModel): readonly EmbeddingTable[] {
  return 'tables' in model ? model.tables : [];
}

/** The trainable weights of any model that are not embedding tables. */
export function denseOf(model: AnyModel): readonly TF.Variable[] {
  return 'dense' in model ? model.dense : [];
}

/** Any model that ranks: by user rows or from histories. */
export type AnyModel = PairModel | HistoryModel;
/** The models the gradient trainer steps: their tables and dense weights are what it updates. */
export type TrainableModel = PairModel | SequenceModel;

export function isHistoryModel(model: AnyModel): model is HistoryModel {
  return 'scoreHistories' in model;
}

export function isSequenceModel(model: AnyModel): model is SequenceModel {
  return 'encode' in model;
}

/**
 * A HistoryModel as a Scorer: user index u ranks from `history(u)` (train items when validating,
 * train + valid when testing, the whole history when recommending).
 */
export function historyScorer(model: HistoryModel, history: (user: number) => Int32Array): Scorer {
  return {
    shape: model.shape,
    scoreBytesPerPair: model.scoreBytesPerPair,
    scoreBytesPerUser: model.scoreBytesPerUser,
    ...(model.itemVectors ? { itemVectors: () => (model.itemVectors as () => TF.Tensor2D)() } : {}),
    scoreMatrix(users, items) {
      const ids = users.dataSync();
      const histories = Array.from(ids, (u) => history(u));
      return model.scoreHistories(histories, items);
    },
  };
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
  users: TF.Tensor1D,
  items: TF.Tensor1D,
): Record<string, TF.Tensor2D> {
  const rows: Record<string, TF.Tensor2D> = {};
  for (const table of tables) rows[table.name] = tf.gather(table.variable, table.kind === 'user' ? users : items) as TF.Tensor2D;
  return rows;
}

/** Reads the tf.Variable behind a Keras layer weight by its layer name. */
export function layerVariable(model: TF.LayersModel, layerName: string, index = 0): TF.Variable {
  const weight = model.getLayer(layerName).weights[index];
  const value = weight.read();
  if (!(value instanceof tf.Variable)) throw new Error(`Layer ${layerName} weight ${index} is not a variable`);
  return value;
}

export interface NamedWeight {
  /** `layer/weight`, e.g. `prediction/kernel`: the same in every process and checkpoint. */
  readonly key: string;
  readonly layer: string;
  readonly variable: TF.Variable;
}

/**
 * Every weight of a Keras graph under a stable key. Variable names are not stable: tfjs suffixes
 * them (`prediction/kernel_1`) when one process builds several models, e.g. a NeuMF and its
 * parents, so anything saved or matched across processes (optimizer state, --init-from, --freeze)
 * goes by these keys.
 */
export function namedWeights(model: TF.LayersModel): NamedWeight[] {
  const out: NamedWeight[] = [];
  for (const layer of model.layers) {
    layer.weights.forEach((weight, index) => {
      const variable = weight.read();
      if (!(variable instanceof tf.Variable)) return;
      const key = weight.originalName.startsWith(`${layer.name}/`) ? weight.originalName : `${layer.name}/${index}`;
      out.push({ key, layer: layer.name, variable });
    });
  }
  return out;
}

export function denseVariables(model: TF.LayersModel, tables: readonly EmbeddingTable[]): TF.Variable[] {
  const tableVars = new Set(tables.map((t) => t.variable.name));
  return model.trainableWeights
    .map((w) => w.read())
    .filter((v): v is TF.Variable => v instanceof tf.Variable && !tableVars.has(v.name));
}
