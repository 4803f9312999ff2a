import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/config/schema.js';
import { initEngine, type EngineName } from '../../../../src/engine/backend.js';
import { createRowSparseOptimizer } from '../../../../src/engine/sparse-optimizer.js';
import type { PairModel } from '../../../../src/models/model.js';
import { buildModel, type PairModelName } from '../../../../src/models/registry.js';
import type { PairLoss } from '../../../../src/train/pair-data.js';
import { pairStep } from '../../../../src/train/pair-step.js';
import { createDenseParamUpdater } from '../../../../src/train/params.js';
import { createPairReplica, pairEpoch, pairReplicaInit } from '../../../../src/train/parallel/pair-replica.js';
import { startParallelTask } from '../../../../src/train/parallel/pool.js';
import { assignUpdates, computeShardInPlace, layoutSizes, reduceShards, splitShards, type GradientBuffers, type GradientLayout, type ReplicaTask } from '../../../../src/train/parallel/replica.js';
import { workersFor } from '../../../../src/train/parallel/train-pair.js';
import { resolveWorkers } from '../../../../src/train/parallel/workers.js';
import { silentLogger } from '../../../../src/util/log.js';
import { Prng } from '../../../../src/util/prng.js';

const USERS = 30;
const ITEMS = 25;
const BATCH = 24;
const STEPS = 4;

function model(name: 'mf' | 'neumf'): PairModel {
  const config = { ...configSchema.parse({}).model, dim: 4, layers: [16, 8, 4], dropout: 0, init_std: 0.3 };
  let seed = 7;
  return buildModel(name, { config, shape: { users: USERS, items: ITEMS, globalMean: 3 }, nextSeed: () => seed++ });
}

function parts(m: PairModel, loss: PairLoss, optimizer: 'adam' | 'sgd') {
  const cfg = { name: optimizer, lr: 0.05 };
  const sparse = createRowSparseOptimizer(cfg, Object.fromEntries(m.tables.map((t) => [t.name, t.variable])));
  const params = createDenseParamUpdater(cfg, m);
  return { model: m, sparse, params, frozen: new Set<string>(), loss, l2: 0.01 };
}

function epoch(loss: PairLoss) {
  const rng = Prng.fromSeed(3, 'test');
  const n = BATCH * STEPS;
  const users = Int32Array.from({ length: n }, () => rng.int(USERS));
  const items = Int32Array.from({ length: n }, () => rng.int(ITEMS));
  const labels = Float32Array.from({ length: n }, () => (loss === 'mse' ? 1 + rng.int(5) : rng.int(2)));
  const negatives = loss === 'bpr' ? Int32Array.from({ length: n }, () => rng.int(ITEMS)) : null;
  return { users, items, labels, negatives, size: n };
}

const weights = (m: PairModel) => m.keras.weights.map((w) => Array.from(w.read().dataSync()));

function buffers(layout: GradientLayout, examples: number): GradientBuffers {
  const s = layoutSizes(layout, examples);
  return { rows: s.rows.map((n) => new Float32Array(n)), dense: s.dense.map((n) => new Float32Array(n)) };
}

/**
 * The real pool (pool.ts startParallelTask) over `W` replicas: the main thread's and W − 1 worker
 * threads built from it, each step's batch split between them. Returns the step losses and the
 * main thread's parts, whose weights and optimizer state are what the trainer saves.
 */
async function poolSteps(name: PairModelName, m: PairModel, loss: PairLoss, W: number, optimizer: 'adam' | 'sgd', engine: EngineName) {
  const e = epoch(loss);
  const p = parts(m, loss, optimizer);
  const pool = await startParallelTask({
    workers: W,
    engine,
    batchSize: BATCH,
    replica: createPairReplica(p),
    init: (k) => pairReplicaInit({ ...p, name, seed: 7, optimizer: { name: optimizer, lr: 0.05 }, freeze: [] }, k),
    buildEpoch: () => pairEpoch(e),
    log: silentLogger,
  });
  try {
    const steps = pool.task.beginEpoch(Prng.fromSeed(1, 'unused'));
    expect(steps).toBe(STEPS);
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) losses.push(await pool.task.step(s));
    return { losses, parts: p };
  } finally {
    await pool.close();
  }
}

/** The single-thread trainer's step (run.ts): pairStep with the optimizers applied directly. */
function singleSteps(m: PairModel, loss: PairLoss, optimizer: 'adam' | 'sgd', p = parts(m, loss, optimizer)): number[] {
  const e = epoch(loss);
  const updaters = { applyRows: (t: TF.Variable, r: Int32Array, g: TF.Tensor2D) => p.sparse.applyRows(t, r, g), applyDense: (g: TF.NamedTensorMap) => void p.params.apply(g) };
  const out: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const lo = s * BATCH;
    const hi = lo + BATCH;
    const batch = { users: e.users.subarray(lo, hi), items: e.items.subarray(lo, hi), labels: e.labels.subarray(lo, hi), negatives: e.negatives?.subarray(lo, hi) ?? null };
    out.push(pairStep(m, batch, loss, p.l2, true, updaters, p.frozen));
  }
  return out;
}

describe('splitShards', () => {
  it('covers the step with contiguous shards whose sizes differ by at most one', () => {
    expect(splitShards(10, 17, 3)).toEqual([
      { lo: 10, hi: 13 },
      { lo: 13, hi: 15 },
      { lo: 15, hi: 17 },
    ]);
    expect(splitShards(0, 1, 2)).toEqual([
      { lo: 0, hi: 1 },
      { lo: 1, hi: 1 },
    ]);
  });
});

describe('computeShardInPlace and reduceShards', () => {
  it('place each shard\'s row gradients at its offset and sum dense ones, each shard weighted by its share of the step', () => {
    const layout: GradientLayout = { rows: [{ name: 't', width: 2, perExample: 1 }], dense: [{ name: 'd', size: 2 }] };
    const shards = [
      { lo: 0, hi: 3 },
      { lo: 3, hi: 4 },
      { lo: 4, hi: 4 },
    ];
    const grads: GradientBuffers[] = [
      { rows: [Float32Array.from([1, 2, 3, 4, 5, 6])], dense: [Float32Array.from([4, 8])] },
      { rows: [Float32Array.from([8, 12])], dense: [Float32Array.from([4, 0])] },
      { rows: [Float32Array.from([99, 99])], dense: [Float32Array.from([99, 99])] },
    ];
    const losses = [2, 6, Number.NaN];
    const seen: number[] = [];
    const replica: ReplicaTask = {
      strategy: 'split-update',
      layout,
      setEpoch: () => undefined,
      computeShard(shard, out) {
        const k = shards.indexOf(shard);
        seen.push(k);
        expect(out.rows[0].length).toBe((shard.hi - shard.lo) * 2);
        out.rows[0].set(grads[k].rows[0]);
        out.dense[0].set(grads[k].dense[0]);
        return losses[k];
      },
      applyStep: () => undefined,
      applyShared: () => undefined,
      setLearningRate: () => undefined,
    };
    const out = buffers(layout, 4);
    out.rows[0].fill(-1);
    const parts = shards.map(() => buffers(layout, 0));
    const computed = shards.map((_, k) => computeShardInPlace(replica, shards, k, parts[k], out));
    expect(seen).toEqual([0, 1]);
    expect(computed).toEqual([2, 6, 0]);
    const loss = reduceShards(layout, shards, computed, parts, out);
    expect(loss).toBe(0.75 * 2 + 0.25 * 6);
    expect(Array.from(out.rows[0])).toEqual([0.75, 1.5, 2.25, 3, 3.75, 4.5, 2, 3]);
    expect(Array.from(out.dense[0])).toEqual([4, 6]);
  });

  it('give a family with its own reduction the shard\'s own buffers', () => {
    const layout: GradientLayout = { rows: [{ name: 't', width: 1, perExample: 0 }], dense: [] };
    const own: GradientBuffers = { rows: [new Float32Array(3)], dense: [] };
    const reduced: GradientBuffers = { rows: [new Float32Array(3)], dense: [] };
    const replica: ReplicaTask = {
      strategy: 'own-reduction',
      layout,
      setEpoch: () => undefined,
      computeShard(_shard, out) {
        expect(out).toBe(own);
        out.rows[0].set([1, 2, 3]);
        return 5;
      },
      applyStep: () => undefined,
      setLearningRate: () => undefined,
      sizes: () => ({ rows: [3], dense: [] }),
      reduce: () => 0,
    };
    expect(computeShardInPlace(replica, [{ lo: 0, hi: 2 }], 0, own, reduced)).toBe(5);
    expect(Array.from(own.rows[0])).toEqual([1, 2, 3]);
    expect(Array.from(reduced.rows[0])).toEqual([0, 0, 0]);
  });
});

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, k) => Math.abs(x - b[k])));

describe.each(['cpu', 'wasm'] as const)('the pool of pair replicas on %s', (engine) => {
  it.each([
    ['neumf', 'bce', 2],
    ['neumf', 'bpr', 3],
    ['mf', 'mse', 2],
  ] as const)('%s %s on %i threads: the step losses and weights of the single-thread trainer, to rounding', async (name, loss, W) => {
    await initEngine({ backend: engine, log: silentLogger });
    // Checked with SGD, whose update is linear in the gradients (Adam's first steps move by ±lr
    // whatever a near-zero gradient's rounding).
    const single = model(name);
    const pooled = model(name);
    const expected = singleSteps(single, loss, 'sgd');
    const { losses } = await poolSteps(name, pooled, loss, W, 'sgd', engine);
    losses.forEach((x, k) => expect(x).toBeCloseTo(expected[k], 5));
    expect(maxDiff(weights(pooled).flat(), weights(single).flat())).toBeLessThan(1e-5);
    tf.dispose([single.keras, pooled.keras].flatMap((k) => k.weights.map((w) => w.read())));
  }, 60_000);
});

describe('the update split between replicas', () => {
  it.each([
    ['neumf', 'bce', 2],
    ['neumf', 'bpr', 3],
    ['mf', 'mse', 2],
  ] as const)('%s %s on %i threads: the main thread ends with the moments of the whole update, those its peers moved included', async (name, loss, W) => {
    await initEngine({ backend: 'wasm', log: silentLogger });
    const single = model(name);
    const pooled = model(name);
    const singleParts = parts(single, loss, 'adam');
    singleSteps(single, loss, 'adam', singleParts);
    const { parts: p } = await poolSteps(name, pooled, loss, W, 'adam', 'wasm');
    const owners = assignUpdates(createPairReplica(p).layout, W, BATCH);
    // Every replica owns something: the split is exercised, not one replica doing it all.
    for (let k = 0; k < W; k++) expect([...owners.rows, ...owners.dense]).toContain(k);
    // The moments are linear in the gradients: equal to rounding, whichever replica moved them.
    const expected = singleParts.sparse.getState();
    const state = p.sparse.getState();
    pooled.tables.forEach((t, i) => {
      for (const moment of ['m', 'v']) {
        const key = `${t.name}/${moment}`;
        const mine = Array.from(state[key] as Float32Array);
        expect(mine.some((x) => x !== 0), `${key} (owned by replica ${owners.rows[i]}) moved`).toBe(true);
        expect(maxDiff(mine, Array.from(expected[key] as Float32Array)), key).toBeLessThan(1e-6);
      }
    });
    tf.dispose([single.keras, pooled.keras].flatMap((k) => k.weights.map((w) => w.read())));
  }, 60_000);

  it('assignUpdates balances the floats each replica updates, largest first, the same every time', () => {
    const layout: GradientLayout = {
      rows: [
        { name: 'user', width: 8, perExample: 1 },
        { name: 'item', width: 8, perExample: 2 },
      ],
      dense: [
        { name: 'kernel', size: 1000 },
        { name: 'bias', size: 10 },
      ],
    };
    // Costs at batch 100: user 800, item 1600, kernel 1000, bias 10.
    expect(assignUpdates(layout, 2, 100)).toEqual({ rows: [1, 0], dense: [1, 0] });
    expect(assignUpdates(layout, 3, 100)).toEqual({ rows: [2, 0], dense: [1, 2] });
    expect(assignUpdates(layout, 1, 100)).toEqual({ rows: [0, 0], dense: [0, 0] });
  });
});

describe('resolveWorkers', () => {
  it('auto uses the cores, fewer for a small batch, and 1 on tfjs-node or where the step has no parallel form', () => {
    expect(resolveWorkers('auto', { engine: 'wasm', batchSize: 8192, cores: 8, parallelizable: true }).workers).toBe(8);
    expect(resolveWorkers('auto', { engine: 'wasm', batchSize: 2048, cores: 8, parallelizable: true }).workers).toBe(2);
    expect(resolveWorkers('auto', { engine: 'wasm', batchSize: 256, cores: 8, parallelizable: true }).workers).toBe(1);
    expect(resolveWorkers('auto', { engine: 'node', batchSize: 4096, cores: 8, parallelizable: true }).workers).toBe(1);
    expect(resolveWorkers(4, { engine: 'node', batchSize: 4096, cores: 8, parallelizable: true })).toMatchObject({ workers: 1, reason: expect.stringContaining('--workers 4 ignored') });
    expect(resolveWorkers(3, { engine: 'cpu', batchSize: 4096, cores: 4, parallelizable: true })).toEqual({ workers: 3, reason: null });
    expect(resolveWorkers(3, { engine: 'cpu', batchSize: 2, cores: 4, parallelizable: true }).workers).toBe(2);
    expect(resolveWorkers('auto', { engine: 'wasm', batchSize: 4096, cores: 8, parallelizable: false, why: 'fused' })).toEqual({ workers: 1, reason: 'one thread: fused' });
  });

  it('an explicit N above the cores this process may use is lowered to the cores, with a warning that says so', () => {
    const wasm = { engine: 'wasm', batchSize: 4096, parallelizable: true };
    expect(resolveWorkers(64, { ...wasm, cores: 2 })).toEqual({ workers: 2, reason: expect.stringMatching(/^--workers 64 lowered to 2: this process may use 2 cores/), warn: true });
    expect(resolveWorkers(999_999, { ...wasm, cores: 16 })).toMatchObject({ workers: 16, warn: true });
    expect(resolveWorkers(3, { ...wasm, cores: 1 })).toMatchObject({ workers: 1, reason: expect.stringContaining('1 core (os.availableParallelism)') });
    expect(resolveWorkers(2, { ...wasm, cores: 2 })).toEqual({ workers: 2, reason: null });
    // The smaller of the batch and the cores wins, and says why.
    expect(resolveWorkers(64, { ...wasm, batchSize: 8, cores: 4 })).toMatchObject({ workers: 4, warn: true });
    expect(resolveWorkers(64, { ...wasm, batchSize: 3, cores: 4 })).toMatchObject({ workers: 3, reason: expect.stringContaining('batch size 3') });
  });
});

describe('workersFor', () => {
  const config = (workers: number | 'auto', extra: Record<string, unknown> = {}) => configSchema.parse({ train: { model: 'neumf', batch_size: 4096, workers, ...extra } });
  const previous = (workers: number | undefined) => ({ workers });
  it('a resumed auto run keeps the count it started with (1 for checkpoints from before --workers); an explicit count wins', () => {
    expect(workersFor(config('auto'), previous(3), 'wasm', false, silentLogger)).toBe(3);
    expect(workersFor(config('auto'), previous(undefined), 'wasm', false, silentLogger)).toBe(1);
    expect(workersFor(config(2), previous(3), 'wasm', false, silentLogger)).toBe(2);
  });
  it('the fused step, --dense and the tfjs-node engines train on one thread', () => {
    expect(workersFor(config(2), null, 'wasm', true, silentLogger)).toBe(1);
    expect(workersFor(config(2, { sparse: false }), null, 'cpu', false, silentLogger)).toBe(1);
    expect(workersFor(config(2), null, 'node', false, silentLogger)).toBe(1);
    expect(workersFor(config(2), null, 'cpu', false, silentLogger)).toBe(2);
  });
});
