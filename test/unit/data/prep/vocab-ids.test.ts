import { describe, expect, it } from 'vitest';
import { utf8Data } from '../../../../src/data/prep/arrow-write.js';
import { VocabIds } from '../../../../src/data/prep/vocab-ids.js';
import { IdVocab } from '../../../../src/data/prep/vocab.js';

const bytesOf = (d: ReturnType<typeof utf8Data>): { offsets: number[]; data: number[] } => ({
  offsets: Array.from(d.valueOffsets),
  data: Array.from(d.values),
});

function vocabOf(ids: readonly string[]): IdVocab {
  const v = new IdVocab();
  const enc = new TextEncoder();
  ids.forEach((id, k) => (k % 2 === 0 ? v.internString(id) : v.internBytes(enc.encode(id), 0, enc.encode(id).length)));
  return v;
}

describe('VocabIds', () => {
  const ids = ['u7', '42', 'käse', '用户', '007', 'x'.repeat(300), '😀', '7'];
  const order = Int32Array.from([5, 2, 0, 7, 3, 1, 6, 4]);

  it('writes the id column from the table bytes exactly as from the ids strings', () => {
    const table = vocabOf(ids);
    const v = new VocabIds(table, order);
    const strings = Array.from(order, (k) => ids[k]);
    expect(v.length).toBe(8);
    expect(bytesOf(v.utf8(0, 8))).toEqual(bytesOf(utf8Data(strings)));
    expect(bytesOf(v.utf8(3, 4))).toEqual(bytesOf(utf8Data(strings.slice(3, 7))));
    expect(v.ids).toEqual(strings);
  });

  it('writes an id holding a lone surrogate as its string is written (U+FFFD), from the strings', () => {
    const table = new IdVocab();
    // As a JS string (JSON, a quoted field), kept in the table as generalised UTF-8.
    for (const id of ['a', 'b\ud800c', 'd']) table.internString(id);
    const v = new VocabIds(table, Int32Array.from([1, 0, 2]));
    expect(bytesOf(v.utf8(0, 3))).toEqual(bytesOf(utf8Data(['b\ud800c', 'a', 'd'])));
    expect(Array.from(v.utf8(0, 1).values.subarray(1, 4))).toEqual([0xef, 0xbf, 0xbd]);
  });

  it('writes the strings once they were asked for, with the ids a caller appended, and takes given strings as they are', () => {
    const v = new VocabIds(vocabOf(ids), order.subarray(0, 2));
    v.ids.push('catalogue-only');
    expect(v.length).toBe(3);
    expect(bytesOf(v.utf8(0, 3))).toEqual(bytesOf(utf8Data([ids[5], ids[2], 'catalogue-only'])));
    const given = new VocabIds(vocabOf(ids), order.subarray(0, 2), ['h1', 'h2']);
    expect(bytesOf(given.utf8(0, 2))).toEqual(bytesOf(utf8Data(['h1', 'h2'])));
  });
});
