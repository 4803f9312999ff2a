import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { originalKernel } from '../../../src/engine/kernels/register.js';
import { floats, maxAbsDiff, onEngine, values } from './helpers.js';

interface Case {
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
}

const cases: Case[] = [
  { a: [5, 3], b: [3, 4], tA: false, tB: false },
  { a: [3, 5], b: [3, 4], tA: true, tB: false },
  { a: [5, 3], b: [4, 3], tA: false, tB: true },
  { a: [3, 5], b: [4, 3], tA: true, tB: true },
  // Shapes where the swapped form C = (op(B)ᵀ op(A)ᵀ)ᵀ is the cheaper one.
  { a: [2, 40], b: [7, 2], tA: true, tB: true },
  { a: [64, 3], b: [3, 1], tA: false, tB: false },
  { a: [1, 3], b: [3, 9], tA: false, tB: false },
  { a: [3, 1], b: [3, 9], tA: true, tB: false },
  // Batched: equal batches, broadcast B, broadcast A, rank 4.
  { a: [3, 4, 5], b: [3, 5, 2], tA: false, tB: false },
  { a: [3, 5, 4], b: [3, 2, 5], tA: true, tB: true },
  { a: [3, 4, 5], b: [3, 2, 5], tA: false, tB: true },
  { a: [3, 5, 4], b: [3, 5, 2], tA: true, tB: false },
  { a: [3, 4, 5], b: [1, 5, 2], tA: false, tB: false },
  { a: [3, 4, 5], b: [5, 2], tA: false, tB: false },
  { a: [3, 5, 4], b: [2, 5], tA: true, tB: true },
  { a: [1, 4, 5], b: [3, 5, 2], tA: false, tB: false },
  { a: [2, 2, 4, 3], b: [2, 2, 2, 3], tA: false, tB: true },
];

function run(c: Case): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const a = tf.tensor(floats(c.a.reduce((x, y) => x * y, 1), 1), c.a);
    const b = tf.tensor(floats(c.b.reduce((x, y) => x * y, 1), 2), c.b);
    const out = tf.matMul(a, b, c.tA, c.tB);
    return { shape: out.shape, data: values(out) };
  });
}

describe('BatchMatMul wrapper on wasm', () => {
  it('is registered in place of the stock kernel', async () => {
    await onEngine('wasm', () => undefined);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).not.toBe(originalKernel('BatchMatMul', 'wasm')?.kernelFunc);
  });

  it.each(cases.map((c) => ({ ...c, label: `${c.a}${c.tA ? 'ᵀ' : ''} × ${c.b}${c.tB ? 'ᵀ' : ''}` })))('$label matches cpu', async (c) => {
    const expected = await onEngine('cpu', () => run(c));
    const got = await onEngine('wasm', () => run(c));
    expect(got.shape).toEqual(expected.shape);
    expect(maxAbsDiff(got.data, expected.data)).toBeLessThan(1e-5);
  });

  it('gives cpu gradients for a transposed batched product, without leaking', async () => {
    const grads = (): Float32Array[] =>
      tf.tidy(() => {
        const a = tf.tensor(floats(2 * 4 * 3, 5), [2, 4, 3]);
        const b = tf.tensor(floats(2 * 6 * 3, 6), [2, 6, 3]);
        const g = tf.grads((x: TF.Tensor, y: TF.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true))));
        return g([a, b]).map(values);
      });
    const expected = await onEngine('cpu', grads);
    const before = tf.memory().numTensors;
    const got = await onEngine('wasm', grads);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(got[0], expected[0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(got[1], expected[1])).toBeLessThan(1e-4);
  });
});
