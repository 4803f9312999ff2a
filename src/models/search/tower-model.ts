/**
 * The two-tower model's weights as a Keras graph (so `model/` loads in plain TF.js and the checkpoint writers handle it
 * like every other model): `token_embedding` [tokens, dim] and `item_vectors` [items, dim] (the normalised serving
 * vectors, filled from the towers before each write of model/), wired as score = cosine(Σ weights · tokens, item). The
 * id rows being trained live beside them in the `two_tower` sidecar (item_id), with the spec.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../engine/tf.js';
import { Prng } from '../../util/prng.js';
import type { TokenBags } from './bags.js';
import { itemMatrix, type TwoTowerSpec } from './two-tower.js';

export const TOKEN_TABLE = 'token_embedding';
export const ITEM_VECTORS = 'item_vectors';
export const ITEM_ID_TABLE = 'item_id';
/** Longest query bag the saved graph takes (the serving path in JS has no limit). */
export const GRAPH_QUERY_TOKENS = 64;

export interface TowerModel {
  readonly keras: TF.LayersModel;
  readonly spec: TwoTowerSpec;
  readonly tokens: TF.Variable;
  readonly itemVectors: TF.Variable;
  readonly itemIds: TF.Variable;
}

function layerVar(keras: TF.LayersModel, name: string): TF.Variable {
  return keras.getLayer(name).getWeights(true)[0] as TF.Variable;
}

/** A new model: token and id rows drawn N(0, std²) from the seeded stream (TF.js has no global seed). */
export function buildTowerModel(spec: TwoTowerSpec, shape: { tokens: number; items: number }, seed: number, std: number): TowerModel {
  const rng = Prng.fromSeed(seed, 'two-tower/init');
  const draw = (n: number) => Float32Array.from({ length: n }, () => std * rng.normal());
  const keras = towerGraph(spec.dim, shape);
  const tokens = layerVar(keras, TOKEN_TABLE);
  assignValues(tokens, draw(shape.tokens * spec.dim), [shape.tokens, spec.dim]);
  const itemIds = tf.variable(tf.tensor2d(draw(shape.items * spec.dim), [shape.items, spec.dim]), true, `${ITEM_ID_TABLE}_${seed}`);
  return { keras, spec, tokens, itemVectors: layerVar(keras, ITEM_VECTORS), itemIds };
}

/** The model around loaded weights: the Keras graph and the sidecar's id rows. */
export function wrapTowerModel(keras: TF.LayersModel, spec: TwoTowerSpec, itemIds: TF.Tensor2D): TowerModel {
  return { keras, spec, tokens: layerVar(keras, TOKEN_TABLE), itemVectors: layerVar(keras, ITEM_VECTORS), itemIds: tf.variable(itemIds, true) };
}

/** The graph: inputs query_tokens [L] int32, query_weights [L] float32, item [1] int32; output the cosine. */
export function towerGraph(dim: number, shape: { tokens: number; items: number }): TF.LayersModel {
  const qTokens = tf.input({ shape: [GRAPH_QUERY_TOKENS], dtype: 'int32', name: 'query_tokens' });
  const qWeights = tf.input({ shape: [GRAPH_QUERY_TOKENS], dtype: 'float32', name: 'query_weights' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const rows = tf.layers.embedding({ name: TOKEN_TABLE, inputDim: shape.tokens, outputDim: dim, embeddingsInitializer: 'zeros' }).apply(qTokens) as TF.SymbolicTensor;
  const query = tf.layers.dot({ axes: [1, 1], name: 'query_pool' }).apply([qWeights, rows]) as TF.SymbolicTensor;
  const vec = tf.layers.embedding({ name: ITEM_VECTORS, inputDim: shape.items, outputDim: dim, embeddingsInitializer: 'zeros' }).apply(item) as TF.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'item_flat' }).apply(vec) as TF.SymbolicTensor;
  const score = tf.layers.dot({ axes: 1, normalize: true, name: 'score' }).apply([query, flat]) as TF.SymbolicTensor;
  return tf.model({ inputs: [qTokens, qWeights, item], outputs: score, name: 'two_tower' });
}

/** Fills item_vectors from the current tables (before model/ is written or the model serves). */
export function refreshItemVectors(model: TowerModel, itemBags: TokenBags, trained: Uint8Array): Float32Array {
  const m = itemMatrix(model.tokens.dataSync() as Float32Array, model.itemIds.dataSync() as Float32Array, model.spec.dim, itemBags, trained);
  const rows = itemBags.offsets.length - 1;
  assignValues(model.itemVectors, m, [rows, model.spec.dim]);
  return m;
}

function assignValues(v: TF.Variable, values: Float32Array, shape: [number, number]): void {
  const t = tf.tensor2d(values, shape);
  v.assign(t);
  t.dispose();
}
