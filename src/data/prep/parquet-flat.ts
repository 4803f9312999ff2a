/**
 * rec's own decoder for the flat Parquet columns prep maps (parquet.ts uses it when every mapped
 * column qualifies, hyparquet otherwise): text ids, integers, floats and timestamps, in PLAIN or
 * dictionary pages (data page v1 and v2), nulls from RLE/bit-packed definition levels.
 *
 * Values are never turned into one JS object per row. A column chunk's dictionary is decoded once
 * into a key table, and each row is an int32 key into it; plain pages append their values to the
 * same table per slice. Text stays as bytes (prep interns ASCII ids straight from them, once per
 * dictionary entry: FlatRole.intern), INT64 is read as two 32-bit halves into a double, and the
 * timestamp units become epoch ms with hyparquet's arithmetic (parquet.ts PARSERS), so every value
 * prep sees is the one the hyparquet path gives it. Page headers, decompression and the RLE hybrid
 * come from hyparquet's exported modules.
 */
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import type { ColumnMetaData, Compressors, DataReader, PageHeader, SchemaElement } from 'hyparquet';
import { mix } from './string-hash.js';
import { DAY_MS } from './timestamps.js';
import type { KeyedColumn } from './ingest.js';
import { InternableId, type IdVocab } from './vocab.js';

/** How a column's physical values become what prep reads. */
export type FlatKind = 'text' | 'int32' | 'float' | 'int64' | 'date' | 'ts-ms' | 'ts-us' | 'ts-ns' | 'int96';

/**
 * Value and level encodings read. parquet-mr (Spark) lists BIT_PACKED for the repetition levels a
 * flat column does not have; definition levels are read as the RLE hybrid whatever a page says, as
 * hyparquet reads them.
 */
const ENCODINGS: ReadonlySet<string> = new Set(['PLAIN', 'PLAIN_DICTIONARY', 'RLE_DICTIONARY', 'RLE', 'BIT_PACKED']);
const SIGNED_INT: ReadonlySet<string | undefined> = new Set([undefined, 'INT_8', 'INT_16', 'INT_32', 'INT_64']);
const TWO_32 = 4294967296;
/** Julian day of 1970-01-01, as INT96 timestamps count days. */
const UNIX_JULIAN_DAY = 2440588;

function integerLogical(el: SchemaElement): boolean {
  const lt = el.logical_type;
  return lt === undefined || (lt.type === 'INTEGER' && lt.isSigned);
}

/** The kind of a top-level column whose values this decoder gives exactly as hyparquet would, else null (read by hyparquet). */
export function flatKind(el: SchemaElement): FlatKind | null {
  const ct = el.converted_type;
  const lt = el.logical_type;
  switch (el.type) {
    case 'BYTE_ARRAY':
      // JSON is parsed, DECIMAL and BSON are not text: those stay with hyparquet.
      if (!(ct === undefined || ct === 'UTF8' || ct === 'ENUM')) return null;
      return lt === undefined || lt.type === 'STRING' || lt.type === 'ENUM' ? 'text' : null;
    case 'INT32':
      // As hyparquet, by the converted type only (openParquet gives a DATE logical type alone its converted type).
      if (ct === 'DATE') return 'date';
      return SIGNED_INT.has(ct) && integerLogical(el) ? 'int32' : null;
    case 'INT64':
      // hyparquet reads the converted type before the logical one.
      if (ct === 'TIMESTAMP_MILLIS') return 'ts-ms';
      if (ct === 'TIMESTAMP_MICROS') return 'ts-us';
      if (ct === undefined && lt?.type === 'TIMESTAMP') return lt.unit === 'NANOS' ? 'ts-ns' : lt.unit === 'MICROS' ? 'ts-us' : 'ts-ms';
      return SIGNED_INT.has(ct) && integerLogical(el) ? 'int64' : null;
    case 'INT96':
      return ct === undefined ? 'int96' : null;
    case 'FLOAT':
    case 'DOUBLE':
      return ct === undefined && lt === undefined ? 'float' : null;
    default:
      return null;
  }
}

/** Whether a chunk's pages use only encodings this decoder reads (the footer lists them). */
export function flatEncodings(meta: ColumnMetaData): boolean {
  return meta.encodings.every((e) => ENCODINGS.has(e));
}

/**
 * Exact trunc(v / d) for the signed 64-bit v = hi·2^32 + lo (d < 2^21), as BigInt division gives it:
 * long division over 16-bit limbs keeps every step below 2^37.
 */
export function divInt64(hi: number, lo: number, d: number): number {
  const neg = hi < 0;
  let h = hi >>> 0;
  let l = lo >>> 0;
  if (neg) {
    l = (~l + 1) >>> 0;
    h = (~h + (l === 0 ? 1 : 0)) >>> 0;
  }
  let r = 0;
  let q = 0;
  for (const limb of [h >>> 16, h & 0xffff, l >>> 16, l & 0xffff]) {
    const cur = r * 65536 + limb;
    const qd = Math.floor(cur / d);
    r = cur - qd * d;
    q = q * 65536 + qd;
  }
  return neg && q !== 0 ? -q : q;
}

/**
 * A chunk's distinct values: its dictionary first (`dictSize` keys, kept for the whole chunk), then
 * the values of the plain pages in the current slice. Text keys are byte ranges of `data`; numeric
 * keys are `nums`, with INT64's halves in `wide` where the double is not exact.
 */
export class FlatKeys {
  readonly kind: FlatKind;
  /** FLOAT (4) or DOUBLE (8), for kind 'float'. */
  readonly floatBytes: number;
  count = 0;
  dictSize = 0;
  /** Bumped when the dictionary changes, so a role's cache of interned keys knows to start again. */
  generation = 0;
  data = new Uint8Array(1 << 12);
  used = 0;
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  /** 1: non-empty ASCII (interned from its bytes); 0: anything else (read as the string hyparquet would make). Text keys' nums hold their value as a canonical integer, else -1. */
  ascii = new Uint8Array(256);
  nums = new Float64Array(256);
  wide = new Int32Array(512);
  strings: (string | undefined)[] = [];

  constructor(kind: FlatKind, floatBytes: number) {
    this.kind = kind;
    this.floatBytes = floatBytes;
  }

  /** Empties the table for the next column chunk (arrays kept: a file's chunks reuse one table). */
  startChunk(): void {
    this.count = 0;
    this.used = 0;
    this.dictSize = 0;
    this.strings.length = 0;
    this.generation++;
  }

  /** Drops the plain values of the last slice, keeping the dictionary. */
  resetPlain(): void {
    this.count = this.dictSize;
    this.used = this.dictSize === 0 ? 0 : this.ends[this.dictSize - 1];
    this.strings.length = Math.min(this.strings.length, this.dictSize);
  }

  reserve(need: number): void {
    if (need <= this.nums.length) return;
    let cap = this.nums.length;
    while (cap < need) cap *= 2;
    const copy = <T extends Int32Array | Float64Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.starts = copy(this.starts, cap);
    this.ends = copy(this.ends, cap);
    this.ascii = copy(this.ascii, cap);
    this.nums = copy(this.nums, cap);
    this.wide = copy(this.wide, cap * 2);
  }

  addBytes(src: Uint8Array, from: number, to: number): number {
    const k = this.count;
    this.reserve(k + 1);
    const len = to - from;
    if (this.used + len > this.data.length) {
      const next = new Uint8Array(Math.max(this.used + len, this.data.length * 2));
      next.set(this.data.subarray(0, this.used));
      this.data = next;
    }
    const data = this.data;
    let at = this.used;
    let ascii = len > 0 ? 1 : 0;
    // Its value as numbers.ts's canonicalIntBytes reads it (-1: not a canonical integer), found while copying.
    let n = len > 0 && len <= 15 && (src[from] !== 48 || len === 1) ? 0 : -1;
    for (let i = from; i < to; i++) {
      const b = src[i];
      if (b >= 0x80) ascii = 0;
      if (b < 48 || b > 57) n = -1;
      else if (n >= 0) n = n * 10 + (b - 48);
      data[at++] = b;
    }
    this.starts[k] = this.used;
    this.ends[k] = at;
    this.used = at;
    this.ascii[k] = ascii;
    this.nums[k] = n;
    this.count = k + 1;
    return k;
  }

  addNumber(v: number, hi: number, lo: number): number {
    const k = this.count;
    this.reserve(k + 1);
    this.nums[k] = v;
    this.wide[2 * k] = hi;
    this.wide[2 * k + 1] = lo;
    this.count = k + 1;
    return k;
  }

  /** Key k as the string hyparquet decodes (TextDecoder: invalid bytes replaced, a leading BOM dropped). */
  text(k: number): string {
    let s = this.strings[k];
    if (s === undefined) {
      s = DECODER.decode(this.data.subarray(this.starts[k], this.ends[k]));
      this.strings[k] = s;
    }
    return s;
  }

  /** Key k as hyparquet's value for an INT64 integer column: a number while exact, else the bigint. */
  int64(k: number): number | bigint {
    const v = this.nums[k];
    if (v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) return v;
    return (BigInt(this.wide[2 * k]) << 32n) | BigInt(this.wide[2 * k + 1] >>> 0);
  }
}

const DECODER = new TextDecoder();

/** Appends `count` PLAIN values at reader.offset to the keys; returns the first key. */
function readPlain(keys: FlatKeys, reader: DataReader, count: number): number {
  const first = keys.count;
  const view = reader.view;
  const end = view.byteLength;
  let o = reader.offset;
  const short = (): Error => new Error(`a page ends at byte ${end}, inside its ${count} values`);
  if (keys.kind === 'text') {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, end);
    for (let i = 0; i < count; i++) {
      if (o + 4 > end) throw short();
      const to = o + 4 + view.getUint32(o, true);
      if (to > end) throw short();
      keys.addBytes(bytes, o + 4, to);
      o = to;
    }
  } else {
    const width = keys.kind === 'int32' || keys.kind === 'date' ? 4 : keys.kind === 'int96' ? 12 : keys.kind === 'float' ? keys.floatBytes : 8;
    if (o + count * width > end) throw short();
    for (let i = 0; i < count; i++, o += width) readNumber(keys, view, o);
  }
  reader.offset = o;
  return first;
}

/**
 * A data page's `count` PLAIN values into the keys, each value's key to out[at..]. A text value
 * equal to the one before it gets that one's key: logs repeat an item row after row (a view, then
 * a click), and each key costs the reader thread a copy and a hash.
 */
function readPlainRows(keys: FlatKeys, reader: DataReader, count: number, out: Int32Array, at: number): void {
  if (keys.kind !== 'text') {
    const first = readPlain(keys, reader, count);
    for (let j = 0; j < count; j++) out[at + j] = first + j;
    return;
  }
  const view = reader.view;
  const end = view.byteLength;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, end);
  const short = (): Error => new Error(`a page ends at byte ${end}, inside its ${count} values`);
  let o = reader.offset;
  let prevFrom = -1;
  let prevLen = -1;
  let prevKey = -1;
  for (let j = 0; j < count; j++) {
    if (o + 4 > end) throw short();
    const len = view.getUint32(o, true);
    const from = o + 4;
    o = from + len;
    if (o > end) throw short();
    if (len === prevLen) {
      let b = 0;
      while (b < len && bytes[from + b] === bytes[prevFrom + b]) b++;
      if (b === len) {
        out[at + j] = prevKey;
        continue;
      }
    }
    prevKey = keys.addBytes(bytes, from, o);
    prevFrom = from;
    prevLen = len;
    out[at + j] = prevKey;
  }
  reader.offset = o;
}

/** One fixed-width value at o into the keys. */
function readNumber(keys: FlatKeys, view: DataView, o: number): void {
  switch (keys.kind) {
    case 'int32':
      keys.addNumber(view.getInt32(o, true), 0, 0);
      return;
    case 'date':
      keys.addNumber(view.getInt32(o, true) * DAY_MS, 0, 0);
      return;
    case 'float':
      keys.addNumber(keys.floatBytes === 4 ? view.getFloat32(o, true) : view.getFloat64(o, true), 0, 0);
      return;
    case 'int96':
      keys.addNumber(int96Ms(view, o), 0, 0);
      return;
    default: {
      const lo = view.getUint32(o, true);
      const hi = view.getInt32(o + 4, true);
      keys.addNumber(int64Value(keys.kind, hi, lo), hi, lo);
    }
  }
}

/** An INT64 as hyparquet's parsers leave it: timestamps as epoch ms, integers as the nearest double. */
function int64Value(kind: FlatKind, hi: number, lo: number): number {
  if (kind === 'ts-ns') return divInt64(hi, lo, 1_000_000);
  const v = hi * TWO_32 + (lo >>> 0);
  return kind === 'ts-us' ? Math.floor(v / 1000) : v;
}

/** INT96 (nanoseconds of the day, then the Julian day) as epoch ms, as Number(nanos / 1_000_000n). */
export function int96Ms(view: DataView, o: number): number {
  const nanoLo = view.getUint32(o, true);
  const nanoHi = view.getInt32(o + 4, true);
  const days = view.getInt32(o + 8, true) - UNIX_JULIAN_DAY;
  // The usual case (after 1970, nanoseconds of a day): exact in doubles.
  if (days >= 0 && nanoHi >= 0 && nanoHi < 1 << 21) return days * DAY_MS + Math.floor((nanoHi * TWO_32 + nanoLo) / 1e6);
  const low = view.getBigInt64(o, true);
  const value = (BigInt(view.getInt32(o + 8, true)) << 64n) | low;
  const nanos = ((value >> 64n) - BigInt(UNIX_JULIAN_DAY)) * 86_400_000_000_000n + (value & 0xffffffffffffffffn);
  return Number(nanos / 1_000_000n);
}

/** One page's rows: keys (dictionary indices or the first plain key onward) and nulls as -1. */
interface PageRows {
  rows: number;
  /** The next row to take. */
  pos: number;
  /** A dictionary page: each row's dictionary entry (-1: null). */
  codes: Int32Array | null;
  /** A plain page, read as its rows are taken: definition levels (null: no nulls) and the next value. */
  defs: Uint8Array | null;
  values: DataReader;
}

export interface FlatChunkSource {
  /** The column chunk's bytes (dictionary page, then data pages). */
  bytes: Uint8Array;
  meta: ColumnMetaData;
  kind: FlatKind;
  /** OPTIONAL (definition levels present) or REQUIRED. */
  optional: boolean;
  /** FLOAT (4 bytes) or DOUBLE (8), for kind 'float'. */
  floatBytes: number;
  rows: number;
  compressors: Compressors;
  /** A table to reuse (the same column's, from the file's previous chunk). */
  keys?: FlatKeys;
}

/**
 * One slice of a column: a key per row (-1 for null) into `keys`. A slice decoded on the reader
 * thread (parquet-thread.ts) also has `local`: each row's ASCII id as its index in that thread's
 * table of the column's ids (-1 for any other row), and the main thread's map of those indices.
 */
export interface FlatSlice {
  codes: Int32Array;
  keys: FlatKeys;
  local?: { ids: Int32Array; remap: LocalRemap };
}

/** Local index → the run's vocabulary index + 1 (0: not mapped yet), for one table of the reader thread. */
export interface LocalRemap {
  table: Int32Array;
}

/** A FlatKeys as it crosses to another thread: its filled part only, in arrays of their own (transferable). */
export interface WireKeys {
  kind: FlatKind;
  floatBytes: number;
  count: number;
  dictSize: number;
  data: Uint8Array<ArrayBuffer>;
  starts: Int32Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  ascii: Uint8Array<ArrayBuffer>;
  nums: Float64Array<ArrayBuffer>;
  wide: Int32Array<ArrayBuffer>;
}

/** What the other thread reads of a kind's keys: text's bytes and ranges, numbers, INT64's halves (FlatKeys.int64). */
export function keysToWire(keys: FlatKeys): WireKeys {
  const n = keys.count;
  const text = keys.kind === 'text' ? n : 0;
  return {
    kind: keys.kind,
    floatBytes: keys.floatBytes,
    count: n,
    dictSize: keys.dictSize,
    data: keys.data.slice(0, text === 0 ? 0 : keys.used),
    starts: keys.starts.slice(0, text),
    ends: keys.ends.slice(0, text),
    ascii: keys.ascii.slice(0, text),
    nums: keys.nums.slice(0, n),
    wide: keys.wide.slice(0, keys.kind === 'int64' ? 2 * n : 0),
  };
}

export function keysFromWire(w: WireKeys): FlatKeys {
  const keys = new FlatKeys(w.kind, w.floatBytes);
  keys.count = w.count;
  keys.dictSize = w.dictSize;
  keys.data = w.data;
  keys.used = w.data.length;
  keys.starts = w.starts;
  keys.ends = w.ends;
  keys.ascii = w.ascii;
  keys.nums = w.nums;
  keys.wide = w.wide;
  return keys;
}

/** Longest id ShortIds keeps: three 32-bit words hold its bytes and its length. */
const SHORT_ID_BYTES = 11;

/** A short id's slot hash, from its three words. */
function shortHash(w0: number, w1: number, w2: number): number {
  return mix(Math.imul(w0, 0x9e3779b1) ^ Math.imul(w1, 0x85ebca6b) ^ w2);
}

/**
 * A cache in front of an IdVocab for short ids (to SHORT_ID_BYTES bytes, e.g. `i10118`): each slot
 * holds the id's bytes as three words, its length among them, and its index, so a lookup reads one
 * slot (16 bytes) and hashes three words, where the vocabulary hashes bytes and compares them in
 * its arena. A plain-encoded id column asks once per row (reader thread, LocalIds).
 */
export class ShortIds {
  /** Four words a slot: the id's three words and its index + 1 (0: empty). */
  private slots = new Int32Array(4 * 1024);
  private mask = 1023;
  private used = 0;

  /** The index of the id in data[from, to) (at most SHORT_ID_BYTES bytes), from the cache or the vocabulary. */
  intern(data: Uint8Array, from: number, to: number, vocab: IdVocab): number {
    const len = to - from;
    let w0 = 0;
    let w1 = 0;
    let w2 = len << 24;
    for (let i = 0; i < len; i++) {
      const b = data[from + i] << ((i & 3) << 3);
      if (i < 4) w0 |= b;
      else if (i < 8) w1 |= b;
      else w2 |= b;
    }
    const slots = this.slots;
    const mask = this.mask;
    for (let s = shortHash(w0, w1, w2) & mask; ; s = (s + 1) & mask) {
      const at = 4 * s;
      const v = slots[at + 3];
      if (v === 0) {
        const idx = vocab.internBytes(data, from, to);
        slots[at] = w0;
        slots[at + 1] = w1;
        slots[at + 2] = w2;
        slots[at + 3] = idx + 1;
        if (++this.used * 2 > mask + 1) this.grow();
        return idx;
      }
      if (slots[at] === w0 && slots[at + 1] === w1 && slots[at + 2] === w2) return v - 1;
    }
  }

  private grow(): void {
    const old = this.slots;
    const mask = 2 * (this.mask + 1) - 1;
    const slots = new Int32Array(4 * (mask + 1));
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 3] === 0) continue;
      let s = shortHash(old[at], old[at + 1], old[at + 2]) & mask;
      while (slots[4 * s + 3] !== 0) s = (s + 1) & mask;
      for (let w = 0; w < 4; w++) slots[4 * s + w] = old[at + w];
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * The reader thread's table of one column's ASCII ids (parquet-thread.ts): indices in the order the
 * rows first show them, rejected rows or not. Equal ids get one index
 * (the same keying as IdVocab), which is all the main thread needs: it maps each index to the run's
 * vocabulary the first time an accepted row has it, in row order, so the vocabulary is the same.
 */
export class LocalIds {
  /** Which table this is, of the thread's (a new one replaces a full one). */
  readonly table: number;
  private readonly vocab: IdVocab;
  private readonly entries = new DictionaryIds();
  private readonly short = new ShortIds();

  constructor(vocab: IdVocab, table: number) {
    this.vocab = vocab;
    this.table = table;
  }

  get count(): number {
    return this.vocab.size;
  }

  /** Each row's local index (-1: null or not an ASCII id). */
  index(slice: FlatSlice): Int32Array {
    const { codes, keys } = slice;
    this.entries.follow(keys);
    const out = new Int32Array(codes.length);
    const ascii = keys.ascii;
    const isText = keys.kind === 'text';
    let prev = -2;
    let local = -1;
    for (let i = 0; i < codes.length; i++) {
      const k = codes[i];
      // A row with the key of the row before (a user's run of rows) takes its index again.
      if (k !== prev) {
        local = k < 0 || !isText || ascii[k] !== 1 ? -1 : this.intern(keys, k);
        prev = k;
      }
      out[i] = local;
    }
    return out;
  }

  /** A text key's index: a dictionary entry's once per dictionary; a short id's through the cache (a plain value's every row). */
  private intern(keys: FlatKeys, k: number): number {
    return this.entries.intern(keys, k, this.vocab, this.short);
  }
}

/** Reads a column chunk's pages in order, handing out its rows a slice at a time. */
export class FlatChunk {
  private readonly src: FlatChunkSource;
  private readonly reader: DataReader;
  readonly keys: FlatKeys;
  private page: PageRows | null = null;
  private rowsSeen = 0;

  constructor(src: FlatChunkSource) {
    this.src = src;
    this.reader = { view: new DataView(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength), offset: 0 };
    this.keys = src.keys ?? new FlatKeys(src.kind, src.floatBytes);
    this.keys.startChunk();
  }

  /** The next n rows. */
  take(n: number): FlatSlice {
    const keys = this.keys;
    keys.resetPlain();
    keys.reserve(keys.dictSize + n);
    const codes = new Int32Array(n);
    let filled = 0;
    while (filled < n) {
      let page = this.page;
      if (page === null || page.pos === page.rows) page = this.nextPage(n - filled);
      const m = Math.min(n - filled, page.rows - page.pos);
      const pos = page.pos;
      if (page.codes !== null) {
        codes.set(page.codes.subarray(pos, pos + m), filled);
      } else if (page.defs === null) {
        readPlainRows(keys, page.values, m, codes, filled);
      } else {
        const defs = page.defs;
        let present = 0;
        for (let j = pos; j < pos + m; j++) present += defs[j];
        const got = present === m ? codes : new Int32Array(present);
        readPlainRows(keys, page.values, present, got, present === m ? filled : 0);
        if (got !== codes) for (let j = 0, k = 0; j < m; j++) codes[filled + j] = defs[pos + j] === 1 ? got[k++] : -1;
      }
      page.pos += m;
      filled += m;
    }
    return { codes, keys };
  }

  /** Decodes pages until a data page with rows; `wanted` names the shortfall if the chunk ends first. */
  private nextPage(wanted: number): PageRows {
    const { bytes, rows } = this.src;
    for (;;) {
      if (this.reader.offset >= bytes.length - 1) {
        throw new Error(`its pages hold ${this.rowsSeen} of the ${rows} rows the footer declares (${wanted} more were wanted)`);
      }
      const header = parquetHeader(this.reader);
      const start = this.reader.offset;
      const size = header.compressed_page_size;
      if (start + size > bytes.length) throw new Error(`a page of ${size} bytes at byte ${start} runs past the column chunk (${bytes.length} bytes)`);
      this.reader.offset = start + size;
      const body = bytes.subarray(start, start + size);
      if (header.type === 'DICTIONARY_PAGE') {
        this.readDictionary(header, body);
        continue;
      }
      const page = this.readData(header, body);
      if (page.rows === 0) continue;
      this.rowsSeen += page.rows;
      if (this.rowsSeen > rows) throw new Error(`its pages hold more than the ${rows} rows the footer declares`);
      this.page = page;
      return page;
    }
  }

  private readDictionary(header: PageHeader, body: Uint8Array): void {
    const count = header.dictionary_page_header?.num_values ?? 0;
    const page = decompressPage(body, header.uncompressed_page_size, this.src.meta.codec, this.src.compressors);
    const keys = this.keys;
    keys.startChunk();
    readPlain(keys, { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 }, count);
    keys.dictSize = keys.count;
    keys.generation++;
  }

  private readData(header: PageHeader, body: Uint8Array): PageRows {
    let values: DataReader;
    let defs: Uint8Array | null = null;
    let n: number;
    let encoding: string;
    const { codec } = this.src.meta;
    if (header.type === 'DATA_PAGE' && header.data_page_header !== undefined) {
      const h = header.data_page_header;
      n = h.num_values;
      encoding = h.encoding;
      const page = decompressPage(body, header.uncompressed_page_size, codec, this.src.compressors);
      values = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      if (this.src.optional) {
        defs = new Uint8Array(n);
        readRleBitPackedHybrid(values, 1, defs);
      }
    } else if (header.type === 'DATA_PAGE_V2' && header.data_page_header_v2 !== undefined) {
      const h = header.data_page_header_v2;
      n = h.num_rows;
      encoding = h.encoding;
      const levels = h.repetition_levels_byte_length + h.definition_levels_byte_length;
      if (h.repetition_levels_byte_length !== 0) throw new Error('a flat column has a page with repetition levels');
      if (this.src.optional && h.definition_levels_byte_length > 0) {
        defs = new Uint8Array(n);
        readRleBitPackedHybrid({ view: new DataView(body.buffer, body.byteOffset, levels), offset: 0 }, 1, defs, h.definition_levels_byte_length);
      }
      const size = header.uncompressed_page_size - levels;
      const page = h.is_compressed !== false && size > 0 ? decompressPage(body.subarray(levels), size, codec, this.src.compressors) : body.subarray(levels);
      values = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
    } else {
      throw new Error(`a page of type ${header.type}, which a flat column does not have`);
    }
    return this.pageRows(encoding, n, defs, values);
  }

  private pageRows(encoding: string, n: number, defs: Uint8Array | null, values: DataReader): PageRows {
    let present = n;
    if (defs !== null) {
      present = 0;
      for (let i = 0; i < n; i++) present += defs[i];
    }
    // DuckDB and Spark write OPTIONAL columns without a null as well: their pages are read as REQUIRED ones.
    if (present === n) defs = null;
    if (encoding === 'PLAIN') return { rows: n, pos: 0, codes: null, defs, values };
    if (encoding !== 'PLAIN_DICTIONARY' && encoding !== 'RLE_DICTIONARY') throw new Error(`a page in the ${encoding} encoding, which the footer did not list`);
    const dictSize = this.keys.dictSize;
    if (dictSize === 0 && present > 0) throw new Error('a dictionary-encoded page comes before any dictionary page');
    const width = values.view.getUint8(values.offset++);
    const vals = new Int32Array(present);
    if (width > 0) readIndices(values, width, vals);
    for (let i = 0; i < present; i++) {
      if (vals[i] >= dictSize || vals[i] < 0) throw new Error(`a value points at dictionary entry ${vals[i] >>> 0} of ${dictSize}`);
    }
    if (defs === null) return { rows: n, pos: 0, codes: vals, defs: null, values };
    const codes = new Int32Array(n);
    for (let i = 0, j = 0; i < n; i++) codes[i] = defs[i] === 1 ? vals[j++] : -1;
    return { rows: n, pos: 0, codes, defs: null, values };
  }
}


/**
 * A dictionary page's indices (the RLE / bit-packed hybrid, to the page's end) into out, a bit-packed
 * run read through a 32-bit window without a DataView call per byte (about 4× hyparquet's reader).
 * Widths past 24 bits (a dictionary of 16M entries in one chunk) go through a window of doubles:
 * hyparquet's reader overflows its 32-bit window there and gives wrong indices. Like hyparquet, a run
 * must hold all its bytes.
 */
export function readIndices(reader: DataReader, width: number, out: Int32Array): void {
  const view = reader.view;
  const end = view.byteLength;
  if (width > 32) throw new Error(`dictionary indices of ${width} bits, past the 32 a page may have`);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, end);
  const valueBytes = (width + 7) >> 3;
  const short = (): Error => new Error(`a page of dictionary indices ends at byte ${end}, inside a run`);
  let o = reader.offset;
  let seen = 0;
  while (seen < out.length) {
    let header = 0;
    let shift = 0;
    let b: number;
    do {
      if (o >= end || shift > 28) throw short();
      b = bytes[o++];
      header |= (b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) !== 0);
    if ((header & 1) === 0) {
      if (o + valueBytes > end) throw short();
      let v = 0;
      for (let i = 0; i < valueBytes; i++) v |= bytes[o++] << (i << 3);
      const stop = Math.min(out.length, seen + (header >>> 1));
      out.fill(v, seen, stop);
      seen = stop;
    } else {
      const runBytes = (header >>> 1) * width;
      if (o + runBytes > end) throw short();
      const stop = Math.min(out.length, seen + ((header >>> 1) << 3));
      if (width <= 24) seen = unpackNarrow(bytes, o, width, out, seen, stop);
      else seen = unpackWide(bytes, o, width, out, seen, stop);
      o += runBytes;
    }
  }
  reader.offset = end;
}

/** Bit-packed values of at most 24 bits from bytes at p into out[seen, stop): a window of 32 bits holds the next one. */
function unpackNarrow(bytes: Uint8Array, p: number, width: number, out: Int32Array, seen: number, stop: number): number {
  const mask = (1 << width) - 1;
  let acc = 0;
  let bits = 0;
  while (seen < stop) {
    while (bits < width) {
      acc |= bytes[p++] << bits;
      bits += 8;
    }
    out[seen++] = acc & mask;
    acc >>>= width;
    bits -= width;
  }
  return seen;
}

/** unpackNarrow for 25 to 32 bits: the window is a double (exact to 2^53, and it holds at most 39 bits). */
function unpackWide(bytes: Uint8Array, p: number, width: number, out: Int32Array, seen: number, stop: number): number {
  const span = 2 ** width;
  let acc = 0;
  let bits = 0;
  while (seen < stop) {
    while (bits < width) {
      acc += bytes[p++] * 2 ** bits;
      bits += 8;
    }
    const v = acc % span;
    out[seen++] = v | 0;
    acc = (acc - v) / span;
    bits -= width;
  }
  return seen;
}

/** Text key k's index: a canonical integer's is its digits' (IdVocab.internInteger), with no second pass over them; a short id's through `short` when given. */
function internKey(keys: FlatKeys, k: number, vocab: IdVocab, short: ShortIds | null): number {
  const n = keys.nums[k];
  if (n >= 0) return vocab.internInteger(n);
  const from = keys.starts[k];
  const to = keys.ends[k];
  return short !== null && to - from <= SHORT_ID_BYTES ? short.intern(keys.data, from, to, vocab) : vocab.internBytes(keys.data, from, to);
}

/**
 * Text keys interned once per dictionary entry: entry → index + 1 (0: not yet) for one FlatKeys and
 * its current dictionary (a new chunk's dictionary bumps `generation`); plain keys are interned each time.
 */
class DictionaryIds {
  private cache = new Int32Array(0);
  private keys: FlatKeys | null = null;
  private generation = -1;

  /** Starts again when `keys` or its dictionary is not the one cached; returns whether it did. */
  follow(keys: FlatKeys): boolean {
    if (this.keys === keys && this.generation === keys.generation) return false;
    this.cache = new Int32Array(keys.dictSize);
    this.keys = keys;
    this.generation = keys.generation;
    return true;
  }

  /** Key k's index in `vocab` (k a text key of the keys last followed), short ids through `short` when given. */
  intern(keys: FlatKeys, k: number, vocab: IdVocab, short: ShortIds | null = null): number {
    if (k >= keys.dictSize) return internKey(keys, k, vocab, short);
    const hit = this.cache[k];
    if (hit !== 0) return hit - 1;
    const idx = internKey(keys, k, vocab, short);
    this.cache[k] = idx + 1;
    return idx;
  }
}

/**
 * One role's view of a slice, giving each row the value hyparquet would (null, a number, a bigint
 * beyond 2^53, a string) except for a non-empty ASCII id, which is this object itself: Ingest
 * interns it through intern(), from the bytes and once per dictionary entry, with no string made.
 */
export class FlatRole extends InternableId implements KeyedColumn {
  private readonly id: boolean;
  private codes: Int32Array = new Int32Array(0);
  private keys: FlatKeys | null = null;
  private key = 0;
  /** The current row, and the slice's local ids and their map (FlatSlice.local). */
  private row = 0;
  private local: Int32Array | null = null;
  private remap: LocalRemap = { table: new Int32Array(0) };
  private readonly entries = new DictionaryIds();
  memo = new Float64Array(0);
  memoCode = new Int32Array(0);

  /** `id`: the role is the user or item column. */
  constructor(id: boolean) {
    super();
    this.id = id;
  }

  set(slice: FlatSlice): void {
    const keys = slice.keys;
    this.codes = slice.codes;
    this.keys = keys;
    this.local = slice.local?.ids ?? null;
    if (slice.local !== undefined) this.remap = slice.local.remap;
    // A new dictionary: an event role's memo (acceptKeyed) starts again with it.
    if (this.entries.follow(keys) && !this.id) {
      this.memo = new Float64Array(keys.dictSize).fill(Number.NaN);
      this.memoCode = new Int32Array(keys.dictSize);
    }
  }

  asciiIdAt(i: number): boolean {
    if (this.local !== null) return this.local[i] >= 0;
    const k = this.codes[i];
    const keys = this.keys as FlatKeys;
    return this.id && k >= 0 && keys.kind === 'text' && keys.ascii[k] === 1;
  }

  internAt(i: number, vocab: IdVocab): number {
    const keys = this.keys as FlatKeys;
    const k = this.codes[i];
    const local = this.local;
    if (local === null) return this.entries.intern(keys, k, vocab);
    const w = local[i];
    const table = this.remap.table;
    const was = table[w];
    if (was !== 0) return was - 1;
    const idx = internKey(keys, k, vocab, null);
    table[w] = idx + 1;
    return idx;
  }

  dictKeyAt(i: number): number {
    const k = this.codes[i];
    const keys = this.keys as FlatKeys;
    return k >= 0 && k < keys.dictSize && keys.kind === 'text' ? k : -1;
  }

  numberAt(i: number): number {
    const k = this.codes[i];
    const keys = this.keys as FlatKeys;
    if (k < 0 || keys.kind === 'text') return Number.NaN;
    const v = keys.nums[k];
    return keys.kind !== 'int64' || (v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) ? v : Number.NaN;
  }

  valueAt(i: number): unknown {
    const k = this.codes[i];
    if (k < 0) return null;
    const keys = this.keys as FlatKeys;
    switch (keys.kind) {
      case 'text':
        if (this.id && keys.ascii[k] === 1) {
          this.key = k;
          this.row = i;
          return this;
        }
        return keys.text(k);
      case 'int64':
        return keys.int64(k);
      default:
        return keys.nums[k];
    }
  }

  /** The current row's ASCII id, interned by its bytes (the index its text would get). */
  intern(vocab: IdVocab): number {
    return this.internAt(this.row, vocab);
  }

  /** The current row's id as text, for a reject's raw row. */
  toJSON(): string {
    return (this.keys as FlatKeys).text(this.key);
  }
}
