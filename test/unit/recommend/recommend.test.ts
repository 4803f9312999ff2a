import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/backend.js';
import { recommend, recommendBlocks, recommendPoolInputs, shortestFloat32, trainedUsers, type RecommendSource, type UserQueries } from '../../../src/recommend/recommend.js';
import { userItemSets } from '../../../src/data/user-items.js';
import { silentLogger } from '../../../src/util/log.js';
import { tinyMf } from './helpers.js';

/*
 * score(u, i) = p_u · q_i + b_i, worked out by hand:
 *        i0    i1    i2    i3
 *   u0   1     0.5   2     -1
 *   u1   0     1.5   0     1
 *   u2   0.5   1     1     0
 * popularity (interaction counts): i0 5, i1 9, i2 2, i3 9.
 * Seen: u0 → {i2}; u1 → {i1, i3} (one in train, one in valid); u2 → nothing.
 */
const ITEMS = ['i0', 'i1', 'i2', 'i3'];
let source: RecommendSource;

const queries = (...pairs: [string, number][]): UserQueries => ({ labels: pairs.map((p) => p[0]), indices: Int32Array.from(pairs.map((p) => p[1])) });
const pairsOf = (items: { item: string; score: number }[]) => items.map((s) => [s.item, s.score]);

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
  const model = tinyMf(
    [
      [1, 0],
      [0, 1],
      [0.5, 0.5],
    ],
    [
      [1, 0],
      [0, 1],
      [2, 0],
      [-1, 1],
    ],
    [0, 0, 0],
    [0, 0.5, 0, 0],
  );
  const train = { users: Int32Array.from([0, 1]), items: Int32Array.from([2, 1]) };
  const valid = { users: Int32Array.from([1]), items: Int32Array.from([3]) };
  source = {
    model,
    itemIds: ITEMS,
    popularity: Int32Array.from([5, 9, 2, 9]),
    seen: userItemSets(3, [train, valid]),
    trained: null,
  };
});

describe('recommend', () => {
  it('ranks by the model score and leaves out every seen item (train and valid)', () => {
    const [u0, u1] = recommend(source, queries(['u0', 0], ['u1', 1]), { k: 3, excludeSeen: true });
    expect(u0).toEqual({ user: 'u0', cold: false, items: [{ item: 'i0', score: 1 }, { item: 'i1', score: 0.5 }, { item: 'i3', score: -1 }] });
    // u1 saw i1 and i3: only the two tied zeros are left, lower index first.
    expect(pairsOf(u1.items)).toEqual([['i0', 0], ['i2', 0]]);
  });

  it('never serves a warm user an item whose row was not learned; cold users still get it by popularity', () => {
    // i2 scores highest for u0 (2) but has no learned row: it is skipped, not ranked on a random vector.
    const masked = { ...source, trainedItems: Uint8Array.from([1, 1, 0, 1]) };
    const [u0, cold] = recommend(masked, queries(['u0', 0], ['new', -1]), { k: 3, excludeSeen: false });
    expect(pairsOf(u0.items)).toEqual([['i0', 1], ['i1', 0.5], ['i3', -1]]);
    expect(cold.items.map((s) => s.item)).toEqual(['i1', 'i3', 'i0']);
  });

  it('--new-items serves an untrained item the model scores from its features, marked from_features; never one without features', () => {
    // i2 (score 2 for u0) and i3 have no learned row; the model has features for i2 only.
    const featured = { ...source, trainedItems: Uint8Array.from([1, 1, 0, 0]), featuredItems: Uint8Array.from([1, 1, 1, 0]) };
    const [off] = recommend(featured, queries(['u0', 0]), { k: 3, excludeSeen: false });
    expect(off.items).toEqual([{ item: 'i0', score: 1 }, { item: 'i1', score: 0.5 }]);
    const on = { ...featured, newItems: true };
    const [u0, cold] = recommend(on, queries(['u0', 0], ['new', -1]), { k: 3, excludeSeen: false });
    expect(u0.items).toEqual([{ item: 'i2', score: 2, from_features: true }, { item: 'i0', score: 1 }, { item: 'i1', score: 0.5 }]);
    // A cold user's popular list is not scored by the model: nothing is marked there.
    expect(cold.items.some((s) => 'from_features' in s)).toBe(false);
    // The threads of a pool get the same items to leave out.
    expect([...recommendPoolInputs(on).never]).toEqual([3]);
    expect([...recommendPoolInputs(featured).never]).toEqual([2, 3]);
  });

  it('--include-seen keeps seen items', () => {
    const [u0] = recommend(source, queries(['u0', 0]), { k: 2, excludeSeen: false });
    expect(pairsOf(u0.items)).toEqual([['i2', 2], ['i0', 1]]);
  });

  it('breaks score ties by item index', () => {
    const [u2] = recommend(source, queries(['u2', 2]), { k: 3, excludeSeen: true });
    expect(pairsOf(u2.items)).toEqual([['i1', 1], ['i2', 1], ['i0', 0.5]]);
  });

  it('gives a user outside the vocabulary the most popular items, scored by count and marked cold', () => {
    const [cold] = recommend(source, queries(['newcomer', -1]), { k: 3, excludeSeen: true });
    expect(cold).toEqual({ user: 'newcomer', cold: true, items: [{ item: 'i1', score: 9 }, { item: 'i3', score: 9 }, { item: 'i0', score: 5 }] });
  });

  it('treats a vocabulary user without training rows as cold, still excluding what they saw', () => {
    const trained = trainedUsers(3, Int32Array.from([0, 2]));
    expect([...trained]).toEqual([1, 0, 1]);
    const [u1] = recommend({ ...source, trained }, queries(['u1', 1]), { k: 10, excludeSeen: true });
    expect(u1.cold).toBe(true);
    expect(pairsOf(u1.items)).toEqual([['i0', 5], ['i2', 2]]);
  });

  it('returns the whole remaining catalogue when k exceeds it', () => {
    const [u0, cold] = recommend(source, queries(['u0', 0], ['x', -1]), { k: 1000, excludeSeen: true });
    expect(u0.items.map((s) => s.item)).toEqual(['i0', 'i1', 'i3']);
    expect(cold.items.map((s) => s.item)).toEqual(['i1', 'i3', 'i0', 'i2']);
  });

  it('without seen sets nothing is excluded', () => {
    const [u0] = recommend({ ...source, seen: null }, queries(['u0', 0]), { k: 1, excludeSeen: true });
    expect(pairsOf(u0.items)).toEqual([['i2', 2]]);
  });

  it('is deterministic and independent of the block size; blocks keep query order', () => {
    const q = queries(['u2', 2], ['x', -1], ['u0', 0], ['u1', 1], ['y', -1]);
    const a = recommend(source, q, { k: 2, excludeSeen: true });
    const b = recommend(source, q, { k: 2, excludeSeen: true, blockSize: 2 });
    expect(b).toEqual(a);
    expect(recommend(source, q, { k: 2, excludeSeen: true })).toEqual(a);
    expect(a.map((r) => r.user)).toEqual(['u2', 'x', 'u0', 'u1', 'y']);
    expect([...recommendBlocks(source, q, { k: 2, excludeSeen: true, blockSize: 2 })].map((blk) => blk.length)).toEqual([2, 2, 1]);
  });

  it('rejects a k that is not a positive integer', () => {
    expect(() => recommend(source, queries(['u0', 0]), { k: 0, excludeSeen: true })).toThrow(/k must be a positive integer/);
  });
});

describe('shortestFloat32', () => {
  it('prints the shortest decimal that is the same float32', () => {
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Math.fround(0.07183115))).toBe(0.07183115);
    expect(shortestFloat32(207)).toBe(207);
    for (const x of [Math.fround(1 / 3), Math.fround(-123.456), Math.fround(1e-30), Math.fround(3.4e38)]) {
      expect(Math.fround(shortestFloat32(x))).toBe(x);
    }
  });
});
