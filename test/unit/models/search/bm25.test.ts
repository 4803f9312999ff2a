/**
 * BM25F against hand-computed scores: each expected value is written as the arithmetic of the formula in
 * src/models/search/bm25.ts (idf = ln(1 + (N − df + 0.5)/(df + 0.5)), B = 1 − b + b·len/avglen, tf̃ = Σ w·tf/B,
 * score = Σ idf·tf̃/(k1 + tf̃)). Postings are stored as float32, hence 6 digits.
 */
import { describe, expect, it } from 'vitest';
import { BM25_FORMAT_VERSION, Bm25Index, bm25Idf, bm25Terms, type Bm25Field } from '../../../../src/models/search/bm25.js';
import { textTokens } from '../../../../src/data/text.js';
import { DataError } from '../../../../src/util/errors.js';
import { Prng } from '../../../../src/util/prng.js';

const ln = Math.log;

/** Corpus A: one field; d0 = a b a (len 3), d1 = b c (len 2), d2 = c (len 1); N = 3, avglen = 6/3 = 2. */
const corpusA: Bm25Field[] = [{ name: 'title', terms: [['a', 'b', 'a'], ['b', 'c'], ['c']] }];

function scores(index: Bm25Index, query: string[]): number[] {
  return Array.from(index.score(query, new Float32Array(index.info.items)));
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 6);
}

describe('Bm25Index: hand-computed scores', () => {
  const index = Bm25Index.build(corpusA);
  // df(a) = 1, df(b) = 2, df(c) = 2.
  const idfA = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)); // ln(8/3) = 0.980829
  const idfB = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)); // ln(1.6) = 0.470004
  // B(d0) = 0.25 + 0.75·3/2 = 1.375; B(d1) = 0.25 + 0.75·2/2 = 1; B(d2) = 0.25 + 0.75·1/2 = 0.625.

  it('uses the defaults k1 = 1.2, b = 0.75 and Lucene idf', () => {
    expect(index.info).toMatchObject({ k1: 1.2, b: 0.75, items: 3, terms: 3, postings: 5 });
    expect(index.info.fields).toEqual([{ name: 'title', weight: 1, b: 0.75, avgLength: 2 }]);
    expect(bm25Idf(3, 1)).toBeCloseTo(0.980829, 6);
    expect(index.df('a')).toBe(1);
    expect(index.df('b')).toBe(2);
  });

  it('scores a one-term query', () => {
    // d0: tf = 2, tf̃ = 2/1.375 = 16/11; score = ln(8/3)·(16/11)/(1.2 + 16/11) = 0.980829·0.547945 = 0.537441
    expectClose(scores(index, ['a']), [(idfA * (16 / 11)) / (1.2 + 16 / 11), 0, 0]);
    expect(scores(index, ['a'])[0]).toBeCloseTo(0.537441, 6);
  });

  it('sums over the query terms', () => {
    // d0: b once, tf̃ = 1/1.375 = 8/11;  d1: b and c once, tf̃ = 1/1 each;  d2: c once, tf̃ = 1/0.625 = 1.6
    const d0 = (idfB * (8 / 11)) / (1.2 + 8 / 11);
    const d1 = 2 * ((idfB * 1) / (1.2 + 1));
    const d2 = (idfB * 1.6) / (1.2 + 1.6);
    expectClose(scores(index, ['b', 'c']), [d0, d1, d2]);
  });

  it('counts a repeated query term once', () => {
    expect(scores(index, ['b', 'b', 'c', 'b'])).toEqual(scores(index, ['b', 'c']));
  });

  it('gives zeros for an empty query and for a term no item has', () => {
    const out = new Float32Array(3).fill(7);
    expect(Array.from(index.score([], out))).toEqual([0, 0, 0]);
    expect(scores(index, ['zzz'])).toEqual([0, 0, 0]);
    expect(index.df('zzz')).toBe(0);
    // An unknown term beside a known one adds nothing.
    expect(scores(index, ['zzz', 'a'])).toEqual(scores(index, ['a']));
  });

  it('k1 = 0 counts each present term its idf, whatever its frequency', () => {
    const binary = Bm25Index.build(corpusA, { k1: 0 });
    expectClose(scores(binary, ['a', 'b']), [idfA + idfB, idfB, 0]);
  });

  it('b = 0 switches length normalisation off', () => {
    const flat = Bm25Index.build(corpusA, { b: 0 });
    // d0: tf = 2, B = 1: ln(8/3)·2/3.2;  c: tf = 1 in d1 and d2, equal scores despite different lengths
    expectClose(scores(flat, ['a']), [(idfA * 2) / 3.2, 0, 0]);
    expectClose(scores(flat, ['c']), [0, idfB / 2.2, idfB / 2.2]);
  });

  it('b = 1 normalises fully by length', () => {
    const full = Bm25Index.build(corpusA, { b: 1 });
    // B(d2) = 1/2 = 0.5, tf̃ = 2; B(d1) = 1, tf̃ = 1
    expectClose(scores(full, ['c']), [0, idfB / 2.2, (idfB * 2) / 3.2]);
  });
});

describe('Bm25Index: fields (BM25F)', () => {
  // title (w 2, b 0.75): d0 = x y, d1 = y, d2 = none; avglen = 3/3 = 1
  // brand (w 1, b 0):    d0 = none, d1 = x, d2 = x;   avglen = 2/3 (unused with b = 0)
  const fields: Bm25Field[] = [
    { name: 'title', weight: 2, terms: [['x', 'y'], ['y'], null] },
    { name: 'brand', weight: 1, b: 0, terms: [undefined, ['x'], ['x']] },
  ];
  const index = Bm25Index.build(fields);
  const idfX = ln(1 + (3 - 3 + 0.5) / (3 + 0.5)); // df(x) = 3 over both fields: ln(8/7)
  const idfY = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)); // ln(1.6)

  it('records each field', () => {
    expect(index.info.fields).toEqual([
      { name: 'title', weight: 2, b: 0.75, avgLength: 1 },
      { name: 'brand', weight: 1, b: 0, avgLength: 2 / 3 },
    ]);
  });

  it('weights and normalises each field on its own', () => {
    // x: d0 title, B = 0.25 + 0.75·2/1 = 1.75, tf̃ = 2·1/1.75 = 8/7; d1, d2 brand, B = 1, tf̃ = 1
    expectClose(scores(index, ['x']), [(idfX * (8 / 7)) / (1.2 + 8 / 7), idfX / 2.2, idfX / 2.2]);
    // y: d0 tf̃ = 8/7; d1 title, B = 0.25 + 0.75·1/1 = 1, tf̃ = 2·1/1 = 2
    expectClose(scores(index, ['y']), [(idfY * (8 / 7)) / (1.2 + 8 / 7), (idfY * 2) / 3.2, 0]);
  });

  it('adds the fields before saturating: a term in two fields of one item is not two independent matches', () => {
    // Both items: one field each, len 1 (avglen 1 in title, 1 in brand): d0 has z in both, d1 in neither.
    const both = Bm25Index.build([
      { name: 'title', terms: [['z'], ['q']] },
      { name: 'brand', terms: [['z'], ['q']] },
    ]);
    const idf = ln(1 + (2 - 1 + 0.5) / (1 + 0.5)); // ln 2
    // tf̃ = 1/1 + 1/1 = 2; score = ln2·2/3.2, less than two saturated matches 2·ln2/2.2
    expectClose(scores(both, ['z']), [(idf * 2) / 3.2, 0]);
    expect(scores(both, ['z'])[0]).toBeLessThan((2 * idf) / 2.2);
  });

  it('a weight of 0 makes a field count for nothing but its df', () => {
    const muted = Bm25Index.build([fields[0], { ...fields[1], weight: 0 }]);
    // x is then only in d0's title; df(x) counts items with a positive tf̃ only: 1
    expectClose(scores(muted, ['x']), [(ln(1 + 2.5 / 1.5) * (8 / 7)) / (1.2 + 8 / 7), 0, 0]);
  });

  it('refuses fields of different lengths, duplicate names and bad parameters', () => {
    expect(() => Bm25Index.build([])).toThrow(/at least one field/);
    expect(() => Bm25Index.build([fields[0], { name: 'brand', terms: [['x']] }])).toThrow(/"brand" has 1 items; "title" has 3/);
    expect(() => Bm25Index.build([fields[0], { ...fields[0] }])).toThrow(/given twice/);
    expect(() => Bm25Index.build(corpusA, { k1: -1 })).toThrow(/k1 must be a finite number/);
    expect(() => Bm25Index.build(corpusA, { b: 1.5 })).toThrow(/b must be a finite number in \[0, 1\]/);
    expect(() => Bm25Index.build([{ ...corpusA[0], weight: Number.NaN }])).toThrow(/weight of field "title"/);
  });

  it('indexes an empty catalogue and items without any text', () => {
    const empty = Bm25Index.build([{ name: 'title', terms: [] }]);
    expect(empty.score(['a'], new Float32Array(0))).toHaveLength(0);
    const blank = Bm25Index.build([{ name: 'title', terms: [[], null] }]);
    expect(scores(blank, ['a'])).toEqual([0, 0]);
  });
});

/** The formula of the module comment written out directly, in float64, for random corpora. */
function reference(fields: readonly Bm25Field[], k1: number, b: number, query: readonly string[]): number[] {
  const n = fields[0].terms.length;
  const avg = fields.map((f) => f.terms.reduce((s, t) => s + (t?.length ?? 0), 0) / n);
  const tf = (d: number, term: string): number =>
    fields.reduce((s, f, i) => {
      const terms = f.terms[d] ?? [];
      const count = terms.filter((t) => t === term).length;
      const fb = f.b ?? b;
      return count === 0 ? s : s + ((f.weight ?? 1) * count) / (1 - fb + (fb * terms.length) / avg[i]);
    }, 0);
  const out = new Array<number>(n).fill(0);
  for (const term of new Set(query)) {
    const tfs = Array.from({ length: n }, (_, d) => tf(d, term));
    const df = tfs.filter((x) => x > 0).length;
    for (let d = 0; d < n; d++) if (tfs[d] > 0) out[d] += (bm25Idf(n, df) * tfs[d]) / (k1 + tfs[d]);
  }
  return out;
}

function randomFields(rng: Prng, items: number): Bm25Field[] {
  const word = () => `t${Math.floor(rng.next() * 30)}`;
  const list = (max: number) => (rng.next() < 0.1 ? null : Array.from({ length: Math.floor(rng.next() * max) }, word));
  return [
    { name: 'title', weight: 1.5, terms: Array.from({ length: items }, () => list(12)) },
    { name: 'brand', weight: 0.5, b: 0.2, terms: Array.from({ length: items }, () => list(3)) },
  ];
}

describe('Bm25Index: against the formula on random corpora', () => {
  it('score and scoreItems agree with a direct float64 evaluation', () => {
    const rng = Prng.fromSeed(3, 'bm25.test');
    for (const [k1, b] of [[1.2, 0.75], [0, 0], [2, 1]]) {
      const fields = randomFields(rng, 60);
      const index = Bm25Index.build(fields, { k1, b });
      for (let q = 0; q < 10; q++) {
        const query = Array.from({ length: 1 + Math.floor(rng.next() * 5) }, () => `t${Math.floor(rng.next() * 35)}`);
        const expected = reference(fields, k1, b, query);
        expectClose(scores(index, query), expected);
        const items = Int32Array.from([59, 0, 7, 7, 31]);
        expectClose(index.scoreItems(query, items, new Float32Array(5)), Array.from(items, (d) => expected[d]));
      }
    }
  });

  it('scoreItems refuses an item index outside the catalogue and a short output', () => {
    const index = Bm25Index.build(corpusA);
    expect(() => index.scoreItems(['a'], Int32Array.from([3]), new Float32Array(1))).toThrow(/items\[0\] = 3 is not an item index in \[0, 3\)/);
    expect(() => index.scoreItems(['a'], Int32Array.from([0, 1]), new Float32Array(1))).toThrow(/out holds 1 scores for 2 items/);
    expect(() => index.score(['a'], new Float32Array(2))).toThrow(/the index has 3 items/);
  });
});

describe('Bm25Index: bytes', () => {
  const rng = Prng.fromSeed(4, 'bm25.bytes');
  const fields = randomFields(rng, 40);
  fields[0] = { ...fields[0], terms: fields[0].terms.map((t, i) => (i === 3 ? ['苹果', 'café', '🙂', ...(t ?? [])] : t)) };
  const index = Bm25Index.build(fields, { k1: 0.9, b: 0.6 });
  const bytes = index.toBytes();

  it('round-trips exactly: same info, same scores, same bytes', () => {
    const back = Bm25Index.fromBytes(bytes);
    expect(back.info).toEqual(index.info);
    for (const query of [['t1', 't2'], ['苹果', 'café'], ['🙂'], [], ['nope']]) {
      expect(scores(back, query)).toEqual(scores(index, query));
    }
    expect(back.toBytes()).toEqual(bytes);
    expect(bytes.length % 4).toBe(0);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(BM25_FORMAT_VERSION);
  });

  it('reads a block at an unaligned offset of a larger buffer (a Node Buffer slice)', () => {
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 1);
    const back = Bm25Index.fromBytes(big.subarray(1, 1 + bytes.length));
    expect(scores(back, ['t5'])).toEqual(scores(index, ['t5']));
  });

  it('reads a Node Buffer, as readFileSync returns, at an offset of a larger pool', () => {
    const pool = Buffer.alloc(bytes.length + 8);
    pool.set(bytes, 5);
    const back = Bm25Index.fromBytes(pool.subarray(5, 5 + bytes.length));
    expect(back.info).toEqual(index.info);
    expect(scores(back, ['t5', '苹果'])).toEqual(scores(index, ['t5', '苹果']));
    expect(back.toBytes()).toEqual(bytes);
  });

  it('reads an index of integer terms (hashed buckets) by number, with the same scores, df and bytes', () => {
    // Terms like the search models' buckets, plus 0 and int32's largest; "007" and "-5" are never such terms.
    const numeric = Bm25Index.build([{ name: 'text', terms: fields[0].terms.map((t, i) => [...(t ?? []).map((x) => String(x.length * 1000 + i)), ...(i % 5 === 0 ? ['0', '2147483647', '7'] : [])]) }]);
    const nb = numeric.toBytes();
    const back = Bm25Index.fromBytes(nb);
    for (const query of [['7', '2000', '3001'], ['0'], ['2147483647', '7'], ['007', '-7', '7.0', ' 7', '2147483648'], []]) {
      expect(scores(back, query), query.join(',')).toEqual(scores(numeric, query));
      for (const term of query) expect(back.df(term), term).toBe(numeric.df(term));
    }
    expect(back.df('007')).toBe(0);
    expect(back.df('7')).toBeGreaterThan(0);
    expect(back.toBytes()).toEqual(nb);
    // Terms below 2^22 are read through a direct table, larger ones by binary search: both give the same lookups.
    const small = Bm25Index.build([{ name: 'text', terms: [['4194303', '0', '17'], ['17', '5'], ['5', '5']] }]);
    const smallBack = Bm25Index.fromBytes(small.toBytes());
    for (const q of [['4194303'], ['0', '5'], ['17'], ['4194304'], ['05']]) expect(scores(smallBack, q), q.join(',')).toEqual(scores(small, q));
    // A term list with one non-integer term is read as strings, as before.
    const mixed = Bm25Index.build([{ name: 'text', terms: [['12', 'x'], ['12']] }]);
    expect(scores(Bm25Index.fromBytes(mixed.toBytes()), ['12', 'x'])).toEqual(scores(mixed, ['12', 'x']));
  });

  it('refuses a truncated, extended, foreign or newer block with a DataError naming the source', () => {
    expect(() => Bm25Index.fromBytes(bytes.subarray(0, bytes.length - 4), 'ckpt/bm25.bin')).toThrow(DataError);
    expect(() => Bm25Index.fromBytes(bytes.subarray(0, bytes.length - 4), 'ckpt/bm25.bin')).toThrow(/ckpt\/bm25.bin: .*should be \d+ bytes long; it is \d+/);
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(() => Bm25Index.fromBytes(longer)).toThrow(/truncated or damaged/);
    expect(() => Bm25Index.fromBytes(new TextEncoder().encode('{"not":"an index"}'))).toThrow(/does not start with RECBM25/);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, BM25_FORMAT_VERSION + 1, true);
    expect(() => Bm25Index.fromBytes(newer)).toThrow(/format version 2; this rec reads version 1/);
    expect(() => Bm25Index.fromBytes(new Uint8Array(0))).toThrow(DataError);
  });

  it('refuses a header without the parameters', () => {
    const header = new TextEncoder().encode(JSON.stringify({ items: 0, terms: 0, postings: 0, termBytes: 0, totalBytes: 128 }));
    const block = new Uint8Array(128);
    block.set(new TextEncoder().encode('RECBM25\0'));
    new DataView(block.buffer).setUint32(8, BM25_FORMAT_VERSION, true);
    new DataView(block.buffer).setUint32(12, header.length, true);
    block.set(header, 16);
    expect(() => Bm25Index.fromBytes(block, 'x.bin')).toThrow(/x.bin: .*lacks k1, b or fields/);
  });

  it('refuses damaged offsets and posting items', () => {
    const damaged = bytes.slice();
    // The last 4·postings bytes are the contributions; before them the items: make the first item out of range.
    const itemsAt = bytes.length - 8 * index.info.postings;
    new DataView(damaged.buffer).setInt32(itemsAt, 1000, true);
    expect(() => Bm25Index.fromBytes(damaged)).toThrow(/posting 0 names item 1000 of 40/);
  });
});

describe('bm25Terms: the featuriser as BM25 terms', () => {
  it('keeps all of textTokens by default and filters by kind', () => {
    expect(bm25Terms('Cordless Drill')).toEqual(textTokens('Cordless Drill'));
    expect(bm25Terms('Cordless Drill', ['w'])).toEqual(['w:cordless', 'w:drill']);
    expect(bm25Terms('usb-c hub', ['b'])).toEqual(['b:usb c', 'b:c hub']);
    expect(bm25Terms('ab', ['t'])).toEqual(['t:#ab', 't:ab#']);
    expect(bm25Terms('', ['w', 'b', 't'])).toEqual([]);
  });

  const titles = ['Ryobi 18V Cordless Drill', '苹果手机壳 透明', 'iPhone 15 手机壳 (clear)', 'Garden Hose 50 ft.'];
  const index = Bm25Index.build([{ name: 'title', terms: titles.map((t) => bm25Terms(t)) }]);
  const best = (query: string): number => {
    const s = scores(index, bm25Terms(query));
    return s.indexOf(Math.max(...s));
  };

  it('finds Latin, Chinese and mixed titles, and a misspelt word through its trigrams', () => {
    expect(best('cordless drill')).toBe(0);
    expect(best('cordles dril')).toBe(0); // no word matches; trigrams do
    expect(scores(index, bm25Terms('cordles dril', ['w']))).toEqual([0, 0, 0, 0]);
    expect(best('透明 手机壳')).toBe(1);
    expect(best('iphone 手机壳')).toBe(2);
    expect(best('HOSE')).toBe(3);
  });

  it('scores nothing for a query of emoji or punctuation only', () => {
    expect(scores(index, bm25Terms('🙂 !!! ...'))).toEqual([0, 0, 0, 0]);
  });
});
