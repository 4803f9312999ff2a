import { describe, expect, it } from 'vitest';
import { topK } from '../../../src/recommend/search.js';

describe('topK', () => {
  it('returns the k largest, best first, equal scores by index, NaN never', () => {
    const v = Float32Array.of(0.5, Number.NaN, 0.9, 0.5, -1, 0.9, 0.1);
    expect(topK(v, 4)).toEqual([
      { item: 2, score: v[2] },
      { item: 5, score: v[5] },
      { item: 0, score: 0.5 },
      { item: 3, score: 0.5 },
    ]);
    expect(topK(v, 100).map((h) => h.item)).toEqual([2, 5, 0, 3, 6, 4]);
    expect(topK(v, 0)).toEqual([]);
  });

  it('agrees with a full sort on random scores', () => {
    const v = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const sorted = Array.from(v.keys()).sort((a, b) => v[b] - v[a] || a - b).slice(0, 25);
    expect(topK(v, 25).map((h) => h.item)).toEqual(sorted);
  });
});
