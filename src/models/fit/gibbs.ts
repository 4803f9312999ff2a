/**
 * The numeric core of Bayesian probabilistic matrix factorisation (BPMF): Salakhutdinov & Mnih, "Bayesian
 * Probabilistic Matrix Factorization using Markov Chain Monte Carlo" (ICML 2008).
 *
 *   r_ui ~ N(μ + u_u·v_i, 1/α),   u_u ~ N(μ_U, Λ_U⁻¹),   v_i ~ N(μ_V, Λ_V⁻¹),
 *   (μ_U, Λ_U), (μ_V, Λ_V) ~ Normal-Wishart(μ0 = 0, β0 = 2, ν0 = d, W0 = I).
 *
 * A Gibbs sweep draws the items' hyper-parameters given the item rows, then every item row given its hyper-parameters
 * and the user rows (a d-dimensional Gaussian: precision Λ_V + α Σ_u u_u u_uᵀ over the item's raters), then the same
 * for the users. The prediction is the average of u·v over the draws after burn-in, which is what regularises: no
 * learning rate, no L2 to tune, and overfitting is averaged away instead of stopped early.
 */
import type { Prng } from '../../util/prng.js';

/** Observed ratings in CSR form: row r's columns cols[offsets[r]..offsets[r+1]) and their centred values. */
export interface RatingRows {
  offsets: Int32Array;
  cols: Int32Array;
  values: Float64Array;
}

/** Normal-Wishart hyper-prior of both sides (the paper's choice). */
const BETA0 = 2;

/** CSR of (row, col, value − mean), rows in input order within a row (deterministic). */
export function ratingRows(numRows: number, rows: Int32Array, cols: Int32Array, values: Float32Array, mean: number): RatingRows {
  const offsets = new Int32Array(numRows + 1);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    if (r < 0 || r >= numRows) throw new RangeError(`ratingRows: rows[${k}] must be in [0, ${numRows}); got ${r}`);
    offsets[r + 1]++;
  }
  for (let r = 0; r < numRows; r++) offsets[r + 1] += offsets[r];
  const next = offsets.slice(0, numRows);
  const outCols = new Int32Array(rows.length);
  const outValues = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const at = next[rows[k]]++;
    outCols[at] = cols[k];
    outValues[at] = values[k] - mean;
  }
  return { offsets, cols: outCols, values: outValues };
}

/** Lower Cholesky factor of a symmetric positive-definite d×d (row-major; only the lower triangle is read). */
export function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`cholesky: matrix is not positive definite (pivot ${i} is ${s})`);
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j];
      }
    }
  }
  return l;
}

/** Solves L y = b in place (L lower triangular). */
function forward(l: Float64Array, d: number, b: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * d + k] * b[k];
    b[i] = s / l[i * d + i];
  }
}

/** Solves Lᵀ x = y in place. */
function backward(l: Float64Array, d: number, y: Float64Array): void {
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * y[k];
    y[i] = s / l[i * d + i];
  }
}

/** Inverse of a symmetric positive-definite matrix, symmetrised. */
function inverse(a: Float64Array, d: number): Float64Array {
  const l = cholesky(a, d);
  const out = new Float64Array(d * d);
  const e = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    e.fill(0);
    e[j] = 1;
    forward(l, d, e);
    backward(l, d, e);
    for (let i = 0; i < d; i++) out[i * d + j] = e[i];
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) out[i * d + j] = out[j * d + i] = (out[i * d + j] + out[j * d + i]) / 2;
  return out;
}

/** A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 by the boost u^(1/shape)). */
export function gamma(rng: Prng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Wishart(ν, S) draw by the Bartlett decomposition: L A Aᵀ Lᵀ with S = L Lᵀ. */
export function wishart(rng: Prng, nu: number, scale: Float64Array, d: number): Float64Array {
  const l = cholesky(scale, d);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    a[i * d + i] = Math.sqrt(2 * gamma(rng, (nu - i) / 2));
    for (let j = 0; j < i; j++) a[i * d + j] = rng.normal();
  }
  const la = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = j; k <= i; k++) s += l[i * d + k] * a[k * d + j];
      la[i * d + j] = s;
    }
  }
  const w = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k <= j; k++) s += la[i * d + k] * la[j * d + k];
      w[i * d + j] = w[j * d + i] = s;
    }
  }
  return w;
}

/** A side's hyper-parameters: the mean and precision its rows are drawn around. */
export interface Hyper {
  mean: Float64Array;
  precision: Float64Array;
}

/** Draws (μ, Λ) from their Normal-Wishart posterior given the n rows of a [n, d] table. */
export function drawHyper(rng: Prng, table: Float64Array, n: number, d: number): Hyper {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let f = 0; f < d; f++) mean[f] += table[r * d + f];
  for (let f = 0; f < d; f++) mean[f] /= Math.max(1, n);
  // W*⁻¹ = W0⁻¹ + n S̄ + β0 n / (β0 + n) x̄ x̄ᵀ (μ0 = 0, W0 = I).
  const wInv = new Float64Array(d * d);
  for (let f = 0; f < d; f++) wInv[f * d + f] = 1;
  const dev = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < d; f++) dev[f] = table[r * d + f] - mean[f];
    for (let f = 0; f < d; f++) for (let g = 0; g <= f; g++) wInv[f * d + g] += dev[f] * dev[g];
  }
  const shrink = (BETA0 * n) / (BETA0 + n);
  for (let f = 0; f < d; f++) for (let g = 0; g <= f; g++) wInv[f * d + g] += shrink * mean[f] * mean[g];
  for (let f = 0; f < d; f++) for (let g = 0; g < f; g++) wInv[g * d + f] = wInv[f * d + g];
  const precision = wishart(rng, d + n, inverse(wInv, d), d);
  // μ ~ N(n x̄ / (β0 + n), ((β0 + n) Λ)⁻¹).
  const scaled = precision.map((v) => v * (BETA0 + n));
  const noise = new Float64Array(d);
  for (let f = 0; f < d; f++) noise[f] = rng.normal();
  backward(cholesky(scaled, d), d, noise);
  for (let f = 0; f < d; f++) mean[f] = (mean[f] * n) / (BETA0 + n) + noise[f];
  return { mean, precision };
}

/**
 * Draws every row of `target` ([rows, d]) from its Gaussian conditional given the fixed side's rows and the hyper-
 * parameters: precision P = Λ + α Σ f fᵀ, mean P⁻¹ (Λμ + α Σ r f), plus L⁻ᵀ z for z standard normal (P = L Lᵀ).
 * Returns the squared error of the drawn rows on the observed values, summed.
 */
export function drawRows(rng: Prng, target: Float64Array, fixed: Float64Array, obs: RatingRows, hyper: Hyper, alpha: number, d: number): number {
  const rows = obs.offsets.length - 1;
  const prior = new Float64Array(d);
  for (let f = 0; f < d; f++) {
    let s = 0;
    for (let g = 0; g < d; g++) s += hyper.precision[f * d + g] * hyper.mean[g];
    prior[f] = s;
  }
  const p = new Float64Array(d * d);
  const b = new Float64Array(d);
  const z = new Float64Array(d);
  let sse = 0;
  for (let r = 0; r < rows; r++) {
    p.set(hyper.precision);
    b.set(prior);
    for (let k = obs.offsets[r]; k < obs.offsets[r + 1]; k++) {
      const o = obs.cols[k] * d;
      const y = alpha * obs.values[k];
      for (let f = 0; f < d; f++) {
        const ff = fixed[o + f];
        b[f] += y * ff;
        const af = alpha * ff;
        for (let g = 0; g <= f; g++) p[f * d + g] += af * fixed[o + g];
      }
    }
    const l = cholesky(p, d);
    forward(l, d, b);
    backward(l, d, b);
    for (let f = 0; f < d; f++) z[f] = rng.normal();
    backward(l, d, z);
    const t = r * d;
    for (let f = 0; f < d; f++) target[t + f] = b[f] + z[f];
    for (let k = obs.offsets[r]; k < obs.offsets[r + 1]; k++) {
      const o = obs.cols[k] * d;
      let dot = 0;
      for (let f = 0; f < d; f++) dot += target[t + f] * fixed[o + f];
      sse += (obs.values[k] - dot) ** 2;
    }
  }
  return sse;
}
