import { describe, expect, it } from 'vitest';
import type { UserRows } from '../../../../src/models/fit/ease.js';
import { topKCosine, type Neighbours } from '../../../../src/models/fit/item-similarity.js';
import { Prng } from '../../../../src/util/prng.js';

interface RowsSpec {
  numUsers: number;
  numItems: number;
  perUser: number;
  /** Items at or above this id are never observed. */
  observed?: number;
  dupes?: boolean;
  /** Weights: 'binary' (many ties), 'positive', or 'signed' (some similarities negative). */
  weights: 'binary' | 'positive' | 'signed';
}

function randomRows(seed: number, spec: RowsSpec): UserRows {
  const rng = Prng.fromSeed(seed, 'knn-rows');
  const observed = spec.observed ?? spec.numItems;
  const offsets = new Int32Array(spec.numUsers + 1);
  const items: number[] = [];
  const weights: number[] = [];
  for (let u = 0; u < spec.numUsers; u++) {
    const seen = new Set<number>();
    const count = rng.int(spec.perUser + 1);
    for (let e = 0; e < count; e++) {
      const it = rng.int(observed);
      if (seen.has(it) && spec.dupes !== true) continue;
      seen.add(it);
      items.push(it);
      const w = spec.weights === 'binary' ? 1 : spec.weights === 'positive' ? 0.25 + rng.next() : rng.next() * 2 - 0.6;
      weights.push(w);
    }
    offsets[u + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items), weights: Float32Array.from(weights) };
}

/** Brute force: dense X in float64, every pair's cosine, sorted by (sim desc, id asc). */
function reference(rows: UserRows, numItems: number, k: number, shrink: number): Neighbours {
  const numUsers = rows.offsets.length - 1;
  const x = Array.from({ length: numItems }, () => new Float64Array(numUsers));
  for (let u = 0; u < numUsers; u++) {
    for (let e = rows.offsets[u]; e < rows.offsets[u + 1]; e++) x[rows.items[e]][u] += rows.weights[e];
  }
  const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, u) => s + v * b[u], 0);
  const norms = x.map((col) => Math.sqrt(dot(col, col)));
  const ids = new Int32Array(numItems * k).fill(-1);
  const sims = new Float32Array(numItems * k);
  for (let i = 0; i < numItems; i++) {
    const cands: { id: number; sim: number }[] = [];
    for (let j = 0; j < numItems; j++) {
      if (j === i) continue;
      const sim = Math.fround(dot(x[i], x[j]) / (norms[i] * norms[j] + shrink));
      if (sim > 0) cands.push({ id: j, sim });
    }
    cands.sort((a, b) => b.sim - a.sim || a.id - b.id);
    cands.slice(0, k).forEach((c, r) => {
      ids[i * k + r] = c.id;
      sims[i * k + r] = c.sim;
    });
  }
  return { k, ids, sims };
}

/** Same neighbours and order, except where float rounding swaps two near-equal similarities. */
function expectSame(got: Neighbours, want: Neighbours): void {
  expect(got.k).toBe(want.k);
  expect(got.sims.length).toBe(want.sims.length);
  for (let s = 0; s < want.sims.length; s++) expect(Math.abs(got.sims[s] - want.sims[s])).toBeLessThan(1e-6);
  expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
}

describe('topKCosine', () => {
  const cases: { label: string; seed: number; spec: RowsSpec; k: number; shrink: number }[] = [
    { label: 'binary weights with ties, no shrinkage', seed: 1, spec: { numUsers: 40, numItems: 30, perUser: 6, weights: 'binary' }, k: 5, shrink: 0 },
    { label: 'binary weights with shrinkage', seed: 2, spec: { numUsers: 40, numItems: 30, perUser: 6, weights: 'binary' }, k: 5, shrink: 10 },
    { label: 'real weights, k above the neighbour count', seed: 3, spec: { numUsers: 12, numItems: 25, perUser: 3, weights: 'positive' }, k: 12, shrink: 0.5 },
    { label: 'signed weights (negative similarities dropped)', seed: 4, spec: { numUsers: 50, numItems: 20, perUser: 8, weights: 'signed' }, k: 6, shrink: 1 },
    { label: 'duplicate (user, item) entries summed', seed: 5, spec: { numUsers: 30, numItems: 15, perUser: 10, dupes: true, weights: 'positive' }, k: 4, shrink: 2 },
    { label: 'items nobody saw', seed: 6, spec: { numUsers: 30, numItems: 24, perUser: 5, observed: 16, weights: 'binary' }, k: 3, shrink: 0 },
    { label: 'k = 1', seed: 7, spec: { numUsers: 60, numItems: 40, perUser: 7, weights: 'positive' }, k: 1, shrink: 3 },
  ];

  it.each(cases)('matches the brute-force reference: $label', ({ seed, spec, k, shrink }) => {
    const rows = randomRows(seed, spec);
    expectSame(topKCosine(rows, spec.numItems, { k, shrink }), reference(rows, spec.numItems, k, shrink));
  });

  it('gives unseen items no neighbours and never lists them or the item itself', () => {
    const rows = randomRows(6, { numUsers: 30, numItems: 24, perUser: 5, observed: 16, weights: 'binary' });
    const got = topKCosine(rows, 24, { k: 30, shrink: 0 });
    for (let i = 0; i < 24; i++) {
      const ids = Array.from(got.ids.subarray(i * 30, (i + 1) * 30)).filter((j) => j >= 0);
      if (i >= 16) expect(ids).toEqual([]);
      expect(ids.every((j) => j !== i && j < 16)).toBe(true);
    }
    // Unused slots stay (-1, 0) and the used ones come first.
    for (let s = 0; s < got.ids.length; s++) if (got.ids[s] === -1) expect(got.sims[s]).toBe(0);
    expect(got.ids.subarray(16 * 30).every((id) => id === -1)).toBe(true);
  });

  it('orders equal similarities by smaller id', () => {
    // Items 1, 2, 3 each share exactly one user with item 0, all with equal norms: equal cosines.
    const rows: UserRows = {
      offsets: Int32Array.of(0, 2, 4, 6),
      items: Int32Array.of(0, 3, 2, 0, 0, 1),
      weights: Float32Array.of(1, 1, 1, 1, 1, 1),
    };
    const got = topKCosine(rows, 5, { k: 4, shrink: 0 });
    expect(Array.from(got.ids.subarray(0, 4))).toEqual([1, 2, 3, -1]);
    expect(got.sims[0]).toBeCloseTo(1 / Math.sqrt(3), 6);
    expect(got.sims[1]).toBe(got.sims[0]);
  });

  it('gives a zero-norm item no neighbours, with or without shrinkage', () => {
    const rows: UserRows = { offsets: Int32Array.of(0, 3), items: Int32Array.of(0, 1, 2), weights: Float32Array.of(0, 1, 1) };
    for (const shrink of [0, 1]) {
      const got = topKCosine(rows, 3, { k: 2, shrink });
      expect(Array.from(got.ids)).toEqual([-1, -1, 2, -1, 1, -1]);
    }
  });

  it('rejects bad arguments, naming them', () => {
    const rows = randomRows(8, { numUsers: 5, numItems: 6, perUser: 3, weights: 'binary' });
    expect(() => topKCosine(rows, 6, { k: 0, shrink: 0 })).toThrow(/opts\.k: expected a positive integer, received 0/);
    expect(() => topKCosine(rows, 6, { k: 1.5, shrink: 0 })).toThrow(/opts\.k/);
    expect(() => topKCosine(rows, 6, { k: 2, shrink: -1 })).toThrow(/opts\.shrink: expected a finite number >= 0, received -1/);
    expect(() => topKCosine(rows, 2, { k: 2, shrink: 0 })).toThrow(/rows\.items/);
    expect(() => topKCosine({ ...rows, weights: Float32Array.of(Number.NaN, ...rows.weights.subarray(1)) }, 6, { k: 2, shrink: 0 })).toThrow(
      /rows\.weights/,
    );
  });
});
