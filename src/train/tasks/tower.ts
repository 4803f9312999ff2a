/**
 * The two-tower model's epochs (src/models/search/two-tower.ts): the training pairs shuffled, cut into batches, each
 * step one pass of the kernel with its row gradients into the row-sparse optimizer. Everything a step draws comes from
 * the epoch's PRNG and the step's index, so a run resumed mid-epoch continues exactly.
 */
import type * as TF from '@tensorflow/tfjs';
import type { RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import type { TokenBags } from '../../models/search/bags.js';
import { tokenPositions, towerStep, type TowerBatch } from '../../models/search/two-tower.js';
import type { TowerModel } from '../../models/search/tower-model.js';
import { Prng } from '../../util/prng.js';
import type { TrainTask } from '../loop.js';

export interface TowerPairs {
  queries: Int32Array;
  items: Int32Array;
  /** Each pair's weight as a positive, in [0, 1] (graded relevance rescaled; 1 for a click). */
  weights: Float32Array;
}

export interface TowerTaskOptions {
  model: TowerModel;
  pairs: TowerPairs;
  queryBags: TokenBags;
  itemBags: TokenBags;
  /** log p(item) over the training pairs (the log-frequency correction). */
  logQ: Float32Array;
  batchSize: number;
  l2: number;
  optimizer: RowSparseOptimizer;
  /**
   * Keep each query's pairs together in a batch (shuffled by query): its other judged items, less relevant, become its
   * hardest negatives, and the in-batch softmax over them is a listwise loss with targets by relevance.
   */
  groupByQuery: boolean;
}

/** log of each item's share of the training pairs' weight, floored at one pair's share for items in none. */
export function logFrequency(pairs: TowerPairs, items: number): Float32Array {
  const counts = new Float64Array(items);
  let total = 0;
  for (let r = 0; r < pairs.items.length; r++) {
    counts[pairs.items[r]] += 1;
    total += 1;
  }
  const out = new Float32Array(items);
  for (let i = 0; i < items; i++) out[i] = Math.log(Math.max(counts[i], 1) / Math.max(total, 1));
  return out;
}

export function createTowerTask(opts: TowerTaskOptions): TrainTask {
  const { model, pairs, batchSize, optimizer } = opts;
  const { dim, temperature, id_dropout: dropout } = model.spec;
  let order: Int32Array = new Int32Array(0);
  let dropSeed = 0;
  const read = (v: TF.Variable) => optimizer.view(v) ?? (v.dataSync() as Float32Array);
  return {
    beginEpoch(rng) {
      order = opts.groupByQuery ? groupedOrder(pairs.queries, rng) : rng.permutation(pairs.queries.length);
      dropSeed = rng.nextUint32();
      return Math.ceil(order.length / batchSize);
    },
    epochExamples: () => order.length,
    step(index) {
      const at = order.subarray(index * batchSize, Math.min(order.length, (index + 1) * batchSize));
      const rng = Prng.fromSeed(dropSeed, `id-dropout/${index}`);
      const batch: TowerBatch = {
        queries: Int32Array.from(at, (r) => pairs.queries[r]),
        items: Int32Array.from(at, (r) => pairs.items[r]),
        weights: Float32Array.from(at, (r) => pairs.weights[r]),
        idMask: Uint8Array.from(at, () => (rng.next() < dropout ? 0 : 1)),
      };
      const tokenRows = tokenPositions(batch, opts.queryBags, opts.itemBags);
      const idRows = batch.items.filter((_, k) => batch.idMask[k] === 1);
      const inp = { tokens: read(model.tokens), ids: read(model.itemIds), dim, temperature, queryBags: opts.queryBags, itemBags: opts.itemBags, logQ: opts.logQ };
      const t = optimizer.prepareRows(model.tokens, tokenRows);
      const d = optimizer.prepareRows(model.itemIds, idRows);
      const loss = towerStep(inp, batch, { tokenSlots: t.slots, tokenSums: t.sums, idSlots: d.slots, idSums: d.sums });
      // A NaN loss (no positive in the batch) leaves zero gradients: the update below only moves the optimizer's clock.
      optimizer.applyPrepared(model.tokens, opts.l2 / at.length);
      optimizer.applyPrepared(model.itemIds, opts.l2 / at.length);
      return Number.isNaN(loss) ? 0 : loss;
    },
    setLearningRate: (lr) => optimizer.setLearningRate(lr),
  };
}

/** Pair positions, query by query in a random order of queries (pairs of a query in their order). */
export function groupedOrder(queries: Int32Array, rng: Prng): Int32Array {
  const byQuery = new Map<number, number[]>();
  for (let r = 0; r < queries.length; r++) {
    const list = byQuery.get(queries[r]);
    if (list === undefined) byQuery.set(queries[r], [r]);
    else list.push(r);
  }
  const groups = [...byQuery.values()];
  const perm = rng.permutation(groups.length);
  const out = new Int32Array(queries.length);
  let at = 0;
  for (const g of perm) for (const r of groups[g]) out[at++] = r;
  return out;
}
