import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { floats, maxAbsDiff, onEngine, values } from './helpers.js';

const cases = [
  { name: 'rows of a 2-D table', shape: [10, 4], idx: [3, 0, 9, 3], idxShape: [4], axis: 0, dtype: 'float32' as const },
  { name: '2-D indices', shape: [6, 3], idx: [5, 1, 1, 2, 0, 4], idxShape: [2, 3], axis: 0, dtype: 'float32' as const },
  { name: '1-D table', shape: [7], idx: [6, 6, 0], idxShape: [3], axis: 0, dtype: 'float32' as const },
  { name: '3-D rows', shape: [4, 2, 3], idx: [2, 3], idxShape: [2], axis: 0, dtype: 'float32' as const },
  { name: 'int32 table', shape: [5, 2], idx: [4, 0], idxShape: [2], axis: 0, dtype: 'int32' as const },
  { name: 'axis 1 (original kernel)', shape: [3, 5], idx: [4, 0, 2], idxShape: [3], axis: 1, dtype: 'float32' as const },
  { name: 'negative axis (original kernel)', shape: [3, 5], idx: [1, 1], idxShape: [2], axis: -1, dtype: 'float32' as const },
  { name: 'empty indices', shape: [5, 2], idx: [], idxShape: [0], axis: 0, dtype: 'float32' as const },
];

function run(c: (typeof cases)[number]): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const raw = floats(n, 4);
    const x = c.dtype === 'int32' ? tf.tensor(Int32Array.from(raw, (v) => Math.round(v * 100)), c.shape, 'int32') : tf.tensor(raw, c.shape);
    const out = tf.gather(x, tf.tensor(c.idx, c.idxShape, 'int32'), c.axis);
    return { shape: out.shape, data: values(out) };
  });
}

describe('GatherV2 fast path on wasm', () => {
  it.each(cases)('$name matches cpu', async (c) => {
    const expected = await onEngine('cpu', () => run(c));
    const got = await onEngine('wasm', () => run(c));
    expect(got.shape).toEqual(expected.shape);
    expect(maxAbsDiff(got.data, expected.data)).toBe(0);
  });

  it('rejects an out-of-range index like the stock kernels', async () => {
    await onEngine('wasm', () => {
      const before = tf.memory().numTensors;
      expect(() => tf.tidy(() => { tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32')); })).toThrow(/index value 3 is not in \[0, 2\]/);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('gives the cpu gradient w.r.t. the table (duplicate rows summed)', async () => {
    const grad = (): Float32Array =>
      tf.tidy(() => {
        const table = tf.tensor(floats(6 * 3, 9), [6, 3]);
        const idx = tf.tensor1d([2, 5, 2, 2, 0], 'int32');
        const w = tf.tensor(floats(5 * 3, 10), [5, 3]);
        return values(tf.grad((t: TF.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), w)))(table));
      });
    const expected = await onEngine('cpu', grad);
    const got = await onEngine('wasm', grad);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-6);
  });
});
