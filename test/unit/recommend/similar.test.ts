import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/backend.js';
import { cosineToAll, readItemVectors, similarItems, type ItemVectors } from '../../../src/recommend/similar.js';
import { silentLogger } from '../../../src/util/log.js';
import { tinyMf } from './helpers.js';

// Item vectors a=(1,0) b=(0,1) c=(2,0) d=(-1,1) e=(0,0); the user side is irrelevant here.
const Q = [
  [1, 0],
  [0, 1],
  [2, 0],
  [-1, 1],
  [0, 0],
];
const IDS = ['a', 'b', 'c', 'd', 'e'];
let vectors: ItemVectors;

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
  vectors = readItemVectors(tinyMf([[0, 0]], Q), "mf");
});

describe('similar items', () => {
  it('reads the item embedding table of the model', () => {
    expect(vectors.count).toBe(5);
    expect(vectors.dim).toBe(2);
    expect([...vectors.data]).toEqual(Q.flat());
  });

  it('cosine equals the hand computation; a zero vector gives 0, not NaN', () => {
    // cos(d, ·): a = -1/√2, b = 1/√2, c = -2/(2√2) = -1/√2, d = 1, e = 0.
    const s = Math.SQRT1_2;
    const got = [...cosineToAll(vectors, 3)];
    [-s, s, -s, 1, 0].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 12));
    expect([...cosineToAll(vectors, 4)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('ranks neighbours by cosine, not dot product, excludes the query item, ties by index', () => {
    const [fromA, fromD] = similarItems(vectors, IDS, [0, 3], 10);
    // From a: c (cos 1, although b·a = 0 and c has twice a's length), then b and e tied at 0, then d.
    expect(fromA.item).toBe('a');
    expect(fromA.items.map((x) => x.item)).toEqual(['c', 'b', 'e', 'd']);
    expect(fromA.items[0].score).toBe(1);
    expect(fromA.items[3].score).toBeCloseTo(-Math.SQRT1_2, 6);
    expect(fromD.items.map((x) => x.item)).toEqual(['b', 'e', 'a', 'c']);
    expect(fromD.items[0].score).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('cuts to k, and never returns more than the other items', () => {
    expect(similarItems(vectors, IDS, [0], 2)[0].items.map((x) => x.item)).toEqual(['c', 'b']);
    expect(similarItems(vectors, IDS, [0], 99)[0].items).toHaveLength(4);
    const one: ItemVectors = { data: Float32Array.from([1, 2]), count: 1, dim: 2 };
    expect(similarItems(one, ['only'], [0], 5)).toEqual([{ item: 'only', items: [] }]);
  });

  it('leaves out `never` items as neighbours; marks items and a query whose vector comes from features', () => {
    // c and d have no training row; c has features (from_features), d has none (never listed).
    const fromFeatures = (i: number) => i === 2;
    const [fromA, fromC] = similarItems(vectors, IDS, [0, 2], 10, { never: [3], fromFeatures });
    expect(fromA.items).toEqual([{ item: 'c', score: 1, from_features: true }, { item: 'b', score: 0 }, { item: 'e', score: 0 }]);
    expect(fromA.from_features).toBeUndefined();
    // c, never bought, is a query like any other.
    expect(fromC.from_features).toBe(true);
    expect(fromC.items.map((x) => x.item)).toEqual(['a', 'b', 'e']);
    expect(similarItems(vectors, IDS, [0], 10, { never: [2, 3] })[0].items.map((x) => x.item)).toEqual(['b', 'e']);
  });

  it('is deterministic', () => {
    expect(similarItems(vectors, IDS, [1, 2], 3)).toEqual(similarItems(vectors, IDS, [1, 2], 3));
  });
});
