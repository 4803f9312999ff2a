import { describe, expect, it } from 'vitest';
import { createRanker, hitsFromRank, rankAmong, topK } from '../../../src/eval/ranking.js';
import { Prng } from '../../../src/util/prng.js';

const f32 = (...xs: number[]) => Float32Array.from(xs);
const list = (a: ArrayLike<number>) => Array.from(a);

describe('topK', () => {
  it('orders by score, breaking ties by index when there is no relevant item', () => {
    const r = topK(f32(0.5, 0.9, 0.5, 0.7, 0.5), 5);
    expect(list(r.items)).toEqual([1, 3, 0, 2, 4]);
    expect(list(r.scores)).toEqual(list(f32(0.9, 0.7, 0.5, 0.5, 0.5)));
    expect(list(r.hits)).toEqual([0, 0, 0, 0, 0]);
  });

  it('pessimistic ties: items scoring equal to a relevant item rank above it', () => {
    // Scores: item1 0.9 > item3 0.7 > {item0, item2*, item4} all 0.5; item2 is relevant.
    // Full order: 1, 3, then the tie group with non-relevant first: 0, 4, then 2.
    const scores = f32(0.5, 0.9, 0.5, 0.7, 0.5);
    const all = topK(scores, 5, { relevant: [2] });
    expect(list(all.items)).toEqual([1, 3, 0, 4, 2]);
    expect(list(all.hits)).toEqual([0, 0, 0, 0, 1]);
    // The tie group straddles the cutoff k = 3: the non-relevant members take the last place, so
    // the relevant item (tied with rank 3) is NOT a hit at k = 3 or 4.
    expect(list(topK(scores, 3, { relevant: [2] }).hits)).toEqual([0, 0, 0]);
    expect(list(topK(scores, 3, { relevant: [2] }).items)).toEqual([1, 3, 0]);
    expect(list(topK(scores, 4, { relevant: [2] }).hits)).toEqual([0, 0, 0, 0]);
  });

  it('a constant model gets no lucky hits from index order', () => {
    const zeros = new Float32Array(3);
    // Relevant item 0 would be first by index; pessimistically it is last.
    expect(list(topK(zeros, 2, { relevant: [0] }).items)).toEqual([1, 2]);
    expect(list(topK(zeros, 3, { relevant: [0] }).hits)).toEqual([0, 0, 1]);
    // Two relevant items in a tie keep index order between themselves.
    expect(list(topK(zeros, 3, { relevant: [2, 0] }).items)).toEqual([1, 0, 2]);
  });

  it('a strictly higher relevant item still ranks first', () => {
    expect(list(topK(f32(0.1, 0.2, 0.3), 1, { relevant: [2] }).hits)).toEqual([1]);
  });

  it('excludes items (train items under the full protocol) and returns fewer than k when the catalogue runs out', () => {
    const r = topK(f32(0.5, 0.9, 0.5, 0.7), 3, { exclude: [1, 3] });
    expect(list(r.items)).toEqual([0, 2]);
    // an excluded relevant item can never be a hit
    expect(list(topK(f32(1, 0), 2, { exclude: [0], relevant: [0] }).hits)).toEqual([0]);
  });

  it('ranks NaN scores as -∞', () => {
    expect(list(topK(f32(NaN, 0.1, -1), 3).items)).toEqual([1, 2, 0]);
    expect(list(topK(f32(NaN, NaN), 2, { relevant: [1] }).items)).toEqual([0, 1]);
  });

  it('a reused ranker leaves no marks behind between users', () => {
    const ranker = createRanker(4);
    const scores = f32(0.4, 0.3, 0.2, 0.1);
    expect(list(ranker.topK(scores, 2, { exclude: [0], relevant: [2] }).items)).toEqual([1, 2]);
    const again = ranker.topK(scores, 2);
    expect(list(again.items)).toEqual([0, 1]);
    expect(list(again.hits)).toEqual([0, 0]);
  });

  it('agrees with a full sort on a 10^5-item catalogue with many ties', () => {
    const n = 100_000;
    const rng = Prng.fromSeed(1, 'test/topk');
    // Scores on a coarse grid so ties are frequent.
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) scores[i] = rng.int(500) / 500;
    const relevant = Array.from({ length: 50 }, () => rng.int(n));
    const exclude = Array.from({ length: 200 }, () => rng.int(n));
    const excluded = new Set(exclude);
    const rel = new Set(relevant);
    const reference = [...Array(n).keys()]
      .filter((i) => !excluded.has(i))
      .sort((a, b) => scores[b] - scores[a] || Number(rel.has(a)) - Number(rel.has(b)) || a - b)
      .slice(0, 100);
    const ranker = createRanker(n);
    const got = ranker.topK(scores, 100, { exclude, relevant });
    expect(list(got.items)).toEqual(reference);
    expect(list(got.hits)).toEqual(reference.map((i) => (rel.has(i) && !excluded.has(i) ? 1 : 0)));
  });
});

describe('rankAmong', () => {
  it('counts candidates scoring ≥ the true item (pessimistic ties)', () => {
    // true 0.5 against [0.6, 0.5, 0.4]: 0.6 above, 0.5 tied (ranks above), 0.4 below → rank 2
    expect(rankAmong(0.5, f32(0.6, 0.5, 0.4))).toBe(2);
    expect(rankAmong(0.7, f32(0.6, 0.5, 0.4))).toBe(0);
    expect(rankAmong(0.1, f32(0.6, 0.5, 0.4))).toBe(3);
    expect(rankAmong(NaN, f32(0.6, 0.5))).toBe(2);
    expect(rankAmong(0.1, f32(NaN, 0.5))).toBe(1);
  });

  it('turns a rank into a hit vector: rank r is a hit at k iff r < k', () => {
    expect(list(hitsFromRank(2, 3))).toEqual([0, 0, 1]);
    expect(list(hitsFromRank(2, 2))).toEqual([0, 0]);
    expect(list(hitsFromRank(0, 1))).toEqual([1]);
  });
});
