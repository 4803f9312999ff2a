import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { originalKernel } from '../../../src/engine/kernels/register.js';
import { floats, onEngine, values } from './helpers.js';

/** Runs the stock cpu kernel we replaced, directly, and returns its outputs' values and shapes. */
function stock(name: string, inputs: Record<string, TF.Tensor>, attrs: Record<string, unknown> = {}): { shape: number[]; data: number[] }[] {
  const kernel = originalKernel(name, 'cpu');
  if (kernel === null) throw new Error(`no stock ${name}`);
  const out = kernel.kernelFunc({ inputs, backend: tf.backend(), attrs: attrs as TF.NamedAttrMap });
  return (Array.isArray(out) ? out : [out]).map((info) => {
    const t = tf.engine().makeTensorFromTensorInfo(info);
    const r = { shape: t.shape, data: Array.from(t.dataSync()) };
    t.dispose();
    return r;
  });
}

function ours(ts: TF.Tensor | TF.Tensor[]): { shape: number[]; data: number[] }[] {
  return (Array.isArray(ts) ? ts : [ts]).map((t) => ({ shape: t.shape, data: Array.from(values(t)) }));
}

const t = (shape: number[], seed: number): TF.Tensor => tf.tensor(floats(shape.reduce((a, b) => a * b, 1), seed), shape);

describe('cpu fast paths are bit-identical to the stock kernels', () => {
  const pairs: [number[], number[]][] = [
    [[6, 4], [6, 1]],
    [[6, 4], [4]],
    [[1, 4], [5, 1]],
    [[3, 1, 5], [1, 4, 1]],
    [[2, 3, 4], []],
    [[], [7]],
    [[4, 1], [1]],
    [[2, 1, 3, 1], [1, 5, 1, 2]],
  ];
  for (const op of ['Multiply', 'Add', 'Sub'] as const) {
    it.each(pairs.map(([a, b]) => ({ a, b, label: `${op} [${a}] ∘ [${b}]` })))('$label', async ({ a, b }) => {
      await onEngine('cpu', () =>
        tf.tidy(() => {
          const x = t(a, 1);
          const y = t(b, 2);
          const fn = op === 'Multiply' ? tf.mul : op === 'Add' ? tf.add : tf.sub;
          expect(ours(fn(x, y))).toEqual(stock(op, { a: x, b: y }));
          expect(ours(fn(y, x))).toEqual(stock(op, { a: y, b: x }));
        }),
      );
    });
  }

  it.each([
    { shape: [8, 3], idx: [7, 0, 7, 2], idxShape: [4] },
    { shape: [5], idx: [4, 4, 1], idxShape: [3] },
    { shape: [4, 2, 3], idx: [3, 0, 1, 1], idxShape: [2, 2] },
  ])('GatherV2 axis 0 on [$shape]', async ({ shape, idx, idxShape }) => {
    await onEngine('cpu', () =>
      tf.tidy(() => {
        const x = t(shape, 3);
        const i = tf.tensor(idx, idxShape, 'int32');
        expect(ours(tf.gather(x, i))).toEqual(stock('GatherV2', { x, indices: i }, { axis: 0, batchDims: 0 }));
      }),
    );
  });

  it('GatherV2 rejects out-of-range rows and keeps other axes on the stock kernel', async () => {
    await onEngine('cpu', () =>
      tf.tidy(() => {
        expect(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32'))).toThrow(/index value 3/);
        const x = t([3, 4], 4);
        const i = tf.tensor1d([3, 1], 'int32');
        expect(ours(tf.gather(x, i, 1))).toEqual(stock('GatherV2', { x, indices: i }, { axis: 1, batchDims: 0 }));
      }),
    );
  });

  it.each([
    { shape: [6, 10], splits: [3, 7], axis: 1 },
    { shape: [6, 10], splits: [2, 4], axis: 0 },
    { shape: [2, 6, 3], splits: [1, 2, 3], axis: 1 },
    { shape: [2, 3, 4], splits: 2, axis: -1 },
  ])('SplitV [$shape] by $splits on axis $axis', async ({ shape, splits, axis }) => {
    await onEngine('cpu', () =>
      tf.tidy(() => {
        const x = t(shape, 5);
        expect(ours(tf.split(x, splits, axis))).toEqual(stock('SplitV', { x }, { numOrSizeSplits: splits, axis }));
      }),
    );
  });

  it('gives the stock gradient of concat + broadcast multiply', async () => {
    await onEngine('cpu', () =>
      tf.tidy(() => {
        const a = t([4, 3], 6);
        const b = t([4, 2], 7);
        const w = t([5], 8);
        const g = tf.grads((x: TF.Tensor, y: TF.Tensor) => tf.sum(tf.mul(tf.concat([x, y], 1), w)))([a, b]);
        const wv = Array.from(w.dataSync());
        expect(Array.from(g[0].dataSync())).toEqual(Array.from({ length: 12 }, (_, k) => Math.fround(wv[k % 3])));
        expect(Array.from(g[1].dataSync())).toEqual(Array.from({ length: 8 }, (_, k) => Math.fround(wv[3 + (k % 2)])));
      }),
    );
  });
});
