/**
 * The fused training step for models with a closed-form kernel (PairModel.fused: MF, GMF):
 * scores, loss, d(loss)/d(score), row gradients and dense-weight gradients computed in one pass
 * over the batch's rows in table memory, then the same optimizer updates as the autograd step.
 * Same loss, same L2 (l2 · mean over the batch of the squared norms of the rows used) and the same
 * gradients as pair-step.ts, to float rounding; the test suite checks them against each other.
 */
import type * as TF from '@tensorflow/tfjs';
import type { FusedPairKernel, PairModel, SlotGrads } from '../models/model.js';
import type { PairLoss } from './pair-data.js';
import { composeItems } from './fused-features.js';
import { concatInt, type StepBatch, type StepFeatures } from './pair-step.js';

export interface FusedUpdaters {
  /** Live table memory (null when the engine keeps it out of reach: use the autograd step). */
  view(table: TF.Variable): Float32Array | null;
  /** The row-sparse optimizer's prepare/apply pair (RowSparseOptimizer). */
  prepareRows(table: TF.Variable, rows: Int32Array): SlotGrads;
  applyPrepared(table: TF.Variable, coefficient: number): number;
  /** The update of one dense variable (the kernel's `dense`) from its full gradient. */
  applyDense(variable: TF.Variable, grad: Float32Array): void;
}

/**
 * Whether the fused step covers every trainable weight of the model: its kernel differentiates the
 * tables and all of the model's dense variables.
 */
export function fusable(model: PairModel): model is PairModel & { fused: FusedPairKernel } {
  if (!model.fused) return false;
  const covered = new Set(model.fused.dense);
  return model.dense.every((v) => covered.has(v));
}

/** Scratch buffers reused across steps (one per trainer). */
export interface FusedScratch {
  scores: Float32Array;
  dScore: Float32Array;
  /** Where frozen tables' gradients go: every pair into one throwaway row. */
  discard: Float32Array;
  zeroSlots: Int32Array;
}

export function createFusedScratch(): FusedScratch {
  return { scores: new Float32Array(0), dScore: new Float32Array(0), discard: new Float32Array(0), zeroSlots: new Int32Array(0) };
}

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * The batch loss from the scores of its n pairs (2n for bpr: positives, then negatives), with
 * d(loss)/d(score) written into dScore: the losses of pair-step.ts.
 */
export function pairLossGrad(scores: Float32Array, labels: Float32Array, loss: PairLoss, n: number, dScore: Float32Array): number {
  let sum = 0;
  if (loss === 'mse') {
    for (let k = 0; k < n; k++) {
      const e = scores[k] - labels[k];
      sum += e * e;
      dScore[k] = (2 * e) / n;
    }
  } else if (loss === 'bce') {
    // mean(softplus(x) − x·y): binary cross-entropy on logits, as pair-step's bceWithLogits.
    for (let k = 0; k < n; k++) {
      const x = scores[k];
      sum += softplus(x) - x * labels[k];
      dScore[k] = (sigmoid(x) - labels[k]) / n;
    }
  } else {
    // −mean(log σ(pos − neg)) = mean(softplus(neg − pos)).
    for (let k = 0; k < n; k++) {
      const x = scores[k] - scores[k + n];
      sum += softplus(-x);
      const d = (sigmoid(x) - 1) / n;
      dScore[k] = d;
      dScore[k + n] = -d;
    }
  }
  return sum / n;
}

/**
 * Runs one fused step and returns the batch loss, or null when a table's memory is not reachable
 * on this engine (the caller falls back to the autograd step). A non-finite loss is returned
 * without touching the weights, as the autograd step does.
 */
export function fusedPairStep(
  model: PairModel & { fused: FusedPairKernel },
  batch: StepBatch,
  loss: PairLoss,
  l2: number,
  updaters: FusedUpdaters,
  frozen: ReadonlySet<string>,
  scratch: FusedScratch,
  features: StepFeatures | null = null,
): number | null {
  const views = tableViews([...model.tables, ...(features?.encoder.tables ?? [])], updaters);
  if (views === null) return null;
  const n = batch.users.length;
  const bpr = loss === 'bpr';
  const m = bpr ? 2 * n : n;
  const users = bpr ? concatInt(batch.users, batch.users) : batch.users;
  const items = bpr ? concatInt(batch.items, batch.negatives ?? new Int32Array(n)) : batch.items;
  if (scratch.scores.length < m) {
    scratch.scores = new Float32Array(m);
    scratch.dScore = new Float32Array(m);
  }
  const scores = scratch.scores.subarray(0, m);
  const dScore = scratch.dScore.subarray(0, m);
  // Dense weights are small (GMF: d + 1 floats): a copy per step.
  const dense = model.fused.dense.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  const composed = features === null ? null : composeItems(features, model.tables.filter((t) => t.kind === 'item'), views, items);
  const kernelViews = composed === null ? views : { ...views, ...composed.views };
  const kernelItems = composed === null ? items : composed.local;
  model.fused.score(kernelViews, dense, users, kernelItems, scores);

  let value = pairLossGrad(scores, batch.labels, loss, n, dScore);
  if (!Number.isFinite(value)) return value;

  const grads: Record<string, SlotGrads> = {};
  for (const t of model.tables) {
    const idx = t.kind === 'user' ? users : items;
    if (composed !== null && t.kind === 'item') {
      grads[t.name] = composed.grads[t.name];
      continue;
    }
    if (!frozen.has(t.name)) {
      grads[t.name] = updaters.prepareRows(t.variable, idx);
      continue;
    }
    const width = t.variable.shape[1] ?? 1;
    if (scratch.discard.length < width) scratch.discard = new Float32Array(width);
    if (scratch.zeroSlots.length < m) scratch.zeroSlots = new Int32Array(m);
    grads[t.name] = { sums: scratch.discard, slots: scratch.zeroSlots.subarray(0, m) };
  }
  const denseGrads = dense.map((d) => new Float32Array(d.length));
  model.fused.backward(kernelViews, dense, users, kernelItems, dScore, grads, denseGrads);
  // L2 = (l2/n) · Σ over the batch's rows of ‖w‖²: charged by the optimizer once per unique row
  // (count · w), where it reads w anyway. Frozen tables only add to the reported loss, and go
  // first: an update may move wasm memory and detach the views.
  const c = l2 / n;
  let penalty = 0;
  const own = composed === null ? model.tables : model.tables.filter((t) => t.kind === 'user');
  for (const t of own) {
    if (frozen.has(t.name) && c > 0) penalty += squaredNorms(views[t.name], t.kind === 'user' ? users : items, t.variable.shape[1] ?? 1);
  }
  if (composed !== null) penalty += composed.penalty(c);
  for (const t of own) {
    if (!frozen.has(t.name)) penalty += updaters.applyPrepared(t.variable, c);
  }
  composed?.apply(updaters, frozen);
  model.fused.dense.forEach((v, k) => {
    if (!frozen.has(v.name)) updaters.applyDense(v, denseGrads[k]);
  });
  value += c * penalty;
  return value;
}

function squaredNorms(table: Float32Array, idx: Int32Array, width: number): number {
  let sum = 0;
  for (let k = 0; k < idx.length; k++) {
    const base = idx[k] * width;
    for (let j = 0; j < width; j++) sum += table[base + j] * table[base + j];
  }
  return sum;
}

/**
 * Views of every table. Taking a view may first give a shared table a private buffer (a TF.js op
 * that can grow the wasm heap and detach views taken before it), so the views are checked and
 * taken again once if any came back detached.
 */
function tableViews(tables: readonly { name: string; variable: TF.Variable }[], updaters: FusedUpdaters): Record<string, Float32Array> | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    const views: Record<string, Float32Array> = {};
    let detached = false;
    for (const t of tables) {
      const v = updaters.view(t.variable);
      if (v === null) return null;
      if (v.length !== t.variable.size) detached = true;
      views[t.name] = v;
    }
    if (!detached) return views;
  }
  return null;
}
