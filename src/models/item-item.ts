/**
 * What the item-to-item families (EASE, ItemKNN) share: a user is the set of items in their
 * history, and an item's score is the sum of what each of those items gives it,
 *
 *   score(u, i) = Σ_{j ∈ history(u)} S[j, i]
 *
 * with S dense (EASE's B) or sparse (ItemKNN's top-k neighbours). rec scores in JS over the
 * weights' memory; the saved Keras graph computes the same from a padded history so that plain
 * TF.js can run it (slower: it builds the multi-hot matrix of the batch).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { userItemSets, type UserItems } from '../data/user-items.js';
import type { FitData } from './family.js';

/** The empty slot of a padded history (as SASRec's). */
export const HISTORY_PADDING = -1;

/** Each user's distinct training items, weight 1: the binary matrix X both families are fitted on. */
export function binaryUserRows(data: Pick<FitData, 'users' | 'items' | 'numUsers'>): UserItems & { weights: Float32Array } {
  const sets = userItemSets(data.numUsers, [data]);
  return { ...sets, weights: new Float32Array(sets.items.length).fill(1) };
}

/** The batch's multi-hot [rows, items] matrix from padded histories [rows, width] (in a Keras layer's call). */
export function multiHot(ids: TF.Tensor2D, items: number): TF.Tensor2D {
  return tf.tidy(() => tf.minimum(tf.sum(tf.oneHot(tf.cast(ids, 'int32') as TF.Tensor2D, items), 1), 1) as TF.Tensor2D);
}

/**
 * A variable's values in JS memory, read again only when the variable was assigned since (a fit
 * replaces its data id): scoring reads them for every block of users.
 */
export function cachedValues<T extends Float32Array | Int32Array>(variable: TF.Variable): () => T {
  let id: object | null = null;
  let values: T | null = null;
  return () => {
    if (values === null || id !== variable.dataId) {
      values = variable.dataSync() as T;
      id = variable.dataId;
    }
    return values;
  };
}

/**
 * Scores of `items` for each history: `add(j, acc)` adds item j's contributions into the
 * catalogue-wide accumulator. An item repeated in a history counts once (X is binary).
 */
export function scoreItemSets(histories: readonly Int32Array[], items: TF.Tensor1D, numItems: number, add: (item: number, acc: Float32Array) => void): TF.Tensor2D {
  const wanted = items.dataSync();
  const out = new Float32Array(histories.length * wanted.length);
  const acc = new Float32Array(numItems);
  const seen = new Uint8Array(numItems);
  histories.forEach((history, r) => {
    acc.fill(0);
    for (const j of history) {
      if (j < 0 || seen[j] === 1) continue;
      seen[j] = 1;
      add(j, acc);
    }
    for (const j of history) if (j >= 0) seen[j] = 0;
    const base = r * wanted.length;
    for (let t = 0; t < wanted.length; t++) out[base + t] = acc[wanted[t]];
  });
  return tf.tensor2d(out, [histories.length, wanted.length]);
}
