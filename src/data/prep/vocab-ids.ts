/**
 * The ids of users.arrow or items.arrow in their written order, as indices into the log's id
 * table: the file's id column is copied from the table's bytes, so no JS string is made per id
 * (a log with tens of millions of users held that many strings on the V8 heap through the write;
 * docs/warehouse.md#memory). The strings are made once, on first use, for a caller that needs
 * them (a catalogue, --export-parquet) or given up front (--anonymize's HMACs).
 */
import { isUtf8 } from 'node:buffer';
import { Utf8, makeData, type Data } from 'apache-arrow';
import { utf8Data, type Utf8Source } from './arrow-write.js';
import type { IdVocab } from './vocab.js';

export class VocabIds implements Utf8Source {
  private strings: string[] | null;
  private readonly table: IdVocab;
  /** `order[j]` is the table index of the id written at index j. */
  private readonly order: Int32Array;

  constructor(table: IdVocab, order: Int32Array, strings: string[] | null = null) {
    this.table = table;
    this.order = order;
    this.strings = strings;
  }

  get length(): number {
    return this.strings !== null ? this.strings.length : this.order.length;
  }

  /** The ids as strings (made on first use); a caller may append ids, which the file then gets too. */
  get ids(): string[] {
    if (this.strings === null) this.strings = this.textOf(0, this.order.length);
    return this.strings;
  }

  utf8(from: number, n: number): Data<Utf8> {
    if (this.strings !== null) return utf8Data(this.strings.slice(from, from + n));
    const { offsets, data } = this.table.bytesOf(this.order, from, n);
    // A table holds an id read as a JS string with a lone surrogate as generalised UTF-8, which is
    // not UTF-8; its string is written (the surrogate as U+FFFD), as the strings always were.
    if (!isUtf8(data)) return utf8Data(this.textOf(from, n));
    return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data });
  }

  private textOf(from: number, n: number): string[] {
    const out = new Array<string>(n);
    for (let j = 0; j < n; j++) out[j] = this.table.idAt(this.order[from + j]);
    return out;
  }
}
