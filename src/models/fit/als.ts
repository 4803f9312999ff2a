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

/** Entries gathered per block of the Cholesky system build: z is dim × CHUNK float64, small enough for the L2 cache. */
const CHUNK = 128;

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
  z: Float64Array;
  t: Float64Array;
  b: Float64Array;
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
}

function scratch(dim: number, solver: AlsSettings['solver']): Scratch {
  return {
    a: new Float64Array(solver === 'cholesky' ? dim * dim : 0),
    // Rounded up to an even number of rows so accumulateChunk's 2×2 blocks read zeros past dim.
    z: new Float64Array(solver === 'cholesky' ? (dim + (dim % 2)) * CHUNK : 0),
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
    objective += rowObjective(target, fixed, G, obs, row, lambda, s.unobservedWeight, dim, work.t, work.ap);
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
  for (let from = obs.offsets[row]; from < end; from += CHUNK) {
    const n = gatherChunk(fixed, obs, from, Math.min(from + CHUNK, end), dim, work.z, b);
    accumulateChunk(work.z, n, a, dim);
  }
  mirrorUpper(a, dim);
  choleskyFactor(a, dim, row);
  choleskySolve(a, b, dim, work.t);
  const o = row * dim;
  for (let i = 0; i < dim; i++) target[o + i] = work.t[i];
}

/**
 * Writes √w_c f_c for entries [from, to) as the columns of z (row i holds coordinate i of every entry, CHUNK apart) and
 * adds w_c f_c to b; returns how many columns it wrote. Rows of z at and past dim stay zero: they pad an odd dim.
 */
function gatherChunk(
  fixed: Float32Array,
  obs: WeightedRows,
  from: number,
  to: number,
  dim: number,
  z: Float64Array,
  b: Float64Array,
): number {
  let n = 0;
  for (let k = from; k < to; k++) {
    const w = obs.weights[k];
    if (w === 0) continue;
    const root = Math.sqrt(w);
    const o = obs.cols[k] * dim;
    for (let i = 0; i < dim; i++) {
      const f = fixed[o + i];
      z[i * CHUNK + n] = root * f;
      b[i] += w * f;
    }
    n++;
  }
  return n;
}

/**
 * a += z zᵀ over the first n columns of z, upper triangle only. Each entry is a dot product of two rows of z, four of
 * them at a time (a 2×2 block): the sums stay in registers and every load feeds two multiply-adds, which makes this
 * about three times faster than adding one rank-1 update w f fᵀ per entry. (A 2×4 block was slower: V8 ran out of
 * registers and boxed the sums.)
 */
function accumulateChunk(z: Float64Array, n: number, a: Float64Array, dim: number): void {
  for (let i = 0; i < dim; i += 2) {
    const x0 = i * CHUNK;
    const x1 = x0 + CHUNK;
    for (let j = i; j < dim; j += 2) {
      const y0 = j * CHUNK;
      const y1 = y0 + CHUNK;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < n; k++) {
        const u0 = z[x0 + k];
        const u1 = z[x1 + k];
        const v0 = z[y0 + k];
        const v1 = z[y1 + k];
        s00 += u0 * v0;
        s01 += u0 * v1;
        s10 += u1 * v0;
        s11 += u1 * v1;
      }
      // With an odd dim the last row and column are sums of zero padding and are dropped; at j = i the block also
      // holds a[i+1][i], below the diagonal, which mirrorUpper overwrites.
      const r0 = i * dim + j;
      a[r0] += s00;
      if (j + 1 < dim) a[r0 + 1] += s01;
      if (i + 1 === dim) continue;
      a[r0 + dim] += s10;
      if (j + 1 < dim) a[r0 + dim + 1] += s11;
    }
  }
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
    // Four rows at a time: four independent sums per pass over row j, instead of one chain of dependent additions.
    let i = j + 1;
    for (; i + 3 < dim; i += 4) {
      const r0 = i * dim;
      const r1 = r0 + dim;
      const r2 = r1 + dim;
      const r3 = r2 + dim;
      let v0 = a[r0 + j];
      let v1 = a[r1 + j];
      let v2 = a[r2 + j];
      let v3 = a[r3 + j];
      for (let k = 0; k < j; k++) {
        const ljk = a[jr + k];
        v0 -= a[r0 + k] * ljk;
        v1 -= a[r1 + k] * ljk;
        v2 -= a[r2 + k] * ljk;
        v3 -= a[r3 + k] * ljk;
      }
      a[r0 + j] = v0 / ljj;
      a[r1 + j] = v1 / ljj;
      a[r2 + j] = v2 / ljj;
      a[r3 + j] = v3 / ljj;
    }
    for (; i < dim; i++) {
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

/** out = G v for a symmetric d×d G, four rows at a time so four sums run side by side rather than one chain. */
function gramTimes(G: Float64Array, v: Float64Array, out: Float64Array, dim: number): void {
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    const g0 = i * dim;
    const g1 = g0 + dim;
    const g2 = g1 + dim;
    const g3 = g2 + dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < dim; j++) {
      const vj = v[j];
      s0 += G[g0 + j] * vj;
      s1 += G[g1 + j] * vj;
      s2 += G[g2 + j] * vj;
      s3 += G[g3 + j] * vj;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < dim; i++) {
    const gi = i * dim;
    let acc = 0;
    for (let j = 0; j < dim; j++) acc += G[gi + j] * v[j];
    out[i] = acc;
  }
}

/**
 * out = A v with A = α0 G + λ I + Σ w f fᵀ, through its parts: O(|S_r| d + d²), never forming A. Entries go four at
 * a time: four dot products share the loads of v and one pass over out adds all four (about 3× faster than one by one).
 */
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
  gramTimes(G, v, out, dim);
  for (let i = 0; i < dim; i++) out[i] = alpha0 * out[i] + lambda * v[i];
  const end = obs.offsets[row + 1];
  let k = obs.offsets[row];
  for (; k + 3 < end; k += 4) {
    const o0 = obs.cols[k] * dim;
    const o1 = obs.cols[k + 1] * dim;
    const o2 = obs.cols[k + 2] * dim;
    const o3 = obs.cols[k + 3] * dim;
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    for (let i = 0; i < dim; i++) {
      const vi = v[i];
      d0 += fixed[o0 + i] * vi;
      d1 += fixed[o1 + i] * vi;
      d2 += fixed[o2 + i] * vi;
      d3 += fixed[o3 + i] * vi;
    }
    const wd0 = obs.weights[k] * d0;
    const wd1 = obs.weights[k + 1] * d1;
    const wd2 = obs.weights[k + 2] * d2;
    const wd3 = obs.weights[k + 3] * d3;
    for (let i = 0; i < dim; i++) {
      out[i] += wd0 * fixed[o0 + i] + wd1 * fixed[o1 + i] + wd2 * fixed[o2 + i] + wd3 * fixed[o3 + i];
    }
  }
  for (; k < end; k++) {
    const o = obs.cols[k] * dim;
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += fixed[o + i] * v[i];
    const wd = obs.weights[k] * dot;
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
  gt: Float64Array,
): number {
  const o = row * dim;
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const ti = target[o + i];
    t[i] = ti;
    norm += ti * ti;
  }
  gramTimes(G, t, gt, dim);
  let quad = 0;
  for (let i = 0; i < dim; i++) quad += t[i] * gt[i];
  let fit = 0;
  const end = obs.offsets[row + 1];
  for (let k = obs.offsets[row]; k < end; k++) {
    const fo = obs.cols[k] * dim;
    // Two partial sums halve the chain of dependent additions.
    let d0 = 0;
    let d1 = 0;
    let i = 0;
    for (; i + 1 < dim; i += 2) {
      d0 += fixed[fo + i] * t[i];
      d1 += fixed[fo + i + 1] * t[i + 1];
    }
    if (i < dim) d0 += fixed[fo + i] * t[i];
    const e = 1 - d0 - d1;
    fit += obs.weights[k] * e * e;
  }
  return fit + alpha0 * quad + lambda * norm;
}
