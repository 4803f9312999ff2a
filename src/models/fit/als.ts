/**
 * The numeric core of implicit alternating least squares (iALS): Hu, Koren & Volinsky, "Collaborative Filtering for
 * Implicit Feedback Datasets" (ICDM 2008), in the formulation of Rendle, Krichene, Zhang & Koren, "Revisiting the
 * Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022).
 *
 * score(r, c) = t_r · f_c, with t a row of the table being solved (the target) and f a row of the fixed table. One
 * target row r minimises
 *   L_r = Σ_{c∈S_r} w_rc (1 − t_r·f_c)² + α0 Σ_{all c} (t_r·f_c)² + λ_r ‖t_r‖²,   λ_r = λ (|S_r| + α0 · numFixed)^ν
 * whose minimiser solves the normal equations
 *   (Σ_{c∈S_r} w_rc f_c f_cᵀ + α0 G + λ_r I) t_r = Σ_{c∈S_r} w_rc f_c,   G = Σ_c f_c f_cᵀ,
 * because α0 Σ_all (t·f)² = α0 tᵀGt: the unobserved term costs one d×d Gramian per half-sweep, not one pass over
 * every column per row. A duplicated (row, col) entry is two terms of the first sum, as if its weights were added.
 *
 * Two solvers: `cholesky` forms the d×d system and solves it exactly; `cg` runs a few conjugate-gradient steps
 * warm-started from the current row, applying the system matrix through its parts without forming it (Takács, Pilászy
 * & Tikk, "Applications of the conjugate gradient method for implicit feedback collaborative filtering", RecSys 2011;
 * the approach of the `implicit` library), O(|S_r| d + d²) per step instead of O(|S_r| d² + d³) per row.
 */

/** Observed entries in CSR form: row r's columns cols[offsets[r]..offsets[r+1]) and their weights. */
export interface WeightedRows {
  offsets: Int32Array;
  cols: Int32Array;
  weights: Float32Array;
}

export interface AlsSettings {
  dim: number;
  unobservedWeight: number;
  reg: number;
  regExponent: number;
  solver: 'cg' | 'cholesky';
  cgSteps: number;
}

/** Stop CG once ‖residual‖² falls below this fraction of ‖rhs‖²: float32 storage cannot hold the difference anyway. */
const CG_RELATIVE_TOLERANCE_SQ = 1e-20;

function requireCount(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer; got ${value}`);
  }
}

/**
 * Builds the CSR (sorted by row, stable) from aligned (row, col, weight) arrays; also used transposed (items' users).
 */
export function weightedRows(numRows: number, rows: Int32Array, cols: Int32Array, weights: Float32Array): WeightedRows {
  requireCount('weightedRows', 'numRows', numRows);
  const n = rows.length;
  if (cols.length !== n || weights.length !== n) {
    throw new RangeError(
      `weightedRows: rows, cols and weights must have one length; got ${n}, ${cols.length} and ${weights.length}`,
    );
  }
  const offsets = new Int32Array(numRows + 1);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (r < 0 || r >= numRows) throw new RangeError(`weightedRows: rows[${i}] must be in [0, ${numRows}); got ${r}`);
    if (cols[i] < 0) throw new RangeError(`weightedRows: cols[${i}] must be >= 0; got ${cols[i]}`);
    const w = weights[i];
    if (!(w >= 0) || w === Infinity) {
      throw new RangeError(`weightedRows: weights[${i}] must be finite and >= 0; got ${w}`);
    }
    offsets[r + 1]++;
  }
  for (let r = 0; r < numRows; r++) offsets[r + 1] += offsets[r];
  // Counting sort: entries keep their input order within a row, so the result is deterministic.
  const next = offsets.slice(0, numRows);
  const outCols = new Int32Array(n);
  const outWeights = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = next[rows[i]]++;
    outCols[at] = cols[i];
    outWeights[at] = weights[i];
  }
  return { offsets, cols: outCols, weights: outWeights };
}

/** G = Σ_r f_r f_rᵀ over the `rows` rows of a row-major [rows, dim] table; float64 [dim*dim]. */
export function gramian(table: Float32Array, rows: number, dim: number): Float64Array {
  requireCount('gramian', 'rows', rows);
  requireCount('gramian', 'dim', dim);
  if (table.length !== rows * dim) {
    throw new RangeError(`gramian: table must hold rows * dim = ${rows * dim} values; got ${table.length}`);
  }
  const g = new Float64Array(dim * dim);
  // Only the upper triangle is accumulated (half the work), then mirrored.
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) {
      const fi = table[o + i];
      if (fi === 0) continue;
      const gi = i * dim;
      for (let j = i; j < dim; j++) g[gi + j] += fi * table[o + j];
    }
  }
  mirrorUpper(g, dim);
  return g;
}

function mirrorUpper(m: Float64Array, dim: number): void {
  for (let i = 1; i < dim; i++) {
    for (let j = 0; j < i; j++) m[i * dim + j] = m[j * dim + i];
  }
}

function validateSettings(s: AlsSettings): void {
  const fn = 'solveRows';
  if (!Number.isInteger(s.dim) || s.dim < 1) {
    throw new RangeError(`${fn}: dim must be a positive integer; got ${s.dim}`);
  }
  if (!(s.unobservedWeight >= 0) || !Number.isFinite(s.unobservedWeight)) {
    throw new RangeError(`${fn}: unobservedWeight must be finite and >= 0; got ${s.unobservedWeight}`);
  }
  if (!(s.reg >= 0) || !Number.isFinite(s.reg)) {
    throw new RangeError(`${fn}: reg must be finite and >= 0; got ${s.reg}`);
  }
  if (!Number.isFinite(s.regExponent)) throw new RangeError(`${fn}: regExponent must be finite; got ${s.regExponent}`);
  if (s.solver !== 'cg' && s.solver !== 'cholesky') {
    throw new RangeError(`${fn}: solver must be 'cg' or 'cholesky'; got ${String(s.solver)}`);
  }
  if (s.solver === 'cg' && (!Number.isInteger(s.cgSteps) || s.cgSteps < 1)) {
    throw new RangeError(`${fn}: cgSteps must be a positive integer with solver 'cg'; got ${s.cgSteps}`);
  }
}

/** Checks shapes and the block's entries up front, so a bad argument throws before any row changes. */
function validateBlock(
  target: Float32Array,
  fixed: Float32Array,
  numFixed: number,
  G: Float64Array,
  obs: WeightedRows,
  lo: number,
  hi: number,
  dim: number,
): void {
  const fn = 'solveRows';
  requireCount(fn, 'numFixed', numFixed);
  if (target.length % dim !== 0) {
    throw new RangeError(`${fn}: target length must be a multiple of dim ${dim}; got ${target.length}`);
  }
  if (fixed.length !== numFixed * dim) {
    throw new RangeError(`${fn}: fixed must hold numFixed * dim = ${numFixed * dim} values; got ${fixed.length}`);
  }
  if (G.length !== dim * dim) {
    throw new RangeError(`${fn}: G must hold dim * dim = ${dim * dim} values; got ${G.length}`);
  }
  const numTarget = target.length / dim;
  if (obs.offsets.length !== numTarget + 1) {
    throw new RangeError(
      `${fn}: obs.offsets must have target rows + 1 = ${numTarget + 1} entries; got ${obs.offsets.length}`,
    );
  }
  if (obs.weights.length !== obs.cols.length) {
    throw new RangeError(
      `${fn}: obs.weights must match obs.cols in length ${obs.cols.length}; got ${obs.weights.length}`,
    );
  }
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > numTarget || lo > hi) {
    throw new RangeError(`${fn}: [lo, hi) must be integers with 0 <= lo <= hi <= ${numTarget}; got [${lo}, ${hi})`);
  }
  const start = obs.offsets[lo];
  const end = obs.offsets[hi];
  if (!(start >= 0 && start <= end && end <= obs.cols.length)) {
    throw new RangeError(`${fn}: obs.offsets[lo..hi] must lie in [0, ${obs.cols.length}]; got ${start}..${end}`);
  }
  for (let r = lo; r < hi; r++) {
    if (obs.offsets[r + 1] < obs.offsets[r]) {
      const next = obs.offsets[r + 1];
      throw new RangeError(`${fn}: obs.offsets must not decrease; got ${obs.offsets[r]} then ${next} at row ${r}`);
    }
  }
  for (let k = start; k < end; k++) {
    const c = obs.cols[k];
    if (c < 0 || c >= numFixed) throw new RangeError(`${fn}: obs.cols[${k}] must be in [0, ${numFixed}); got ${c}`);
    const w = obs.weights[k];
    if (!(w >= 0) || w === Infinity) throw new RangeError(`${fn}: obs.weights[${k}] must be finite and >= 0; got ${w}`);
  }
}

/** Float64 work space for one solveRows call, allocated once and reused by every row. */
interface Scratch {
  a: Float64Array;
  t: Float64Array;
  b: Float64Array;
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
}

function scratch(dim: number, solver: AlsSettings['solver']): Scratch {
  return {
    a: new Float64Array(solver === 'cholesky' ? dim * dim : 0),
    t: new Float64Array(dim),
    b: new Float64Array(dim),
    r: new Float64Array(dim),
    p: new Float64Array(dim),
    ap: new Float64Array(dim),
  };
}

/**
 * Solves target rows [lo, hi) in place; returns the block's objective Σ_r L_r (after the solve) and its observed count.
 */
export function solveRows(
  target: Float32Array,
  fixed: Float32Array,
  numFixed: number,
  G: Float64Array,
  obs: WeightedRows,
  lo: number,
  hi: number,
  s: AlsSettings,
): { objective: number; observed: number } {
  validateSettings(s);
  const dim = s.dim;
  validateBlock(target, fixed, numFixed, G, obs, lo, hi, dim);
  const work = scratch(dim, s.solver);
  const unobservedMass = s.unobservedWeight * numFixed;
  let objective = 0;
  let observed = 0;
  for (let row = lo; row < hi; row++) {
    const start = obs.offsets[row];
    const end = obs.offsets[row + 1];
    // A row without entries keeps its values: a fine-tuned parent's rows for ids absent from the new data survive.
    if (end === start) continue;
    const lambda = s.reg * Math.pow(end - start + unobservedMass, s.regExponent);
    if (s.solver === 'cholesky') {
      choleskyRow(target, fixed, G, obs, row, lambda, s.unobservedWeight, dim, work);
    } else {
      cgRow(target, fixed, G, obs, row, lambda, s.unobservedWeight, dim, s.cgSteps, work);
    }
    objective += rowObjective(target, fixed, G, obs, row, lambda, s.unobservedWeight, dim, work.t);
    observed += end - start;
  }
  return { objective, observed };
}

/** Forms A = Σ w f fᵀ + α0 G + λ I and b = Σ w f in float64, factors A = L Lᵀ and writes A⁻¹ b into the target row. */
function choleskyRow(
  target: Float32Array,
  fixed: Float32Array,
  G: Float64Array,
  obs: WeightedRows,
  row: number,
  lambda: number,
  alpha0: number,
  dim: number,
  work: Scratch,
): void {
  const a = work.a;
  const b = work.b;
  const n2 = dim * dim;
  for (let k = 0; k < n2; k++) a[k] = alpha0 * G[k];
  for (let i = 0; i < dim; i++) {
    a[i * dim + i] += lambda;
    b[i] = 0;
  }
  const end = obs.offsets[row + 1];
  for (let k = obs.offsets[row]; k < end; k++) {
    const w = obs.weights[k];
    if (w === 0) continue;
    const o = obs.cols[k] * dim;
    for (let i = 0; i < dim; i++) {
      const wfi = w * fixed[o + i];
      b[i] += wfi;
      const ai = i * dim;
      for (let j = i; j < dim; j++) a[ai + j] += wfi * fixed[o + j];
    }
  }
  mirrorUpper(a, dim);
  choleskyFactor(a, dim, row);
  choleskySolve(a, b, dim, work.t);
  const o = row * dim;
  for (let i = 0; i < dim; i++) target[o + i] = work.t[i];
}

/** In place: the lower triangle of `a` becomes L with A = L Lᵀ (the upper triangle is left as it was). */
function choleskyFactor(a: Float64Array, dim: number, row: number): void {
  for (let j = 0; j < dim; j++) {
    const jr = j * dim;
    let d = a[jr + j];
    for (let k = 0; k < j; k++) d -= a[jr + k] * a[jr + k];
    if (!(d > 0)) {
      // Only reachable with reg = 0: λ_r > 0 makes the matrix positive definite.
      throw new RangeError(
        `solveRows: the system of target row ${row} is not positive definite (pivot ${d} at ${j}); reg must be > 0 ` +
          'when a row has fewer independent entries than dim and unobservedWeight does not make up for it',
      );
    }
    const ljj = Math.sqrt(d);
    a[jr + j] = ljj;
    for (let i = j + 1; i < dim; i++) {
      const ir = i * dim;
      let v = a[ir + j];
      for (let k = 0; k < j; k++) v -= a[ir + k] * a[jr + k];
      a[ir + j] = v / ljj;
    }
  }
}

/** Solves L Lᵀ x = b with L in the lower triangle of `l`. */
function choleskySolve(l: Float64Array, b: Float64Array, dim: number, x: Float64Array): void {
  for (let i = 0; i < dim; i++) {
    const ir = i * dim;
    let v = b[i];
    for (let k = 0; k < i; k++) v -= l[ir + k] * x[k];
    x[i] = v / l[ir + i];
  }
  for (let i = dim - 1; i >= 0; i--) {
    let v = x[i];
    for (let k = i + 1; k < dim; k++) v -= l[k * dim + i] * x[k];
    x[i] = v / l[i * dim + i];
  }
}

/** out = A v with A = α0 G + λ I + Σ w f fᵀ, through its parts: O(|S_r| d + d²), never forming A. */
function applySystem(
  fixed: Float32Array,
  G: Float64Array,
  obs: WeightedRows,
  row: number,
  lambda: number,
  alpha0: number,
  dim: number,
  v: Float64Array,
  out: Float64Array,
): void {
  for (let i = 0; i < dim; i++) {
    const gi = i * dim;
    let acc = 0;
    for (let j = 0; j < dim; j++) acc += G[gi + j] * v[j];
    out[i] = alpha0 * acc + lambda * v[i];
  }
  const end = obs.offsets[row + 1];
  for (let k = obs.offsets[row]; k < end; k++) {
    const w = obs.weights[k];
    if (w === 0) continue;
    const o = obs.cols[k] * dim;
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += fixed[o + i] * v[i];
    const wd = w * dot;
    for (let i = 0; i < dim; i++) out[i] += wd * fixed[o + i];
  }
}

/** Conjugate gradient on A t = b from the current row, `steps` iterations or until the residual vanishes. */
function cgRow(
  target: Float32Array,
  fixed: Float32Array,
  G: Float64Array,
  obs: WeightedRows,
  row: number,
  lambda: number,
  alpha0: number,
  dim: number,
  steps: number,
  work: Scratch,
): void {
  const { t, b, r, p, ap } = work;
  const o = row * dim;
  for (let i = 0; i < dim; i++) {
    t[i] = target[o + i];
    b[i] = 0;
  }
  const end = obs.offsets[row + 1];
  for (let k = obs.offsets[row]; k < end; k++) {
    const w = obs.weights[k];
    const fo = obs.cols[k] * dim;
    for (let i = 0; i < dim; i++) b[i] += w * fixed[fo + i];
  }
  applySystem(fixed, G, obs, row, lambda, alpha0, dim, t, ap);
  let rs = 0;
  let bb = 0;
  for (let i = 0; i < dim; i++) {
    const ri = b[i] - ap[i];
    r[i] = ri;
    p[i] = ri;
    rs += ri * ri;
    bb += b[i] * b[i];
  }
  const tolerance = CG_RELATIVE_TOLERANCE_SQ * bb;
  for (let step = 0; step < steps && rs > tolerance; step++) {
    applySystem(fixed, G, obs, row, lambda, alpha0, dim, p, ap);
    let pap = 0;
    for (let i = 0; i < dim; i++) pap += p[i] * ap[i];
    // pᵀAp ≤ 0 only when A is singular along p (reg = 0): no further descent is possible in that direction.
    if (!(pap > 0)) break;
    const step64 = rs / pap;
    let rsNext = 0;
    for (let i = 0; i < dim; i++) {
      t[i] += step64 * p[i];
      const ri = r[i] - step64 * ap[i];
      r[i] = ri;
      rsNext += ri * ri;
    }
    const beta = rsNext / rs;
    for (let i = 0; i < dim; i++) p[i] = r[i] + beta * p[i];
    rs = rsNext;
  }
  for (let i = 0; i < dim; i++) target[o + i] = t[i];
}

/**
 * L_r of the row as stored (float32, after the solve), in float64. Reads the row back into `t` so the objective is
 * that of the values the caller keeps, not of the float64 solution before rounding.
 */
function rowObjective(
  target: Float32Array,
  fixed: Float32Array,
  G: Float64Array,
  obs: WeightedRows,
  row: number,
  lambda: number,
  alpha0: number,
  dim: number,
  t: Float64Array,
): number {
  const o = row * dim;
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const ti = target[o + i];
    t[i] = ti;
    norm += ti * ti;
  }
  let quad = 0;
  for (let i = 0; i < dim; i++) {
    const gi = i * dim;
    let acc = 0;
    for (let j = 0; j < dim; j++) acc += G[gi + j] * t[j];
    quad += t[i] * acc;
  }
  let fit = 0;
  const end = obs.offsets[row + 1];
  for (let k = obs.offsets[row]; k < end; k++) {
    const fo = obs.cols[k] * dim;
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += fixed[fo + i] * t[i];
    const e = 1 - dot;
    fit += obs.weights[k] * e * e;
  }
  return fit + alpha0 * quad + lambda * norm;
}
