/**
 * Strings numbered in order of first appearance, looked up through an open-addressing table of typed arrays
 * (issue #21: a catalogue's item keys and its category and multi values, a million lookups or more per prep). A
 * `Map<string, number>` hashes each freshly read string in the engine's runtime and compares it in a builtin call
 * on every probe, and at a million keys its backing store is copied at each doubling; here the hash is a loop over
 * the string's UTF-16 units that the JIT inlines, the table holds int32 indices (half full at most, linear probing),
 * each beside its string's full 32-bit hash, so a string is compared only where the hashes agree.
 *
 * The hash (string-hash.ts) is fixed, so strings built to collide could make lookups slow; never wrong.
 */
import { keyHash, keyHashRange } from './string-hash.js';

const EMPTY = -1;

export class KeyTable {
  /** The strings by index, in order of first appearance. */
  readonly values: string[] = [];
  /**
   * Per table position p: an index (or EMPTY) at 2p and its string's keyHash at 2p + 1, side by side, so a probe that
   * passes another string reads no memory but the table's (a new key, most of a catalogue's, is all such probes).
   */
  private table = new Int32Array(1024).fill(EMPTY);
  /** Positions − 1 (a power of two less one). */
  private mask = 511;

  get size(): number {
    return this.values.length;
  }

  /** The index of `key`, or −1 when it has none. */
  indexOf(key: string): number {
    const h = keyHash(key);
    const { table, values, mask } = this;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const k = table[2 * p];
      if (k === EMPTY) return -1;
      if (table[2 * p + 1] === h && values[k] === key) return k;
    }
  }

  /** As Map.get: the index of `key`, or undefined. */
  get(key: string): number | undefined {
    const k = this.indexOf(key);
    return k < 0 ? undefined : k;
  }

  has(key: string): boolean {
    return this.indexOf(key) >= 0;
  }

  /** The index of `key`, numbering it next when it is new (then it equals `size` before the call). */
  intern(key: string): number {
    const h = keyHash(key);
    const { table, values, mask } = this;
    let p = h & mask;
    for (; ; p = (p + 1) & mask) {
      const k = table[2 * p];
      if (k === EMPTY) break;
      if (table[2 * p + 1] === h && values[k] === key) return k;
    }
    const k = values.length;
    values.push(key);
    table[2 * p] = k;
    table[2 * p + 1] = h;
    // Half full at most: linear probing's runs stay short.
    if (4 * values.length > table.length) this.rehash();
    return k;
  }

  /**
   * intern(s.slice(from, to)), slicing only a string that is new: the values of a `|`-separated multi field are
   * looked up where they lie in the field (most are seen before).
   */
  internRange(s: string, from: number, to: number): number {
    const h = keyHashRange(s, from, to);
    const { table, values, mask } = this;
    const len = to - from;
    let p = h & mask;
    for (; ; p = (p + 1) & mask) {
      const k = table[2 * p];
      if (k === EMPTY) break;
      if (table[2 * p + 1] === h && values[k].length === len && s.startsWith(values[k], from)) return k;
    }
    const k = values.length;
    values.push(s.slice(from, to));
    table[2 * p] = k;
    table[2 * p + 1] = h;
    if (4 * values.length > table.length) this.rehash();
    return k;
  }

  /** The strings in index order (as Map.keys). */
  keys(): IterableIterator<string> {
    return this.values[Symbol.iterator]();
  }

  /** [string, index] in index order (as a Map's entries). */
  *[Symbol.iterator](): IterableIterator<[string, number]> {
    for (let k = 0; k < this.values.length; k++) yield [this.values[k], k];
  }

  /** Doubles the table, placing every index again by its kept hash (no string is hashed again). */
  private rehash(): void {
    const old = this.table;
    const table = new Int32Array(2 * old.length).fill(EMPTY);
    const mask = table.length / 2 - 1;
    for (let q = 0; q < old.length; q += 2) {
      if (old[q] === EMPTY) continue;
      const h = old[q + 1];
      let p = h & mask;
      while (table[2 * p] !== EMPTY) p = (p + 1) & mask;
      table[2 * p] = old[q];
      table[2 * p + 1] = h;
    }
    this.table = table;
    this.mask = mask;
  }
}
