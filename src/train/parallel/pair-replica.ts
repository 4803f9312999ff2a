/**
 * The data-parallel replica of the (user, item) models (mf, gmf, mlp, neumf): a shard's gradients
 * come from the same autograd step as the single-thread trainer (pairStep, with updaters that copy
 * the gradients out instead of applying them), and the reduced update goes through the same
 * row-sparse and dense-parameter optimizers in the same order as pairStep applies them.
 */
import type * as TF from '@tensorflow/tfjs';
import type { OptimizerConfig, RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import { namedWeights, type PairModel } from '../../models/model.js';
import { buildModel, type PairModelName } from '../../models/registry.js';
import type { PairLoss } from '../pair-data.js';
import { pairStep } from '../pair-step.js';
import { exportRows, importRows } from './shared-moments.js';
import type { DenseParamUpdater } from '../params.js';
import { checkLayout, replicaState, restoreReplica, type GradientLayout, type ReplicaModelInit, type ReplicaEpoch, type Shard, type SplitUpdateReplica } from './replica.js';

export interface PairReplicaParts {
  model: PairModel;
  sparse: RowSparseOptimizer;
  params: DenseParamUpdater;
  frozen: ReadonlySet<string>;
  loss: PairLoss;
  l2: number;
}

/** What a worker needs to rebuild the main thread's replica (structured-clonable). */
export interface PairReplicaInit extends ReplicaModelInit {
  family: 'pair';
  model: PairModelName;
  loss: PairLoss;
  l2: number;
}

function widthOf(v: TF.Variable): number {
  return v.rank === 2 ? v.shape[1] ?? 1 : 1;
}

export function pairLayout(parts: Pick<PairReplicaParts, 'model' | 'frozen' | 'loss'>): GradientLayout {
  const { model, frozen, loss } = parts;
  const keys = new Map(namedWeights(model.keras).map((w) => [w.variable.name, w.key]));
  return {
    rows: model.tables.filter((t) => !frozen.has(t.name)).map((t) => ({ name: t.name, width: widthOf(t.variable), perExample: loss === 'bpr' ? 2 : 1 })),
    dense: model.dense.filter((v) => !frozen.has(v.name)).map((v) => ({ name: keys.get(v.name) ?? v.name, size: v.size })),
  };
}

export function createPairReplica(parts: PairReplicaParts): SplitUpdateReplica {
  const { model, sparse, params, frozen, loss, l2 } = parts;
  const layout = pairLayout(parts);
  const tables = model.tables.filter((t) => !frozen.has(t.name));
  const dense = model.dense.filter((v) => !frozen.has(v.name));
  const tableIndex = new Map(tables.map((t, k) => [t.variable, k]));
  const denseIndex = new Map(dense.map((v, k) => [v.name, k]));
  let users: Int32Array = new Int32Array(0);
  let items: Int32Array = new Int32Array(0);
  let labels: Float32Array = new Float32Array(0);
  let negatives: Int32Array | null = null;

  const ids = (kind: 'user' | 'item', shards: readonly Shard[]): Int32Array => {
    const per = loss === 'bpr' ? 2 : 1;
    const out = new Int32Array(shards.reduce((s, sh) => s + (sh.hi - sh.lo) * per, 0));
    let at = 0;
    for (const { lo, hi } of shards) {
      const first = kind === 'user' ? users.subarray(lo, hi) : items.subarray(lo, hi);
      out.set(first, at);
      at += hi - lo;
      if (per === 2) {
        // pairStep's bpr order: the shard's users twice; its positives, then its negatives.
        out.set(kind === 'user' ? first : (negatives as Int32Array).subarray(lo, hi), at);
        at += hi - lo;
      }
    }
    return out;
  };

  return {
    strategy: 'split-update',
    layout,
    setEpoch({ arrays }) {
      users = arrays.users as Int32Array;
      items = arrays.items as Int32Array;
      labels = arrays.labels as Float32Array;
      negatives = (arrays.negatives as Int32Array | undefined) ?? null;
    },
    computeShard({ lo, hi }, out) {
      const batch = {
        users: users.subarray(lo, hi),
        items: items.subarray(lo, hi),
        labels: labels.subarray(lo, hi),
        negatives: negatives ? negatives.subarray(lo, hi) : null,
      };
      return pairStep(
        model,
        batch,
        loss,
        l2,
        true,
        {
          applyRows: (table, _rows, grads) => {
            const k = tableIndex.get(table);
            if (k === undefined) throw new Error(`computeShard: table ${table.name} is not trainable`);
            out.rows[k].set(grads.dataSync());
          },
          applyDense: (grads) => {
            for (const [name, g] of Object.entries(grads)) {
              const k = denseIndex.get(name);
              if (k === undefined) throw new Error(`computeShard: ${name} is not one of the model's dense variables`);
              out.dense[k].set(g.dataSync());
            }
          },
        },
        frozen,
      );
    },
    applyStep(shards, grads) {
      const byKind = { user: ids('user', shards), item: ids('item', shards) };
      tables.forEach((t, k) => {
        const rows = byKind[t.kind];
        sparse.applyRows(t.variable, rows, grads.rows[k].subarray(0, rows.length * layout.rows[k].width));
      });
      dense.forEach((v, k) => params.applyArray(v, grads.dense[k]));
    },
    applyShared(shards, grads, owners, me, phase) {
      const byKind = { user: ids('user', shards), item: ids('item', shards) };
      const mine = (owner: number) => (owner === me ? phase === 'update' : phase === 'import');
      tables.forEach((t, k) => {
        if (mine(owners.rows[k])) shareTableUpdate(sparse, t.variable, byKind[t.kind], grads.rows[k], layout.rows[k].width, owners.rows[k] === me);
      });
      dense.forEach((v, k) => {
        if (mine(owners.dense[k])) shareDenseUpdate(params, v, grads.dense[k], owners.dense[k] === me);
      });
    },
    setLearningRate(lr) {
      sparse.setLearningRate(lr);
      params.setLearningRate(lr);
    },
  };
}

/**
 * A table's part of a split update: its owner applies the step's gradients of `rows` and writes
 * the rows' new values over them; every other replica takes those values.
 */
function shareTableUpdate(sparse: RowSparseOptimizer, table: TF.Variable, rows: Int32Array, grads: Float32Array, width: number, owner: boolean): void {
  const values = grads.subarray(0, rows.length * width);
  if (!owner) {
    importRows(sparse, table, rows, values);
    return;
  }
  sparse.applyRows(table, rows, values);
  exportRows(sparse, table, values);
}

/** shareTableUpdate for a dense variable, all of it. */
function shareDenseUpdate(params: DenseParamUpdater, v: TF.Variable, grads: Float32Array, owner: boolean): void {
  if (!owner) {
    params.importArray(v, grads);
    return;
  }
  params.applyArray(v, grads);
  params.exportArray(v, grads);
}

/** The pool's epoch of a pair model's examples (the pool shares its arrays with the workers). */
export function pairEpoch(e: { users: Int32Array; items: Int32Array; labels: Float32Array; negatives: Int32Array | null; size: number }): ReplicaEpoch {
  return { family: 'pair', arrays: { users: e.users, items: e.items, labels: e.labels, ...(e.negatives ? { negatives: e.negatives } : {}) }, size: e.size };
}

/** The main thread's replica as a worker's init payload. */
export function pairReplicaInit(
  parts: PairReplicaParts & { name: PairModelName; seed: number; optimizer: OptimizerConfig; freeze: readonly string[] },
  replica: number,
): PairReplicaInit {
  return {
    // applyShared: only a table's owner moves its moments, so every replica shares them.
    ...replicaState({ model: parts.model, sparse: parts.sparse, params: parts.params, seed: parts.seed, replica, optimizer: parts.optimizer, freeze: parts.freeze, share: true }),
    family: 'pair',
    model: parts.name,
    loss: parts.loss,
    l2: parts.l2,
    layout: pairLayout(parts),
  };
}

/** A worker's replica: the same model and optimizer state as the main thread's. */
export function pairReplicaFromInit(init: PairReplicaInit): SplitUpdateReplica {
  const { model, frozen, sparse, params } = restoreReplica(init, (nextSeed) => buildModel(init.model, { config: init.modelConfig, shape: init.shape, nextSeed }));
  const replica = createPairReplica({ model, sparse, params, frozen, loss: init.loss, l2: init.l2 });
  replica.setLearningRate(init.lr);
  checkLayout(init.replica, replica.layout, init.layout);
  return replica;
}
