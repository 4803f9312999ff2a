/**
 * Raw id → dense index, in order of first appearance. Canonical integer ids (see numbers.ts) are
 * keyed by number, which avoids making a string per row on the byte path; other ids by string.
 * The two key spaces cannot collide because a canonical integer text is never keyed by string.
 * Integer ids below DIRECT_LIMIT are looked up in a flat table (index + 1, 0 = unseen), about
 * twice as fast as a Map; the table grows with the largest such id seen, to at most 32 MiB.
 */
import { canonicalIntBytes, canonicalIntString } from './numbers.js';

const DIRECT_LIMIT = 1 << 23;

export class IdVocab {
  private direct: Int32Array = new Int32Array(1024);
  private readonly byNumber = new Map<number, number>();
  private readonly byString = new Map<string, number>();
  /** Raw id of each index: a number for canonical integer ids, else the string. */
  readonly keys: Array<number | string> = [];

  get size(): number {
    return this.keys.length;
  }

  internBytes(buf: Buffer, start: number, end: number): number {
    const n = canonicalIntBytes(buf, start, end);
    if (n >= 0) return this.internNumber(n);
    return this.internStringKey(buf.toString('utf8', start, end));
  }

  internString(text: string): number {
    const n = canonicalIntString(text);
    if (n >= 0) return this.internNumber(n);
    return this.internStringKey(text);
  }

  /** An integer id from a typed column (Parquet, Arrow): the index its decimal text would get. */
  internInteger(n: number): number {
    return n >= 0 && n < 1e15 ? this.internNumber(n) : this.internStringKey(String(n));
  }

  private internNumber(n: number): number {
    if (n < DIRECT_LIMIT) {
      let table = this.direct;
      if (n >= table.length) table = this.growDirect(n);
      const v = table[n];
      if (v !== 0) return v - 1;
      const idx = this.keys.length;
      table[n] = idx + 1;
      this.keys.push(n);
      return idx;
    }
    let idx = this.byNumber.get(n);
    if (idx === undefined) {
      idx = this.keys.length;
      this.byNumber.set(n, idx);
      this.keys.push(n);
    }
    return idx;
  }

  private growDirect(n: number): Int32Array {
    let len = this.direct.length;
    while (len <= n) len *= 2;
    const table = new Int32Array(Math.min(len, DIRECT_LIMIT));
    table.set(this.direct);
    this.direct = table;
    return table;
  }

  private internStringKey(text: string): number {
    let idx = this.byString.get(text);
    if (idx === undefined) {
      idx = this.keys.length;
      this.byString.set(text, idx);
      this.keys.push(text);
    }
    return idx;
  }

  idAt(index: number): string {
    return String(this.keys[index]);
  }

  /** Frees the lookup maps once no more ids will be added (the key list is kept). */
  freeze(): void {
    this.byNumber.clear();
    this.byString.clear();
    this.direct = new Int32Array(0);
  }
}
