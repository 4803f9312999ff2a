/**
 * Training examples for (user, item) models, rebuilt each epoch from the run's PRNG:
 * - `mse`: the training rows, shuffled;
 * - `bce`: each positive followed by N negatives drawn uniformly from the items the user never
 *   interacted with (He et al. 2017 §4.2 resample them every epoch), all shuffled together;
 *   negatives come only from items that have training rows (see negativePool);
 * - `bpr`: (user, positive, negative) triples, one negative per positive (Rendle et al. 2009).
 * bce and bpr treat every row they are given as a positive; `positiveRows` binarises ratings first.
 * Nothing per example is an object: every epoch is a handful of typed arrays.
 */
import { hasItem, type UserItems } from '../data/user-items.js';
import type { PairLoss } from '../models/family.js';
import { Prng } from '../util/prng.js';

export type { PairLoss };

export interface Interactions {
  users: Int32Array;
  items: Int32Array;
  values: Float32Array;
  numUsers: number;
  numItems: number;
}

/**
 * Binarised feedback for bce/bpr (`train.positive_threshold`, mirroring eval's
 * `--relevance-threshold`): only rows with value ≥ threshold are positives. The rows below stay in
 * the caller's interacted sets, so they are not drawn as negatives either: a user who rated an
 * item 2 did see it, and treating that as "never interacted" would teach the model that the user
 * does not know the item rather than that they disliked it. Such rows are simply left out.
 */
export function positiveRows(data: Interactions, threshold: number): Interactions {
  let n = 0;
  for (let i = 0; i < data.values.length; i++) if (data.values[i] >= threshold) n++;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  const values = new Float32Array(n);
  for (let i = 0, j = 0; i < data.values.length; i++) {
    if (data.values[i] < threshold) continue;
    users[j] = data.users[i];
    items[j] = data.items[i];
    values[j++] = data.values[i];
  }
  return { users, items, values, numUsers: data.numUsers, numItems: data.numItems };
}

/**
 * The items negatives are drawn from: those with at least one training row, or null when that is
 * every item (then the draw is over all indices, exactly as before pools existed). An item seen
 * only in valid or test would otherwise be drawn as a negative and never as a positive, so
 * training would push exactly the held-out items below every other: on the Taobao excerpt
 * (temporal split, 72% of test items new) MF scored AUC 0.41, below random, for that reason.
 */
export function negativePool(data: Pick<Interactions, 'items' | 'numItems'>): Int32Array | null {
  const seen = new Uint8Array(data.numItems);
  let distinct = 0;
  for (let i = 0; i < data.items.length; i++) {
    if (seen[data.items[i]] === 0) distinct++;
    seen[data.items[i]] = 1;
  }
  if (distinct === data.numItems) return null;
  const pool = new Int32Array(distinct);
  for (let item = 0, j = 0; item < data.numItems; item++) if (seen[item] === 1) pool[j++] = item;
  return pool;
}

/**
 * A uniform item of the pool (all items when `pool` is null) that the user never interacted with.
 * Rejection sampling is O(1) expected for the sparse data recommenders see; a user who has nearly
 * every item falls back to an exact draw over the complement.
 */
export function sampleNegative(rng: Prng, sets: UserItems, user: number, numItems: number, pool: Int32Array | null = null): number {
  const size = pool === null ? numItems : pool.length;
  const at = (k: number): number => (pool === null ? k : pool[k]);
  const owned = sets.offsets[user + 1] - sets.offsets[user];
  for (let tries = 0; tries < 64 && owned < size; tries++) {
    const item = at(rng.int(size));
    if (!hasItem(sets, user, item)) return item;
  }
  let free = 0;
  for (let k = 0; k < size; k++) if (!hasItem(sets, user, at(k))) free++;
  // A user who owns every item of the pool: any item keeps the loss defined.
  if (free === 0) return at(rng.int(size));
  let pick = rng.int(free);
  for (let k = 0; k < size; k++) {
    if (hasItem(sets, user, at(k))) continue;
    if (pick-- === 0) return at(k);
  }
  return at(rng.int(size));
}

export interface EpochExamples {
  users: Int32Array;
  items: Int32Array;
  /** Ratings (mse), 1/0 labels (bce), or all ones (bpr, whose negatives are in `negatives`). */
  labels: Float32Array;
  negatives: Int32Array | null;
  size: number;
}

export function buildEpoch(data: Interactions, sets: UserItems, loss: PairLoss, negatives: number, rng: Prng, pool: Int32Array | null = null): EpochExamples {
  const n = data.users.length;
  if (loss === 'mse') {
    const order = rng.permutation(n);
    const users = new Int32Array(n);
    const items = new Int32Array(n);
    const labels = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const r = order[j];
      users[j] = data.users[r];
      items[j] = data.items[r];
      labels[j] = data.values[r];
    }
    return { users, items, labels, negatives: null, size: n };
  }
  if (loss === 'bpr') {
    const order = rng.permutation(n);
    const users = new Int32Array(n);
    const items = new Int32Array(n);
    const neg = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const r = order[j];
      users[j] = data.users[r];
      items[j] = data.items[r];
      neg[j] = sampleNegative(rng, sets, users[j], data.numItems, pool);
    }
    return { users, items, labels: new Float32Array(n).fill(1), negatives: neg, size: n };
  }
  const per = 1 + negatives;
  const size = n * per;
  const users = new Int32Array(size);
  const items = new Int32Array(size);
  const labels = new Float32Array(size);
  for (let r = 0; r < n; r++) {
    const u = data.users[r];
    const base = r * per;
    users[base] = u;
    items[base] = data.items[r];
    labels[base] = 1;
    for (let k = 1; k < per; k++) {
      users[base + k] = u;
      items[base + k] = sampleNegative(rng, sets, u, data.numItems, pool);
    }
  }
  const order = rng.permutation(size);
  const su = new Int32Array(size);
  const si = new Int32Array(size);
  const sl = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    const r = order[j];
    su[j] = users[r];
    si[j] = items[r];
    sl[j] = labels[r];
  }
  return { users: su, items: si, labels: sl, negatives: null, size };
}
