import type * as TF from '@tensorflow/tfjs';
import { initEngine } from '../../../src/engine/backend.js';
import { silentLogger } from '../../../src/util/log.js';

/** Runs `fn` on the named engine and returns plain arrays, so results can be compared across engines. */
export async function onEngine<T>(name: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await initEngine({ backend: name, log: silentLogger });
  return fn();
}

export function values(t: TF.Tensor): Float32Array {
  return Float32Array.from(t.dataSync());
}

/** Deterministic pseudo-random floats in [-1, 1) (an LCG: tests must not use Math.random). */
export function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The sparse-optimizer fixture: a ROWS × DIM table and four steps of row ids. */
export const ROWS = 7;
export const DIM = 3;
/** Four steps with duplicates (row 2 three times in step 0) and rows 4 and 6 never touched. */
export const STEPS: number[][] = [
  [2, 0, 2, 5, 2],
  [1, 1],
  [0, 2, 3, 5],
  [5, 5, 0, 1, 3],
];
