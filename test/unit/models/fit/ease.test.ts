import { tf } from '../../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { initEngine } from '../../../../src/engine/backend.js';
import { easePeakBytes, easeSweep, easeWeights, itemGram, type UserRows } from '../../../../src/models/fit/ease.js';
import { silentLogger } from '../../../../src/util/log.js';
import { Prng } from '../../../../src/util/prng.js';

/** Random user rows; `dupes` lets a user list an item twice (X then holds the sum). */
function randomRows(seed: number, numUsers: number, numItems: number, perUser: number, dupes = false): UserRows {
  const rng = Prng.fromSeed(seed, 'ease-rows');
  const offsets = new Int32Array(numUsers + 1);
  const items: number[] = [];
  const weights: number[] = [];
  for (let u = 0; u < numUsers; u++) {
    const seen = new Set<number>();
    const count = 1 + rng.int(perUser);
    for (let e = 0; e < count; e++) {
      const it = rng.int(numItems);
      if (seen.has(it) && !dupes) continue;
      seen.add(it);
      items.push(it);
      weights.push(Math.fround(0.5 + rng.next() * 2));
    }
    offsets[u + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items), weights: Float32Array.from(weights) };
}

/** Dense X (float64, duplicates summed). */
function denseX(rows: UserRows, numItems: number): Float64Array[] {
  const numUsers = rows.offsets.length - 1;
  const x: Float64Array[] = [];
  for (let u = 0; u < numUsers; u++) {
    const row = new Float64Array(numItems);
    for (let e = rows.offsets[u]; e < rows.offsets[u + 1]; e++) row[rows.items[e]] += rows.weights[e];
    x.push(row);
  }
  return x;
}

function gram64(x: Float64Array[], n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (const row of x) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] += row[i] * row[j];
  return g;
}

/** Reference EASE: Gauss–Jordan with partial pivoting in float64 on [G + λI | I], then B = −P / diag(P). */
function referenceEase(g: ArrayLike<number>, n: number, lambda: number): Float64Array {
  const a = Float64Array.from(g);
  for (let i = 0; i < n; i++) a[i * n + i] += lambda;
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i * n + k]) > Math.abs(a[p * n + k])) p = i;
    for (let j = 0; j < n; j++) {
      [a[k * n + j], a[p * n + j]] = [a[p * n + j], a[k * n + j]];
      [inv[k * n + j], inv[p * n + j]] = [inv[p * n + j], inv[k * n + j]];
    }
    const d = a[k * n + k];
    for (let j = 0; j < n; j++) {
      a[k * n + j] /= d;
      inv[k * n + j] /= d;
    }
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = a[i * n + k];
      for (let j = 0; j < n; j++) {
        a[i * n + j] -= f * a[k * n + j];
        inv[i * n + j] -= f * inv[k * n + j];
      }
    }
  }
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i * n + j] = i === j ? 0 : -inv[i * n + j] / inv[j * n + j];
  return b;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

describe('itemGram', () => {
  it('equals XᵀX of the dense matrix, duplicates summed into X', () => {
    const n = 13;
    const rows = randomRows(1, 20, n, 8, true);
    expect(maxAbsDiff(itemGram(rows, n), gram64(denseX(rows, n), n))).toBeLessThan(1e-4);
  });

  it('rejects malformed rows, naming the argument', () => {
    const ok = randomRows(2, 4, 5, 3);
    expect(() => itemGram(ok, 0)).toThrow(/numItems/);
    expect(() => itemGram({ ...ok, items: Int32Array.from(ok.items, () => 5) }, 5)).toThrow(/rows\.items.*\[0, 5\)/);
    expect(() => itemGram({ ...ok, weights: ok.weights.subarray(1) }, 5)).toThrow(/rows\.weights/);
    expect(() => itemGram({ ...ok, offsets: Int32Array.of(0, 2, 1, ok.items.length) }, 5)).toThrow(RangeError);
    expect(() => itemGram({ ...ok, offsets: Int32Array.of(1, ok.items.length) }, 5)).toThrow(/rows\.offsets/);
  });
});

describe.each(['cpu', 'wasm'] as const)('easeWeights on %s', (backend) => {
  const n = 37;
  const rows = randomRows(3, 60, n, 12);
  const gram = itemGram(rows, n);

  it.each([1, 5, 16, 37, 256])('matches the float64 reference with block %i', async (block) => {
    await initEngine({ backend, log: silentLogger });
    const lambda = 2.5;
    const expected = referenceEase(gram, n, lambda);
    const got = easeWeights(gram, n, lambda, { block });
    expect(maxAbsDiff(got, expected)).toBeLessThan(2e-5 * Math.max(1, maxAbs(expected)));
    for (let i = 0; i < n; i++) expect(got[i * n + i]).toBe(0);
  });

  it('leaves gram untouched, reads only its lower triangle, reports blocks and disposes its tensors', async () => {
    await initEngine({ backend, log: silentLogger });
    const copy = Float32Array.from(gram);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) copy[i * n + j] = 1e6;
    const before = Float32Array.from(copy);
    const calls: [number, number][] = [];
    const tensors = tf.memory().numTensors;
    const got = easeWeights(copy, n, 10, { block: 8, onBlock: (done, total) => calls.push([done, total]) });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(copy).toEqual(before);
    expect(calls).toEqual([1, 2, 3, 4, 5].map((d) => [d, 5]));
    expect(maxAbsDiff(got, referenceEase(gram, n, 10))).toBeLessThan(1e-5);
  });
});

describe('easeWeights', () => {
  it('overwrites and returns gram with inPlace', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const n = 20;
    const gram = itemGram(randomRows(4, 30, n, 6), n);
    const expected = referenceEase(gram, n, 1);
    const got = easeWeights(gram, n, 1, { inPlace: true, block: 6 });
    expect(got).toBe(gram);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4 * Math.max(1, maxAbs(expected)));
  });

  it('stays accurate on a larger, more clustered problem', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const n = 150;
    const gram = itemGram(randomRows(5, 400, n, 60), n);
    const expected = referenceEase(gram, n, 1);
    const got = easeWeights(gram, n, 1, { block: 32 });
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4 * Math.max(1, maxAbs(expected)));
  });

  it('refuses a singular G (λ = 0 and an item nobody saw) and bad arguments', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const n = 6;
    const gram = itemGram({ offsets: Int32Array.of(0, 2, 4), items: Int32Array.of(0, 1, 1, 2), weights: Float32Array.of(1, 1, 1, 1) }, n);
    const tensors = tf.memory().numTensors;
    expect(() => easeWeights(gram, n, 0, { block: 2 })).toThrow(/positive definite/);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(() => easeWeights(gram, n, -1)).toThrow(/lambda/);
    expect(() => easeWeights(gram, n, Number.NaN)).toThrow(/lambda/);
    expect(() => easeWeights(gram, 5, 1)).toThrow(/gram: expected length n\*n = 25, received 36/);
    expect(() => easeWeights(gram, n, 1, { block: 0 })).toThrow(/opts\.block/);
    expect(() => easeWeights(gram, 0, 1)).toThrow(/^n: /);
  });
});

describe('easePeakBytes', () => {
  it('counts the two n×n float32 arrays, one without a working copy', () => {
    const n = 1000;
    expect(easePeakBytes(n)).toBeGreaterThanOrEqual(8 * n * n);
    expect(easePeakBytes(n, { inPlace: true })).toBeGreaterThanOrEqual(4 * n * n);
    expect(easePeakBytes(n, { inPlace: true })).toBeLessThan(easePeakBytes(n) - 4 * n * n + 1);
    expect(easePeakBytes(n, { block: 64 })).toBeLessThan(easePeakBytes(n));
    expect(() => easePeakBytes(0)).toThrow(RangeError);
  });
});

describe('easeSweep', () => {
  it('gives easeWeights’ B one pivot block at a time, in order only', () => {
    const n = 5;
    const gram = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) gram[i * n + j] = i === j ? 3 : 1 / (1 + i + j);
    const sweep = easeSweep(gram, n, 2, { block: 2 });
    expect(sweep.blocks).toBe(3);
    expect(() => sweep.sweep(1)).toThrow(/expected 0/);
    sweep.sweep(0);
    expect(() => sweep.weights()).toThrow(/2 of 3 blocks are not swept/);
    sweep.sweep(1);
    sweep.sweep(2);
    expect(Array.from(sweep.weights())).toEqual(Array.from(easeWeights(gram, n, 2, { block: 2 })));
  });
});
