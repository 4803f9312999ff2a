/**
 * Okapi BM25 over item text fields, in the BM25F form of Robertson & Zaragoza 2009, "The Probabilistic Relevance
 * Framework: BM25 and Beyond", §3.5 ("simple BM25F"): the term frequencies of the fields are length-normalised per
 * field, weighted, summed, and only then saturated, so a word in the title and again in the brand is not counted
 * as two independent pieces of evidence.
 *
 *   B_f(d)   = (1 − b_f) + b_f · len_f(d) / avglen_f            (b_f: the field's b, by default the index's b)
 *   tf̃(t, d) = Σ_f  w_f · tf_f(t, d) / B_f(d)                   (w_f: the field weight)
 *   idf(t)   = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))         (Lucene's BM25Similarity: never negative)
 *   score(q, d) = Σ_{t ∈ distinct terms of q}  idf(t) · tf̃(t, d) / (k1 + tf̃(t, d))
 *
 * N is the number of items, df(t) the number of items with t in a field of positive weight, len_f(d) the number
 * of terms of field f of item d (repeats included) and avglen_f its mean over all N items (an item without the field
 * counts 0). The numerator omits R&Z's (k1 + 1) factor, as Lucene does since 8.0: it scales every score by the
 * same constant and so ranks the same, and keeps each term's part in [0, idf). A query term is counted once however
 * often the query repeats it (R&Z's k3 = 0); a term no item has adds nothing. k1 = 0 makes every present term count
 * idf(t) (binary BM25); b = 0 switches length normalisation off.
 *
 * All of that depends on the item only through tf̃, so the index stores, per term, the postings (item index
 * ascending, contribution idf · tf̃ / (k1 + tf̃)) in CSR typed arrays: scoring a query is a sum over its terms'
 * postings, with no JS object per posting. k1, b and the weights are therefore fixed when the index is built.
 *
 * Terms are whatever strings the caller gives; bm25Terms turns a text into the default terms (see there).
 */
import { textTokens } from '../../data/text.js';
import { DataError } from '../../util/errors.js';

/** One text field of the catalogue: per item its terms, or null/undefined when the item lacks the field. */
export interface Bm25Field {
  readonly name: string;
  /** w_f (default 1): must be finite and ≥ 0. */
  readonly weight?: number;
  /** b_f for this field (default: Bm25Options.b). */
  readonly b?: number;
  readonly terms: ReadonlyArray<readonly string[] | null | undefined>;
}

export interface Bm25Options {
  /** Term-frequency saturation (default 1.2, R&Z's usual 1.2 and Lucene's default). */
  readonly k1?: number;
  /** Length normalisation in [0, 1] (default 0.75). */
  readonly b?: number;
}

export const BM25_DEFAULT_K1 = 1.2;
export const BM25_DEFAULT_B = 0.75;

/** What an index records about its fields (for a checkpoint's manifest and for re-building queries). */
export interface Bm25FieldInfo {
  readonly name: string;
  readonly weight: number;
  readonly b: number;
  readonly avgLength: number;
}

export interface Bm25Info {
  readonly k1: number;
  readonly b: number;
  readonly items: number;
  readonly terms: number;
  readonly postings: number;
  readonly fields: readonly Bm25FieldInfo[];
}

/** Lucene's BM25 idf (module comment). */
export function bm25Idf(items: number, df: number): number {
  return Math.log(1 + (items - df + 0.5) / (df + 0.5));
}

function checkParam(name: string, value: number, max = Infinity): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new RangeError(`bm25: ${name} must be a finite number in [0, ${max}]; got ${String(value)}`);
  }
}

function resolveFields(fields: readonly Bm25Field[], b: number): { infos: Bm25FieldInfo[]; items: number } {
  if (fields.length === 0) throw new RangeError('bm25: at least one field is needed');
  const items = fields[0].terms.length;
  const names = new Set<string>();
  const infos: Bm25FieldInfo[] = [];
  for (const f of fields) {
    if (names.has(f.name)) throw new RangeError(`bm25: field ${JSON.stringify(f.name)} is given twice`);
    names.add(f.name);
    if (f.terms.length !== items) {
      throw new RangeError(`bm25: field ${JSON.stringify(f.name)} has ${f.terms.length} items; ${JSON.stringify(fields[0].name)} has ${items}`);
    }
    const weight = f.weight ?? 1;
    const fb = f.b ?? b;
    checkParam(`weight of field ${JSON.stringify(f.name)}`, weight);
    checkParam(`b of field ${JSON.stringify(f.name)}`, fb, 1);
    let total = 0;
    for (const t of f.terms) total += t?.length ?? 0;
    infos.push({ name: f.name, weight, b: fb, avgLength: items > 0 ? total / items : 0 });
  }
  return { infos, items };
}

/** Growable parallel arrays of (term, item, tf̃) triples, in item order. */
class Triples {
  term = new Int32Array(1 << 16);
  item = new Int32Array(1 << 16);
  tf = new Float64Array(1 << 16);
  size = 0;

  push(term: number, item: number, tf: number): void {
    if (this.size === this.term.length) {
      const n = 2 * this.size;
      const grow = <T extends Int32Array | Float64Array>(a: T, b: T): T => (b.set(a), b);
      this.term = grow(this.term, new Int32Array(n));
      this.item = grow(this.item, new Int32Array(n));
      this.tf = grow(this.tf, new Float64Array(n));
    }
    this.term[this.size] = term;
    this.item[this.size] = item;
    this.tf[this.size++] = tf;
  }
}

/** tf̃ of every (term, item) pair, the vocabulary in first-seen order. */
function collect(fields: readonly Bm25Field[], infos: readonly Bm25FieldInfo[], items: number): { vocab: Map<string, number>; triples: Triples } {
  const vocab = new Map<string, number>();
  const triples = new Triples();
  // One item's tf̃ by term id, and the ids it touched: a dense scratch row, cleared after each item.
  let tfOf = new Float64Array(1 << 14);
  const touched: number[] = [];
  for (let d = 0; d < items; d++) {
    for (let f = 0; f < fields.length; f++) {
      const terms = fields[f].terms[d];
      if (!terms || terms.length === 0) continue;
      const { weight, b, avgLength } = infos[f];
      // avgLength > 0 here: this item has terms in the field.
      const unit = weight / (1 - b + (b * terms.length) / avgLength);
      for (const term of terms) {
        let id = vocab.get(term);
        if (id === undefined) {
          id = vocab.size;
          vocab.set(term, id);
          if (id === tfOf.length) {
            const grown = new Float64Array(2 * tfOf.length);
            grown.set(tfOf);
            tfOf = grown;
          }
        }
        if (tfOf[id] === 0) touched.push(id);
        tfOf[id] += unit;
      }
    }
    // An id listed twice (a field of weight 0) is emitted once: its tf̃ is cleared at the first.
    for (const id of touched) {
      if (tfOf[id] > 0) triples.push(id, d, tfOf[id]);
      tfOf[id] = 0;
    }
    touched.length = 0;
  }
  return { vocab, triples };
}

/** Term id by term, and the terms in id order (for saving). */
interface TermTable {
  readonly size: number;
  get(term: string): number | undefined;
  list(): readonly string[];
}

class StringTerms implements TermTable {
  private readonly ids = new Map<string, number>();
  private readonly terms: readonly string[];
  constructor(terms: readonly string[]) {
    this.terms = terms;
    for (let i = 0; i < terms.length; i++) this.ids.set(terms[i], i);
    if (this.ids.size !== terms.length) throw new DataError('bm25 index: a term is listed twice');
  }
  get size(): number {
    return this.ids.size;
  }
  get(term: string): number | undefined {
    return this.ids.get(term);
  }
  list(): readonly string[] {
    return this.terms;
  }
}

const MAX_INT32_DIGITS = 10;

/** `term` as the int32 it spells canonically (digits, no sign, no leading zero), else −1. */
function canonicalInt(term: string): number {
  const n = term.length;
  if (n === 0 || n > MAX_INT32_DIGITS || (n > 1 && term.charCodeAt(0) === 48)) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = term.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= 0x7fffffff ? v : -1;
}

/** Largest term value read through a direct table (4 bytes per value up to it: 16 MB at most, 1 MB for 2^18 buckets). */
const DIRECT_MAX = 2 ** 22;

/**
 * Terms that are all canonical non-negative int32s (the search models' hashed buckets): looked up by number (a direct
 * table below DIRECT_MAX, else binary search over the sorted values), so loading an index makes no string and no map
 * entry per term.
 */
class NumericTerms implements TermTable {
  /** values < DIRECT_MAX: id by value (−1: none); else the values sorted, with their ids beside them. */
  private readonly direct: Int32Array | null;
  private readonly keys: Int32Array;
  private readonly ids: Int32Array;
  private strings: string[] | null = null;
  private readonly byId: Int32Array;
  constructor(byId: Int32Array) {
    this.byId = byId;
    let max = -1;
    for (const v of byId) if (v > max) max = v;
    const twice = new DataError('bm25 index: a term is listed twice');
    if (max < DIRECT_MAX) {
      this.direct = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < byId.length; i++) {
        if (this.direct[byId[i]] >= 0) throw twice;
        this.direct[byId[i]] = i;
      }
      this.keys = this.ids = new Int32Array(0);
      return;
    }
    this.direct = null;
    this.ids = Int32Array.from(byId.keys()).sort((a, b) => byId[a] - byId[b]);
    this.keys = Int32Array.from(this.ids, (i) => byId[i]);
    for (let k = 1; k < this.keys.length; k++) if (this.keys[k] === this.keys[k - 1]) throw twice;
  }
  get size(): number {
    return this.byId.length;
  }
  get(term: string): number | undefined {
    const v = canonicalInt(term);
    if (v < 0) return undefined;
    if (this.direct !== null) return v < this.direct.length && this.direct[v] >= 0 ? this.direct[v] : undefined;
    let lo = 0;
    let hi = this.keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[mid] === v) return this.ids[mid];
      if (this.keys[mid] < v) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
  list(): readonly string[] {
    this.strings ??= Array.from(this.byId, String);
    return this.strings;
  }
}

function isTermTable(t: readonly string[] | TermTable): t is TermTable {
  return !Array.isArray(t);
}

export class Bm25Index {
  readonly info: Bm25Info;
  private readonly vocab: TermTable;
  /** Postings of term t: [offsets[t], offsets[t + 1]). */
  private readonly offsets: Int32Array;
  private readonly postItems: Int32Array;
  private readonly postScores: Float32Array;
  /** Per-call scratch of score and scoreItems: the query's distinct term ids. */
  private readonly seen = new Set<number>();

  private constructor(info: Bm25Info, terms: readonly string[] | TermTable, offsets: Int32Array, postItems: Int32Array, postScores: Float32Array) {
    this.info = info;
    this.vocab = isTermTable(terms) ? terms : new StringTerms(terms);
    this.offsets = offsets;
    this.postItems = postItems;
    this.postScores = postScores;
  }

  /** Builds the index of `fields` (every field lists the same items, in the same order). */
  static build(fields: readonly Bm25Field[], options: Bm25Options = {}): Bm25Index {
    const k1 = options.k1 ?? BM25_DEFAULT_K1;
    const b = options.b ?? BM25_DEFAULT_B;
    checkParam('k1', k1);
    checkParam('b', b, 1);
    const { infos, items } = resolveFields(fields, b);
    const { vocab, triples } = collect(fields, infos, items);
    const terms = vocab.size;
    const offsets = new Int32Array(terms + 1);
    for (let i = 0; i < triples.size; i++) offsets[triples.term[i] + 1]++;
    for (let t = 0; t < terms; t++) offsets[t + 1] += offsets[t];
    const postItems = new Int32Array(triples.size);
    const postScores = new Float32Array(triples.size);
    const fill = offsets.slice(0, terms);
    const idf = new Float64Array(terms);
    for (let t = 0; t < terms; t++) idf[t] = bm25Idf(items, offsets[t + 1] - offsets[t]);
    // Triples come in item order, so a counting sort by term leaves each term's postings in item order.
    for (let i = 0; i < triples.size; i++) {
      const t = triples.term[i];
      const at = fill[t]++;
      const tf = triples.tf[i];
      postItems[at] = triples.item[i];
      postScores[at] = (idf[t] * tf) / (k1 + tf);
    }
    const info: Bm25Info = { k1, b, items, terms, postings: triples.size, fields: infos };
    return new Bm25Index(info, [...vocab.keys()], offsets, postItems, postScores);
  }

  /** Items that have `term` (its document frequency), 0 for an unknown term. */
  df(term: string): number {
    const t = this.vocab.get(term);
    return t === undefined ? 0 : this.offsets[t + 1] - this.offsets[t];
  }

  private distinctTermIds(queryTerms: readonly string[]): number[] {
    const ids: number[] = [];
    this.seen.clear();
    for (const term of queryTerms) {
      const t = this.vocab.get(term);
      if (t === undefined || this.seen.has(t)) continue;
      this.seen.add(t);
      ids.push(t);
    }
    return ids;
  }

  /** Writes every item's score for the query into out[0, items); 0 where no query term occurs. */
  score(queryTerms: readonly string[], out: Float32Array): Float32Array {
    if (out.length < this.info.items) {
      throw new RangeError(`bm25 score: out holds ${out.length} scores; the index has ${this.info.items} items`);
    }
    out.fill(0, 0, this.info.items);
    const { offsets, postItems, postScores } = this;
    for (const t of this.distinctTermIds(queryTerms)) {
      const end = offsets[t + 1];
      for (let p = offsets[t]; p < end; p++) out[postItems[p]] += postScores[p];
    }
    return out;
  }

  /** out[j] = the score of item items[j] (judged re-ranking: only these items are looked up). */
  scoreItems(queryTerms: readonly string[], items: Int32Array, out: Float32Array): Float32Array {
    if (out.length < items.length) {
      throw new RangeError(`bm25 scoreItems: out holds ${out.length} scores for ${items.length} items`);
    }
    for (let j = 0; j < items.length; j++) {
      const d = items[j];
      if (!Number.isInteger(d) || d < 0 || d >= this.info.items) {
        throw new RangeError(`bm25 scoreItems: items[${j}] = ${d} is not an item index in [0, ${this.info.items})`);
      }
    }
    out.fill(0, 0, items.length);
    const { offsets, postItems, postScores } = this;
    for (const t of this.distinctTermIds(queryTerms)) {
      const lo0 = offsets[t];
      const hi0 = offsets[t + 1];
      for (let j = 0; j < items.length; j++) {
        const d = items[j];
        let lo = lo0;
        let hi = hi0;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (postItems[mid] < d) lo = mid + 1;
          else hi = mid;
        }
        if (lo < hi0 && postItems[lo] === d) out[j] += postScores[lo];
      }
    }
    return out;
  }

  /** The index as one byte block (the layout below); fromBytes reads it back exactly. */
  toBytes(): Uint8Array {
    return encodeIndex(this.info, this.vocab.list(), this.offsets, this.postItems, this.postScores);
  }

  /**
   * Reads toBytes' output; `source` (a file name) goes into the error when the block is damaged. `view`: the index
   * may keep views of `bytes` rather than copies (the caller never reuses or frees them).
   */
  static fromBytes(bytes: Uint8Array, source = 'bm25 index', view = false): Bm25Index {
    const d = decodeIndex(bytes, source, view);
    return new Bm25Index(d.info, d.terms, d.offsets, d.postItems, d.postScores);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Byte layout, little-endian, every section starting at a multiple of 4:
//   0  8 bytes  magic "RECBM25\0"
//   8  u32      format version (BM25_FORMAT_VERSION)
//  12  u32      header length H (UTF-8 JSON: Bm25Info plus termBytes and totalBytes)
//  16  H bytes  header, zero-padded to a multiple of 4
//      i32[terms + 1]     where each term starts in the decoded term block, in UTF-16 code units
//      u8[termBytes]      the terms, UTF-8, back to back, zero-padded to a multiple of 4 (terms must be well-formed
//                         Unicode: a lone surrogate would not survive UTF-8)
//      i32[terms + 1]     posting offsets
//      i32[postings]      posting items
//      f32[postings]      posting contributions
// totalBytes in the header must equal the block's length, and every offset array must be non-decreasing and end at
// its section's length: a truncated or padded file is refused rather than read as a smaller index.

export const BM25_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode('RECBM25\0');

interface Header extends Bm25Info {
  readonly termBytes: number;
  readonly totalBytes: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

function encodeIndex(info: Bm25Info, terms: readonly string[], offsets: Int32Array, postItems: Int32Array, postScores: Float32Array): Uint8Array {
  const enc = new TextEncoder();
  const termOffsets = new Int32Array(terms.length + 1);
  for (let i = 0; i < terms.length; i++) termOffsets[i + 1] = termOffsets[i] + terms[i].length;
  const termBlock = enc.encode(terms.join(''));
  const termBytes = termBlock.length;
  const body = 4 * (terms.length + 1) + pad4(termBytes) + 4 * (offsets.length + postItems.length + postScores.length);
  // The header states the total, which depends on the header's own length: repeat until the digits settle.
  const headerFor = (totalBytes: number): Uint8Array => enc.encode(JSON.stringify({ ...info, termBytes, totalBytes } satisfies Header));
  let total = 0;
  let header = headerFor(total);
  while (16 + pad4(header.length) + body !== total) {
    total = 16 + pad4(header.length) + body;
    header = headerFor(total);
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, BM25_FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  let at = 16 + pad4(header.length);
  const put = (a: Int32Array | Float32Array): void => {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  };
  put(termOffsets);
  out.set(termBlock, at);
  at = pad4(at + termBytes);
  put(offsets);
  put(postItems);
  put(postScores);
  return out;
}

function readHeader(bytes: Uint8Array, source: string): { header: Header; at: number } {
  const bad = (why: string): DataError => new DataError(`${source}: not a readable BM25 index (${why})`);
  if (bytes.length < 16 || MAGIC.some((m, i) => bytes[i] !== m)) throw bad('it does not start with RECBM25');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== BM25_FORMAT_VERSION) {
    throw bad(`format version ${version}; this rec reads version ${BM25_FORMAT_VERSION}`);
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) throw bad(`the header claims ${headerLength} bytes; the block has ${bytes.length}`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLength))) as Header;
  } catch (error) {
    throw new DataError(`${source}: not a readable BM25 index (its header is not UTF-8 JSON)`, { cause: error });
  }
  if (header.totalBytes !== bytes.length) {
    throw bad(`it should be ${String(header.totalBytes)} bytes long; it is ${bytes.length} (truncated or damaged)`);
  }
  for (const key of ['items', 'terms', 'postings', 'termBytes'] as const) {
    if (!Number.isSafeInteger(header[key]) || header[key] < 0) throw bad(`header ${key} = ${String(header[key])}`);
  }
  if (!Number.isFinite(header.k1) || !Number.isFinite(header.b) || !Array.isArray(header.fields)) {
    throw bad('its header lacks k1, b or fields');
  }
  return { header, at: 16 + pad4(headerLength) };
}

/**
 * A section as a typed array: with `view`, a view of `bytes` where it starts at a multiple of 4 in its buffer (a
 * serving block read whole: no copy of the postings), else a copy into a fresh aligned array. Not bytes.slice: on a
 * Node Buffer (readFileSync's result) slice is a view, whose .buffer is the whole file.
 */
function section<T extends Int32Array | Float32Array>(bytes: Uint8Array, at: number, n: number, make: (buf: ArrayBuffer, offset: number, length: number) => T, view: boolean): T {
  if (view && (bytes.byteOffset + at) % 4 === 0 && bytes.buffer instanceof ArrayBuffer) return make(bytes.buffer, bytes.byteOffset + at, n);
  const copy = new Uint8Array(4 * n);
  copy.set(bytes.subarray(at, at + 4 * n));
  return make(copy.buffer, 0, n);
}

function checkOffsets(offsets: Int32Array, end: number, what: string, source: string): void {
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== end) {
    throw new DataError(`${source}: not a readable BM25 index (${what} offsets do not span 0..${end})`);
  }
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) throw new DataError(`${source}: not a readable BM25 index (${what} offsets decrease at ${i})`);
  }
}

/**
 * The terms of a term block: as numbers when every one is a canonical int32 (then ASCII, so the UTF-16 offsets are
 * byte offsets), else as strings.
 */
function decodeTerms(block: Uint8Array, termOffsets: Int32Array, source: string): readonly string[] | TermTable {
  const n = termOffsets.length - 1;
  const numbers = new Int32Array(n);
  let numeric = termOffsets[n] === block.length;
  for (let i = 0; i < n && numeric; i++) {
    const from = termOffsets[i];
    const to = termOffsets[i + 1];
    if (to <= from || to - from > MAX_INT32_DIGITS || (to - from > 1 && block[from] === 48)) numeric = false;
    let v = 0;
    for (let k = from; k < to && numeric; k++) {
      const c = block[k] - 48;
      if (c < 0 || c > 9) numeric = false;
      v = v * 10 + c;
    }
    if (v > 0x7fffffff) numeric = false;
    numbers[i] = v;
  }
  if (numeric) {
    checkOffsets(termOffsets, block.length, 'term', source);
    return new NumericTerms(numbers);
  }
  // One decode of the whole block, then slices: decoding 10^5 short terms one by one costs ~10× more.
  const termBlock = new TextDecoder().decode(block);
  checkOffsets(termOffsets, termBlock.length, 'term', source);
  const terms: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) terms[i] = termBlock.slice(termOffsets[i], termOffsets[i + 1]);
  return terms;
}

function decodeIndex(bytes: Uint8Array, source: string, view: boolean): { info: Bm25Info; terms: readonly string[] | TermTable; offsets: Int32Array; postItems: Int32Array; postScores: Float32Array } {
  const { header, at: start } = readHeader(bytes, source);
  let at = start;
  const termOffsets = section(bytes, at, header.terms + 1, (b, o, n) => new Int32Array(b, o, n), view);
  at += 4 * (header.terms + 1);
  const terms = decodeTerms(bytes.subarray(at, at + header.termBytes), termOffsets, source);
  at = pad4(at + header.termBytes);
  const offsets = section(bytes, at, header.terms + 1, (b, o, n) => new Int32Array(b, o, n), view);
  at += 4 * (header.terms + 1);
  checkOffsets(offsets, header.postings, 'posting', source);
  const postItems = section(bytes, at, header.postings, (b, o, n) => new Int32Array(b, o, n), view);
  at += 4 * header.postings;
  const postScores = section(bytes, at, header.postings, (b, o, n) => new Float32Array(b, o, n), view);
  at += 4 * header.postings;
  if (at !== bytes.length) throw new DataError(`${source}: not a readable BM25 index (sections end at ${at} of ${bytes.length} bytes)`);
  for (let p = 0; p < postItems.length; p++) {
    if (postItems[p] < 0 || postItems[p] >= header.items) {
      throw new DataError(`${source}: not a readable BM25 index (posting ${p} names item ${postItems[p]} of ${header.items})`);
    }
  }
  const { termBytes: _tb, totalBytes: _total, ...info } = header;
  return { info, terms, offsets, postItems, postScores };
}

// ---------------------------------------------------------------------------------------------------------------
// Terms.

/** Which of textTokens' features become BM25 terms: w = word unigrams, b = word bigrams, t = character trigrams. */
export type Bm25TokenKind = 'w' | 'b' | 't';

/**
 * The default terms: all three kinds in one field, i.e. every feature textTokens writes, the same features the
 * two-tower model hashes. Measured on Home Depot's held-out valid queries (bench/search-bm25.ts, 54,667 titles,
 * 1,211 queries, k1 1.2, b 0.75): word unigrams alone give judged NDCG@10 0.9165 and full-catalogue recall@100
 * 0.703; + bigrams 0.9164 / 0.698; + trigrams 0.9319 / 0.800; all three 0.9322 / 0.810; trigrams as a second field
 * weighted 0.1, 0.3 or 1 0.931–0.933 / 0.778–0.800. The character trigrams carry the gain (typos, plurals, `usb-c` vs
 * `usbc`), bigrams add a little recall on top of them, and one field is as good as a separate trigram field.
 * With these terms k1 0.6 raises valid recall@100 to 0.818 at the same NDCG (b 0.3: 0.812, b 1 or k1 2: 0.797);
 * the defaults stay R&Z's k1 1.2, b 0.75, which a caller may tune on its own valid queries.
 */
export const BM25_DEFAULT_KINDS: readonly Bm25TokenKind[] = ['w', 'b', 't'];

/** The terms of `text` of the given kinds, prefixed as textTokens writes them (`w:drill`, `b:cordless drill`, `t:#dr`). */
export function bm25Terms(text: string, kinds: readonly Bm25TokenKind[] = BM25_DEFAULT_KINDS): string[] {
  const all = textTokens(text);
  const keep = new Set<string>(kinds);
  if (keep.size === 3 && keep.has('w') && keep.has('b') && keep.has('t')) return all;
  return all.filter((t) => keep.has(t[0]));
}
