import { describe, expect, it } from 'vitest';
import { buildVocab, bucketRow, itemBags, queryBags, textBag, type TokenBags } from '../../../../src/models/search/bags.js';
import { itemMatrix, tokenPositions, towerStep, type TowerBatch, type TowerStepInput } from '../../../../src/models/search/two-tower.js';
import { fitHead, itemPrior, predictRelevance, userHistories } from '../../../../src/models/search/search-model.js';
import type { ItemFeatures } from '../../../../src/data/item-features.js';
import { Prng } from '../../../../src/util/prng.js';

const list = (rows: number[][]) => {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  return { offsets, values: Int32Array.from(rows.flat()), valid: new Uint8Array(rows.length).fill(1) };
};

const features: ItemFeatures = {
  items: 3,
  inCatalogue: Uint8Array.of(1, 1, 1),
  features: [
    { name: 'title', kind: 'text', buckets: list([[5, 9], [9, 12], [40]]), counts: Int32Array.of(1, 3, 1, 1, 2) },
    { name: 'brand', kind: 'category', codes: Int32Array.of(0, 1, -1), vocab: ['acme', 'bolt'] },
  ],
  catalogue: {} as ItemFeatures['catalogue'],
};

describe('token bags', () => {
  const queries = list([[9, 77], [200]]);
  const vocab = buildVocab(features, queries, Int32Array.of(0));

  it('holds every title bucket and the training queries\' buckets, then the category values', () => {
    expect(Array.from(vocab.buckets)).toEqual([5, 9, 12, 40, 77]);
    expect(vocab.values).toEqual(['brand\tacme', 'brand\tbolt']);
    expect(bucketRow(vocab, 77)).toBe(4);
    expect(bucketRow(vocab, 200)).toBe(-1);
  });

  it('weighs text by feature counts and every present field equally', () => {
    const bags = itemBags(vocab, features, 3);
    // Item 0: title (5 ×1, 9 ×3) and brand acme: each field half.
    expect(Array.from(bags.rows.subarray(0, 3))).toEqual([0, 1, 5]);
    expect(Array.from(bags.weights.subarray(0, 3))).toEqual([0.125, 0.375, 0.5]);
    // Item 2: title only.
    expect(Array.from(bags.weights.subarray(bags.offsets[2], bags.offsets[3]))).toEqual([1]);
  });

  it('drops query buckets outside the vocabulary', () => {
    const q = queryBags(vocab, queries, Int32Array.of(1, 1, 1));
    expect(Array.from(q.rows.subarray(q.offsets[0], q.offsets[1]))).toEqual([1, 4]);
    expect(q.offsets[2] - q.offsets[1]).toBe(0);
    expect(textBag(vocab, [5, 200], [1, 1]).weights[0]).toBe(1);
  });
});

/** Loss of the batch with the tables as given (no gradient written). */
function lossAt(inp: TowerStepInput, batch: TowerBatch): number {
  const positions = tokenPositions(batch, inp.queryBags, inp.itemBags);
  const ids = batch.items.filter((_, k) => batch.idMask[k] === 1);
  return towerStep(inp, batch, { tokenSlots: new Int32Array(positions.length), tokenSums: new Float32Array(inp.dim), idSlots: new Int32Array(ids.length), idSums: new Float32Array(inp.dim) });
}

describe('the two-tower step', () => {
  const dim = 4;
  const rng = Prng.fromSeed(3, 'test');
  const tokens = Float32Array.from({ length: 6 * dim }, () => rng.normal());
  const ids = Float32Array.from({ length: 3 * dim }, () => rng.normal());
  const qb: TokenBags = { offsets: Int32Array.of(0, 2, 3), rows: Int32Array.of(0, 1, 2), weights: Float32Array.of(0.5, 0.5, 1) };
  const ib: TokenBags = { offsets: Int32Array.of(0, 2, 3, 5), rows: Int32Array.of(1, 3, 4, 2, 5), weights: Float32Array.of(0.25, 0.75, 1, 0.5, 0.5) };
  const inp: TowerStepInput = { tokens, ids, dim, temperature: 0.5, queryBags: qb, itemBags: ib, logQ: Float32Array.of(-1, -2, -0.5) };
  const batch: TowerBatch = { queries: Int32Array.of(0, 1, 0), items: Int32Array.of(0, 1, 2), weights: Float32Array.of(1, 0.5, 0.25), idMask: Uint8Array.of(1, 0, 1) };

  it('matches finite differences of its loss for every token and id row it touches', () => {
    const positions = tokenPositions(batch, qb, ib);
    // One slot per distinct row, as the optimizer's prepareRows gives.
    const distinct = [...new Set(positions)];
    const tokenSlots = Int32Array.from(positions, (r) => distinct.indexOf(r));
    const idRows = batch.items.filter((_, k) => batch.idMask[k] === 1);
    const slots = { tokenSlots, tokenSums: new Float32Array(distinct.length * dim), idSlots: Int32Array.from(idRows, (_, q) => q), idSums: new Float32Array(idRows.length * dim) };
    const loss = towerStep(inp, batch, slots);
    expect(loss).toBeCloseTo(lossAt(inp, batch), 6);
    const eps = 1e-3;
    const check = (table: Float32Array, row: number, grad: Float32Array, slot: number) => {
      for (let d = 0; d < dim; d++) {
        const keep = table[row * dim + d];
        table[row * dim + d] = keep + eps;
        const up = lossAt(inp, batch);
        table[row * dim + d] = keep - eps;
        const down = lossAt(inp, batch);
        table[row * dim + d] = keep;
        expect(grad[slot * dim + d]).toBeCloseTo((up - down) / (2 * eps), 3);
      }
    };
    distinct.forEach((row, s) => check(tokens, row, slots.tokenSums, s));
    idRows.forEach((item, s) => check(ids, item, slots.idSums, s));
  });

  it('does not make an item its own negative, and writes nothing without a positive', () => {
    const twice: TowerBatch = { queries: Int32Array.of(0, 1), items: Int32Array.of(2, 2), weights: Float32Array.of(1, 1), idMask: Uint8Array.of(0, 0) };
    // Only one candidate per row is left: the positive itself, so the loss is 0.
    expect(lossAt(inp, twice)).toBeCloseTo(0, 6);
    expect(Number.isNaN(lossAt(inp, { ...batch, weights: new Float32Array(3) }))).toBe(true);
  });

  it('serves unit vectors, with the id row only for trained items', () => {
    const m = itemMatrix(tokens, ids, dim, ib, Uint8Array.of(1, 0, 0));
    for (let i = 0; i < 3; i++) expect(Math.hypot(...m.subarray(i * dim, (i + 1) * dim))).toBeCloseTo(1, 5);
    const untrained = itemMatrix(tokens, ids, dim, ib, Uint8Array.of(0, 0, 0));
    expect(Array.from(m.subarray(dim, 2 * dim))).toEqual(Array.from(untrained.subarray(dim, 2 * dim)));
    expect(Array.from(m.subarray(0, dim))).not.toEqual(Array.from(untrained.subarray(0, dim)));
  });
});

describe('the relevance head', () => {
  it('recovers the weights of an exactly linear target and clips to the scale', () => {
    const rows = Array.from({ length: 50 }, (_, n) => Float64Array.of(1, n / 50, (n * 7) % 11));
    const targets = rows.map((x) => 1.5 + 0.8 * x[1] + 0.05 * x[2]);
    const head = fitHead(['bias', 'a', 'b'], rows, targets, [1, 3], 0, false);
    expect(head.weights[0]).toBeCloseTo(1.5, 6);
    expect(head.weights[1]).toBeCloseTo(0.8, 6);
    expect(head.weights[2]).toBeCloseTo(0.05, 6);
    expect(Array.from(predictRelevance({ ...head, weights: [5, 0, 0] }, rows.slice(0, 1)))).toEqual([3]);
  });

  it('fits a product of two features with the pairwise terms', () => {
    const rows = Array.from({ length: 60 }, (_, n) => Float64Array.of(1, (n % 6) / 6, Math.floor(n / 6) / 10));
    const targets = rows.map((x) => 1 + x[1] * x[2]);
    const head = fitHead(['bias', 'a', 'b'], rows, targets, [0, 5], 0);
    expect(head.features).toEqual(['bias', 'a', 'b', 'a*a', 'a*b', 'b*b']);
    const p = predictRelevance(head, rows);
    rows.forEach((_, n) => expect(p[n]).toBeCloseTo(targets[n], 6));
  });

  it('shrinks an item\'s mean pair weight towards the overall mean by its number of pairs', () => {
    const prior = itemPrior(Int32Array.of(0, 0, 0, 0, 1), Float32Array.of(1, 1, 1, 1, 0), 3);
    // Overall mean 0.8; item 0: (4 + 2·0.8) / 6; item 1: (0 + 1.6) / 3; item 2 (no pair): the mean.
    expect(prior.mean[0]).toBeCloseTo(5.6 / 6, 6);
    expect(prior.mean[1]).toBeCloseTo(1.6 / 3, 6);
    expect(prior.mean[2]).toBeCloseTo(0.8, 6);
    expect(prior.logPairs[0]).toBeCloseTo(Math.log(5), 6);
  });
});

describe('user histories', () => {
  it('keep each user\'s most recent distinct training items, newest first, anonymous rows out', () => {
    // Rows in (user, ts) order, as every split is.
    const users = Int32Array.of(0, 0, 0, 0, -1, 2, 2);
    const items = Int32Array.of(4, 5, 4, 6, 9, 1, 1);
    const h = userHistories(users, items, 3, 2);
    expect(Array.from(h.offsets)).toEqual([0, 2, 2, 3]);
    expect(Array.from(h.items)).toEqual([6, 4, 1]);
  });
});
