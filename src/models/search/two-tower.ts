/**
 * The two-tower search model (`two-tower`): a query is the mean of its text tokens' rows, an item the mean of its
 * catalogue tokens' rows plus its own id row, both L2-normalised; the score is their cosine. Queries and item text share
 * one token table (src/models/search/bags.ts), so a held-out query is encoded by words its titles taught.
 *
 * Training (src/train/search.ts) is the in-batch sampled softmax of Yi et al., "Sampling-Bias-Corrected Neural
 * Modeling for Large Corpus Item Recommendations" (RecSys 2019): each (query, item) pair of a batch is a positive, the
 * batch's other items its negatives, logits cos/τ − log p(item) where p is the item's share of the training pairs (the
 * log-frequency correction: a popular item is a negative more often, which would otherwise push it down). An item that
 * appears twice in a batch is not its own negative. Id rows are dropped per step with probability `id_dropout`
 * (DropoutNet, Volkovs et al. 2017), so an item's tokens alone must score it: a product never searched is ranked by
 * what it is. The step below computes the loss and the row gradients in one pass over plain arrays, O(batch² · dim).
 */
import type { TextFeaturizerSpec } from '../../data/text.js';
import type { TokenBags, TokenVocab } from './bags.js';

export const TWO_TOWER_FORMAT = 'rec-two-tower-v1';

export interface TwoTowerSpec {
  format: typeof TWO_TOWER_FORMAT;
  dim: number;
  temperature: number;
  id_dropout: number;
  /** Text buckets of the token table, ascending (row = position); then `values` (row = buckets + position). */
  buckets: number[];
  values: string[];
  featurizer: TextFeaturizerSpec;
}

export function specVocab(spec: Pick<TwoTowerSpec, 'buckets' | 'values'>): TokenVocab {
  return { buckets: Int32Array.from(spec.buckets), values: spec.values };
}

/** out[o..o+dim) = Σ_k weights[k] · table[rows[k]] over entity e's bag. */
export function pool(table: Float32Array, dim: number, bags: TokenBags, e: number, out: Float32Array, o: number): void {
  out.fill(0, o, o + dim);
  for (let k = bags.offsets[e]; k < bags.offsets[e + 1]; k++) {
    const t = bags.rows[k] * dim;
    const w = bags.weights[k];
    for (let j = 0; j < dim; j++) out[o + j] += w * table[t + j];
  }
}

/** Normalises v[o..o+dim) in place; returns the norm before (0 leaves a zero vector). */
export function normalize(v: Float32Array, o: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += v[o + j] * v[o + j];
  const n = Math.sqrt(s);
  if (n > 0) for (let j = 0; j < dim; j++) v[o + j] /= n;
  return n;
}

/**
 * The serving vectors of every item: tokens pooled plus the id row where the item was trained (`useId[i]`: an item
 * without a training pair has an untrained id row, left out), normalised. [items, dim] row-major.
 */
export function itemMatrix(tokens: Float32Array, ids: Float32Array, dim: number, bags: TokenBags, useId: Uint8Array): Float32Array {
  const items = bags.offsets.length - 1;
  const out = new Float32Array(items * dim);
  for (let i = 0; i < items; i++) {
    const o = i * dim;
    pool(tokens, dim, bags, i, out, o);
    if (useId[i] === 1) for (let j = 0; j < dim; j++) out[o + j] += ids[o + j];
    normalize(out, o, dim);
  }
  return out;
}

/** One step's examples: query and item indices, each pair's weight (0 adds the item as a negative only), id mask. */
export interface TowerBatch {
  queries: Int32Array;
  items: Int32Array;
  weights: Float32Array;
  /** 1 where the item's id row takes part this step. */
  idMask: Uint8Array;
}

/** Where the step adds its row gradients: the optimizer's prepared slots (src/engine/sparse-optimizer.ts prepareRows). */
export interface TowerGradSlots {
  /** Slot per token position, in the order of `tokenPositions` (query bags of the batch, then item bags). */
  tokenSlots: Int32Array;
  tokenSums: Float32Array;
  /** Slot per batch position whose id row takes part (idMask 1), in batch order. */
  idSlots: Int32Array;
  idSums: Float32Array;
}

/** The token rows a batch touches, in the order the step's gradients are written: every query bag, then every item bag. */
export function tokenPositions(batch: TowerBatch, queryBags: TokenBags, itemBags: TokenBags): Int32Array {
  let n = 0;
  for (const q of batch.queries) n += queryBags.offsets[q + 1] - queryBags.offsets[q];
  for (const i of batch.items) n += itemBags.offsets[i + 1] - itemBags.offsets[i];
  const rows = new Int32Array(n);
  let at = 0;
  for (const q of batch.queries) {
    rows.set(queryBags.rows.subarray(queryBags.offsets[q], queryBags.offsets[q + 1]), at);
    at += queryBags.offsets[q + 1] - queryBags.offsets[q];
  }
  for (const i of batch.items) {
    rows.set(itemBags.rows.subarray(itemBags.offsets[i], itemBags.offsets[i + 1]), at);
    at += itemBags.offsets[i + 1] - itemBags.offsets[i];
  }
  return rows;
}

export interface TowerStepInput {
  tokens: Float32Array;
  ids: Float32Array;
  dim: number;
  temperature: number;
  queryBags: TokenBags;
  itemBags: TokenBags;
  /** log p(item) of the log-frequency correction, per item (0 everywhere turns it off). */
  logQ: Float32Array;
}

/**
 * Loss of the batch (weighted mean over its positives of −log softmax) and its gradients into `slots`. Returns NaN,
 * writing nothing, when no pair has a positive weight.
 */
export function towerStep(inp: TowerStepInput, batch: TowerBatch, slots: TowerGradSlots): number {
  const { dim, temperature: tau } = inp;
  const B = batch.queries.length;
  let wsum = 0;
  for (let k = 0; k < B; k++) wsum += batch.weights[k];
  if (!(wsum > 0)) return Number.NaN;
  const Q = new Float32Array(B * dim);
  const V = new Float32Array(B * dim);
  const qn = new Float32Array(B);
  const vn = new Float32Array(B);
  for (let k = 0; k < B; k++) {
    pool(inp.tokens, dim, inp.queryBags, batch.queries[k], Q, k * dim);
    qn[k] = normalize(Q, k * dim, dim);
    pool(inp.tokens, dim, inp.itemBags, batch.items[k], V, k * dim);
    if (batch.idMask[k] === 1) {
      const o = batch.items[k] * dim;
      for (let j = 0; j < dim; j++) V[k * dim + j] += inp.ids[o + j];
    }
    vn[k] = normalize(V, k * dim, dim);
  }
  // dLogits, row by row: w_k (softmax_kj − δ_kj) / Σw.
  const dQ = new Float32Array(B * dim);
  const dV = new Float32Array(B * dim);
  const logits = new Float64Array(B);
  let loss = 0;
  for (let k = 0; k < B; k++) {
    const w = batch.weights[k];
    if (w === 0) continue;
    let max = -Infinity;
    for (let j = 0; j < B; j++) {
      if (j !== k && batch.items[j] === batch.items[k]) {
        logits[j] = -Infinity;
        continue;
      }
      let s = 0;
      for (let d = 0; d < dim; d++) s += Q[k * dim + d] * V[j * dim + d];
      logits[j] = s / tau - inp.logQ[batch.items[j]];
      if (logits[j] > max) max = logits[j];
    }
    let z = 0;
    for (let j = 0; j < B; j++) z += Math.exp(logits[j] - max);
    const lse = max + Math.log(z);
    loss += (w * (lse - logits[k])) / wsum;
    for (let j = 0; j < B; j++) {
      const p = logits[j] === -Infinity ? 0 : Math.exp(logits[j] - lse);
      const g = (w * (p - (j === k ? 1 : 0))) / wsum / tau;
      if (g === 0) continue;
      for (let d = 0; d < dim; d++) {
        dQ[k * dim + d] += g * V[j * dim + d];
        dV[j * dim + d] += g * Q[k * dim + d];
      }
    }
  }
  backToRows(inp, batch, slots, { Q, V, qn, vn, dQ, dV });
  return loss;
}

/** Through the normalisations (dr = (dx − x (x·dx)) / ‖r‖) and the pooling, into the token and id slots. */
function backToRows(inp: TowerStepInput, batch: TowerBatch, slots: TowerGradSlots, a: { Q: Float32Array; V: Float32Array; qn: Float32Array; vn: Float32Array; dQ: Float32Array; dV: Float32Array }): void {
  const { dim } = inp;
  const B = batch.queries.length;
  unnormalize(a.Q, a.dQ, a.qn, B, dim);
  unnormalize(a.V, a.dV, a.vn, B, dim);
  let p = 0;
  const add = (bags: TokenBags, e: number, grad: Float32Array, o: number) => {
    for (let k = bags.offsets[e]; k < bags.offsets[e + 1]; k++, p++) {
      const s = slots.tokenSlots[p] * dim;
      const w = bags.weights[k];
      for (let d = 0; d < dim; d++) slots.tokenSums[s + d] += w * grad[o + d];
    }
  };
  for (let k = 0; k < B; k++) add(inp.queryBags, batch.queries[k], a.dQ, k * dim);
  for (let k = 0; k < B; k++) add(inp.itemBags, batch.items[k], a.dV, k * dim);
  let q = 0;
  for (let k = 0; k < B; k++) {
    if (batch.idMask[k] !== 1) continue;
    const s = slots.idSlots[q++] * dim;
    for (let d = 0; d < dim; d++) slots.idSums[s + d] += a.dV[k * dim + d];
  }
}

/** In place: g ← (g − x (x·g)) / n per row, x the normalised vectors and n their norms before. */
function unnormalize(x: Float32Array, g: Float32Array, norms: Float32Array, rows: number, dim: number): void {
  for (let k = 0; k < rows; k++) {
    const o = k * dim;
    if (norms[k] === 0) {
      g.fill(0, o, o + dim);
      continue;
    }
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += x[o + d] * g[o + d];
    for (let d = 0; d < dim; d++) g[o + d] = (g[o + d] - x[o + d] * dot) / norms[k];
  }
}
