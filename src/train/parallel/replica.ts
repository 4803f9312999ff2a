/**
 * What a model family implements to train data-parallel (docs/engines.md#training-on-every-core---workers-nauto). Every replica
 * (the main thread and each worker thread) holds one ReplicaTask over its own copy of the model and
 * its own optimizer state. A step is split in two so gradients can be reduced between the halves:
 *
 *   1. `computeShard`: loss and gradients of one contiguous shard of the step's examples, computed
 *      from the replica's weights, which it does not change;
 *   2. `applyStep`: the update from the whole step's reduced gradients (the shards' in shard
 *      order, each weighted by its share of the batch, so they equal the full-batch mean's; see
 *      computeShardInPlace and reduceShards).
 *
 * Every replica applies the same reduced gradients with the same optimizer code (or, for a
 * split-update family, its share of them, copying in the others' results), so replicas stay
 * bit-identical and a run depends on its seed and the worker count only. The pool owns the epoch's
 * arrays, the shared buffers and the reduction; a family only describes its gradient layout.
 *
 * Families: `pair` (pair-replica.ts: mf, gmf, mlp, neumf) and `sequence` (sequence-replica.ts:
 * sasrec). A new family adds a ReplicaTask of one of the two strategies, an init payload
 * (protocol.ts ReplicaInit) and a case in protocol.ts createReplica.
 */
import { createRowSparseOptimizer, type OptimizerConfig, type OptimizerState, type RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import type { TrainableModel } from '../../models/model.js';
import { assignWeightValues, weightValues, type WeightArray } from '../../models/weights.js';
import { Prng } from '../../util/prng.js';
import { adoptMoments, shareMoments } from './shared-moments.js';
import { createDenseParamUpdater, resolveFrozen, type DenseParamUpdater } from '../params.js';

/** The epoch's examples, identical in every replica (SharedArrayBuffer-backed when parallel). */
export type EpochArrays = Readonly<Record<string, Int32Array | Float32Array>>;

/** A contiguous range [lo, hi) of the epoch's examples. */
export interface Shard {
  lo: number;
  hi: number;
}

/**
 * The gradients a shard produces. `rows[k]`: gradients of gathered rows of one row-sparse table,
 * `perExample` rows per example, each `width` floats; `dense[k]`: one dense variable's gradient,
 * `size` floats. Orders are fixed for the run and the same in every replica.
 */
export interface GradientLayout {
  rows: readonly { name: string; width: number; perExample: number }[];
  dense: readonly { name: string; size: number }[];
}

/** Row-major gradient buffers laid out as a GradientLayout (capacity: the largest shard or step). */
export interface GradientBuffers {
  rows: Float32Array[];
  dense: Float32Array[];
}

interface ReplicaBase {
  readonly layout: GradientLayout;
  /** Adopts the epoch's examples. */
  setEpoch(epoch: ReplicaEpoch): void;
  /**
   * Loss (mean over the shard) and the gradients of that mean, written from offset 0 of each of
   * `out`'s buffers (rows: (hi − lo) · perExample rows). Returns the loss; a non-finite loss may
   * leave `out` unwritten. Must not change the weights.
   */
  computeShard(shard: Shard, out: GradientBuffers): number;
  /**
   * The optimizer update of one step from its reduced gradients: `grads.rows[k]` holds the rows
   * of `shards[0]`, then `shards[1]`, …, each shard's rows in computeShard's order.
   */
  applyStep(shards: readonly Shard[], grads: GradientBuffers): void;
  setLearningRate(lr: number): void;
}

/**
 * A family whose gradients have the layout's own sizes (`perExample` rows per example): the pool
 * reduces them (computeShardInPlace, reduceShards) and splits the update between the replicas.
 */
export interface SplitUpdateReplica extends ReplicaBase {
  readonly strategy: 'split-update';
  /**
   * The step's update split between the replicas. Each replica sums the dense gradients it owns
   * (sumDense); phase 'update' then applies the gradients `owners` gives replica `me` and writes
   * their new values back over them in `grads` (a table's: its distinct rows in first-occurrence
   * order; a dense variable's: all of it); phase 'import', once every replica's 'update' is done,
   * takes the rest from there. The weights are applyStep's bit for bit. The optimizer moments
   * must be shared between the replicas (replicaState with `share`), since only the owner moves them.
   */
  applyShared(shards: readonly Shard[], grads: GradientBuffers, owners: UpdateOwners, me: number, phase: 'update' | 'import'): void;
}

/**
 * A family that sizes and reduces its own gradients (its row count is not `perExample` per
 * example); every replica then applies the whole step with applyStep.
 */
export interface OwnReductionReplica extends ReplicaBase {
  readonly strategy: 'own-reduction';
  /** Floats of each buffer for a shard (or, `shards` > 1, the reduced step) of `examples` examples. */
  sizes(examples: number, shards: number): { rows: number[]; dense: number[] };
  /** The reduction (same contract as reduceShards). */
  reduce(shards: readonly Shard[], losses: readonly number[], parts: readonly GradientBuffers[], out: GradientBuffers): number;
}

/** The two ways a family's replicas share a step; the pool and the worker switch on `strategy`. */
export type ReplicaTask = SplitUpdateReplica | OwnReductionReplica;

/**
 * One epoch as every replica adopts it: the arrays (shared memory when parallel), the example
 * count, and the scalars a family derives its steps from, as typed fields.
 */
export type ReplicaEpoch =
  | { family: 'pair'; arrays: EpochArrays; size: number }
  /** `stepSeed` seeds each step's input (windows, negatives); `slots` is the epoch's loss denominator. */
  | { family: 'sequence'; arrays: EpochArrays; size: number; stepSeed: number; slots: number };

/** The replica that updates each gradient of a layout (`rows[k]`, `dense[k]`) in applyShared. */
export interface UpdateOwners {
  rows: number[];
  dense: number[];
}

/**
 * Gives each table and dense variable of the layout to one of `replicas`, balancing the floats
 * each updates a step (a table: a batch's rows; a variable: its size): largest first, each to the
 * least loaded replica (the lowest on ties), so every run with the same layout gets the same plan.
 */
export function assignUpdates(layout: GradientLayout, replicas: number, batchSize: number): UpdateOwners {
  const units = [
    ...layout.rows.map((r, k) => ({ dense: false, k, cost: batchSize * r.perExample * r.width })),
    ...layout.dense.map((d, k) => ({ dense: true, k, cost: d.size })),
  ].sort((a, b) => b.cost - a.cost);
  const load = new Array<number>(replicas).fill(0);
  const owners: UpdateOwners = { rows: layout.rows.map(() => 0), dense: layout.dense.map(() => 0) };
  for (const u of units) {
    const j = load.indexOf(Math.min(...load));
    load[j] += u.cost;
    (u.dense ? owners.dense : owners.rows)[u.k] = j;
  }
  return owners;
}

/** Floats each buffer of a layout needs for `examples` examples. */
export function layoutSizes(layout: GradientLayout, examples: number): { rows: number[]; dense: number[] } {
  return { rows: layout.rows.map((r) => examples * r.perExample * r.width), dense: layout.dense.map((d) => d.size) };
}

/**
 * Splits [lo, hi) into `count` contiguous shards whose sizes differ by at most one (the first
 * ones take the remainder). A shard may be empty when the step has fewer examples than shards.
 */
export function splitShards(lo: number, hi: number, count: number): Shard[] {
  const n = hi - lo;
  const base = Math.floor(n / count);
  const extra = n - base * count;
  const out: Shard[] = [];
  let at = lo;
  for (let k = 0; k < count; k++) {
    const size = base + (k < extra ? 1 : 0);
    out.push({ lo: at, hi: at + size });
    at += size;
  }
  return out;
}

/**
 * Shard `k` of a step, computed on `replica` where the reduction wants it, and its loss (0 for an
 * empty shard). A family with its own `reduce` gets the shard's own buffers (`own`). Otherwise its
 * row gradients go straight into the step's reduced buffers, at the shard's offset (its rows follow
 * the earlier shards', as applyStep reads them), and are weighted there by the shard's share of the
 * step: the row half of the reduction runs on every replica at once, not on the main thread after
 * them. Dense gradients go to `own`, for reduceShards to sum.
 */
export function computeShardInPlace(replica: ReplicaTask, shards: readonly Shard[], k: number, own: GradientBuffers, reduced: GradientBuffers): number {
  const shard = shards[k];
  const n = shard.hi - shard.lo;
  if (n === 0) return 0;
  if (replica.strategy === 'own-reduction') return replica.computeShard(shard, own);
  const { layout } = replica;
  let before = 0;
  for (let j = 0; j < k; j++) before += shards[j].hi - shards[j].lo;
  const rows = layout.rows.map((r, t) => reduced.rows[t].subarray(before * r.perExample * r.width, (before + n) * r.perExample * r.width));
  const loss = replica.computeShard(shard, { rows, dense: own.dense });
  if (!Number.isFinite(loss)) return loss;
  const w = n / stepExamples(shards);
  for (const dst of rows) for (let j = 0; j < dst.length; j++) dst[j] = w * dst[j];
  return loss;
}

function stepExamples(shards: readonly Shard[]): number {
  return shards.reduce((s, sh) => s + (sh.hi - sh.lo), 0);
}

/** The step's loss: each shard's mean loss weighted by its share of the step's examples. */
export function stepLoss(shards: readonly Shard[], losses: readonly number[]): number {
  const total = stepExamples(shards);
  let loss = 0;
  for (let k = 0; k < shards.length; k++) {
    const n = shards[k].hi - shards[k].lo;
    if (n > 0) loss += (n / total) * losses[k];
  }
  return loss;
}

/**
 * The shards' dense gradients (of the variables `which` picks; all by default) summed into `out`
 * in shard order, each weighted by its share of the step's examples (a shard's gradients are of its
 * own mean loss; the step's loss is the mean over all its examples): the same arithmetic in every
 * run, whichever replica does it.
 */
export function sumDense(layout: GradientLayout, shards: readonly Shard[], parts: readonly GradientBuffers[], out: GradientBuffers, which: (t: number) => boolean = () => true): void {
  const total = stepExamples(shards);
  layout.dense.forEach((d, t) => {
    if (!which(t)) return;
    const dst = out.dense[t];
    let first = true;
    for (let k = 0; k < shards.length; k++) {
      const n = shards[k].hi - shards[k].lo;
      if (n === 0) continue;
      const w = n / total;
      const src = parts[k].dense[t];
      if (first) for (let j = 0; j < d.size; j++) dst[j] = w * src[j];
      else for (let j = 0; j < d.size; j++) dst[j] += w * src[j];
      first = false;
    }
  });
}

/**
 * The rest of the reduction once every shard is computed (computeShardInPlace placed and weighted
 * the row gradients): stepLoss and sumDense of every variable. Returns the step's loss; a
 * non-finite one leaves `out` as it was.
 */
export function reduceShards(layout: GradientLayout, shards: readonly Shard[], losses: readonly number[], parts: readonly GradientBuffers[], out: GradientBuffers): number {
  const loss = stepLoss(shards, losses);
  if (Number.isFinite(loss)) sumDense(layout, shards, parts, out);
  return loss;
}

/** What every replica's init carries to rebuild the main thread's model and optimizer state. */
export interface ReplicaStateInit {
  seed: number;
  /** 1.. for workers: seeds the replica's own dropout stream, so shards get different masks. */
  replica: number;
  optimizer: OptimizerConfig;
  freeze: string[];
  /** Every weight by its stable key (namedWeights). */
  weights: Record<string, WeightArray>;
  sparseState: OptimizerState;
  paramsState: OptimizerState;
  /** The states' moment arrays are the main thread's own, in shared memory (applyShared): adopt, not copy. */
  sharedState: boolean;
}

/** ReplicaStateInit and what every family's worker builds its model and optimizer from. */
export interface ReplicaModelInit extends ReplicaStateInit {
  modelConfig: TrainableModel['config'];
  shape: TrainableModel['shape'];
  lr: number;
  /** The main thread's layout: a worker whose model differs fails at start, not with wrong sums. */
  layout: GradientLayout;
}

/** The main thread's model and optimizer state as a worker's init payload (restoreReplica reads it back). */
export function replicaState(src: {
  model: TrainableModel;
  sparse: RowSparseOptimizer;
  params: DenseParamUpdater;
  seed: number;
  replica: number;
  optimizer: OptimizerConfig;
  freeze: readonly string[];
  /** Share the optimizer moments (for a family with applyShared) instead of copying them. */
  share: boolean;
}): Omit<ReplicaModelInit, 'layout'> {
  const weights = weightValues(src.model.keras);
  return {
    modelConfig: src.model.config,
    shape: src.model.shape,
    seed: src.seed,
    replica: src.replica,
    optimizer: src.optimizer,
    lr: src.sparse.learningRate,
    freeze: [...src.freeze],
    weights,
    sparseState: src.share ? shareMoments(src.sparse) : src.sparse.getState(),
    paramsState: src.share ? src.params.shareState() : src.params.getState(),
    sharedState: src.share,
  };
}

export interface RestoredReplica<M extends TrainableModel> {
  model: M;
  frozen: Set<string>;
  sparse: RowSparseOptimizer;
  params: DenseParamUpdater;
}

/**
 * A worker's copy of the main thread's model and optimizer state: `build` makes the model (its
 * initialisers' draws are overwritten; the stream only has to differ per replica so that dropout,
 * seeded from it, masks each shard differently), then every weight and optimizer slot is set.
 */
export function restoreReplica<M extends TrainableModel>(init: ReplicaStateInit, build: (nextSeed: () => number) => M): RestoredReplica<M> {
  const rng = Prng.fromSeed(init.seed, `model/init/replica${init.replica}`);
  const model = build(() => rng.tfSeed());
  assignWeightValues(model.keras, init.weights, `replica ${init.replica}`);
  const frozen = resolveFrozen(model, init.freeze);
  const sparse = createRowSparseOptimizer(init.optimizer, Object.fromEntries(model.tables.map((t) => [t.name, t.variable])));
  const params = createDenseParamUpdater(init.optimizer, model);
  if (init.sharedState) {
    adoptMoments(sparse, init.sparseState);
    params.adoptState(init.paramsState);
  } else {
    sparse.setState(init.sparseState);
    params.setState(init.paramsState);
  }
  return { model, frozen, sparse, params };
}

/** A worker whose model differs from the main thread's fails at start, not with wrong sums. */
export function checkLayout(replica: number, mine: GradientLayout, main: GradientLayout): void {
  if (JSON.stringify(mine) !== JSON.stringify(main)) {
    throw new Error(`replica ${replica}: gradient layout ${JSON.stringify(mine)} differs from the main thread's ${JSON.stringify(main)}`);
  }
}
