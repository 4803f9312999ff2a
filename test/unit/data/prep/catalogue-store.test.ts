import { describe, expect, it } from 'vitest';
import { CatalogueStore, ChunkedLists, TextLists } from '../../../../src/data/prep/catalogue-store.js';
import type { FeatureSpec } from '../../../../src/data/prep/catalogue-spec.js';

function read(lists: TextLists, s: number): { values: number[]; counts: number[] } {
  const values = new Int32Array(lists.lengthOf(s));
  const counts = new Int32Array(values.length);
  lists.copyTo(s, values, counts, 0);
  return { values: Array.from(values), counts: Array.from(counts) };
}

describe('TextLists', () => {
  it('gives back every list as pushed, packed or (a count past the packed range) kept apart', () => {
    // 2^24 buckets leave 8 bits of count: 255 packs, 300 does not.
    const lists = new TextLists(1 << 24);
    const lists0 = [
      { values: [0, 5, (1 << 24) - 1], counts: [1, 255, 2] },
      { values: [7, 9], counts: [300, 1] },
      { values: [], counts: [] },
      { values: [(1 << 24) - 1], counts: [255] },
    ];
    for (const l of lists0) lists.push(Int32Array.from(l.values), Int32Array.from(l.counts), l.values.length);
    lists0.forEach((l, s) => expect(read(lists, s)).toEqual(l));
  });

  it('keeps every list apart when the buckets leave no room for counts (2^30 buckets)', () => {
    const lists = new TextLists(1 << 30);
    lists.push(Int32Array.from([(1 << 30) - 1, 3]), Int32Array.from([1, 2]), 2);
    expect(read(lists, 0)).toEqual({ values: [(1 << 30) - 1, 3], counts: [1, 2] });
  });
});

describe('ChunkedLists', () => {
  it('reads back an empty first list (a catalogue whose first row has no title or no categories)', () => {
    const lists = new ChunkedLists();
    lists.push(new Int32Array(0), 0);
    lists.push(Int32Array.from([7]), 1);
    expect(Array.from(lists.valuesOf(0))).toEqual([]);
    expect(Array.from(lists.valuesOf(1))).toEqual([7]);
    const text = new TextLists(1 << 18);
    text.push(new Int32Array(0), new Int32Array(0), 0);
    expect(read(text, 0)).toEqual({ values: [], counts: [] });
  });

  it('starts a chunk for a list that does not fit, and gives one longer than a chunk its own', () => {
    const lists = new ChunkedLists();
    const big = new Int32Array((1 << 20) + 5).map((_, k) => k);
    lists.push(Int32Array.from([1, 2, 3]), 3);
    lists.push(big, big.length);
    lists.push(Int32Array.from([4]), 1);
    expect(Array.from(lists.valuesOf(0))).toEqual([1, 2, 3]);
    // Compared as bytes: toEqual walks a million elements one by one (15 s on this machine).
    const got = lists.valuesOf(1);
    expect(got.length).toBe(big.length);
    expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(big.buffer))).toBe(true);
    expect(Array.from(lists.valuesOf(2))).toEqual([4]);
    const out = new Int32Array(3);
    lists.copyTo(0, out, null, 0, Int32Array.from([9, 10, 11, 12]));
    expect(Array.from(out)).toEqual([10, 11, 12]);
  });
});

describe('CatalogueStore, a multi value joined by | (CSV/TSV)', () => {
  const features: FeatureSpec[] = [
    { name: 'brand', kind: 'category' },
    { name: 'cats', kind: 'multi' },
  ];
  // Edge cases of trimming and deduplication: blank parts, Unicode spaces (NBSP, U+3000), repeats, empty values.
  const rows: [string, string | null, string | null][] = [
    ['a', 'Acme', 'Home|Kitchen|Pans'],
    ['g', 'Acme', 'Home|Kitchen|Pans'],
    ['b', ' Acme ', ' Home | Garden|Home'],
    ['c', '\u00a0', '|| |'],
    ['d', null, ''],
    ['e', 'Zed', '\u3000Tools\u3000|Tools|café|日本'],
    ['a', 'Acme', 'Home|Kitchen|Pans'],
    ['b', ' Acme ', 'Home | Garden|Home'],
    ['f', 'x', 'a||b|'],
    ['c', '\u00a0', '|| |'],
  ];

  function load(piped: boolean): CatalogueStore {
    const store = new CatalogueStore(features);
    for (const [k, brand, cats] of rows) store.add(k, [brand, piped || cats === null ? cats : cats.split('|')], piped);
    return store;
  }

  function lists(store: CatalogueStore): number[][] {
    const col = store.columns[1];
    const out: number[][] = [];
    for (let s = 0; s < store.slots; s++) {
      const v = new Int32Array(col.lists?.lengthOf(s) ?? 0);
      col.lists?.copyTo(s, v, null, 0, null);
      out.push(Array.from(v));
    }
    return out;
  }

  it('codes, statuses, vocabularies and duplicate counts match those of the split values', () => {
    const split = load(false);
    const piped = load(true);
    expect(lists(piped)).toEqual(lists(split));
    expect([...piped.columns[1].vocab?.keys() ?? []]).toEqual([...split.columns[1].vocab?.keys() ?? []]);
    expect(Array.from(piped.columns[1].status.a.subarray(0, piped.slots))).toEqual(Array.from(split.columns[1].status.a.subarray(0, split.slots)));
    expect(Array.from(piped.columns[0].codes?.a.subarray(0, piped.slots) ?? [])).toEqual(Array.from(split.columns[0].codes?.a.subarray(0, split.slots) ?? []));
    expect([...piped.columns[0].vocab?.keys() ?? []]).toEqual(['Acme', 'Zed', 'x']);
    expect([...piped.columns[1].vocab?.keys() ?? []]).toEqual(['Home', 'Kitchen', 'Pans', 'Garden', 'Tools', 'café', '日本', 'a', 'b']);
    expect(lists(piped)[5]).toEqual([4, 5, 6]);
    // a and c repeat as they were; b's second row differs (no leading space on its first part).
    expect([piped.duplicates, piped.conflicting]).toEqual([3, 1]);
    expect([split.duplicates, split.conflicting]).toEqual([3, 1]);
  });

  it('gives the same codes past the fields it remembers (65,536 distinct, then read part by part)', () => {
    const piped = new CatalogueStore(features);
    const split = new CatalogueStore(features);
    for (let i = 0; i < 70_000; i++) {
      // Distinct fields, each also seen again once the store has stopped remembering them, and a blank one.
      const cats = i % 1000 === 999 ? ' | ' : i >= 68_000 ? `t${i - 68_000}|shared|t${i % 7}` : `t${i}|shared|t${i % 7}`;
      piped.add(`k${i}`, ['b', cats], true);
      split.add(`k${i}`, ['b', cats.split('|')], false);
    }
    expect(lists(piped)).toEqual(lists(split));
    expect(Array.from(piped.columns[1].status.a.subarray(0, piped.slots))).toEqual(Array.from(split.columns[1].status.a.subarray(0, split.slots)));
    expect([...piped.columns[1].vocab?.keys() ?? []]).toEqual([...split.columns[1].vocab?.keys() ?? []]);
  });

  it('tells a one-value list from the joined string only in the multi column', () => {
    const store = new CatalogueStore(features);
    store.add('k', ['A|B', 'x|y'], true);
    store.add('k', ['A|B', ['x', 'y']], false);
    expect(store.conflicting).toBe(0);
    store.add('k', ['A|B', 'x|y'], false);
    expect(store.conflicting).toBe(1);
  });
});
