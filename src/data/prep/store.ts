/**
 * The accepted rows as growable typed-array columns, never a JS object per row, narrowed to what
 * the log needs (docs/design.md#the-dataset-folder, docs/warehouse.md#memory):
 *  - user and item: 4 bytes each (dense indices);
 *  - ts: 4 bytes, whole seconds after the first row's second, while every ts is a whole second
 *    within ±2^31 s of it (exports usually are); the first ts that is not widens the column to
 *    8-byte float64 ms for good;
 *  - value: 1 byte, a code into a table of at most 256 distinct float32 values (event weights,
 *    star ratings); the 257th distinct value widens it to float32;
 *  - event: 1 byte, 2 once a log has more than 256 event types;
 *  - seq: no column while reading. Rows are stored in input order, so a row's seq is its storage
 *    index plus the rows rejected (or, under --append-to, left out of the base) before it: a
 *    short table of the indices where that lag grows. order.ts arrangeRows then turns the user
 *    column into seq: after it the rows are in (user, ts, seq) order, so the users are runs
 *    (`userStart`), and `seq` is a 4-byte column in the user column's buffer.
 * About 14 bytes a row for a log with time and events, where plain columns took 26.
 */
import { DataError } from '../../util/errors.js';

type Growable = Int32Array | Float32Array | Float64Array | Uint32Array | Uint16Array | Uint8Array;

function grow<T extends Growable>(a: T, capacity: number): T {
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(a);
  return b;
}

/** Rows one dataset may hold: arrangeRows marks visited rows with the sign of an int32. */
export const MAX_ROWS = 0x7fffffff;

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);

export class RowStore {
  length = 0;
  items: Int32Array;
  /** Event code per row (null without events): one byte until a 257th event type. */
  events: Uint8Array | Uint16Array | null;
  /** Query index per row (into Ingest.queries), in a search log only. */
  queries: Int32Array | null;
  readonly hasTs: boolean;
  /** Before arrangeRows: the user of each row; after it the same buffer holds seq. */
  private userCol: Int32Array;
  /** After arrangeRows: the rows of user u are [userStart[u], userStart[u + 1]). */
  userStart: Int32Array | null = null;
  /** ts as whole seconds after tsBase (ms); null once widened to tsMs. */
  private tsSec: Int32Array | null;
  private tsMs: Float64Array | null = null;
  private tsBase = Number.NaN;
  /** Value codes into valueTable; null once widened to valueWide. */
  private valueCode: Uint8Array | null;
  private valueWide: Float32Array | null = null;
  private readonly valueTable: number[] = [];
  /** float32 bits → code (bits, so -0 and 0 stay apart). */
  private readonly valueIndex = new Map<number, number>();
  private lastValue = Number.NaN;
  private lastCode = 0;
  /** Where seq − index grows: from row lagAt[k] on, seq = index + lag[k]. */
  private lagAt: number[] = [];
  private lag: number[] = [];
  private lastLag = 0;

  constructor(hasTs: boolean, hasEvents: boolean, capacity = 1 << 16, hasQueries = false) {
    this.hasTs = hasTs;
    this.userCol = new Int32Array(capacity);
    this.items = new Int32Array(capacity);
    this.valueCode = new Uint8Array(capacity);
    this.tsSec = hasTs ? new Int32Array(capacity) : null;
    this.events = hasEvents ? new Uint8Array(capacity) : null;
    this.queries = hasQueries ? new Int32Array(capacity) : null;
  }

  get capacity(): number {
    return this.items.length;
  }

  /** The user column, before arrangeRows (after it, userStart gives the runs). */
  get users(): Int32Array {
    if (this.userStart !== null) throw new Error('Internal error: RowStore.users read after the rows were arranged. Please report this.');
    return this.userCol;
  }

  /** The seq column, after arrangeRows (before it, seqOf). */
  get seq(): Uint32Array {
    if (this.userStart === null) throw new Error('Internal error: RowStore.seq read before the rows were arranged. Please report this.');
    return new Uint32Array(this.userCol.buffer, this.userCol.byteOffset, this.length);
  }

  /** The user runs, after arrangeRows. */
  get runs(): Int32Array {
    if (this.userStart === null) throw new Error('Internal error: RowStore.runs read before the rows were arranged. Please report this.');
    return this.userStart;
  }

  /** Make room for at least `extra` more rows (grows by 1.5×). */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.items.length) return;
    if (need > MAX_ROWS) throw new DataError(`Too many rows for one dataset: more than ${MAX_ROWS} accepted rows.`);
    const cap = Math.min(MAX_ROWS, Math.max(need, Math.ceil(this.items.length * 1.5)));
    this.userCol = grow(this.userCol, cap);
    this.items = grow(this.items, cap);
    if (this.valueCode) this.valueCode = grow(this.valueCode, cap);
    if (this.valueWide) this.valueWide = grow(this.valueWide, cap);
    if (this.tsSec) this.tsSec = grow(this.tsSec, cap);
    if (this.tsMs) this.tsMs = grow(this.tsMs, cap);
    if (this.events) this.events = grow(this.events, cap);
    if (this.queries) this.queries = grow(this.queries, cap);
  }

  push(user: number, item: number, value: number, ts: number, seq: number, event: number, query = 0): void {
    const i = this.length;
    if (i === this.items.length) this.reserve(1);
    this.userCol[i] = user;
    this.items[i] = item;
    this.setValue(i, value);
    if (this.hasTs) this.setTs(i, ts);
    this.noteSeq(i, seq);
    if (this.events) this.events[i] = event;
    if (this.queries) this.queries[i] = query;
    this.length = i + 1;
  }

  // ---- seq (before arrangeRows) ----

  /** Records that row i (the next row stored) has this seq; seqs only grow. */
  noteSeq(i: number, seq: number): void {
    const d = seq - i;
    if (d === this.lastLag) return;
    this.lagAt.push(i);
    this.lag.push(d);
    this.lastLag = d;
  }

  /** seq of stored row i, before arrangeRows (rows are in seq order then). */
  seqOf(i: number): number {
    const at = this.lagAt;
    let lo = 0;
    let hi = at.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at[mid] <= i) lo = mid + 1;
      else hi = mid;
    }
    return i + (lo === 0 ? 0 : this.lag[lo - 1]);
  }

  /** Before arrangeRows: the first row index whose seq is at least `seq` (length when none). */
  firstRowFromSeq(seq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqOf(mid) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * arrangeRows's last step: `src` (the user column's buffer) holds, for each arranged position,
   * the storage index the row came from; this turns it into seq and the users into runs.
   */
  finishArrange(src: Int32Array, userStart: Int32Array): void {
    const n = this.length;
    if (this.lagAt.length > 0) {
      const at = this.lagAt;
      const lag = this.lag;
      const out = new Uint32Array(src.buffer, src.byteOffset, n);
      for (let j = 0; j < n; j++) {
        const i = src[j];
        let lo = 0;
        let hi = at.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (at[mid] <= i) lo = mid + 1;
          else hi = mid;
        }
        out[j] = i + (lo === 0 ? 0 : lag[lo - 1]);
      }
    }
    this.lagAt = [];
    this.lag = [];
    this.userStart = userStart;
  }

  // ---- ts ----

  tsAt(i: number): number {
    const s = this.tsSec;
    return s !== null ? this.tsBase + s[i] * 1000 : (this.tsMs as Float64Array)[i];
  }

  setTs(i: number, ms: number): void {
    const s = this.tsSec;
    if (s !== null) {
      if (Number.isNaN(this.tsBase)) this.tsBase = Math.floor(ms / 1000) * 1000;
      const d = (ms - this.tsBase) / 1000;
      if (d === (d | 0)) {
        s[i] = d;
        return;
      }
      this.widenTs();
    }
    (this.tsMs as Float64Array)[i] = ms;
  }

  private widenTs(): void {
    const s = this.tsSec as Int32Array;
    const ms = new Float64Array(s.length);
    for (let i = 0; i < this.length; i++) ms[i] = this.tsBase + s[i] * 1000;
    this.tsMs = ms;
    this.tsSec = null;
  }

  /** A value of tsStorage() in ms (what tsAt gives for a row holding it). */
  msOfStored(x: number): number {
    return this.tsSec !== null ? this.tsBase + x * 1000 : x;
  }

  /** The ts column's storage, for moving rows (arrangeRows): 4-byte seconds or 8-byte ms. */
  tsStorage(): Int32Array | Float64Array | null {
    return this.tsSec ?? this.tsMs;
  }

  // ---- value ----

  valueAt(i: number): number {
    const c = this.valueCode;
    return c !== null ? this.valueTable[c[i]] : (this.valueWide as Float32Array)[i];
  }

  setValue(i: number, v: number): void {
    const c = this.valueCode;
    if (c !== null) {
      // Logs repeat a handful of values (event weights, stars): the last one, then the first few
      // codes, are cheap first guesses (0 is left to the bit lookup, which keeps -0 apart).
      if (v === this.lastValue && v !== 0) {
        c[i] = this.lastCode;
        return;
      }
      const table = this.valueTable;
      for (let k = 0; k < table.length && k < 8; k++) {
        if (table[k] === v && v !== 0) {
          c[i] = k;
          this.lastValue = v;
          this.lastCode = k;
          return;
        }
      }
      f32[0] = v;
      const bits = f32bits[0];
      let code = this.valueIndex.get(bits);
      if (code === undefined && this.valueTable.length < 256) {
        code = this.valueTable.length;
        this.valueTable.push(f32[0]);
        this.valueIndex.set(bits, code);
      }
      if (code !== undefined) {
        c[i] = code;
        this.lastValue = v;
        this.lastCode = code;
        return;
      }
      this.widenValues();
    }
    (this.valueWide as Float32Array)[i] = v;
  }

  private widenValues(): void {
    const c = this.valueCode as Uint8Array;
    const w = new Float32Array(c.length);
    for (let i = 0; i < this.length; i++) w[i] = this.valueTable[c[i]];
    this.valueWide = w;
    this.valueCode = null;
  }

  /** The value a code of the 1-byte value column stands for (valueStorage() a Uint8Array). */
  valueOfCode(code: number): number {
    return this.valueTable[code];
  }

  /** Distinct values so far while they are stored as codes (null once widened): one means the code column is all 0. */
  get valueCodes(): number | null {
    return this.valueCode !== null ? this.valueTable.length : null;
  }

  /** The value column's storage, for moving rows (arrangeRows). */
  valueStorage(): Uint8Array | Float32Array {
    return this.valueCode ?? (this.valueWide as Float32Array);
  }

  // ---- events ----

  /** Called when event code `code` is created: a 257th event type widens the column. */
  noteEventCode(code: number): void {
    const e = this.events;
    if (e !== null && code > 255 && e instanceof Uint8Array) this.events = Uint16Array.from(e);
  }
}
