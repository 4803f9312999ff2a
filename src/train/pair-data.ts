/**
 * Training examples for (user, item) models, rebuilt each epoch from the run's PRNG:
 * - `mse`: the training rows, shuffled;
 * - `bce`: each positive followed by N negatives drawn uniformly from the items the user never
 *   interacted with (He et al. 2017 §4.2 resample them every epoch), all shuffled together;
 *   negatives come only from items that have training rows (see negativePool);
 * - `bpr`: (user, positive, negative) triples, one negative per positive (Rendle et al. 2009).
 * bce and bpr treat every row they are given as a positive; `positiveRows` binarises ratings first.
 * With `train.negative_sampling on_sale` a positive at time t draws its negatives only among the
 * items already on sale at t (see OnSalePool); with `mixed`, each negative is drawn one way or the
 * other with even odds.
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
  /** Epoch ms per row; carried only where on_sale negatives need each positive's time. */
  ts?: Float64Array;
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
  const ts = data.ts === undefined ? undefined : new Float64Array(n);
  for (let i = 0, j = 0; i < data.values.length; i++) {
    if (data.values[i] < threshold) continue;
    users[j] = data.users[i];
    items[j] = data.items[i];
    if (ts !== undefined && data.ts !== undefined) ts[j] = data.ts[i];
    values[j++] = data.values[i];
  }
  return { users, items, values, numUsers: data.numUsers, numItems: data.numItems, ...(ts === undefined ? {} : { ts }) };
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

/** train.negative_sampling. */
export type NegativeSampling = 'uniform' | 'on_sale' | 'mixed';

/**
 * Negatives by time on sale: the pool's items in order of launch (their first training row; ties
 * by index), so that the items on sale at time t are a prefix, `items[0, onSaleCount(t))`. Uniform
 * negatives from the whole log draw a product launched last week as a negative for every positive
 * of the years before it, so with a few rows of its own it ends with the lowest bias of all (on the
 * synth cold bench: −1.50, against −0.95 for items never trained on; docs/benchmarks.md, cold start).
 * Drawn from what was on sale at the positive's time, an item is a negative only while it could
 * have been bought. Items with no training row are outside the pool, as with uniform draws.
 * That lifts the items launched late far up and costs some rank to the others and to items never
 * trained on; `mixed` draws each negative from the whole pool or from the items on sale with even
 * odds, which keeps most of both (docs/benchmarks.md, cold start, session 13).
 */
export interface OnSalePool {
  items: Int32Array;
  /** Launch (epoch ms) of items[k], ascending. */
  launch: Float64Array;
  /** Half the negatives (by a fair draw each) uniform over the whole pool. */
  mixed: boolean;
}

export function onSalePool(rows: Pick<Interactions, 'items' | 'numItems'> & { ts: Float64Array }, pool: Int32Array | null, mixed = false): OnSalePool {
  const first = new Float64Array(rows.numItems).fill(Number.POSITIVE_INFINITY);
  for (let r = 0; r < rows.items.length; r++) {
    const t = rows.ts[r];
    if (t < first[rows.items[r]]) first[rows.items[r]] = t;
  }
  const members = pool ?? Int32Array.from({ length: rows.numItems }, (_, i) => i);
  // A member without a timed row (a pool item whose rows all lack a time) counts as on sale from the start.
  const launchOf = (i: number): number => (first[i] === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : first[i]);
  const items = Int32Array.from(members).sort((a, b) => launchOf(a) - launchOf(b) || a - b);
  const launch = Float64Array.from(items, launchOf);
  return { items, launch, mixed };
}

/** How many of the pool's items were on sale at `t` (launched at or before it): an upper-bound search. */
export function onSaleCount(p: OnSalePool, t: number): number {
  let lo = 0;
  let hi = p.launch.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p.launch[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A uniform item of the pool (all items when `pool` is null), or of its first `limit` items, that
 * the user never interacted with. Rejection sampling is O(1) expected for the sparse data
 * recommenders see; a user who has nearly every item falls back to an exact draw over the complement.
 */
export function sampleNegative(rng: Prng, sets: UserItems, user: number, numItems: number, pool: Int32Array | null = null, limit = -1): number {
  const size = limit >= 0 ? limit : pool === null ? numItems : pool.length;
  const at = (k: number): number => (pool === null ? k : pool[k]);
  const owned = sets.offsets[user + 1] - sets.offsets[user];
  for (let tries = 0; tries < 64 && owned < size; tries++) {
    const item = at(rng.int(size));
    if (!hasItem(sets, user, item)) return item;
  }
  let free = 0;
  for (let k = 0; k < size; k++) if (!hasItem(sets, user, at(k))) free++;
  if (free === 0) {
    // Every item on sale is the user's (the first rows of the log): any item of the whole pool they lack will do.
    const whole = pool === null ? numItems : pool.length;
    if (size < whole) return sampleNegative(rng, sets, user, numItems, pool);
    // A user who owns every item of the pool: any item keeps the loss defined.
    return at(rng.int(size));
  }
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

/**
 * A row's negative: from the pool, or with `onSale` from the items on sale at the row's time (a row
 * without a time, or one before every launch, draws from the whole pool), or with `onSale.mixed` one
 * or the other by a fair draw.
 */
type DrawNegative = (row: number, user: number) => number;

function negativeDraw(data: Interactions, sets: UserItems, rng: Prng, pool: Int32Array | null, onSale: OnSalePool | null): DrawNegative {
  if (onSale === null) return (_row, user) => sampleNegative(rng, sets, user, data.numItems, pool);
  const ts = data.ts;
  if (ts === undefined) throw new Error('on_sale negatives need the time of each training row (Interactions.ts)');
  return (row, user) => {
    if (onSale.mixed && rng.int(2) === 0) return sampleNegative(rng, sets, user, data.numItems, onSale.items);
    const limit = onSaleCount(onSale, ts[row]);
    return sampleNegative(rng, sets, user, data.numItems, onSale.items, limit > 0 ? limit : onSale.items.length);
  };
}

export function buildEpoch(data: Interactions, sets: UserItems, loss: PairLoss, negatives: number, rng: Prng, pool: Int32Array | null = null, onSale: OnSalePool | null = null): EpochExamples {
  const n = data.users.length;
  const draw = negativeDraw(data, sets, rng, pool, onSale);
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
      neg[j] = draw(r, users[j]);
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
      items[base + k] = draw(r, u);
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
