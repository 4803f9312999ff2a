/**
 * Raw id → dense index, in order of first appearance. Canonical integer ids (see numbers.ts) below
 * DIRECT_LIMIT are looked up in a flat table (index + 1, 0 = unseen), about twice as fast as a
 * hash; the table grows with the largest such id seen, to at most 32 MiB. Every other id is keyed
 * by its text's UTF-8 bytes in an IdTable (id-table.ts), outside the V8 heap, which also keeps the
 * text of every id for idAt. An integer from a typed column is keyed by its decimal text, so 7
 * from an INT64 column and "7" from a text column are one id, and `007` stays another.
 */
import { IdTable } from './id-table.js';
import { canonicalIntBytes, canonicalIntString } from './numbers.js';

const DIRECT_LIMIT = 1 << 23;

/**
 * An id a columnar reader interns itself (parquet-flat.ts's FlatRole: from bytes, once per
 * dictionary entry), standing in for its text in a typed row so that no string is made per row.
 */
export abstract class InternableId {
  abstract intern(vocab: IdVocab): number;
}

export class IdVocab {
  private direct: Int32Array = new Int32Array(1024);
  private readonly table = new IdTable();
  /** Decimal digits of an integer id, for the table. */
  private readonly digits = new Uint8Array(24);

  get size(): number {
    return this.table.size;
  }

  internBytes(buf: Uint8Array, start: number, end: number): number {
    const n = canonicalIntBytes(buf, start, end);
    if (n >= 0 && n < DIRECT_LIMIT) return this.internDirect(n);
    return this.table.internBytes(buf, start, end);
  }

  internString(text: string): number {
    const n = canonicalIntString(text);
    if (n >= 0 && n < DIRECT_LIMIT) return this.internDirect(n);
    return this.table.internText(text);
  }

  /** An integer id from a typed column (Parquet, Arrow): the index its decimal text would get. */
  internInteger(n: number): number {
    if (n >= 0 && n < DIRECT_LIMIT) return this.internDirect(n);
    if (n < 0 || n >= 1e15) return this.table.internText(String(n));
    // Its digits, without a string per row (a safe integer, so % and / are exact).
    const d = this.digits;
    let k = d.length;
    let v = n;
    do {
      const r = v % 10;
      d[--k] = 48 + r;
      v = (v - r) / 10;
    } while (v > 0);
    return this.table.internBytes(d, k, d.length);
  }

  private internDirect(n: number): number {
    let table = this.direct;
    if (n >= table.length) table = this.growDirect(n);
    const v = table[n];
    if (v !== 0) return v - 1;
    const idx = this.table.addUnindexed(String(n));
    table[n] = idx + 1;
    return idx;
  }

  private growDirect(n: number): Int32Array {
    let len = Math.max(1024, this.direct.length);
    while (len <= n) len *= 2;
    const table = new Int32Array(Math.min(len, DIRECT_LIMIT));
    table.set(this.direct);
    this.direct = table;
    return table;
  }

  idAt(index: number): string {
    return this.table.textAt(index);
  }

  /** The UTF-8 bytes of ids order[from .. from + n) end to end, with their offsets (IdTable.bytesOf). */
  bytesOf(order: Int32Array, from: number, n: number): { offsets: Int32Array; data: Uint8Array } {
    return this.table.bytesOf(order, from, n);
  }

  /** Frees the lookup tables once no more ids will be added (the ids' text is kept). */
  freeze(): void {
    this.table.freeze();
    this.direct = new Int32Array(0);
  }
}
