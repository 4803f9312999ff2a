import { describe, expect, it } from 'vitest';
import { cholesky, drawHyper, drawRows, gamma, ratingRows, wishart } from '../../../../src/models/fit/gibbs.js';
import { Prng } from '../../../../src/util/prng.js';

describe('cholesky', () => {
  it('factors a symmetric positive-definite matrix as L Lᵀ', () => {
    const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]);
    const l = cholesky(a, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += l[i * 3 + k] * l[j * 3 + k];
        expect(s).toBeCloseTo(a[i * 3 + j], 12);
      }
      for (let j = i + 1; j < 3; j++) expect(l[i * 3 + j]).toBe(0);
    }
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite \(pivot 1/);
  });
});

describe('ratingRows', () => {
  it('groups values by row, centred on the mean, in input order', () => {
    const obs = ratingRows(3, Int32Array.from([2, 0, 2]), Int32Array.from([5, 1, 4]), Float32Array.from([4, 3, 1]), 3);
    expect([...obs.offsets]).toEqual([0, 1, 1, 3]);
    expect([...obs.cols]).toEqual([1, 5, 4]);
    expect([...obs.values]).toEqual([0, 1, -2]);
  });
});

describe('samplers', () => {
  it('gamma draws have mean equal to the shape (above and below 1)', () => {
    for (const shape of [0.5, 3]) {
      const rng = Prng.fromSeed(1, `gamma-${shape}`);
      let sum = 0;
      const n = 20000;
      for (let k = 0; k < n; k++) sum += gamma(rng, shape);
      // Standard error √(shape / n) ≤ 0.013.
      expect(Math.abs(sum / n - shape)).toBeLessThan(0.05);
    }
  });

  it('wishart draws average ν S', () => {
    const rng = Prng.fromSeed(2, 'wishart');
    const scale = Float64Array.from([1, 0.3, 0.3, 0.5]);
    const sum = new Float64Array(4);
    const n = 5000;
    for (let k = 0; k < n; k++) {
      const w = wishart(rng, 5, scale, 2);
      expect(w[1]).toBe(w[2]);
      for (let x = 0; x < 4; x++) sum[x] += w[x];
    }
    const expected = [5, 1.5, 1.5, 2.5];
    for (let x = 0; x < 4; x++) expect(Math.abs(sum[x] / n - expected[x])).toBeLessThan(0.1);
  });

  it('drawRows samples a row from its hand-computed Gaussian conditional', () => {
    // Fixed rows f0 = [1, 0], f1 = [1, 1]; the target row rated them 2 and 1 (centred); prior N(0, I), α = 1:
    // P = I + f0f0ᵀ + f1f1ᵀ = [[3, 1], [1, 2]], b = 2 f0 + 1 f1 = [3, 1], mean P⁻¹b = [1, 0], cov P⁻¹ = [[2, -1], [-1, 3]] / 5.
    const obs = ratingRows(1, Int32Array.from([0, 0]), Int32Array.from([0, 1]), Float32Array.from([2, 1]), 0);
    const fixed = Float64Array.from([1, 0, 1, 1]);
    const hyper = { mean: new Float64Array(2), precision: Float64Array.from([1, 0, 0, 1]) };
    const rng = Prng.fromSeed(3, 'rows');
    const target = new Float64Array(2);
    const n = 20000;
    const m = [0, 0];
    const c = [0, 0, 0];
    for (let k = 0; k < n; k++) {
      drawRows(rng, target, fixed, obs, hyper, 1, 2);
      m[0] += target[0];
      m[1] += target[1];
      c[0] += target[0] * target[0];
      c[1] += target[0] * target[1];
      c[2] += target[1] * target[1];
    }
    const [m0, m1] = [m[0] / n, m[1] / n];
    expect(Math.abs(m0 - 1)).toBeLessThan(0.02);
    expect(Math.abs(m1)).toBeLessThan(0.02);
    expect(Math.abs(c[0] / n - m0 * m0 - 0.4)).toBeLessThan(0.02);
    expect(Math.abs(c[1] / n - m0 * m1 + 0.2)).toBeLessThan(0.02);
    expect(Math.abs(c[2] / n - m1 * m1 - 0.6)).toBeLessThan(0.02);
  });

  it('drawRows returns the squared error of the drawn rows', () => {
    const obs = ratingRows(2, Int32Array.from([0, 1, 1]), Int32Array.from([0, 0, 1]), Float32Array.from([1, -1, 2]), 0);
    const fixed = Float64Array.from([1, 2]);
    const target = new Float64Array(2);
    const sse = drawRows(Prng.fromSeed(4, 'sse'), target, fixed, obs, { mean: Float64Array.from([0]), precision: Float64Array.from([1]) }, 2, 1);
    const expected = (1 - target[0]) ** 2 + (-1 - target[1]) ** 2 + (2 - 2 * target[1]) ** 2;
    expect(sse).toBeCloseTo(expected, 10);
  });

  it('drawHyper centres its draws on the shrunk mean of the rows', () => {
    // 400 rows around [3, -1]: the posterior mean n x̄ / (β0 + n) is within 1% of it, and the precision near 1 / var.
    const rng = Prng.fromSeed(5, 'hyper');
    const n = 400;
    const table = new Float64Array(n * 2);
    for (let r = 0; r < n; r++) {
      table[r * 2] = 3 + 0.5 * rng.normal();
      table[r * 2 + 1] = -1 + 0.5 * rng.normal();
    }
    const h = drawHyper(rng, table, n, 2);
    expect(Math.abs(h.mean[0] - 3)).toBeLessThan(0.15);
    expect(Math.abs(h.mean[1] + 1)).toBeLessThan(0.15);
    expect(h.precision[0]).toBeGreaterThan(3);
    expect(h.precision[0]).toBeLessThan(5);
  });
});
