import { describe, expect, it } from 'vitest';
import {
  gramian,
  solveRows,
  weightedRows,
  type AlsSettings,
  type WeightedRows,
} from '../../../../src/models/fit/als.js';
import { Prng } from '../../../../src/util/prng.js';

interface Problem {
  numTarget: number;
  numFixed: number;
  dim: number;
  target: Float32Array;
  fixed: Float32Array;
  rows: Int32Array;
  cols: Int32Array;
  weights: Float32Array;
}

/**
 * A random problem where every target row and fixed column has entries except the target rows in `empty`; a few
 * (row, col) pairs repeat, which the objective counts as two terms.
 */
function problem(
  seed: number,
  numTarget: number,
  numFixed: number,
  dim: number,
  density: number,
  empty: number[] = [],
): Problem {
  const rng = Prng.fromSeed(seed, 'als-test');
  const table = (n: number) => Float32Array.from({ length: n * dim }, () => 0.3 * rng.normal());
  const rows: number[] = [];
  const cols: number[] = [];
  const weights: number[] = [];
  const add = (r: number, c: number) => {
    rows.push(r);
    cols.push(c);
    weights.push(rng.next() < 0.2 ? 0 : 1 + 4 * rng.next());
  };
  for (let r = 0; r < numTarget; r++) {
    if (empty.includes(r)) continue;
    for (let c = 0; c < numFixed; c++) if (rng.next() < density) add(r, c);
    add(r, rng.int(numFixed));
  }
  for (let c = 0; c < numFixed; c++) {
    let r = rng.int(numTarget);
    while (empty.includes(r)) r = (r + 1) % numTarget;
    add(r, c);
  }
  // Shuffle so weightedRows has real sorting to do.
  const order = rng.permutation(rows.length);
  return {
    numTarget,
    numFixed,
    dim,
    target: table(numTarget),
    fixed: table(numFixed),
    rows: Int32Array.from(order, (i) => rows[i]),
    cols: Int32Array.from(order, (i) => cols[i]),
    weights: Float32Array.from(order, (i) => weights[i]),
  };
}

function settings(over: Partial<AlsSettings> & { dim: number }): AlsSettings {
  return { unobservedWeight: 0.3, reg: 0.05, regExponent: 0.5, solver: 'cholesky', cgSteps: 3, ...over };
}

const row = (table: Float32Array, r: number, dim: number) => Array.from(table.subarray(r * dim, (r + 1) * dim));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** The (col, weight) entries of target row r, straight from the aligned arrays. */
function entriesOf(p: Problem, r: number): { col: number; w: number }[] {
  const out: { col: number; w: number }[] = [];
  for (let i = 0; i < p.rows.length; i++) if (p.rows[i] === r) out.push({ col: p.cols[i], w: p.weights[i] });
  return out;
}

function lambdaOf(s: AlsSettings, observed: number, numFixed: number): number {
  return s.reg * Math.pow(observed + s.unobservedWeight * numFixed, s.regExponent);
}

/** L_r by brute force: the unobserved term sums over every fixed column explicitly. */
function refLoss(t: number[], p: Problem, r: number, s: AlsSettings): number {
  const entries = entriesOf(p, r);
  let fit = 0;
  for (const { col, w } of entries) fit += w * (1 - dot(t, row(p.fixed, col, p.dim))) ** 2;
  let all = 0;
  for (let c = 0; c < p.numFixed; c++) all += dot(t, row(p.fixed, c, p.dim)) ** 2;
  return fit + s.unobservedWeight * all + lambdaOf(s, entries.length, p.numFixed) * dot(t, t);
}

/** The normal equations (A, b) of row r, built entry by entry from the brute-force loss. */
function refSystem(p: Problem, r: number, s: AlsSettings): { a: number[][]; b: number[] } {
  const d = p.dim;
  const entries = entriesOf(p, r);
  const lambda = lambdaOf(s, entries.length, p.numFixed);
  const a = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? lambda : 0)));
  const b = new Array<number>(d).fill(0);
  for (let c = 0; c < p.numFixed; c++) {
    const f = row(p.fixed, c, d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i][j] += s.unobservedWeight * f[i] * f[j];
  }
  for (const { col, w } of entries) {
    const f = row(p.fixed, col, d);
    for (let i = 0; i < d; i++) {
      b[i] += w * f[i];
      for (let j = 0; j < d; j++) a[i][j] += w * f[i] * f[j];
    }
  }
  return { a, b };
}

/** Gaussian elimination with partial pivoting: an independent route to A⁻¹b. */
function refSolve(a0: number[][], b0: number[]): number[] {
  const n = b0.length;
  const a = a0.map((r, i) => [...r, b0[i]]);
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i][k]) > Math.abs(a[piv][k])) piv = i;
    [a[k], a[piv]] = [a[piv], a[k]];
    for (let i = k + 1; i < n; i++) {
      const m = a[i][k] / a[k][k];
      for (let j = k; j <= n; j++) a[i][j] -= m * a[k][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let v = a[i][n];
    for (let j = i + 1; j < n; j++) v -= a[i][j] * x[j];
    x[i] = v / a[i][i];
  }
  return x;
}

function solveAll(p: Problem, s: AlsSettings, lo = 0, hi = p.numTarget) {
  const obs = weightedRows(p.numTarget, p.rows, p.cols, p.weights);
  return solveRows(p.target, p.fixed, p.numFixed, gramian(p.fixed, p.numFixed, p.dim), obs, lo, hi, s);
}

const maxAbs = (xs: number[]) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

describe('weightedRows', () => {
  it('groups entries by row, keeping their input order within a row, like a naive filter', () => {
    const p = problem(1, 9, 13, 2, 0.3, [4]);
    const csr = weightedRows(p.numTarget + 2, p.rows, p.cols, p.weights);
    expect(csr.offsets.length).toBe(p.numTarget + 3);
    expect(csr.offsets[0]).toBe(0);
    for (let r = 0; r < p.numTarget + 2; r++) {
      const expected = entriesOf(p, r);
      const got: { col: number; w: number }[] = [];
      for (let k = csr.offsets[r]; k < csr.offsets[r + 1]; k++) got.push({ col: csr.cols[k], w: csr.weights[k] });
      expect(got).toEqual(expected);
    }
    expect(csr.offsets[p.numTarget + 2]).toBe(p.rows.length);
  });

  it('builds the transposed view from the same arrays', () => {
    const p = problem(2, 6, 8, 2, 0.4);
    const t = weightedRows(p.numFixed, p.cols, p.rows, p.weights);
    for (let c = 0; c < p.numFixed; c++) {
      const expected: number[] = [];
      for (let i = 0; i < p.rows.length; i++) if (p.cols[i] === c) expected.push(p.rows[i]);
      expect(Array.from(t.cols.subarray(t.offsets[c], t.offsets[c + 1]))).toEqual(expected);
    }
  });

  it('rejects mismatched lengths, rows out of range, negative columns and bad weights', () => {
    const r = Int32Array.of(0, 1);
    const c = Int32Array.of(0, 1);
    const w = Float32Array.of(1, 1);
    expect(() => weightedRows(2, r, Int32Array.of(0), w)).toThrow(/rows, cols and weights must have one length/);
    expect(() => weightedRows(1, r, c, w)).toThrow(/rows\[1\] must be in \[0, 1\); got 1/);
    expect(() => weightedRows(-1, r, c, w)).toThrow(/numRows must be a non-negative integer; got -1/);
    expect(() => weightedRows(2, r, Int32Array.of(0, -3), w)).toThrow(/cols\[1\] must be >= 0; got -3/);
    expect(() => weightedRows(2, r, c, Float32Array.of(1, -0.5))).toThrow(RangeError);
    expect(() => weightedRows(2, r, c, Float32Array.of(NaN, 1))).toThrow(
      /weights\[0\] must be finite and >= 0; got NaN/,
    );
  });
});

describe('gramian', () => {
  it('equals Σ_r f_r f_rᵀ computed entry by entry', () => {
    const p = problem(3, 4, 17, 5, 0.2);
    const g = gramian(p.fixed, p.numFixed, p.dim);
    expect(g.length).toBe(25);
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let r = 0; r < p.numFixed; r++) s += p.fixed[r * 5 + i] * p.fixed[r * 5 + j];
        expect(g[i * 5 + j]).toBeCloseTo(s, 12);
      }
    }
  });

  it('rejects a table whose length is not rows * dim', () => {
    expect(() => gramian(new Float32Array(10), 3, 3)).toThrow(/table must hold rows \* dim = 9 values; got 10/);
    expect(() => gramian(new Float32Array(9), 3, 2.5)).toThrow(/dim must be a non-negative integer; got 2.5/);
  });
});

describe('solveRows with cholesky', () => {
  // Odd and even dims (the system build works in 2×2 blocks), and rows longer than one 128-entry gather chunk.
  it.each([
    { dim: 6, numFixed: 23, density: 0.3 },
    { dim: 7, numFixed: 23, density: 0.3 },
    { dim: 5, numFixed: 400, density: 0.6 },
  ])('solves the normal equations: matches a reference solve, zero gradient (dim $dim, $numFixed cols)', (c) => {
    const p = problem(4, 7, c.numFixed, c.dim, c.density);
    const s = settings({ dim: c.dim });
    solveAll(p, s);
    expect(weightedRows(p.numTarget, p.rows, p.cols, p.weights).offsets[1]).toBeGreaterThan(c.numFixed > 100 ? 200 : 0);
    for (let r = 0; r < p.numTarget; r++) {
      const { a, b } = refSystem(p, r, s);
      const t = row(p.target, r, p.dim);
      const x = refSolve(a, b);
      for (let i = 0; i < p.dim; i++) expect(t[i]).toBeCloseTo(x[i], 5);
      // ∇L_r = 2(A t − b); rounding t to float32 leaves only ~1e-7 of it.
      const grad = a.map((ai, i) => 2 * (dot(ai, t) - b[i]));
      expect(maxAbs(grad)).toBeLessThan(1e-5 * (1 + maxAbs(b)));
      // And no nearby point is lower: the solve is the minimum.
      const base = refLoss(t, p, r, s);
      for (let i = 0; i < p.dim; i++) {
        for (const h of [1e-3, -1e-3]) {
          const moved = t.slice();
          moved[i] += h;
          expect(refLoss(moved, p, r, s)).toBeGreaterThan(base);
        }
      }
    }
  });

  it('returns the brute-force objective of the block, with α0 over all columns and λ_r raised to ν', () => {
    for (const regExponent of [0, 0.5, 1]) {
      const p = problem(5, 10, 15, 4, 0.25, [6]);
      const s = settings({ dim: 4, regExponent, unobservedWeight: 0.7, reg: 0.2 });
      const got = solveAll(p, s, 2, 9);
      let expected = 0;
      let observed = 0;
      for (let r = 2; r < 9; r++) {
        const n = entriesOf(p, r).length;
        if (n === 0) continue;
        expected += refLoss(row(p.target, r, p.dim), p, r, s);
        observed += n;
      }
      expect(got.observed).toBe(observed);
      expect(got.objective).toBeCloseTo(expected, 9);
    }
  });

  it('leaves rows without entries, and rows outside [lo, hi), exactly as they were', () => {
    const p = problem(6, 8, 11, 3, 0.3, [1, 4]);
    const before = p.target.slice();
    solveAll(p, settings({ dim: 3 }), 1, 6);
    for (let r = 0; r < p.numTarget; r++) {
      const same = row(p.target, r, 3).every((v, i) => v === before[r * 3 + i]);
      expect(same, `row ${r}`).toBe(r === 0 || r === 1 || r === 4 || r >= 6);
    }
  });

  it('returns zeros for an empty block and changes nothing', () => {
    const p = problem(7, 5, 6, 2, 0.5);
    const before = p.target.slice();
    expect(solveAll(p, settings({ dim: 2 }), 3, 3)).toEqual({ objective: 0, observed: 0 });
    expect(p.target).toEqual(before);
  });

  it('throws a RangeError naming reg when reg = 0 leaves a row singular', () => {
    const p = problem(8, 3, 5, 4, 0);
    const singular = settings({ dim: 4, reg: 0, unobservedWeight: 0 });
    expect(() => solveAll(p, singular)).toThrow(/not positive definite.*reg must be > 0/);
  });
});

describe('solveRows with cg', () => {
  it('matches cholesky closely with cgSteps = dim', () => {
    const a = problem(9, 12, 30, 8, 0.3);
    const b = problem(9, 12, 30, 8, 0.3);
    const ra = solveAll(a, settings({ dim: 8, solver: 'cholesky' }));
    const rb = solveAll(b, settings({ dim: 8, solver: 'cg', cgSteps: 8 }));
    for (let k = 0; k < a.target.length; k++) expect(b.target[k]).toBeCloseTo(a.target[k], 4);
    expect(rb.objective).toBeCloseTo(ra.objective, 6);
    expect(rb.observed).toBe(ra.observed);
  });

  it('lowers L_r with a few warm-started steps and never raises it, also from the optimum', () => {
    const p = problem(10, 10, 25, 8, 0.3);
    const s = settings({ dim: 8, solver: 'cg', cgSteps: 2 });
    for (let sweep = 0; sweep < 4; sweep++) {
      const before = Array.from({ length: p.numTarget }, (_, r) => refLoss(row(p.target, r, 8), p, r, s));
      solveAll(p, s);
      for (let r = 0; r < p.numTarget; r++) {
        const after = refLoss(row(p.target, r, 8), p, r, s);
        if (sweep === 0) expect(after).toBeLessThan(before[r] * 0.99);
        expect(after).toBeLessThanOrEqual(before[r] * (1 + 1e-7));
      }
    }
    // Starting at the exact solution, CG must stay there (the residual is ~0).
    const exact = problem(10, 10, 25, 8, 0.3);
    solveAll(exact, { ...s, solver: 'cholesky' });
    const start = exact.target.slice();
    solveAll(exact, s);
    for (let k = 0; k < start.length; k++) expect(exact.target[k]).toBeCloseTo(start[k], 5);
  });

  it('returns the brute-force objective and leaves rows without entries unchanged', () => {
    const p = problem(11, 9, 14, 5, 0.3, [0, 5]);
    const before = p.target.slice();
    const s = settings({ dim: 5, solver: 'cg', cgSteps: 3, regExponent: 0.8 });
    const got = solveAll(p, s);
    let expected = 0;
    for (let r = 0; r < p.numTarget; r++) if (r !== 0 && r !== 5) expected += refLoss(row(p.target, r, 5), p, r, s);
    expect(got.objective).toBeCloseTo(expected, 9);
    expect(row(p.target, 0, 5)).toEqual(row(before, 0, 5));
    expect(row(p.target, 5, 5)).toEqual(row(before, 5, 5));
  });
});

/** The whole iALS objective over users u and items v, by brute force over every (user, item) pair. */
function totalObjective(p: Problem, s: AlsSettings): number {
  const d = p.dim;
  const userCount = new Array<number>(p.numTarget).fill(0);
  const itemCount = new Array<number>(p.numFixed).fill(0);
  let total = 0;
  for (let i = 0; i < p.rows.length; i++) {
    userCount[p.rows[i]]++;
    itemCount[p.cols[i]]++;
    total += p.weights[i] * (1 - dot(row(p.target, p.rows[i], d), row(p.fixed, p.cols[i], d))) ** 2;
  }
  for (let u = 0; u < p.numTarget; u++) {
    const t = row(p.target, u, d);
    for (let c = 0; c < p.numFixed; c++) total += s.unobservedWeight * dot(t, row(p.fixed, c, d)) ** 2;
    total += lambdaOf(s, userCount[u], p.numFixed) * dot(t, t);
  }
  for (let c = 0; c < p.numFixed; c++) {
    const f = row(p.fixed, c, d);
    total += lambdaOf(s, itemCount[c], p.numTarget) * dot(f, f);
  }
  return total;
}

describe('alternating user and item solves', () => {
  for (const solver of ['cholesky', 'cg'] as const) {
    it(`decrease the total objective at every half-sweep (${solver})`, () => {
      const p = problem(12, 14, 18, 4, 0.3);
      const s = settings({ dim: 4, solver, cgSteps: 2 });
      const users = weightedRows(p.numTarget, p.rows, p.cols, p.weights);
      const items = weightedRows(p.numFixed, p.cols, p.rows, p.weights);
      let last = totalObjective(p, s);
      const first = last;
      for (let sweep = 0; sweep < 6; sweep++) {
        const u = solveRows(p.target, p.fixed, p.numFixed, gramian(p.fixed, p.numFixed, 4), users, 0, p.numTarget, s);
        const mid = totalObjective(p, s);
        // Every user has entries, so the users' objective is the total less the items' regulariser.
        let itemReg = 0;
        for (let c = 0; c < p.numFixed; c++) {
          const f = row(p.fixed, c, 4);
          itemReg += lambdaOf(s, entriesOfCol(p, c), p.numTarget) * dot(f, f);
        }
        expect(u.objective + itemReg).toBeCloseTo(mid, 8);
        expect(mid).toBeLessThanOrEqual(last * (1 + 1e-7));
        solveRows(p.fixed, p.target, p.numTarget, gramian(p.target, p.numTarget, 4), items, 0, p.numFixed, s);
        const next = totalObjective(p, s);
        expect(next).toBeLessThanOrEqual(mid * (1 + 1e-7));
        last = next;
      }
      expect(last).toBeLessThan(first * 0.5);
    });
  }
});

function entriesOfCol(p: Problem, c: number): number {
  let n = 0;
  for (let i = 0; i < p.cols.length; i++) if (p.cols[i] === c) n++;
  return n;
}

describe('solveRows arguments', () => {
  const p = problem(13, 4, 5, 3, 0.5);
  const obs = weightedRows(p.numTarget, p.rows, p.cols, p.weights);
  const g = gramian(p.fixed, p.numFixed, 3);
  const s = settings({ dim: 3 });
  interface Args {
    target: Float32Array;
    fixed: Float32Array;
    numFixed: number;
    g: Float64Array;
    obs: WeightedRows;
    lo: number;
    hi: number;
    s: AlsSettings;
  }
  const call = (over: Partial<Args>) => () =>
    solveRows(
      over.target ?? p.target.slice(),
      over.fixed ?? p.fixed,
      over.numFixed ?? p.numFixed,
      over.g ?? g,
      over.obs ?? obs,
      over.lo ?? 0,
      over.hi ?? p.numTarget,
      over.s ?? s,
    );

  it('rejects lo/hi out of range', () => {
    expect(call({ lo: -1 })).toThrow(/\[lo, hi\) must be integers with 0 <= lo <= hi <= 4; got \[-1, 4\)/);
    expect(call({ hi: 5 })).toThrow(/got \[0, 5\)/);
    expect(call({ lo: 3, hi: 2 })).toThrow(/got \[3, 2\)/);
    expect(call({ lo: 0.5 })).toThrow(RangeError);
  });

  it('rejects tables whose lengths do not fit dim', () => {
    expect(call({ target: new Float32Array(13) })).toThrow(/target length must be a multiple of dim 3; got 13/);
    expect(call({ fixed: new Float32Array(14) })).toThrow(/fixed must hold numFixed \* dim = 15 values; got 14/);
    expect(call({ g: new Float64Array(4) })).toThrow(/G must hold dim \* dim = 9 values; got 4/);
    expect(call({ target: new Float32Array(15) })).toThrow(/obs.offsets must have target rows \+ 1 = 6 entries; got 5/);
    expect(call({ s: settings({ dim: 0 }) })).toThrow(/dim must be a positive integer; got 0/);
  });

  it('rejects negative weights, negative reg or unobservedWeight, bad exponents, steps and columns', () => {
    const negative = { ...obs, weights: obs.weights.map((w, k) => (k === 2 ? -1 : w)) };
    expect(call({ obs: negative })).toThrow(/obs.weights\[2\] must be finite and >= 0; got -1/);
    const outOfRange = { ...obs, cols: obs.cols.map((c, k) => (k === 1 ? 5 : c)) };
    expect(call({ obs: outOfRange })).toThrow(/obs.cols\[1\] must be in \[0, 5\); got 5/);
    expect(call({ s: settings({ dim: 3, reg: -0.1 }) })).toThrow(/reg must be finite and >= 0; got -0.1/);
    expect(call({ s: settings({ dim: 3, unobservedWeight: -1 }) })).toThrow(
      /unobservedWeight must be finite and >= 0; got -1/,
    );
    expect(call({ s: settings({ dim: 3, regExponent: NaN }) })).toThrow(/regExponent must be finite; got NaN/);
    expect(call({ s: settings({ dim: 3, solver: 'cg', cgSteps: 0 }) })).toThrow(/cgSteps must be a positive integer/);
  });

  it('changes nothing when it rejects an entry late in the block', () => {
    const target = p.target.slice();
    const last = obs.offsets[p.numTarget] - 1;
    const bad = { ...obs, weights: obs.weights.map((w, k) => (k === last ? -2 : w)) };
    expect(() => solveRows(target, p.fixed, p.numFixed, g, bad, 0, p.numTarget, s)).toThrow(RangeError);
    expect(target).toEqual(p.target);
  });
});
