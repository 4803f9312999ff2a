/**
 * The catalogue's rows as they are read (issue #21): each accepted row is featurised at once (its texts, when
 * `deferred` is set, by a worker thread whose lists come back in slot order: text-queue.ts) into growing typed
 * arrays, one slot per row, so that no row's text or values are kept (a million-item catalogue costs its output
 * arrays, not a JS object per item). A key maps to its latest slot; an earlier row of the same key leaves an
 * unused slot behind. Category and multi values get local codes here, in order of first appearance in the file;
 * catalogue-build.ts maps them to the dataset's codes once the order of the items is known.
 *
 * Duplicates are told apart from conflicting duplicates by a 64-bit hash of the row's values (two 32-bit lanes
 * over a canonical encoding): no earlier row is kept to compare with, so two different rows that hash alike would
 * be counted as the same (about 1 in 2^64 per pair). While a worker thread featurises the texts, it also hashes
 * each text it is sent as it is (text-batch.ts unitsHash), so the main thread hashes only the rest of the row, and
 * a duplicate is settled once both rows' texts are back (`settle`).
 *
 * The one exception to keeping no text: the display title (one text feature, capped; item-titles.ts), the latest
 * row's, kept as UTF-8 bytes (title-bytes.ts), not as a string per item.
 */
import { displayTitle } from '../item-titles.js';
import { parseCatalogueNumber } from '../price.js';
import { TextFeaturizer } from '../text.js';
import { OBJECT_VALUE, type FeatureSpec, type RawValue } from './catalogue-spec.js';
import { KeyTable } from './key-table.js';
import { FNV_OFFSET, LANE2_OFFSET, laneUnits, laneWord, mix } from './string-hash.js';
import { TitleBytes } from './title-bytes.js';

/** Per slot and feature: what the row held. */
export const VALUE_MISSING = 0;
export const VALUE_PRESENT = 1;
/** Present but not usable as the kind asks: text with no word, a category with several values, an unparsable number (stored as missing). */
export const VALUE_INVALID = 2;

/** A typed array grown by doubling: `a` holds `n` values (the rest is spare room). */
class Grow<A extends Int32Array | Float64Array | Uint8Array> {
  a: A;
  n = 0;
  private readonly make: (length: number) => A;
  constructor(make: (length: number) => A, cap: number) {
    this.make = make;
    this.a = make(cap);
  }
  reserve(extra: number): void {
    if (this.n + extra <= this.a.length) return;
    const b = this.make(Math.max(this.n + extra, 2 * this.a.length));
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
  push(x: number): void {
    if (this.n === this.a.length) this.reserve(1);
    this.a[this.n++] = x;
  }
}

export class GrowInt32 extends Grow<Int32Array> {
  constructor(cap = 1024) {
    super((length) => new Int32Array(length), cap);
  }
}

export class GrowFloat64 extends Grow<Float64Array> {
  constructor(cap = 1024) {
    super((length) => new Float64Array(length), cap);
  }
}

class GrowUint8 extends Grow<Uint8Array> {
  constructor(cap = 1024) {
    super((length) => new Uint8Array(length), cap);
  }
}

/** Chunk of a ChunkedLists: 4 MiB of int32, so that growing never copies and never overshoots by more than one. */
const CHUNK = 1 << 20;

/** How list features are read back out of the store, a list at a time. */
/** A text feature's counts as item_features.arrow stores them: the narrowest of these that holds its largest count. */
export type CountArray = Uint8Array | Uint16Array | Int32Array;
/** Which of CountArray's types a column's counts take (catalogue-build.ts countArrayFor). */
export type CountType = 'uint8' | 'uint16' | 'int32';

export interface ListStore {
  readonly withCounts: boolean;
  lengthOf(s: number): number;
  /** Copies list s to values[at, …) (through `remap` when given) and, for text, its counts to counts[at, …). */
  copyTo(s: number, values: Int32Array, counts: CountArray | null, at: number, remap: Int32Array | null): void;
  /** Text: the largest count in list s (0 for an empty list); 0 without counts. */
  maxCountOf(s: number): number;
  /** Text: at least the largest count of any list held (so ≤ 255 tells every list written fits Uint8 unread); 0 without counts. */
  readonly countBound: number;
}

/**
 * Lists of int32 appended one after another, in fixed chunks: a list never spans two chunks (one longer than a
 * chunk gets a chunk of its own), so list s is chunk[start[s] / CHUNK] from start[s] % CHUNK, `length[s]` long.
 * Unlike a doubling array, it never copies what it holds nor holds twice what it needs.
 */
export class ChunkedLists implements ListStore {
  readonly withCounts = false;
  readonly countBound = 0;
  readonly chunks: Int32Array[] = [];
  /** Per list: chunk index × CHUNK + position (a float64: past 2^31 values for ten million titles). */
  readonly start = new GrowFloat64();
  readonly length = new GrowInt32();
  /** The chunk lists are appended to. */
  last: Int32Array = new Int32Array(0);
  private used = 0;

  /** Appends values[from, from + len) as the next list (a short one, copied value by value: no view). */
  pushFrom(values: Int32Array, from: number, len: number): void {
    const at = this.alloc(len);
    const last = this.last;
    for (let k = 0; k < len; k++) last[at + k] = values[from + k];
  }

  /** Appends values[0, len) as the next list; returns its index. */
  push(values: Int32Array, len: number): number {
    const at = this.alloc(len);
    this.last.set(len === values.length ? values : values.subarray(0, len), at);
    return this.length.n - 1;
  }

  /** Appends a list of `len` values, to be written to `last` from the position returned. */
  alloc(len: number): number {
    // The first list gets a chunk even when empty: its start must name a chunk that exists.
    if (this.chunks.length === 0 || this.used + len > this.last.length) {
      this.last = new Int32Array(Math.max(CHUNK, len));
      this.chunks.push(this.last);
      this.used = 0;
    }
    const at = this.used;
    this.start.push((this.chunks.length - 1) * CHUNK + at);
    this.used += len;
    this.length.push(len);
    return at;
  }

  /**
   * Makes `chunk` (at most CHUNK long, full) the chunk lists are appended to, without copying it: the caller
   * never writes to it again. Lists in it are then added by addAt.
   */
  adopt(chunk: Int32Array): void {
    this.chunks.push(chunk);
    this.last = chunk;
    this.used = chunk.length;
  }

  /** Appends the list `last`[at, at + len) (an adopted chunk's). */
  addAt(at: number, len: number): void {
    this.start.push((this.chunks.length - 1) * CHUNK + at);
    this.length.push(len);
  }

  /** Drops the list just appended (its room in `last` is reused). */
  unpush(): void {
    this.used -= this.length.a[--this.length.n];
    this.start.n--;
  }

  lengthOf(s: number): number {
    return this.length.a[s];
  }

  /** The values of list s (a view). */
  valuesOf(s: number): Int32Array {
    const st = this.start.a[s];
    const c = Math.floor(st / CHUNK);
    const at = st - c * CHUNK;
    return this.chunks[c].subarray(at, at + this.length.a[s]);
  }

  copyTo(s: number, values: Int32Array, _counts: CountArray | null, at: number, remap: Int32Array | null): void {
    const v = this.valuesOf(s);
    if (remap === null) values.set(v, at);
    else for (let k = 0; k < v.length; k++) values[at + k] = remap[v[k]];
  }

  maxCountOf(): number {
    return 0;
  }
}

/** How TextLists packs a list of `numBuckets` buckets: count << bits | bucket while the count is at most maxCount. */
export function textPacking(numBuckets: number): { bits: number; maxCount: number } {
  const bits = Math.max(1, 32 - Math.clz32(numBuckets - 1));
  // Counts go in the bits above the bucket, read back unsigned (>>>): none left past 2^31 buckets.
  return { bits, maxCount: bits <= 24 ? 2 ** (32 - bits) - 1 : 0 };
}

/**
 * A text feature's buckets and counts, one int32 per bucket: count << bits | bucket, where `bits` holds any bucket
 * (18 for 2^18 buckets, leaving counts up to 16,383), which halves what a million titles hold. A list with a
 * count past that (a 16 KiB run of one letter) is kept unpacked beside the others.
 */
export class TextLists implements ListStore {
  readonly withCounts = true;
  countBound = 0;
  private readonly packed = new ChunkedLists();
  private readonly wideValues = new ChunkedLists();
  private readonly wideCounts = new ChunkedLists();
  /** Per list: its index in `packed` (≥ 0), or −1 − its index in wideValues/wideCounts. */
  private readonly where = new GrowInt32();
  private readonly bits: number;
  private readonly mask: number;
  private readonly maxCount: number;

  constructor(numBuckets: number) {
    ({ bits: this.bits, maxCount: this.maxCount } = textPacking(numBuckets));
    this.mask = this.bits >= 32 ? -1 : (1 << this.bits) - 1;
  }

  /**
   * Appends a list packed already (textPacking; every count within maxCount): src[from, from + len), whose counts
   * are at most `bound`. `src` is kept as a chunk of its own, not copied, when it fits one (the lists of a batch from
   * the featuriser thread, which come in one array sized to them): the caller never writes to it again.
   */
  pushPacked(src: Int32Array, from: number, len: number, bound: number): void {
    if (bound > this.countBound) this.countBound = bound;
    if (src.length > CHUNK) {
      const at = this.packed.alloc(len);
      this.packed.last.set(src.subarray(from, from + len), at);
    } else {
      if (src !== this.packed.last) this.packed.adopt(src);
      this.packed.addAt(from, len);
    }
    this.where.push(this.packed.length.n - 1);
  }

  /** Appends a list kept unpacked (a count past maxCount). */
  pushWide(buckets: Int32Array, counts: Int32Array, len: number): void {
    for (let k = 0; k < len; k++) if (counts[k] > this.countBound) this.countBound = counts[k];
    this.where.push(-1 - this.wideValues.push(buckets, len));
    this.wideCounts.push(counts, len);
  }

  push(buckets: Int32Array, counts: Int32Array, len: number): void {
    const at = this.packed.alloc(len);
    const p = this.packed.last;
    const bits = this.bits;
    let max = 0;
    for (let k = 0; k < len; k++) {
      const c = counts[k];
      if (c > max) max = c;
      p[at + k] = (c << bits) | buckets[k];
    }
    if (max <= this.maxCount) {
      this.where.push(this.packed.length.n - 1);
      if (max > this.countBound) this.countBound = max;
      return;
    }
    this.packed.unpush();
    this.pushWide(buckets, counts, len);
  }

  lengthOf(s: number): number {
    const w = this.where.a[s];
    return w >= 0 ? this.packed.lengthOf(w) : this.wideValues.lengthOf(-1 - w);
  }

  maxCountOf(s: number): number {
    const w = this.where.a[s];
    let max = 0;
    if (w < 0) {
      for (const c of this.wideCounts.valuesOf(-1 - w)) if (c > max) max = c;
      return max;
    }
    const st = this.packed.start.a[w];
    const c = Math.floor(st / CHUNK);
    const from = st - c * CHUNK;
    const to = from + this.packed.length.a[w];
    const p = this.packed.chunks[c];
    const bits = this.bits;
    for (let k = from; k < to; k++) {
      const n = p[k] >>> bits;
      if (n > max) max = n;
    }
    return max;
  }

  /** `counts` is one of CountArray's types, wide enough for every count it is given (ListSource.countType). */
  copyTo(s: number, values: Int32Array, counts: CountArray | null, at: number): void {
    const w = this.where.a[s];
    if (w < 0) {
      values.set(this.wideValues.valuesOf(-1 - w), at);
      counts?.set(this.wideCounts.valuesOf(-1 - w), at);
      return;
    }
    // No view per list: a million items' lists are read out at writing time.
    const st = this.packed.start.a[w];
    const c = Math.floor(st / CHUNK);
    const from = st - c * CHUNK;
    const to = from + this.packed.length.a[w];
    const p = this.packed.chunks[c];
    const { bits, mask } = this;
    if (counts === null) for (let k = from; k < to; k++) values[at + k - from] = p[k] & mask;
    else {
      for (let k = from; k < to; k++) {
        const x = p[k];
        values[at + k - from] = x & mask;
        counts[at + k - from] = x >>> bits;
      }
    }
  }
}

/** Values in order of first appearance, each with its code (the index of key-table.ts). */
export class LocalVocab extends KeyTable {}

/**
 * Where text values go when they are featurised elsewhere (text-queue.ts: a worker thread): each list comes back
 * through SlotColumn.resolveText, in the order the texts were added.
 */
export interface DeferredTexts {
  add(column: SlotColumn, slot: number, text: string): void;
}

/** One feature's values by slot: a list (text buckets and counts, multi codes), a code (category) or a number. */
export class SlotColumn {
  readonly spec: FeatureSpec;
  readonly status = new GrowUint8();
  /** text (buckets and counts), multi (local codes): one list per slot. */
  readonly lists: ListStore | null;
  private readonly text: TextLists | null;
  private readonly multi: ChunkedLists | null;
  /** category: local code, −1 when missing. */
  readonly codes: GrowInt32 | null;
  readonly numbers: GrowFloat64 | null;
  readonly vocab: LocalVocab | null;
  private readonly scratch: string[] = [];
  private codeScratch = new Int32Array(64);
  /** text featurised on the thread: per slot, the hash of the text it was sent (unitsHash), at 2 × slot. */
  readonly textHashes: GrowInt32 | null;
  /**
   * multi, `|`-joined (addPiped): each distinct field seen, while there are at most FIELD_CACHE_MAX, and its codes,
   * field k's at fieldCodes[fieldAt[k], fieldAt[k + 1]); null once past that (then every field is read part by part).
   */
  private fields: KeyTable | null;
  private readonly fieldAt = new GrowInt32(64);
  private readonly fieldCodes = new GrowInt32(256);

  constructor(spec: FeatureSpec, numBuckets: number) {
    this.spec = spec;
    this.text = spec.kind === 'text' ? new TextLists(numBuckets) : null;
    this.multi = spec.kind === 'multi' ? new ChunkedLists() : null;
    this.lists = this.text ?? this.multi;
    this.codes = spec.kind === 'category' ? new GrowInt32() : null;
    this.numbers = spec.kind === 'number' ? new GrowFloat64() : null;
    this.vocab = spec.kind === 'category' || spec.kind === 'multi' ? new LocalVocab() : null;
    this.textHashes = spec.kind === 'text' ? new GrowInt32() : null;
    this.fields = spec.kind === 'multi' ? new KeyTable() : null;
    this.fieldAt.push(0);
  }

  /**
   * Adds the next slot's value; a text goes to `deferred` when given (its list is pushed by resolveText). `piped`:
   * a multi value given as one string is its values joined by `|` (a CSV/TSV field), read without splitting it.
   */
  add(v: RawValue, featurizer: TextFeaturizer, deferred: DeferredTexts | null = null, piped = false): void {
    const kind = this.spec.kind;
    if (piped && kind === 'multi' && typeof v === 'string') {
      this.addPiped(v);
      return;
    }
    if (kind === 'category' && typeof v === 'string' && plainEnds(v, 0, v.length)) {
      // The usual category value: nothing to trim, one value.
      this.status.push(VALUE_PRESENT);
      (this.codes as GrowInt32).push((this.vocab as LocalVocab).intern(v));
      return;
    }
    if (isEmpty(v)) {
      this.status.push(VALUE_MISSING);
      if (kind === 'category') (this.codes as GrowInt32).push(-1);
      else if (kind === 'number') (this.numbers as GrowFloat64).push(Number.NaN);
      // A deferred column's lists arrive in slot order, so a missing text waits its turn as an empty one.
      else if (this.text !== null && deferred !== null) deferred.add(this, this.status.n - 1, '');
      else if (this.text !== null) this.text.push(this.codeScratch, this.codeScratch, 0);
      else this.multi?.push(this.codeScratch, 0);
      return;
    }
    if (kind === 'text' && deferred !== null) {
      // Present until the featuriser finds no word in it (resolveText).
      this.status.push(VALUE_PRESENT);
      deferred.add(this, this.status.n - 1, typeof v === 'string' ? v : (v ?? []).join('\n'));
    } else if (kind === 'text') {
      const n = featurizer.featurizeInto(typeof v === 'string' ? v : (v ?? []).join('\n'));
      this.status.push(n === 0 ? VALUE_INVALID : VALUE_PRESENT);
      (this.text as TextLists).push(featurizer.lastBuckets, featurizer.lastCounts, n);
    } else if (kind === 'number') {
      const parsed = typeof v === 'string' ? parseCatalogueNumber(v) : null;
      // `N/A`, `""`, `-` are missing values, not invalid ones.
      this.status.push(parsed !== null && parsed.ok ? VALUE_PRESENT : parsed !== null && parsed.reason === 'empty' ? VALUE_MISSING : VALUE_INVALID);
      (this.numbers as GrowFloat64).push(parsed !== null && parsed.ok ? parsed.value : Number.NaN);
    } else {
      const vals = listOf(v, this.scratch);
      const vocab = this.vocab as LocalVocab;
      if (kind === 'category') {
        this.status.push(vals.length > 1 ? VALUE_INVALID : VALUE_PRESENT);
        (this.codes as GrowInt32).push(vocab.intern(vals[0]));
      } else {
        this.status.push(VALUE_PRESENT);
        if (vals.length > this.codeScratch.length) this.codeScratch = new Int32Array(2 * vals.length);
        for (let k = 0; k < vals.length; k++) this.codeScratch[k] = vocab.intern(vals[k]);
        (this.multi as ChunkedLists).push(this.codeScratch, vals.length);
      }
    }
  }

  /**
   * A multi value of `|`-joined values (see add): as add would take v.split('|'). A field seen before takes the codes
   * it got then (a catalogue's category paths repeat: one lookup of the field instead of one per value); a new one
   * is read value by value in place (addParts).
   */
  private addPiped(v: string): void {
    const fields = this.fields;
    const multi = this.multi as ChunkedLists;
    if (fields !== null) {
      const seen = fields.size;
      const k = fields.intern(v);
      if (k < seen) {
        const from = this.fieldAt.a[k];
        const n = this.fieldAt.a[k + 1] - from;
        // No value (blank) is the only way to no codes: a field with a value has a code.
        this.status.push(n > 0 ? VALUE_PRESENT : VALUE_MISSING);
        multi.pushFrom(this.fieldCodes.a, from, n);
        return;
      }
    }
    const n = this.addParts(v);
    if (fields === null) return;
    if (fields.size > FIELD_CACHE_MAX) {
      // Fields that rarely repeat (lists of tags): stop keeping them.
      this.fields = null;
      return;
    }
    for (let j = 0; j < n; j++) this.fieldCodes.push(this.codeScratch[j]);
    this.fieldAt.push(this.fieldCodes.n);
  }

  /** addPiped of a field not seen before, value by value: its codes stay in codeScratch; returns how many. */
  private addParts(v: string): number {
    if (pipedBlank(v)) {
      this.status.push(VALUE_MISSING);
      (this.multi as ChunkedLists).push(this.codeScratch, 0);
      return 0;
    }
    this.status.push(VALUE_PRESENT);
    const vocab = this.vocab as LocalVocab;
    let n = 0;
    for (let from = 0; from <= v.length; ) {
      let to = v.indexOf('|', from);
      if (to < 0) to = v.length;
      let code: number;
      if (plainEnds(v, from, to)) code = vocab.internRange(v, from, to);
      else {
        const t = v.slice(from, to).trim();
        code = t === '' ? -1 : vocab.intern(t);
      }
      from = to + 1;
      // Equal codes are equal values: the first of each is kept, as listOf keeps the first of equal strings.
      if (code < 0 || seenCode(this.codeScratch, n, code)) continue;
      if (n === this.codeScratch.length) {
        const grown = new Int32Array(2 * n);
        grown.set(this.codeScratch);
        this.codeScratch = grown;
      }
      this.codeScratch[n++] = code;
    }
    (this.multi as ChunkedLists).push(this.codeScratch, n);
    return n;
  }

  /**
   * Slot `slot`'s deferred text list (DeferredTexts), the next of this column: `len` values packed by textPacking
   * at src[from, …) with counts at most `bound`, or (len < 0, a count past the packed range) −len buckets then −len
   * counts; the hash of its text at hashes[h], hashes[h + 1].
   */
  resolveText(slot: number, src: Int32Array, from: number, len: number, hashes: Int32Array, h: number, bound: number): void {
    const th = this.textHashes as GrowInt32;
    th.reserve(2 * slot + 2 - th.n);
    th.a[2 * slot] = hashes[h];
    th.a[2 * slot + 1] = hashes[h + 1];
    th.n = 2 * slot + 2;
    const lists = this.text as TextLists;
    if (len >= 0) lists.pushPacked(src, from, len, bound);
    else lists.pushWide(src.subarray(from, from - len), src.subarray(from - len, from - 2 * len), -len);
    if (len === 0 && this.status.a[slot] !== VALUE_MISSING) this.status.a[slot] = VALUE_INVALID;
  }
}

/** Distinct `|`-joined fields a multi column remembers the codes of (SlotColumn.addPiped): about 10 MB at most. */
const FIELD_CACHE_MAX = 1 << 16;

/** Whether s[from, to) is non-empty and starts and ends with a printable ASCII character (so trim leaves it as is). */
function plainEnds(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  const a = s.charCodeAt(from);
  const b = s.charCodeAt(to - 1);
  return a > 32 && a < 127 && b > 32 && b < 127;
}

function seenCode(codes: Int32Array, n: number, code: number): boolean {
  for (let k = 0; k < n; k++) if (codes[k] === code) return true;
  return false;
}

/** isEmpty(v.split('|')) without the split. */
function pipedBlank(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 124) continue;
    if (c > 32 && c < 127) return false;
    // Other characters may be whitespace to trim: the exact rule.
    return v.split('|').every((x) => x.trim() === '');
  }
  return true;
}

function isEmpty(v: RawValue): boolean {
  return v === null || (typeof v === 'string' ? v.trim() === '' : v.every((x) => x.trim() === ''));
}

/** The distinct trimmed non-empty values, in order, into `out` (reused). */
function listOf(v: RawValue, out: string[]): string[] {
  out.length = 0;
  const raw = v === null ? [] : typeof v === 'string' ? [v] : v;
  for (const s of raw) {
    const t = s.trim();
    if (t !== '' && !out.includes(t)) out.push(t);
  }
  return out;
}

const TAG_NULL = 1;
const TAG_STRING = 2;
const TAG_LIST = 3;
/** A text whose units the featuriser thread hashes (CatalogueStore.add). */
const TAG_ON_THREAD = 4;

/**
 * Two 32-bit hashes of the values (an FNV-1a and a multiply-xorshift lane over tag, length and the UTF-16 units of
 * each, two units a step: titles are most of what a row's hash reads). `piped[f]`: a string value of column f is
 * hashed as the list of its `|`-separated parts (as v.split('|') would be), without splitting it. `onThread[f]`:
 * column f's value is a text that the featuriser thread hashes (CatalogueStore.add), so only its tag is read here.
 */
function valuesHash(values: readonly RawValue[], piped: readonly boolean[] | null, onThread: readonly boolean[] | null, out: Int32Array): void {
  // out carries the two lanes (string-hash.ts) until the last line finishes them.
  const lanes = out;
  lanes[0] = FNV_OFFSET;
  lanes[1] = LANE2_OFFSET;
  for (let f = 0; f < values.length; f++) {
    const v = values[f];
    if (onThread !== null && onThread[f]) {
      laneWord(lanes, TAG_ON_THREAD);
      continue;
    }
    const split = piped !== null && piped[f] && typeof v === 'string';
    const tag = v === null ? TAG_NULL : typeof v === 'string' && !split ? TAG_STRING : TAG_LIST;
    laneWord(lanes, tag);
    if (v === null) continue;
    const list = typeof v === 'string' ? null : v;
    const n = list !== null ? list.length : split ? countParts(v as string) : 1;
    if (tag === TAG_LIST) laneWord(lanes, n);
    let next = 0;
    for (let k = 0; k < n; k++) {
      const s = list === null ? (v as string) : list[k];
      let from = 0;
      let to = s.length;
      if (split) {
        from = next;
        to = s.indexOf('|', from);
        if (to < 0) to = s.length;
        next = to + 1;
      }
      laneUnits(lanes, s, from, to);
    }
  }
  out[0] = mix(lanes[0]);
  out[1] = mix(lanes[1]);
}

function countParts(s: string): number {
  let n = 1;
  for (let i = s.indexOf('|'); i >= 0; i = s.indexOf('|', i + 1)) n++;
  return n;
}

/** Every accepted row of a catalogue, featurised, by key. */
export class CatalogueStore {
  readonly features: readonly FeatureSpec[];
  readonly featurizer: TextFeaturizer;
  /** Raw item id → its key index, in order of first appearance. */
  readonly keys = new KeyTable();
  /** Key index → its latest slot. */
  readonly slotOfKey = new GrowInt32();
  readonly columns: SlotColumn[];
  slots = 0;
  /** Set while a worker thread featurises the texts (text-queue.ts). */
  deferred: DeferredTexts | null = null;
  duplicates = 0;
  conflicting = 0;
  /** Key index → the hash of its latest row's values (two lanes). */
  private readonly hashes = new GrowInt32();
  private readonly hash = new Int32Array(2);
  /** The feature kept verbatim as the display title (−1: none), and key index → its latest row's title. */
  readonly titleFeature: number;
  readonly titles = new TitleBytes();
  /** Per feature: whether it is multi (a `|`-joined string value of it is split: add's `piped`). */
  private readonly multiColumns: readonly boolean[];
  /** Per feature, for this row: whether its value is a text the thread hashes (reused; see add). */
  private readonly onThread: boolean[];
  private readonly textColumns: SlotColumn[];
  /** The longest text the thread is sent as it is (text-queue.ts cuts longer ones). */
  private readonly sentWhole: number;
  /** Duplicates to settle once the thread's hashes are in: (earlier slot, later slot, 1 when the rest differs). */
  private readonly pending = new GrowInt32();

  constructor(features: readonly FeatureSpec[], featurizer = new TextFeaturizer(), titleFeature = -1) {
    this.features = features;
    this.featurizer = featurizer;
    this.columns = features.map((f) => new SlotColumn(f, featurizer.numBuckets));
    this.titleFeature = titleFeature;
    this.multiColumns = features.map((f) => f.kind === 'multi');
    this.onThread = features.map(() => false);
    this.textColumns = this.columns.filter((c) => c.spec.kind === 'text');
    this.sentWhole = featurizer.spec().max_chars + 1;
  }

  /**
   * Which values of this row are texts the featuriser thread is sent as they are, so that it hashes them (the
   * thread reads them anyway): the duplicate check then compares those hashes once they are in (settle).
   */
  private markOnThread(values: readonly RawValue[]): boolean {
    let any = false;
    for (let f = 0; f < values.length; f++) {
      const v = values[f];
      const on = this.deferred !== null && this.features[f].kind === 'text' && typeof v === 'string' && v.length <= this.sentWhole && v.trim() !== '';
      this.onThread[f] = on;
      any ||= on;
    }
    return any;
  }

  /** Counts the conflicting duplicates whose texts were hashed on the thread: call once every text list is in. */
  settle(): void {
    const p = this.pending.a;
    for (let i = 0; i < this.pending.n; i += 3) {
      let differs = p[i + 2] === 1;
      for (const c of this.textColumns) {
        const th = (c.textHashes as GrowInt32).a;
        if (th[2 * p[i]] !== th[2 * p[i + 1]] || th[2 * p[i] + 1] !== th[2 * p[i + 1] + 1]) differs = true;
      }
      if (differs) this.conflicting++;
    }
    this.pending.n = 0;
  }

  /**
   * Adds a row: its values in the order of `features`. A later row of a key replaces the earlier one. `piped`: a
   * multi feature's string value is its values joined by `|` (CSV/TSV), the same row as the split values would be.
   */
  add(key: string, values: readonly RawValue[], piped = false): void {
    const threadHashes = this.deferred !== null && this.textColumns.length > 0;
    valuesHash(values, piped ? this.multiColumns : null, threadHashes && this.markOnThread(values) ? this.onThread : null, this.hash);
    const slot = this.slots++;
    for (let f = 0; f < this.columns.length; f++) this.columns[f].add(values[f], this.featurizer, this.deferred, piped);
    const tv = this.titleFeature < 0 ? null : values[this.titleFeature];
    const title = tv === null || tv === OBJECT_VALUE ? null : displayTitle(tv);
    const k = this.keys.intern(key);
    if (k === this.slotOfKey.n) {
      this.slotOfKey.push(slot);
      this.hashes.push(this.hash[0]);
      this.hashes.push(this.hash[1]);
      if (this.titleFeature >= 0) this.titles.push(title);
      return;
    }
    if (this.titleFeature >= 0) this.titles.set(k, title);
    this.duplicates++;
    const h = this.hashes.a;
    const differs = h[2 * k] !== this.hash[0] || h[2 * k + 1] !== this.hash[1];
    if (threadHashes) {
      // The texts' hashes come back with their lists: compare them then (settle).
      this.pending.push(this.slotOfKey.a[k]);
      this.pending.push(slot);
      this.pending.push(differs ? 1 : 0);
    } else if (differs) this.conflicting++;
    h[2 * k] = this.hash[0];
    h[2 * k + 1] = this.hash[1];
    this.slotOfKey.a[k] = slot;
  }

  /** Items (distinct keys). */
  get size(): number {
    return this.keys.size;
  }
}
