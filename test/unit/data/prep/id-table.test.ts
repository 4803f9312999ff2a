import { describe, expect, it } from 'vitest';
import { IdTable } from '../../../../src/data/prep/id-table.js';
import { hashBytes } from '../../../../src/data/prep/string-hash.js';
import { IdVocab } from '../../../../src/data/prep/vocab.js';
import { Prng } from '../../../../src/util/prng.js';

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Interns every id through both paths (text and bytes) and checks them against a Map. */
function checkAgainstMap(ids: readonly string[]): IdTable {
  const table = new IdTable();
  const ref = new Map<string, number>();
  // Mismatches collected, not one expect per id (thousands of expects are slow).
  const wrong: string[] = [];
  for (const [k, id] of ids.entries()) {
    const want = ref.get(id) ?? ref.size;
    ref.set(id, want);
    const got = k % 2 === 0 ? table.internText(id) : table.internBytes(Buffer.concat([utf8('xx'), utf8(id)]), 2, 2 + Buffer.byteLength(id));
    if (got !== want) wrong.push(`${id}: ${got} ≠ ${want}`);
  }
  expect(table.size).toBe(ref.size);
  for (const [id, k] of ref) {
    if (table.textAt(k) !== id) wrong.push(`text of ${k}`);
    if (table.internText(id) !== k || table.internBytes(utf8(id), 0, Buffer.byteLength(id)) !== k) wrong.push(`again ${id}`);
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  return table;
}

describe('IdTable', () => {
  it('gives dense indices in order of first appearance, the same from text and from bytes', () => {
    const table = new IdTable();
    expect(table.internText('u1')).toBe(0);
    expect(table.internBytes(utf8('u2'), 0, 2)).toBe(1);
    expect(table.internBytes(utf8('u1'), 0, 2)).toBe(0);
    expect(table.internText('u2')).toBe(1);
    expect(table.internText('')).toBe(2);
    expect(table.textAt(2)).toBe('');
    expect(table.size).toBe(3);
  });

  it('keeps ids apart whose hashes collide (all probing through one chain)', () => {
    // Ids chosen so their hashes share the low bits of the first table: they land in one run of slots.
    const table = new IdTable();
    const target = hashBytes(utf8('seed'), 0, 4) & 511;
    const colliding: string[] = [];
    for (let i = 0; colliding.length < 40; i++) {
      const id = `c${i}`;
      if ((hashBytes(utf8(id), 0, id.length) & 511) === target) colliding.push(id);
    }
    for (const [k, id] of colliding.entries()) expect(table.internText(id)).toBe(k);
    for (const [k, id] of colliding.entries()) expect(table.internBytes(utf8(id), 0, id.length)).toBe(k);
    expect(colliding.map((_, k) => table.textAt(k))).toEqual(colliding);
  });

  it('grows its table, arena and index arrays without losing an id (30K ids, repeats mixed in)', () => {
    const rng = Prng.fromSeed(23, 'id-table');
    const ids: string[] = [];
    for (let i = 0; i < 45_000; i++) ids.push(`id-${Math.floor(rng.next() * 30_000)}-${'x'.repeat(i % 7)}`);
    const table = checkAgainstMap(ids);
    expect(table.size).toBeGreaterThan(25_000);
  });

  it('keys unicode ids by their UTF-8 bytes; a lone surrogate stays its own id', () => {
    const ids = ['é', 'e\u0301', '日本', '😀', 'a😀b', '\ud83d', '\ude00', '\ufffd', 'x\ud800y', 'x\ufffdy', 'é'];
    const table = checkAgainstMap(ids.filter((s) => !/[\ud800-\udfff]/u.test(s)));
    // A lone surrogate has no UTF-8 form: text only, and never merged with U+FFFD.
    const lone = new IdTable();
    const a = lone.internText('\ud83d');
    const b = lone.internText('\ufffd');
    const c = lone.internText('x\ud800y');
    expect(new Set([a, b, c]).size).toBe(3);
    expect(lone.textAt(a)).toBe('\ud83d');
    expect(lone.textAt(c)).toBe('x\ud800y');
    expect(lone.internText('\ud83d\ude00')).toBe(3);
    expect(table.internText('😀')).toBe(3);
  });

  it('keeps the text of unindexed ids, and refuses new ids once frozen', () => {
    const table = new IdTable();
    expect(table.addUnindexed('42')).toBe(0);
    expect(table.internText('a')).toBe(1);
    expect(table.textAt(0)).toBe('42');
    table.freeze();
    expect(table.textAt(1)).toBe('a');
    expect(() => table.internText('b')).toThrow(/after it was frozen/);
    expect(() => table.internBytes(utf8('a'), 0, 1)).toThrow(/after it was frozen/);
  });
});

describe('IdVocab', () => {
  it('gives one index to an integer id whatever its source type, and keeps 007 apart from 7', () => {
    const v = new IdVocab();
    expect(v.internString('7')).toBe(0);
    expect(v.internInteger(7)).toBe(0);
    expect(v.internBytes(utf8('7'), 0, 1)).toBe(0);
    expect(v.internString('007')).toBe(1);
    // Past the flat table (2^23), past 1e15 and past 2^53 (a bigint's decimal text).
    expect(v.internInteger(9_000_000)).toBe(2);
    expect(v.internString('9000000')).toBe(2);
    expect(v.internInteger(123_456_789_012_345)).toBe(3);
    expect(v.internBytes(utf8('123456789012345'), 0, 15)).toBe(3);
    expect(v.internInteger(1e15)).toBe(4);
    expect(v.internString('1000000000000000')).toBe(4);
    expect(v.internString('9007199254740993')).toBe(5);
    expect(v.internString('9007199254740992')).toBe(6);
    expect(v.internInteger(-5)).toBe(7);
    expect(v.internString('-5')).toBe(7);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((k) => v.idAt(k))).toEqual(['7', '007', '9000000', '123456789012345', '1000000000000000', '9007199254740993', '9007199254740992', '-5']);
    v.freeze();
    expect(v.idAt(5)).toBe('9007199254740993');
    expect(() => v.internInteger(8)).toThrow(/after it was frozen/);
  });
});
