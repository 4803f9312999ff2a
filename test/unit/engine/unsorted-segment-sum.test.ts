import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { floats, maxAbsDiff, onEngine, values } from './helpers.js';

/** Plain JS reference: out[s] += x[i] for ids[i] = s in range. */
function reference(x: Float32Array, ids: number[], numSegments: number): Float32Array {
  const inner = x.length / ids.length;
  const out = new Float32Array(numSegments * inner);
  ids.forEach((s, i) => {
    if (s < 0 || s >= numSegments) return;
    for (let j = 0; j < inner; j++) out[s * inner + j] += x[i * inner + j];
  });
  return out;
}

const cases: { name: string; shape: number[]; ids: number[]; numSegments: number }[] = [
  { name: '1-D', shape: [6], ids: [0, 2, 2, 1, 0, 5], numSegments: 6 },
  { name: '2-D with duplicates', shape: [5, 3], ids: [3, 1, 3, 3, 0], numSegments: 4 },
  { name: 'out-of-range ids are dropped', shape: [5, 4], ids: [-1, 2, 7, 2, 4], numSegments: 5 },
  { name: '3-D rows', shape: [4, 2, 3], ids: [1, 1, 0, 2], numSegments: 3 },
  { name: 'empty segments stay zero', shape: [2, 2], ids: [9, 0], numSegments: 10 },
];

describe.each(['cpu', 'wasm'] as const)('UnsortedSegmentSum on %s', (engine) => {
  it.each(cases)('$name', async ({ shape, ids, numSegments }) => {
    const x = floats(shape.reduce((a, b) => a * b, 1), 7);
    const got = await onEngine(engine, () =>
      tf.tidy(() => {
        const out = tf.unsortedSegmentSum(tf.tensor(x, shape), tf.tensor1d(ids, 'int32'), numSegments);
        expect(out.shape).toEqual([numSegments, ...shape.slice(1)]);
        return values(out);
      }),
    );
    expect(maxAbsDiff(got, reference(x, ids, numSegments))).toBeLessThan(1e-6);
  });

  it('sums int32 values exactly', async () => {
    const got = await onEngine(engine, () =>
      tf.tidy(() => Array.from(tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 3], 'int32'), 4).dataSync())),
    );
    expect(got).toEqual([3, 3, 0, 4]);
  });

  it('matches the stock cpu result for the gradient of gather (duplicate ids)', async () => {
    const table = floats(8 * 4, 3);
    const idx = [5, 1, 5, 0, 7, 5];
    const dy = floats(idx.length * 4, 11);
    const grad = (): Float32Array =>
      tf.tidy(() => {
        const g = tf.grad((t: TF.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(idx, 'int32')), tf.tensor(dy, [idx.length, 4]))));
        return values(g(tf.tensor(table, [8, 4])));
      });
    const got = await onEngine(engine, grad);
    const expected = reference(dy, idx, 8);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-6);
  });

  it('does not leak tensors', async () => {
    await onEngine(engine, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        tf.unsortedSegmentSum(tf.ones([4, 2]), tf.tensor1d([0, 1, 0, 1], 'int32'), 2);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
