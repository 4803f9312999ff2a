/**
 * Training of sequence models (SASRec): every user with at least two training items is one
 * example, whose window holds their last max_len items but one and whose targets are the next item
 * at every slot (Kang & McAuley 2018). Losses:
 * - `bce`: per slot, the target against one sampled item the user never had in train (the paper);
 * - `ce` with `--negatives 0`: softmax cross-entropy over the whole catalogue (Klenitskiy &
 *   Vasilev 2023), computed in blocks of slots so no [slots, items] matrix larger than
 *   CE_BLOCK_FLOATS ever exists, with its gradient formed in the same pass (fusedSoftmaxCe);
 * - `ce` with `--negatives N`: sampled softmax, the target against N items drawn for the batch.
 *
 * Batches are formed from a shuffled user order, sorted by history length within runs of
 * SORT_RUN_BATCHES batches and trimmed to their longest window: padding is masked, so the model's
 * outputs are the same as with full windows, and a batch of short histories costs what its real
 * slots cost instead of 128 × max_len. The batch order is shuffled again.
 *
 * A step is `gradients` (forward and backward of a batch, no state touched: several workers may
 * run it on parts of a batch) followed by `apply` (the optimizer updates). Its randomness (negatives,
 * dropout) comes from a PRNG seeded by the epoch's stream and the step index, so a resumed run
 * draws exactly what an uninterrupted one drew.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../engine/tf.js';
import { userItemSets, userSequences, type UserItems } from '../../data/user-items.js';
import type { RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import type { ItemEncoder } from '../../models/item-encoder.js';
import type { SequenceBatch, SequenceModel } from '../../models/model.js';
import type { SequenceLoss } from '../../models/family.js';
import { SASREC_PADDING } from '../../models/sasrec.js';
import { Prng } from '../../util/prng.js';
import { featureLeaves, type RowLeaf } from '../feature-rows.js';
import type { TrainTask } from '../loop.js';
import { negativePool, sampleNegative, type Interactions } from '../pair-data.js';
import type { DenseParamUpdater } from '../params.js';

export type { SequenceLoss } from '../../models/family.js';

/** Batches sorted by length together: enough to group lengths, few enough to keep batches mixed across epochs. */
const SORT_RUN_BATCHES = 32;
/** Largest [slots, items] logits block of the full softmax (16 MB of float32). */
export const CE_BLOCK_FLOATS = 4_000_000;

export interface SequenceTaskOptions {
  model: SequenceModel;
  /** Training rows in (user, ts, seq) order, as the dataset stores them. */
  train: Interactions;
  /** Rows of the other splits: never sampled as a user's negatives. */
  others: readonly { users: Int32Array; items: Int32Array }[];
  loss: SequenceLoss;
  /** ce: 0 for the full softmax, N for N sampled items per batch. bce ignores it (one per slot). */
  negatives: number;
  batchSize: number;
  l2: number;
  /** false: the item table's every row is updated every step (dense Adam moments). */
  sparse: boolean;
  /** Frozen weights, as resolveFrozen names them. */
  frozen: ReadonlySet<string>;
  sparseOptimizer: RowSparseOptimizer;
  params: DenseParamUpdater;
  /**
   * The model's item encoder (catalogue features), or null. With one, the item rows of a step are
   * composed from id and feature rows, and the full softmax runs over the items with training rows:
   * an item the log never shows is not taught to the encoder as a negative, since a new product is
   * exactly what its features must rank.
   */
  encoder?: ItemEncoder | null;
}

/** A batch's gradients: what `apply` needs, and what a data-parallel reduction would sum. */
export interface SequenceGradients {
  /** The batch's summed slot losses over `denominator` (see SequenceStepInput). */
  loss: number;
  /** Target slots in the batch (the mean's denominator). */
  positions: number;
  /** Item-table rows the gradient covers (null: the table is frozen). */
  itemRows: Int32Array | null;
  itemGrad: TF.Tensor2D | null;
  /** With an item encoder: the id and feature rows' gradients (itemRows and itemGrad are then null). */
  leaves?: { table: TF.Variable; rows: Int32Array; grad: TF.Tensor2D }[];
  /** Dense weights' gradients by tfjs variable name. */
  dense: TF.NamedTensorMap;
}

/** The inputs of one step, built in JS from the histories. */
export interface SequenceStepInput {
  users: Int32Array;
  batch: SequenceBatch;
  /** Flat slot index (row · width + column) of every target slot, and its target and negative item. */
  slots: Int32Array;
  targets: Int32Array;
  /** bce: one negative per slot; sampled ce: the batch's shared candidates; full ce: empty. */
  negatives: Int32Array;
  /**
   * What the summed slot losses are divided by: the epoch's mean slots per batch, the same for
   * every batch. Batches grouped by length hold from 1 to max_len slots per user; a per-batch mean
   * would give a slot of a short-history batch up to max_len times the weight of one in a long
   * batch (3-epoch HR@10 on Amazon Games fell from 0.494 to 0.475 that way), where a constant keeps
   * every slot's weight equal, as with randomly mixed batches.
   */
  denominator: number;
}

export interface SequenceTask extends TrainTask {
  /** Synchronous: one thread runs the whole step. */
  step(index: number): number;
  /** Step `index`'s inputs (deterministic given the epoch's PRNG). */
  input(index: number): SequenceStepInput;
  gradients(input: SequenceStepInput, dropoutSeed: () => number): SequenceGradients;
  apply(grads: SequenceGradients): void;
  /** The item-table rows `gradients(input)` differentiates, in its order (first use in ids, targets, negatives). */
  rowsOf(input: SequenceStepInput): Int32Array;
  /**
   * Step `index`'s dropout seeds: the single-thread step's stream, or, for the batch's rows
   * [part.lo, part.hi) of a data-parallel shard, a stream of that row range's own (a shard is a
   * different tensor, so no mask could match the whole batch's anyway; the ranges depend on the
   * batch and the worker count only, so a run depends on the seed and the worker count).
   */
  dropout(index: number, part?: { lo: number; hi: number }): () => number;
  /** The epoch beginEpoch drew, for replicas that did not draw it (parallel/sequence-replica.ts). */
  exportEpoch(): SequenceEpoch;
  importEpoch(epoch: SequenceEpoch): void;
}

/** An epoch of batches: batch b holds users[offsets[b], offsets[b + 1]). */
export interface SequenceEpoch {
  users: Int32Array;
  offsets: Int32Array;
  /** The epoch's step-PRNG seed (uint32). */
  stepSeed: number;
  /** Target slots of the whole epoch: the loss denominator is slots / batches. */
  slots: number;
}

/**
 * Rows [a, b) of a step's input: the same windows, targets and per-slot negatives as the whole
 * batch's (sampled ce: the batch's shared candidates), so the shards' summed losses and gradients
 * are the batch's. The width stays the batch's.
 */
export function sliceInput(inp: SequenceStepInput, a: number, b: number, perSlotNegatives: boolean): SequenceStepInput {
  const width = inp.batch.width;
  let first = 0;
  while (first < inp.slots.length && inp.slots[first] < a * width) first++;
  let end = first;
  while (end < inp.slots.length && inp.slots[end] < b * width) end++;
  return {
    users: inp.users.subarray(a, b),
    batch: { ids: inp.batch.ids.subarray(a * width, b * width), rows: b - a, width },
    slots: inp.slots.subarray(first, end).map((s) => s - a * width),
    targets: inp.targets.subarray(first, end),
    negatives: perSlotNegatives ? inp.negatives.subarray(first, end) : inp.negatives,
    denominator: inp.denominator,
  };
}

/** A training sequence needs a window of one item at least and the item after it. */
export const MIN_SEQUENCE_ROWS = 2;

/** Users with MIN_SEQUENCE_ROWS training rows or more: the examples of a sequence model's epoch. */
export function countTrainingSequences(train: Pick<Interactions, 'users' | 'numUsers'>): number {
  const rows = new Int32Array(train.numUsers);
  let sequences = 0;
  for (let r = 0; r < train.users.length; r++) if (++rows[train.users[r]] === MIN_SEQUENCE_ROWS) sequences++;
  return sequences;
}

/** What a sequence task's steps share: built once, then read by every helper below. */
interface SequenceContext {
  opts: SequenceTaskOptions;
  model: SequenceModel;
  loss: SequenceLoss;
  numItems: number;
  maxLen: number;
  seqs: UserItems;
  sets: UserItems;
  pool: Int32Array | null;
  eligible: number[];
  table: SequenceModel['tables'][number];
  tableFrozen: boolean;
  dense: TF.Variable[];
  fullSoftmax: boolean;
  wholeTable: boolean;
  encoder: ItemEncoder | null;
  allItems: Int32Array;
  /** Scratch item → local row map, all -1 between uses. */
  local: Int32Array;
  /** Mutable: beginEpoch and importEpoch replace it, the steps read it. */
  epoch: { batches: Int32Array[]; stepSeed: number; denominator: number; slots: number };
}

export function createSequenceTask(opts: SequenceTaskOptions): SequenceTask {
  const ctx = sequenceContext(opts);
  const dropout = sequenceDropout(ctx);
  const input = (index: number): SequenceStepInput => sequenceInput(ctx, index);
  const rowsOf = (inp: SequenceStepInput): Int32Array => sequenceRowsOf(ctx, inp);
  const gradients = (inp: SequenceStepInput, dropoutSeed: () => number): SequenceGradients => sequenceGradients(ctx, inp, dropoutSeed);
  const apply = (g: SequenceGradients): void => applySequenceGradients(ctx, g);
  const { epoch } = ctx;
  return {
    beginEpoch: (rng) => beginSequenceEpoch(ctx, rng),
    exportEpoch() {
      const offsets = new Int32Array(epoch.batches.length + 1);
      epoch.batches.forEach((b, k) => (offsets[k + 1] = offsets[k] + b.length));
      const users = new Int32Array(offsets[epoch.batches.length]);
      epoch.batches.forEach((b, k) => users.set(b, offsets[k]));
      return { users, offsets, stepSeed: epoch.stepSeed, slots: epoch.slots };
    },
    importEpoch(e) {
      epoch.batches = Array.from({ length: e.offsets.length - 1 }, (_, k) => e.users.subarray(e.offsets[k], e.offsets[k + 1]));
      epoch.stepSeed = e.stepSeed;
      epoch.slots = e.slots;
      epoch.denominator = Math.max(1, e.slots / Math.max(1, epoch.batches.length));
    },
    rowsOf,
    dropout,
    epochExamples: () => epoch.batches.reduce((s, b) => s + b.length, 0),
    step(index) {
      const inp = input(index);
      const g = gradients(inp, dropout(index));
      apply(g);
      return g.loss;
    },
    setLearningRate(lr) {
      opts.sparseOptimizer.setLearningRate(lr);
      opts.params.setLearningRate(lr);
    },
    input,
    gradients,
    apply,
  };
}

function sequenceContext(opts: SequenceTaskOptions): SequenceContext {
  const { model, loss } = opts;
  const numItems = model.shape.items;
  const seqs: UserItems = userSequences(opts.train.numUsers, [{ users: opts.train.users, items: opts.train.items, ts: null, seq: new Float64Array(opts.train.users.length) }]);
  const sets: UserItems = userItemSets(opts.train.numUsers, [opts.train, ...opts.others]);
  const pool = negativePool(opts.train);
  const eligible: number[] = [];
  for (let u = 0; u < opts.train.numUsers; u++) if (seqs.offsets[u + 1] - seqs.offsets[u] >= MIN_SEQUENCE_ROWS) eligible.push(u);
  const table = model.tables[0];
  const tableFrozen = opts.frozen.has(table.name);
  const dense = model.dense.filter((v) => !opts.frozen.has(v.name));
  const fullSoftmax = loss === 'ce' && opts.negatives === 0;
  const encoder = opts.encoder ?? null;
  // Whole-table products (the full softmax's E·g) read the table as a matmul operand, which XNNPACK caches by tensor id.
  if (fullSoftmax && !tableFrozen && encoder === null) opts.sparseOptimizer.markMatmulOperand(table.name);
  return {
    opts,
    model,
    loss,
    numItems,
    maxLen: model.maxLen,
    seqs,
    sets,
    pool,
    eligible,
    table,
    tableFrozen,
    dense,
    fullSoftmax,
    wholeTable: encoder === null && (fullSoftmax || !opts.sparse),
    encoder,
    // With an encoder, the full softmax's items: those with training rows (negativePool, ascending).
    allItems: encoder !== null && pool !== null ? pool : Int32Array.from({ length: numItems }, (_, i) => i),
    local: new Int32Array(numItems).fill(-1),
    epoch: { batches: [], stepSeed: 0, denominator: 1, slots: 0 },
  };
}

function sequenceDropout({ epoch }: SequenceContext): (index: number, part?: { lo: number; hi: number }) => () => number {
  return (index, part) => {
    const whole = part === undefined || (part.lo === 0 && part.hi === epoch.batches[index].length);
    const rng = Prng.fromSeed(epoch.stepSeed, whole ? `sequence-dropout/${index}` : `sequence-dropout/${index}/rows${part.lo}-${part.hi}`);
    return () => rng.tfSeed();
  };
}

function beginSequenceEpoch(ctx: SequenceContext, rng: Prng): number {
  const { seqs, eligible, maxLen, epoch } = ctx;
  const batchSize = ctx.opts.batchSize;
  const order = rng.permutation(eligible.length);
  const users = Int32Array.from(order, (k) => eligible[k]);
  const length = (u: number) => seqs.offsets[u + 1] - seqs.offsets[u];
  const run = batchSize * SORT_RUN_BATCHES;
  const sorted: Int32Array[] = [];
  for (let lo = 0; lo < users.length; lo += run) {
    const part = Array.from(users.subarray(lo, Math.min(users.length, lo + run)));
    // Stable sort: ties keep the shuffled order.
    part.sort((a, b) => length(b) - length(a));
    for (let b = 0; b < part.length; b += batchSize) sorted.push(Int32Array.from(part.slice(b, b + batchSize)));
  }
  const shuffled = rng.permutation(sorted.length);
  epoch.batches = Array.from(shuffled, (k) => sorted[k]);
  let slots = 0;
  for (const u of users) slots += Math.min(maxLen, seqs.offsets[u + 1] - seqs.offsets[u] - 1);
  epoch.denominator = Math.max(1, slots / Math.max(1, epoch.batches.length));
  epoch.slots = slots;
  epoch.stepSeed = rng.nextUint32();
  return epoch.batches.length;
}

function sequenceInput(ctx: SequenceContext, index: number): SequenceStepInput {
  const { seqs, sets, numItems, pool, maxLen, loss, epoch } = ctx;
  const users = epoch.batches[index];
  const rng = Prng.fromSeed(epoch.stepSeed, `sequence-step/${index}`);
  let width = 1;
  for (const u of users) width = Math.max(width, Math.min(maxLen, seqs.offsets[u + 1] - seqs.offsets[u] - 1));
  const ids = new Int32Array(users.length * width).fill(SASREC_PADDING);
  const slots: number[] = [];
  const targets: number[] = [];
  const negatives: number[] = [];
  users.forEach((u, r) => {
    const lo = seqs.offsets[u];
    const hi = seqs.offsets[u + 1];
    const take = Math.min(width, hi - lo - 1);
    for (let k = 0; k < take; k++) {
      // Slot (r, width − take + k) holds item hi−1−take+k and predicts the one after it.
      const at = hi - 1 - take + k;
      const slot = r * width + width - take + k;
      ids[slot] = seqs.items[at];
      slots.push(slot);
      targets.push(seqs.items[at + 1]);
      if (loss === 'bce') negatives.push(sampleNegative(rng, sets, u, numItems, pool));
    }
  });
  if (loss === 'ce' && !ctx.fullSoftmax) {
    for (let k = 0; k < ctx.opts.negatives; k++) negatives.push(pool === null ? rng.int(numItems) : pool[rng.int(pool.length)]);
  }
  return {
    users,
    batch: { ids, rows: users.length, width },
    slots: Int32Array.from(slots),
    targets: Int32Array.from(targets),
    negatives: Int32Array.from(negatives),
    denominator: epoch.denominator,
  };
}

function sequenceRowsOf({ wholeTable, allItems, local, encoder, fullSoftmax }: SequenceContext, inp: SequenceStepInput): Int32Array {
  if (wholeTable || (encoder !== null && fullSoftmax)) return allItems;
  const list: number[] = [];
  const note = (item: number) => {
    if (item >= 0 && local[item] < 0) {
      local[item] = list.length;
      list.push(item);
    }
  };
  inp.batch.ids.forEach(note);
  inp.targets.forEach(note);
  inp.negatives.forEach(note);
  for (const item of list) local[item] = -1;
  return Int32Array.from(list);
}

function sequenceGradients(ctx: SequenceContext, inp: SequenceStepInput, dropoutSeed: () => number): SequenceGradients {
  const { model, loss, local, table, tableFrozen, dense, wholeTable, fullSoftmax, encoder } = ctx;
  // The item rows this step reads, and each id's index among them.
  const rows = sequenceRowsOf(ctx, inp);
  for (let k = 0; k < rows.length; k++) local[rows[k]] = k;
  const toLocal = (a: Int32Array) => a.map((i) => (i < 0 ? i : local[i]));
  const batch = { ...inp.batch, ids: toLocal(inp.batch.ids) };
  const targetsLocal = toLocal(inp.targets);
  const negativesLocal = toLocal(inp.negatives);
  for (let k = 0; k < rows.length; k++) local[rows[k]] = -1;
  const P = inp.slots.length;
  const D = inp.denominator;
  const d = model.config.dim;

  const out: { grads?: SequenceGradients } = {};
  tf.tidy(() => {
    // With an encoder the rows are composed from leaves inside the differentiated function; without, the table's rows are the leaf.
    const composed = encoder === null ? null : featureLeaves(encoder, [table], ctx.opts.frozen, rows, Prng.fromSeed(dropoutSeed(), 'id-dropout'));
    const plain = composed === null ? ((wholeTable ? table.variable : tf.gather(table.variable, tf.tensor1d(rows, 'int32'))) as TF.Tensor2D) : null;
    const slots = tf.tensor1d(inp.slots, 'int32');
    const targets = tf.tensor1d(targetsLocal, 'int32');
    const lossOf = (): TF.Scalar => {
      const itemRows = plain ?? (composed as NonNullable<typeof composed>).assemble()[table.name];
      const F = tf.reshape(model.encode(batch, itemRows, true, dropoutSeed), [-1, d]);
      const H = tf.gather(F, slots) as TF.Tensor2D; // [P, d]: only the slots with a target
      let value: TF.Scalar;
      if (loss === 'bce') {
        const pos = tf.sum(tf.mul(H, tf.gather(itemRows, targets)), 1);
        const neg = tf.sum(tf.mul(H, tf.gather(itemRows, tf.tensor1d(negativesLocal, 'int32'))), 1);
        value = tf.div(tf.add(tf.sum(tf.softplus(tf.neg(pos))), tf.sum(tf.softplus(neg))), D) as TF.Scalar;
      } else if (fullSoftmax) {
        value = fusedSoftmaxCe(H, itemRows, targetsLocal, D);
      } else {
        value = sampledSoftmaxCe(H, itemRows, targets, targetsLocal, negativesLocal, D);
      }
      if (ctx.opts.l2 > 0) value = tf.add(value, tf.mul(ctx.opts.l2 / D, tf.sum(tf.square(itemRows)))) as TF.Scalar;
      return value;
    };
    const leaves: RowLeaf[] = composed !== null ? composed.leaves : tableFrozen ? [] : [{ table: table.variable, rows, tensor: plain as TF.Tensor2D }];
    const xs: TF.Tensor[] = [...leaves.map((l) => l.tensor), ...dense];
    const { value, grads } = tf.valueAndGrads((..._xs: TF.Tensor[]) => lossOf())(xs);
    const named: TF.NamedTensorMap = {};
    dense.forEach((v, k) => (named[v.name] = tf.keep(grads[leaves.length + k])));
    const plainLeaf = composed === null && leaves.length === 1;
    out.grads = {
      loss: value.dataSync()[0],
      positions: P,
      itemRows: plainLeaf ? rows : null,
      itemGrad: plainLeaf ? (tf.keep(grads[0]) as TF.Tensor2D) : null,
      ...(composed !== null ? { leaves: leaves.map((l, k) => ({ table: l.table, rows: l.rows, grad: tf.keep(grads[k]) as TF.Tensor2D })) } : {}),
      dense: named,
    };
  });
  return out.grads as SequenceGradients;
}

function applySequenceGradients({ opts, table }: SequenceContext, g: SequenceGradients): void {
  try {
    if (!Number.isFinite(g.loss)) return;
    // The updaters' reshapes and temporaries are freed here, as in the pair step.
    tf.tidy(() => {
      if (g.itemRows !== null && g.itemGrad !== null) opts.sparseOptimizer.applyRows(table.variable, g.itemRows, g.itemGrad);
      for (const l of g.leaves ?? []) opts.sparseOptimizer.applyRows(l.table, l.rows, l.grad);
      if (Object.keys(g.dense).length > 0) {
        const rest = opts.params.apply(g.dense);
        if (Object.keys(rest).length > 0) throw new Error(`sequence task: no updater for ${Object.keys(rest).join(', ')}`);
      }
    });
  } finally {
    tf.dispose([...(g.itemGrad ? [g.itemGrad] : []), ...(g.leaves ?? []).map((l) => l.grad), ...Object.values(g.dense)]);
  }
}

/**
 * Sampled softmax: each slot's target against the batch's shared candidates; a candidate equal to
 * the slot's target is masked out (it would be a false negative).
 */
function sampledSoftmaxCe(H: TF.Tensor2D, itemRows: TF.Tensor2D, targets: TF.Tensor1D, targetsLocal: Int32Array, candidatesLocal: Int32Array, denominator: number): TF.Scalar {
  const P = targetsLocal.length;
  const N = candidatesLocal.length;
  const clash = new Float32Array(P * N);
  for (let p = 0; p < P; p++) for (let c = 0; c < N; c++) if (candidatesLocal[c] === targetsLocal[p]) clash[p * N + c] = -1e9;
  const pos = tf.sum(tf.mul(H, tf.gather(itemRows, targets)), 1, true); // [P, 1]
  const neg = tf.add(tf.matMul(H, tf.gather(itemRows, tf.tensor1d(candidatesLocal, 'int32')), false, true), tf.tensor2d(clash, [P, N]));
  const logits = tf.concat([pos, neg], 1) as TF.Tensor2D;
  return tf.div(tf.sum(tf.sub(rowLogSumExp(logits), tf.reshape(pos, [P]))), denominator) as TF.Scalar;
}

/**
 * tf.logSumExp over each row, with the gradient softmax(x) from the engine's fused Softmax: the
 * gradient tfjs derives goes through its max, whose broadcast Equal ran at ~190 ns an element on
 * wasm and was half of a sampled-softmax step (1,000 candidates, Amazon Games, under load).
 */
const rowLogSumExp = tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
  const [x, save] = args as [TF.Tensor2D, TF.GradSaveFunc];
  save([x]);
  return {
    value: tf.logSumExp(x, 1),
    gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => tf.mul(tf.expandDims(dy, 1), tf.softmax(saved[0])),
  };
}) as (x: TF.Tensor2D) => TF.Tensor1D;

/**
 * The smallest target probability the loss value takes the log of: a target softmax that
 * underflows float32 reports a loss of about 85 instead of Infinity (the gradient, formed from
 * the probabilities themselves, is exact either way).
 */
const MIN_TARGET_PROB = 1e-37;

/**
 * Softmax cross-entropy of H [P, d] against every row of E [V, d], summed over the P slots and
 * divided by `denominator` (P for the mean), with its gradients formed in the forward pass, block
 * by block: per block of slots, p = softmax(H_b Eᵀ), loss = −Σ log p[target], dH_b = p E − E[target]
 * and dE += pᵀ H_b − onehot(target)ᵀ H_b. Only one block's [n, V] probabilities exist at a time, so
 * max_len 200 on a 100k-item catalogue stays within CE_BLOCK_FLOATS, where autograd would keep
 * every block's logits for the backward pass.
 *
 * Shaped for the wasm engine, where the [n, V] passes are the step (measured on a [168, 23715]
 * block of Amazon Games, under load): its fused Softmax kernel takes 32 ms where max, sub, exp
 * and sum took ~110; the product with Eᵀ reads an Eᵀ transposed once per call (a transposeB
 * matmul transposes E again in every block: 50.9 ms against 40.1); and dE is accumulated
 * as dEᵀ = H_bᵀ p ([d, V], 22 ms) rather than pᵀ H_b (32 ms, the [n, V] operand transposed), and
 * transposed back once.
 */
export function fusedSoftmaxCe(H: TF.Tensor2D, E: TF.Tensor2D, targets: Int32Array, denominator = H.shape[0], blockFloats = CE_BLOCK_FLOATS): TF.Scalar {
  const f = tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
    const [h, e, save] = args as [TF.Tensor2D, TF.Tensor2D, TF.GradSaveFunc];
    const [P, d] = h.shape;
    const V = e.shape[0];
    const block = Math.max(1, Math.floor(blockFloats / Math.max(1, V)));
    const eT = tf.transpose(e);
    let total = 0;
    let dEt: TF.Tensor2D = tf.zeros([d, V]);
    const dH: TF.Tensor2D[] = [];
    for (let lo = 0; lo < P; lo += block) {
      const n = Math.min(block, P - lo);
      const [blockLoss, dHb, dEtb] = tf.tidy(() => {
        const hb = tf.slice(h, [lo, 0], [n, -1]);
        const tb = targets.subarray(lo, lo + n);
        const probs = tf.softmax(tf.matMul(hb, eT)); // [n, V]
        const at = new Int32Array(n);
        for (let r = 0; r < n; r++) at[r] = r * V + tb[r];
        const targetProb = tf.gather(tf.reshape(probs, [-1]), tf.tensor1d(at, 'int32'));
        const loss = tf.neg(tf.sum(tf.log(tf.maximum(targetProb, MIN_TARGET_PROB))));
        const dh = tf.sub(tf.matMul(probs, e), tf.gather(e, tf.tensor1d(tb, 'int32')));
        return [loss, dh, tf.matMul(tf.transpose(hb), probs)] as const;
      });
      total += blockLoss.dataSync()[0];
      blockLoss.dispose();
      dH.push(dHb as TF.Tensor2D);
      const next = tf.add(dEt, dEtb) as TF.Tensor2D;
      dEt.dispose();
      dEtb.dispose();
      dEt = next;
    }
    eT.dispose();
    const [gradH, gradE] = tf.tidy(() => {
      const dE = tf.sub(tf.transpose(dEt), tf.unsortedSegmentSum(h, tf.tensor1d(targets, 'int32'), V));
      return [tf.div(dH.length === 1 ? dH[0] : tf.concat(dH, 0), denominator), tf.div(dE, denominator)];
    });
    tf.dispose([dEt, ...dH]);
    save([gradH, gradE]);
    return {
      value: tf.scalar(total / denominator),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => [tf.mul(saved[0], dy), tf.mul(saved[1], dy)],
    };
  });
  return f(H, E) as TF.Scalar;
}
