import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { createRowSparseOptimizer, type OptimizerConfig } from '../../../src/engine/sparse-optimizer.js';
import { isSequenceModel, type SequenceModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { createDenseParamUpdater } from '../../../src/train/params.js';
import { createSequenceTask, fusedSoftmaxCe, type SequenceLoss } from '../../../src/train/tasks/sequence.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';

const ITEMS = 12;
const USERS = 24;

/** Each user walks the items in a fixed cycle from their own start: the next item is learnable. */
function cycles(): { users: Int32Array; items: Int32Array; values: Float32Array; numUsers: number; numItems: number } {
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < USERS; u++) {
    const len = 3 + (u % 6);
    for (let k = 0; k < len; k++) {
      users.push(u);
      items.push((u * 5 + k) % ITEMS);
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items), values: new Float32Array(users.length).fill(1), numUsers: USERS, numItems: ITEMS };
}

function model(seed = 11): SequenceModel {
  let s = seed;
  const m = buildModel('sasrec', { config: modelSchema.parse({ dim: 16, max_len: 8, blocks: 1, heads: 1, dropout: 0.1 }), shape: { users: USERS, items: ITEMS, globalMean: 0 }, nextSeed: () => s++ });
  if (!isSequenceModel(m)) throw new Error('not a sequence model');
  return m;
}

function task(m: SequenceModel, loss: SequenceLoss, negatives: number, sparse = true) {
  const cfg: OptimizerConfig = { name: 'adam', lr: 0.01 };
  return createSequenceTask({
    model: m,
    train: cycles(),
    others: [],
    loss,
    negatives,
    batchSize: 8,
    l2: 0,
    sparse,
    frozen: new Set(),
    sparseOptimizer: createRowSparseOptimizer(cfg, { item_embedding: m.tables[0].variable }),
    params: createDenseParamUpdater(cfg, m),
  });
}

function epochLosses(t: ReturnType<typeof task>, epochs: number, seed = 5): number[] {
  const out: number[] = [];
  const rng = Prng.fromSeed(seed, 'epochs');
  for (let e = 0; e < epochs; e++) {
    const steps = t.beginEpoch(rng);
    let sum = 0;
    for (let s = 0; s < steps; s++) sum += t.step(s);
    out.push(sum / steps);
  }
  return out;
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

describe('sequence training task', () => {
  it.each([
    ['bce', 0],
    ['ce', 0],
    ['ce', 4],
  ] as const)('loss %s (negatives %i) falls on a learnable toy task', (loss, negatives) => {
    const before = tf.memory().numTensors;
    const losses = epochLosses(task(model(), loss, negatives), 25);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.6 * losses[0]);
    // No tensor leaks per step (the model's weights and optimizer state existed before).
    const after = tf.memory().numTensors;
    expect(after - before).toBeLessThan(60);
  });

  it('each step target is the next item, windows are right-aligned, trimmed to the batch’s longest and padded with -1', () => {
    const t = task(model(), 'bce', 0);
    const steps = t.beginEpoch(Prng.fromSeed(1, 'x'));
    const data = cycles();
    for (let s = 0; s < steps; s++) {
      const inp = t.input(s);
      const { ids, rows, width } = inp.batch;
      expect(width).toBeLessThanOrEqual(8);
      for (let k = 0; k < inp.slots.length; k++) {
        const slot = inp.slots[k];
        const u = inp.users[Math.floor(slot / width)];
        expect(inp.targets[k]).toBe((ids[slot] + 1) % ITEMS);
        // The negative is not one of the user's items.
        const owned = new Set(Array.from(data.items.filter((_, r) => data.users[r] === u)));
        expect(owned.has(inp.negatives[k])).toBe(false);
      }
      for (let r = 0; r < rows; r++) {
        const row = Array.from(ids.subarray(r * width, (r + 1) * width));
        const firstReal = row.findIndex((x) => x >= 0);
        expect(row.slice(firstReal).every((x) => x >= 0)).toBe(true);
        expect(row.slice(0, firstReal).every((x) => x === -1)).toBe(true);
      }
    }
  });

  it('steps are reproducible from the epoch PRNG: the same epoch gives the same inputs and losses', () => {
    const a = epochLosses(task(model(), 'bce', 0), 2, 9);
    const b = epochLosses(task(model(), 'bce', 0), 2, 9);
    expect(a).toEqual(b);
  });

  it('the blocked full-softmax cross-entropy and its gradients equal the plain formula', () => {
    const H = tf.randomNormal([7, 5], 0, 1, 'float32', 3) as TF.Tensor2D;
    const E = tf.randomNormal([9, 5], 0, 1, 'float32', 4) as TF.Tensor2D;
    const targets = Int32Array.from([0, 3, 8, 8, 1, 2, 5]);
    const plain = (h: TF.Tensor2D, e: TF.Tensor2D) => {
      const logits = tf.matMul(h, e, false, true);
      const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), 9);
      return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, onehot), 1))) as TF.Scalar;
    };
    const b = tf.valueAndGrads((h: TF.Tensor, e: TF.Tensor) => plain(h as TF.Tensor2D, e as TF.Tensor2D))([H, E]);
    // One block, and blocks of 2 slots (the 8, 8 targets straddle two blocks).
    for (const blockFloats of [undefined, 18]) {
      const a = tf.valueAndGrads((h: TF.Tensor, e: TF.Tensor) => fusedSoftmaxCe(h as TF.Tensor2D, e as TF.Tensor2D, targets, 7, blockFloats))([H, E]);
      expect(a.value.dataSync()[0]).toBeCloseTo(b.value.dataSync()[0], 5);
      for (let k = 0; k < 2; k++) {
        const x = a.grads[k].dataSync();
        const y = b.grads[k].dataSync();
        for (let i = 0; i < x.length; i++) expect(x[i]).toBeCloseTo(y[i], 5);
      }
    }
  });
});
