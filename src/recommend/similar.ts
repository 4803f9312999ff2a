/**
 * Item-to-item neighbours (`rec recommend --similar-to ITEM`): the items whose vectors in the model
 * (itemVectors(): MF's q_i without its bias, a sequence model's item embeddings) have the highest
 * cosine similarity
 *
 *   cos(i, j) = (q_i · q_j) / (‖q_i‖ ‖q_j‖)
 *
 * with the query item itself left out. A model with a similarity of its own (ItemKNN's neighbour
 * lists: `similarTo`) ranks by that instead, which is what it was fitted to be. Cosine rather than the raw dot product so that an item's
 * popularity, which MF partly stores in the vector's length, does not decide who its neighbours
 * are. Sums are accumulated in float64; a zero vector, where the formula is undefined, has cosine 0
 * with every item rather than NaN. Ties go to the lower item index.
 *
 * `never` items (those without a training row, whose vectors are random) are not listed as
 * neighbours; a model trained with item features has a vector for a new product from its features,
 * so `--new-items` lists those too, marked `from_features`, and such a product can always be a query.
 */
import type * as TF from '@tensorflow/tfjs';
import { createRanker } from '../eval/ranking.js';
import { UsageError } from '../util/errors.js';
import type { Scorer } from '../models/model.js';
import { shortestFloat32, type ItemScore } from './recommend.js';

export interface SimilarItems {
  /** The query item (raw id). */
  item: string;
  /** Present (true) when the query item has no training row and its vector comes from its features. */
  from_features?: true;
  /** Its nearest items, most similar first; `score` is the cosine similarity. */
  items: ItemScore[];
}

/** Row-major item vectors: `data[i * dim + d]`. */
export interface ItemVectors {
  data: Float32Array;
  count: number;
  dim: number;
}

/** The model's item vectors; a usage error naming `model` when it has none (pop ranks by counts alone). */
export function readItemVectors(model: Pick<Scorer, 'itemVectors'>, name: string): ItemVectors {
  if (!model.itemVectors) throw new UsageError(`--similar-to ranks items by the cosine of their vectors or by the model's own item similarity, and --model ${name} has neither (it scores every item without a vector per item). Use a checkpoint of another model.`);
  const t: TF.Tensor2D = model.itemVectors();
  try {
    const [count, dim] = t.shape;
    return { data: Float32Array.from(t.dataSync()), count, dim };
  } finally {
    t.dispose();
  }
}

function norms(v: ItemVectors): Float64Array {
  const out = new Float64Array(v.count);
  for (let i = 0; i < v.count; i++) {
    let s = 0;
    for (let d = 0, o = i * v.dim; d < v.dim; d++, o++) s += v.data[o] * v.data[o];
    out[i] = Math.sqrt(s);
  }
  return out;
}

/** Cosine similarity of item `query` with every item (itself included). */
export function cosineToAll(v: ItemVectors, query: number, itemNorms: Float64Array = norms(v)): Float64Array {
  const out = new Float64Array(v.count);
  const nq = itemNorms[query];
  if (nq === 0) return out;
  const q = query * v.dim;
  for (let i = 0; i < v.count; i++) {
    const ni = itemNorms[i];
    if (ni === 0) continue;
    let dot = 0;
    for (let d = 0, o = i * v.dim; d < v.dim; d++, o++) dot += v.data[q + d] * v.data[o];
    out[i] = dot / (nq * ni);
  }
  return out;
}

/** The similarity of a query item to every item (the query's own entry is ignored). */
export interface ItemSimilarity {
  count: number;
  to(query: number): Float64Array;
}

/** Cosine of item vectors as an ItemSimilarity. */
export function cosineSimilarity(v: ItemVectors): ItemSimilarity {
  const itemNorms = norms(v);
  return { count: v.count, to: (query) => cosineToAll(v, query, itemNorms) };
}

/** A model's own similarity when it has one (`similarTo`), else the cosine of its item vectors. */
export function modelSimilarity(model: Pick<Scorer, 'itemVectors' | 'similarTo' | 'shape'>, name: string): ItemSimilarity {
  const own = model.similarTo;
  if (own) return { count: model.shape.items, to: (query) => own.call(model, query) };
  return cosineSimilarity(readItemVectors(model, name));
}

export interface SimilarOptions {
  /** Items never listed as neighbours (no learned vector). */
  never?: ArrayLike<number>;
  /** Items whose vector comes from their features alone (no training row): marked `from_features`. */
  fromFeatures?: ((i: number) => boolean) | null;
}

/** The k nearest items of each query item index, in query order: by cosine of `source`'s vectors, or by its own similarity. */
export function similarItems(source: ItemVectors | ItemSimilarity, itemIds: readonly string[], queries: readonly number[], k: number, opts: SimilarOptions = {}): SimilarItems[] {
  const similarity = 'to' in source ? source : cosineSimilarity(source);
  if (itemIds.length !== similarity.count) throw new RangeError(`similarItems: ${similarity.count} items to compare but ${itemIds.length} item ids`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`similarItems: k must be a positive integer; got ${k}`);
  const ranker = createRanker(similarity.count, opts.never);
  const marked = opts.fromFeatures ?? null;
  // The query itself is excluded, so at most count - 1 neighbours exist.
  const kk = Math.min(k, similarity.count - 1);
  return queries.map((query) => {
    const record: SimilarItems = { item: itemIds[query], items: [] };
    if (marked?.(query) === true) record.from_features = true;
    if (kk < 1) return record;
    const top = ranker.topK(similarity.to(query), kk, { exclude: [query] });
    for (let r = 0; r < top.items.length; r++) {
      const item: ItemScore = { item: itemIds[top.items[r]], score: shortestFloat32(top.scores[r]) };
      if (marked?.(top.items[r]) === true) item.from_features = true;
      record.items.push(item);
    }
    return record;
  });
}
