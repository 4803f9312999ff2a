import { describe, expect, it } from 'vitest';
import { coldReferences, expectedAt, figuresByScore } from '../../../bench/cold-references.js';
import { movielensItems } from '../../../bench/features-cold.js';

describe('expectedAt', () => {
  it('is a plain hit and discount without ties', () => {
    expect(expectedAt(0, 0, 10)).toEqual({ hit: 1, ndcg: 1 });
    expect(expectedAt(2, 0, 10).ndcg).toBeCloseTo(1 / Math.log2(4), 12);
    expect(expectedAt(10, 0, 10)).toEqual({ hit: 0, ndcg: 0 });
    expect(expectedAt(10, 0, 20).hit).toBe(1);
  });

  it('averages over the tie order', () => {
    // 3 tied, 9 ahead: positions 9, 10, 11 equally likely; only 9 is in the top 10.
    const r = expectedAt(9, 2, 10);
    expect(r.hit).toBeCloseTo(1 / 3, 12);
    expect(r.ndcg).toBeCloseTo(1 / Math.log2(11) / 3, 12);
    // Among 40 tied items, the top 20 holds half of them.
    expect(expectedAt(0, 39, 20).hit).toBeCloseTo(0.5, 12);
  });
});

describe('coldReferences', () => {
  // Items 0..5; 0 and 1 have training rows; 2..5 are new (5 only in the catalogue).
  // Valid (the period after training): item 3 twice, item 4 once. Test: user 7 takes 3 and 0 (warm), user 8 takes 4 and 2.
  const input = { items: 6, trainItems: [0, 1, 0], validItems: [3, 3, 4, 1], testUsers: [7, 7, 8, 8, 8], testItems: [3, 0, 4, 2, 2] };
  const r = coldReferences(input);

  it('finds the new items, the users and pairs, and which of them the validation period saw', () => {
    expect(r.cold).toEqual([2, 3, 4, 5]);
    expect([...r.relevant.entries()].map(([u, s]) => [u, [...s].sort()])).toEqual([
      [7, [3]],
      [8, [2, 4]],
    ]);
    expect(r.pairs).toBe(3);
    expect(r.test_new_items).toBe(3);
    expect(r.test_new_items_in_valid).toBe(2);
  });

  it('ranks by validation counts with ties at random, and leaves the user’s other new items out of the candidates', () => {
    // User 7: item 3 (2 valid rows) ahead of 2, 4, 5 → rank 0. User 8: item 4 (1) behind 3 (2), candidates 3, 5 → rank 1;
    // item 2 (0) behind 3, tied with 5 → rank 1 or 2.
    const d = (p: number) => 1 / Math.log2(p + 2);
    const user8 = (d(1) + (d(1) + d(2)) / 2) / 2;
    expect(r.valid_popularity['hr@10']).toBe(1);
    expect(r.valid_popularity['ndcg@10']).toBeCloseTo((1 + user8) / 2, 4);
    expect(r.valid_popularity['ndcg@20']).toBeCloseTo((1 + user8) / 2, 4);
  });

  it('gives random the tie-averaged figures and the oracle the test counts', () => {
    // Random: user 7 ranks item 3 among 4 tied (2, 4, 5 and itself); user 8 each item among 3 tied.
    const d = (p: number) => 1 / Math.log2(p + 2);
    const rnd7 = (d(0) + d(1) + d(2) + d(3)) / 4;
    const rnd8 = (d(0) + d(1) + d(2)) / 3;
    expect(r.random['ndcg@10']).toBeCloseTo((rnd7 + rnd8) / 2, 4);
    expect(r.random['recall@20']).toBe(1);
    // Test counts: item 2 two rows, 3 and 4 one each, 5 none. User 7's item 3: behind 2, tied with 4 → rank 1 or 2.
    // User 8's item 2: ahead of 3 and 5 → rank 0; item 4: tied with 3, ahead of 5 → rank 0 or 1.
    const orc7 = (d(1) + d(2)) / 2;
    const orc8 = (1 + (d(0) + d(1)) / 2) / 2;
    expect(r.oracle_test_popularity['ndcg@10']).toBeCloseTo((orc7 + orc8) / 2, 4);
    expect(r.oracle_test_popularity['hr@10']).toBe(1);
  });

  it('is zero for an item ranked beyond the cut-off', () => {
    const cold = Array.from({ length: 30 }, (_, i) => i);
    const score = Float64Array.from(cold, (i) => 30 - i);
    const f = figuresByScore(new Map([[0, new Set([25])]]), cold, score);
    expect(f['hr@10']).toBe(0);
    expect(f['recall@20']).toBe(0);
    expect(figuresByScore(new Map([[0, new Set([15])]]), cold, score)['recall@20']).toBe(1);
  });
});

describe('coldReferences by kind', () => {
  // As above: item 3 and 4 have valid rows (recent), item 2 none (new).
  const input = { items: 6, trainItems: [0, 1, 0], validItems: [3, 3, 4, 1], testUsers: [7, 7, 8, 8, 8], testItems: [3, 0, 4, 2, 2] };
  const d = (p: number) => 1 / Math.log2(p + 2);

  it('splits the pairs into new and recent items; valid popularity ranks a new item after every item it counted', () => {
    const r = coldReferences(input);
    expect(r.by_kind.new).toMatchObject({ users: 1, pairs: 1, items: 1 });
    expect(r.by_kind.recent).toMatchObject({ users: 2, pairs: 2, items: 2 });
    // User 8's item 2: candidates 3 (2 valid rows) and 5 (none): behind 3, tied with 5 → rank 1 or 2.
    expect(r.by_kind.new.valid_popularity['ndcg@10']).toBeCloseTo((d(1) + d(2)) / 2, 4);
    // Random: item 2 among 3 tied (3, 5 and itself).
    expect(r.by_kind.new.random['ndcg@10']).toBeCloseTo((d(0) + d(1) + d(2)) / 3, 4);
    // Recent: user 7's item 3 first; user 8's item 4 behind 3 → rank 1.
    expect(r.by_kind.recent.valid_popularity['ndcg@10']).toBeCloseTo((1 + d(1)) / 2, 4);
  });

  it('ranks only the users rec eval evaluates; the oracle still counts every test row', () => {
    const r = coldReferences({ ...input, evaluable: Uint8Array.from({ length: 9 }, (_, u) => (u === 8 ? 1 : 0)) });
    expect([...r.relevant.keys()]).toEqual([8]);
    expect(r.test_new_items).toBe(2);
    expect(r.by_kind.recent).toMatchObject({ users: 1, pairs: 1, items: 1 });
    // User 8's item 4 by test counts (3 one row from user 7, 2 left out as the user's own): tied with 3, ahead of 5.
    expect(r.by_kind.recent.oracle_test_popularity['ndcg@10']).toBeCloseTo((d(0) + d(1)) / 2, 4);
  });
});

describe('movielensItems', () => {
  const movies = ['1,Toy Story (1995),Adventure|Animation', '2,"American President, The (1995)",Comedy|Drama|Romance', '3,Untitled,(no genres listed)'];
  const tags = ['5,1,Pixar,1000', '6,1,pixar ,1500', '5,2,"""political""",2000', '7,1,late tag,3000'];

  it('reads titles with commas, genres, the year, and the tags applied by the cut only', () => {
    const rows = movielensItems(movies, tags, 2_000_000).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows[0]).toEqual({ item: '1', title: 'Toy Story (1995)', genres: ['Adventure', 'Animation'], year: 1995, tags: ['pixar'] });
    expect(rows[1]).toEqual({ item: '2', title: 'American President, The (1995)', genres: ['Comedy', 'Drama', 'Romance'], year: 1995, tags: ['"political"'] });
    expect(rows[2]).toEqual({ item: '3', title: 'Untitled', genres: [], year: null, tags: [] });
  });

  it('has no tags column without tags, and refuses a line it cannot read', () => {
    expect(JSON.parse(movielensItems(movies.slice(0, 1), null, 0)[0])).not.toHaveProperty('tags');
    expect(() => movielensItems(['4,just a title'], null, 0)).toThrow(/movies.csv: cannot read/);
  });
});
