import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, type ModelConfig } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { writeModel } from '../../../src/io/checkpoint.js';
import { loadModel } from '../../../src/models/saved.js';
import { fileLoadHandler } from '../../../src/io/tfjs-files.js';
import { isSequenceModel, namedWeights, type SequenceModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { SASREC_PADDING, windows } from '../../../src/models/sasrec.js';
import { ConfigError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { tempRoot } from '../train/helpers.js';

const dir = tempRoot('rec-sasrec-test-');
const shape = { users: 5, items: 13, globalMean: 0 };

function build(config: Partial<ModelConfig> = {}, seed = 3): SequenceModel {
  let s = seed;
  const model = buildModel('sasrec', { config: modelSchema.parse({ dim: 8, max_len: 6, blocks: 2, heads: 2, dropout: 0.3, ...config }), shape, nextSeed: () => s++ });
  if (!isSequenceModel(model)) throw new Error('sasrec is not a sequence model');
  return model;
}

const histories = [Int32Array.from([1, 2, 3]), Int32Array.from([4, 5, 6, 7, 8, 9, 10, 11]), Int32Array.from([12]), new Int32Array(0)];
const allItems = () => tf.range(0, shape.items, 1, 'int32') as TF.Tensor1D;

function scores(model: SequenceModel, hs: readonly Int32Array[]): Float32Array {
  return tf.tidy(() => Float32Array.from(model.scoreHistories(hs, allItems()).dataSync()));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

describe('SASRec (Kang & McAuley 2018)', () => {
  it('has the paper’s weights: shared item table, positions, per block LN + Q/K/V + LN + 2-layer FFN, a final LN', () => {
    const m = build({ blocks: 1 });
    const shapes = Object.fromEntries(namedWeights(m.keras).map((w) => [w.key, w.variable.shape]));
    expect(shapes['sasrec/item_embedding']).toEqual([13, 8]);
    expect(shapes['sasrec/position_embedding']).toEqual([6, 8]);
    for (const k of ['query', 'key', 'value', 'ffn1', 'ffn2']) expect(shapes[`sasrec/block_1/${k}/kernel`]).toEqual([8, 8]);
    expect(Object.keys(shapes)).toHaveLength(2 + 14 + 2);
    expect(m.tables.map((t) => t.name)).toEqual(['item_embedding']);
    expect(m.dense).toHaveLength(17);
  });

  it('refuses a dim that the heads do not divide', () => {
    expect(() => build({ dim: 6, heads: 4 })).toThrow(ConfigError);
  });

  it('saves to model/ that plain tf.loadLayersModel loads, with identical scores, and the graph agrees', async () => {
    const m = build();
    const before = scores(m, histories);
    await writeModel(dir('m1'), m);
    const loaded = await loadModel(dir('m1'));
    expect(isSequenceModel(loaded)).toBe(true);
    const after = scores(loaded as SequenceModel, histories);
    expect(maxDiff(before, after)).toBe(0);
    // The saved graph itself: history windows of max_len, padded with -1, give every item's score.
    const keras = await tf.loadLayersModel(fileLoadHandler(dir('m1')));
    const graph = tf.tidy(() => {
      const w = windows(histories, 6);
      const full = new Int32Array(histories.length * 6).fill(SASREC_PADDING);
      for (let r = 0; r < w.rows; r++) full.set(w.ids.subarray(r * w.width, (r + 1) * w.width), r * 6 + 6 - w.width);
      return Float32Array.from((keras.predict(tf.tensor2d(full, [histories.length, 6], 'int32')) as TF.Tensor).dataSync());
    });
    expect(maxDiff(graph, before)).toBeLessThan(1e-5);
  });

  it('padding never changes a score: a history alone, beside longer ones, and in a max_len window score alike', () => {
    const m = build();
    const h = Int32Array.from([3, 1, 4]);
    const alone = scores(m, [h]);
    const beside = scores(m, [h, Int32Array.from([5, 9, 2, 6, 5, 3, 5, 8])]).subarray(0, shape.items);
    expect(maxDiff(alone, beside)).toBeLessThan(1e-5);
    // A history longer than max_len reads its last max_len items only.
    const long = Int32Array.from([7, 7, 7, 1, 2, 3, 4, 5, 6]);
    expect(maxDiff(scores(m, [long]), scores(m, [long.subarray(3)]))).toBeLessThan(1e-5);
  });

  it('the causal mask holds: changing a later item never changes an earlier slot’s output', () => {
    const m = build();
    const run = (ids: number[]) =>
      tf.tidy(() => Float32Array.from(m.encode({ ids: Int32Array.from(ids), rows: 1, width: 6 }, m.tables[0].variable as TF.Tensor as TF.Tensor2D, false).dataSync()));
    const a = run([-1, 2, 3, 4, 5, 6]);
    const b = run([-1, 2, 3, 9, 11, 0]);
    const d = 8;
    // Slots 0..2 see only items before slot 3.
    expect(maxDiff(a.subarray(0, 3 * d), b.subarray(0, 3 * d))).toBe(0);
    expect(maxDiff(a.subarray(3 * d), b.subarray(3 * d))).toBeGreaterThan(1e-3);
  });

  it('dropout acts only in training, and the same seeds give the same masks', () => {
    const m = build({ dropout: 0.5 });
    const batch = { ids: Int32Array.from([1, 2, 3, 4, 5, 6]), rows: 1, width: 6 };
    const E = m.tables[0].variable as TF.Tensor as TF.Tensor2D;
    const run = (training: boolean, seed: number) => {
      let s = seed;
      return tf.tidy(() => Float32Array.from(m.encode(batch, E, training, () => s++).dataSync()));
    };
    expect(maxDiff(run(false, 1), run(false, 9))).toBe(0);
    expect(maxDiff(run(true, 1), run(true, 1))).toBe(0);
    expect(maxDiff(run(true, 1), run(true, 50))).toBeGreaterThan(1e-3);
  });
});
