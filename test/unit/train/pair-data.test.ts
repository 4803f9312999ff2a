import { describe, expect, it } from 'vitest';
import { hasItem, userItemSets } from '../../../src/data/user-items.js';
import { buildEpoch, negativePool, positiveRows, sampleNegative } from '../../../src/train/pair-data.js';
import { Prng } from '../../../src/util/prng.js';

const data = {
  users: Int32Array.from([0, 0, 1, 2, 2, 2]),
  items: Int32Array.from([1, 3, 0, 0, 1, 2]),
  values: Float32Array.from([5, 4, 3, 1, 2, 3]),
  numUsers: 3,
  numItems: 5,
};

describe('pair training data', () => {
  it('user item sets cover every split and deduplicate', () => {
    const sets = userItemSets(3, [data, { users: Int32Array.from([1, 1]), items: Int32Array.from([4, 0]) }]);
    expect(Array.from(sets.offsets)).toEqual([0, 2, 4, 7]);
    expect(hasItem(sets, 1, 4)).toBe(true);
    expect(hasItem(sets, 1, 3)).toBe(false);
  });

  it('negatives are never one of the user’s items, even for a user who has almost all', () => {
    const sets = userItemSets(3, [data]);
    const rng = Prng.fromSeed(11);
    for (let t = 0; t < 2000; t++) {
      const u = t % 3;
      const neg = sampleNegative(rng, sets, u, 5);
      expect(hasItem(sets, u, neg)).toBe(false);
    }
    // user 2 has 3 of 5 items; user with 4 of 5 must get the single remaining one
    const dense = userItemSets(1, [{ users: Int32Array.from([0, 0, 0, 0]), items: Int32Array.from([0, 1, 2, 4]) }]);
    for (let t = 0; t < 100; t++) expect(sampleNegative(rng, dense, 0, 5)).toBe(3);
  });

  it('negatives come only from items with training rows; with every item trained the draw is unchanged', () => {
    // data trains items 0..3; item 4 is only held out (valid/test), so it must never be a negative.
    const pool = negativePool(data);
    expect(Array.from(pool ?? [])).toEqual([0, 1, 2, 3]);
    const sets = userItemSets(3, [data]);
    const e = buildEpoch(data, sets, 'bce', 4, Prng.fromSeed(5), pool);
    for (let j = 0; j < e.size; j++) expect(e.items[j]).not.toBe(4);
    const bpr = buildEpoch(data, sets, 'bpr', 1, Prng.fromSeed(5), pool);
    expect(Array.from(bpr.negatives ?? [])).not.toContain(4);
    // User 2 owns 0, 1, 2: the only pooled negative left is 3.
    const rng = Prng.fromSeed(6);
    for (let t = 0; t < 50; t++) expect(sampleNegative(rng, sets, 2, 5, pool)).toBe(3);
    const full = { ...data, items: Int32Array.from([1, 3, 0, 0, 4, 2]) };
    expect(negativePool(full)).toBeNull();
    expect(Array.from(buildEpoch(full, sets, 'bce', 4, Prng.fromSeed(1), negativePool(full)).items)).toEqual(Array.from(buildEpoch(full, sets, 'bce', 4, Prng.fromSeed(1)).items));
  });

  it('a bce epoch has each positive once plus N negatives, shuffled, seeded', () => {
    const sets = userItemSets(3, [data]);
    const e = buildEpoch(data, sets, 'bce', 4, Prng.fromSeed(1));
    expect(e.size).toBe(30);
    expect(e.labels.reduce((s, v) => s + v, 0)).toBe(6);
    for (let j = 0; j < e.size; j++) if (e.labels[j] === 0) expect(hasItem(sets, e.users[j], e.items[j])).toBe(false);
    const again = buildEpoch(data, sets, 'bce', 4, Prng.fromSeed(1));
    expect(Array.from(again.items)).toEqual(Array.from(e.items));
  });

  it('an mse epoch is a permutation of the rows with their ratings', () => {
    const e = buildEpoch(data, userItemSets(3, [data]), 'mse', 0, Prng.fromSeed(2));
    const rows = Array.from({ length: 6 }, (_, j) => `${e.users[j]}:${e.items[j]}:${e.labels[j]}`).sort();
    const orig = Array.from({ length: 6 }, (_, j) => `${data.users[j]}:${data.items[j]}:${data.values[j]}`).sort();
    expect(rows).toEqual(orig);
  });

  it('positiveRows keeps the rows >= the threshold; the others are neither positives nor negatives', () => {
    const pos = positiveRows(data, 3);
    expect([...pos.users]).toEqual([0, 0, 1, 2]);
    expect([...pos.items]).toEqual([1, 3, 0, 2]);
    expect([...pos.values]).toEqual([5, 4, 3, 3]);
    expect(positiveRows(data, 6).users.length).toBe(0);
    // Sets from every row, as runTrain builds them: user 2's low-rated items 0 and 1 are never negatives.
    const sets = userItemSets(3, [data]);
    const e = buildEpoch(pos, sets, 'bce', 4, Prng.fromSeed(3));
    const positives = new Set<string>();
    for (let j = 0; j < e.size; j++) {
      if (e.labels[j] === 1) positives.add(`${e.users[j]}:${e.items[j]}`);
      else expect(hasItem(sets, e.users[j], e.items[j])).toBe(false);
    }
    expect([...positives].sort()).toEqual(['0:1', '0:3', '1:0', '2:2']);
    const all = buildEpoch(data, sets, 'bce', 4, Prng.fromSeed(3));
    expect(all.labels.reduce((s, v) => s + v, 0)).toBe(6);
  });
});
