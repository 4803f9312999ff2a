/**
 * The sequence replica (sasrec data-parallel): one shard over a whole batch gives the single-thread
 * step's gradients exactly; two shards reduced give the batch's to rounding (dropout 0: a shard's
 * mask is its own); the L2 term is charged once per row.
 */
import { tf } from '../../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema } from '../../../../src/config/schema.js';
import { initEngine } from '../../../../src/engine/backend.js';
import { createRowSparseOptimizer, type OptimizerConfig } from '../../../../src/engine/sparse-optimizer.js';
import { isSequenceModel, type SequenceModel } from '../../../../src/models/model.js';
import { buildModel } from '../../../../src/models/registry.js';
import { createDenseParamUpdater } from '../../../../src/train/params.js';
import { splitShards, type GradientBuffers } from '../../../../src/train/parallel/replica.js';
import { createSequenceReplica, sequenceEpoch, shardTaskOptions } from '../../../../src/train/parallel/sequence-replica.js';
import { AUTO_MIN_SHARD_SEQUENCES, resolveWorkers } from '../../../../src/train/parallel/workers.js';
import { createSequenceTask, type SequenceLoss, type SequenceTaskOptions } from '../../../../src/train/tasks/sequence.js';
import { silentLogger } from '../../../../src/util/log.js';
import { Prng } from '../../../../src/util/prng.js';

const ITEMS = 30;
const USERS = 40;

function data() {
  const rng = Prng.fromSeed(4, 'sequence-replica-test');
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < USERS; u++) {
    const len = 2 + rng.int(10);
    for (let k = 0; k < len; k++) {
      users.push(u);
      items.push(rng.int(ITEMS));
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items), values: new Float32Array(users.length).fill(1), numUsers: USERS, numItems: ITEMS };
}

function model(dropout: number): SequenceModel {
  let s = 11;
  const m = buildModel('sasrec', { config: modelSchema.parse({ dim: 8, max_len: 6, blocks: 1, heads: 1, dropout }), shape: { users: USERS, items: ITEMS, globalMean: 0 }, nextSeed: () => s++ });
  if (!isSequenceModel(m)) throw new Error('not a sequence model');
  return m;
}

function options(m: SequenceModel, loss: SequenceLoss, negatives: number, l2: number, sparse = true): SequenceTaskOptions {
  const cfg: OptimizerConfig = { name: 'adam', lr: 0.01 };
  return {
    model: m,
    train: data(),
    others: [],
    loss,
    negatives,
    batchSize: 16,
    l2,
    sparse,
    frozen: new Set(),
    sparseOptimizer: createRowSparseOptimizer(cfg, { item_embedding: m.tables[0].variable }),
    params: createDenseParamUpdater(cfg, m),
  };
}

/** The single-thread step's gradients of step 0, and the same step through the replica with `shards` shards. */
function compare(loss: SequenceLoss, negatives: number, l2: number, shards: number, dropout: number, sparse = true) {
  const m = model(dropout);
  const o = options(m, loss, negatives, l2, sparse);
  const single = createSequenceTask(o);
  single.beginEpoch(Prng.fromSeed(5, 'epoch'));
  const input = single.input(0);
  const g = single.gradients(input, single.dropout(0));
  const expected = { loss: g.loss, rows: Array.from(g.itemRows ?? []), item: Array.from(g.itemGrad?.dataSync() ?? []), dense: m.dense.map((v) => Array.from(g.dense[v.name].dataSync())) };
  tf.dispose([...(g.itemGrad ? [g.itemGrad] : []), ...Object.values(g.dense)]);

  const task = createSequenceTask(shardTaskOptions(o));
  const replica = createSequenceReplica({ task, model: m, frozen: new Set(), loss, negatives, sparse, l2 });
  const epoch = sequenceEpoch(single);
  replica.setEpoch(epoch);
  const parts = splitShards(epoch.steps[0], epoch.steps[1], shards);
  const sizes = (n: number, k: number) => {
    const s = replica.sizes(n, k);
    return { rows: s.rows.map((x) => new Float32Array(x)), dense: s.dense.map((x) => new Float32Array(x)) };
  };
  const bufs: GradientBuffers[] = parts.map((p) => sizes(p.hi - p.lo, 1));
  const losses = parts.map((p, k) => replica.computeShard(p, bufs[k]));
  const out = sizes(16, shards);
  const reduced = replica.reduce(parts, losses, bufs, out);
  return { expected, rows: Array.from(task.rowsOf(input)), loss: reduced, item: Array.from(out.rows[0].subarray(0, expected.item.length)), dense: out.dense.map((d) => Array.from(d)) };
}

function close(a: number[], b: number[], tol: number) {
  expect(a.length).toBe(b.length);
  const worst = a.reduce((w, x, i) => Math.max(w, Math.abs(x - b[i])), 0);
  const scale = b.reduce((w, x) => Math.max(w, Math.abs(x)), 1e-12);
  expect(worst / scale).toBeLessThan(tol);
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

describe('sequence replica', () => {
  it.each([
    ['bce', 0],
    ['ce', 0],
    ['ce', 5],
  ] as const)('one shard is the single-thread step exactly (loss %s, negatives %i, dropout on)', (loss, negatives) => {
    const r = compare(loss, negatives, 0, 1, 0.3);
    expect(r.rows).toEqual(r.expected.rows);
    expect(r.loss).toBe(r.expected.loss);
    expect(r.item).toEqual(r.expected.item);
    expect(r.dense).toEqual(r.expected.dense);
  });

  it.each([
    ['bce', 0, 0, true],
    ['ce', 0, 0, true],
    ['ce', 5, 0, true],
    ['bce', 0, 0.05, true],
    ['bce', 0, 0.05, false],
  ] as const)('two and three shards add up to the batch (loss %s, negatives %i, l2 %s, sparse %s)', (loss, negatives, l2, sparse) => {
    for (const shards of [2, 3]) {
      const r = compare(loss, negatives, l2, shards, 0, sparse);
      expect(r.loss).toBeCloseTo(r.expected.loss, 5);
      close(r.item, r.expected.item, 1e-5);
      r.dense.forEach((d, k) => close(d, r.expected.dense[k], 1e-5));
    }
  });

  it('workers auto for sequence batches uses the sequence floor', () => {
    const ctx = { engine: 'wasm', cores: 8, parallelizable: true, minShard: AUTO_MIN_SHARD_SEQUENCES };
    expect(resolveWorkers('auto', { ...ctx, batchSize: AUTO_MIN_SHARD_SEQUENCES - 1 }).workers).toBe(1);
    expect(resolveWorkers('auto', { ...ctx, batchSize: 2 * AUTO_MIN_SHARD_SEQUENCES }).workers).toBe(2);
  });
});
