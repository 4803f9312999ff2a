import { describe, expect, it } from 'vitest';
import { TextLists, textPacking } from '../../../../src/data/prep/catalogue-store.js';
import { featurizeBatch } from '../../../../src/data/prep/text-batch.js';
import { TextFeaturizer } from '../../../../src/data/text.js';

function listsOf(lists: TextLists, n: number): { values: number[]; counts: number[] }[] {
  const out: { values: number[]; counts: number[] }[] = [];
  for (let s = 0; s < n; s++) {
    const values = new Int32Array(lists.lengthOf(s));
    const counts = new Int32Array(values.length);
    lists.copyTo(s, values, counts, 0);
    out.push({ values: Array.from(values), counts: Array.from(counts) });
  }
  return out;
}

/** The lists of `texts` stored from a batch's reply (as text-queue.ts does) and straight from the featuriser. */
function bothWays(texts: string[], numBuckets: number): { batched: ReturnType<typeof listsOf>; direct: ReturnType<typeof listsOf>; lens: number[]; maxCount: number; bounds: number[] } {
  const f = new TextFeaturizer({ numBuckets });
  const ends = new Int32Array(texts.length);
  let at = 0;
  texts.forEach((t, i) => (ends[i] = at += t.length));
  const { lens, packed, maxCount } = featurizeBatch(f, texts.join(''), ends, textPacking(numBuckets));
  const batched = new TextLists(numBuckets);
  let from = 0;
  for (const len of lens) {
    if (len >= 0) batched.pushPacked(packed, from, len, maxCount);
    else batched.push(packed.subarray(from, from - len), packed.subarray(from - len, from - 2 * len), -len);
    from += len >= 0 ? len : -2 * len;
  }
  expect(from).toBe(packed.length);
  const direct = new TextLists(numBuckets);
  for (const t of texts) {
    const n = f.featurizeInto(t);
    direct.push(f.lastBuckets, f.lastCounts, n);
  }
  return { batched: listsOf(batched, texts.length), direct: listsOf(direct, texts.length), lens: Array.from(lens), maxCount, bounds: [batched.countBound, direct.countBound] };
}

describe('featurizeBatch', () => {
  const texts = ['USB-C cable 2m', '', '🎉🎉', 'a'.repeat(300), 'Café <b>crème</b> &amp; 苹果手机壳', 'x', 'a'.repeat(300) + ' b'];

  it('gives the lists the featuriser gives, packed as TextLists packs them', () => {
    const { batched, direct, lens } = bothWays(texts, 1 << 18);
    expect(batched).toEqual(direct);
    expect(lens.every((l) => l >= 0)).toBe(true);
    expect(lens[1]).toBe(0);
    expect(lens[2]).toBe(0);
  });

  it('gives the largest count of its packed lists, which bounds the counts TextLists holds', () => {
    const largest = (lists: { counts: number[] }[]): number => Math.max(0, ...lists.flatMap((l) => l.counts));
    const titles = bothWays(['USB-C cable 2m', 'x', ''], 1 << 18);
    expect(titles.maxCount).toBe(largest(titles.direct));
    expect(titles.maxCount).toBeLessThanOrEqual(0xff);
    // 'a' × 300: the trigram aaa 298 times, packed at 2^18 buckets, unpacked at 2^24 (past 255).
    const long = bothWays(texts, 1 << 18);
    expect(long.maxCount).toBe(298);
    expect(long.bounds).toEqual([298, 298]);
    const wide = bothWays(texts, 1 << 24);
    expect(wide.maxCount).toBeLessThanOrEqual(0xff);
    expect(wide.bounds).toEqual([298, 298]);
  });

  it('sends a list with a count past the packed range unpacked (2^24 buckets leave counts up to 255)', () => {
    const { batched, direct, lens } = bothWays(texts, 1 << 24);
    expect(batched).toEqual(direct);
    expect(lens[3]).toBeLessThan(0);
    expect(lens[6]).toBeLessThan(0);
    expect(lens[0]).toBeGreaterThan(0);
  });

  it('sends every non-empty list unpacked when no bits are left for counts (2^30 buckets)', () => {
    const { batched, direct, lens } = bothWays(texts, 1 << 30);
    expect(batched).toEqual(direct);
    expect(lens.filter((l) => l > 0)).toEqual([]);
  });
});
