import { describe, expect, it } from 'vitest';
import { KeyTable } from '../../../../src/data/prep/key-table.js';
import { keyHash, keyHashRange } from '../../../../src/data/prep/string-hash.js';
import { Prng } from '../../../../src/util/prng.js';

describe('KeyTable', () => {
  it('numbers strings in order of first appearance and finds them again', () => {
    const t = new KeyTable();
    expect(t.intern('b')).toBe(0);
    expect(t.intern('a')).toBe(1);
    expect(t.intern('b')).toBe(0);
    expect(t.intern('')).toBe(2);
    expect(t.size).toBe(3);
    expect(t.indexOf('a')).toBe(1);
    expect(t.indexOf('c')).toBe(-1);
    expect(t.get('')).toBe(2);
    expect(t.get('c')).toBeUndefined();
    expect(t.has('b')).toBe(true);
    expect(t.values).toEqual(['b', 'a', '']);
    expect([...t.keys()]).toEqual(['b', 'a', '']);
    expect([...t]).toEqual([['b', 0], ['a', 1], ['', 2]]);
  });

  it('agrees with a Map through many doublings, on similar ids and on non-ASCII strings', () => {
    const rng = Prng.fromSeed(21, 'key-table');
    const t = new KeyTable();
    const m = new Map<string, number>();
    const alphabet = ['a', 'Z', '0', '9', 'é', '手', '\ud83d\ude00', ' '];
    for (let i = 0; i < 20_000; i++) {
      const s =
        i % 3 === 0
          ? `P${String(Math.floor(rng.next() * 12_000)).padStart(8, '0')}`
          : Array.from({ length: Math.floor(rng.next() * 4) }, () => alphabet[Math.floor(rng.next() * alphabet.length)]).join('');
      const before = t.size;
      const k = t.intern(s);
      if (!m.has(s)) {
        expect(k).toBe(before);
        m.set(s, m.size);
      }
      expect(k).toBe(m.get(s));
    }
    expect(t.size).toBe(m.size);
    for (const [s, k] of m) expect(t.indexOf(s)).toBe(k);
    expect(t.indexOf('not there')).toBe(-1);
    expect([...t]).toEqual([...m]);
  });

  it('keeps strings that share a hash apart', () => {
    // Two strings of one 32-bit hash (found by search, a birthday collision among a few hundred thousand): the table
    // must compare the strings, not only the hashes.
    const byHash = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; pair === null && i < 1_000_000; i++) {
      const s = `k${i}`;
      const h = keyHash(s);
      const other = byHash.get(h);
      if (other !== undefined) pair = [other, s];
      else byHash.set(h, s);
    }
    expect(pair).not.toBeNull();
    const [a, b] = pair as [string, string];
    const t = new KeyTable();
    expect(t.intern(a)).toBe(0);
    expect(t.intern(b)).toBe(1);
    expect(t.indexOf(a)).toBe(0);
    expect(t.indexOf(b)).toBe(1);
  });

  it('interns a range of a string as the slice would be, slicing only new ones', () => {
    const t = new KeyTable();
    const line = 'Home|Kitchen|日本|Home|Kitch';
    expect(t.internRange(line, 0, 4)).toBe(0);
    expect(t.internRange(line, 5, 12)).toBe(1);
    expect(t.internRange(line, 13, 15)).toBe(2);
    expect(t.internRange(line, 16, 20)).toBe(0);
    // A prefix of a known value is a value of its own.
    expect(t.internRange(line, 21, 26)).toBe(3);
    expect(t.intern('日本')).toBe(2);
    expect(t.intern('Kitchen')).toBe(1);
    expect([...t.keys()]).toEqual(['Home', 'Kitchen', '日本', 'Kitch']);
    expect(keyHashRange(line, 13, 15)).toBe(keyHash('日本'));
    expect(t.internRange(line, 4, 4)).toBe(t.intern(''));
  });

  it('hashes to a 32-bit integer that depends on every unit', () => {
    expect(Number.isInteger(keyHash('abc'))).toBe(true);
    expect(keyHash('abc')).toBe(keyHash('abc'));
    expect(keyHash('abc')).not.toBe(keyHash('abd'));
    expect(keyHash('P00000001')).not.toBe(keyHash('P00000002'));
    expect(keyHash('')).toBe(keyHash(''));
  });
});
