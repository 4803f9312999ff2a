/**
 * What `rec search` needs of a search model, and nothing else: the spec, the token vocabulary, the query side's token
 * rows, the items' serving vectors in one block, the BM25 postings and the users' histories. Training, validation and
 * `rec eval` rank through SearchRanker (search-model.ts), which derives these parts from the whole model; `rec search`
 * reads them from the serving block that every write of model/ adds (model/search_serving.bin, layout below), with
 * no TF.js model built and without the item bags, id rows or priors that only training and the relevance head read.
 * Independent of TF.js.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { DataError } from '../../util/errors.js';
import type { TokenVocab } from './bags.js';
import { Bm25Index } from './bm25.js';
import type { EncodedQuery } from './query.js';
import { TowerScorer } from './scorer.js';
import { isSearchModelName, SEARCH_FORMAT, type SearchSpec, type UserHistories } from './spec.js';
import { normalize } from './two-tower.js';

export const SERVING_FILE = 'search_serving.bin';

/** The parts scoring reads. `tokens` [vocab size, dim] and `vectors` [items, dim] are null without towers. */
export interface ServingModel {
  readonly spec: SearchSpec;
  readonly vocab: TokenVocab;
  readonly items: number;
  readonly tokens: Float32Array | null;
  readonly vectors: Float32Array | null;
  readonly bm25: Bm25Index | null;
  readonly histories: UserHistories | null;
}

/** Scores of a query: over `items`, or over the whole catalogue when `items` is null. */
export interface SearchScores {
  score: Float32Array;
  /** The parts, for the relevance head and the hybrid's blend. */
  cosine: Float32Array | null;
  bm25: Float32Array | null;
}

export function queryTerms(q: EncodedQuery): string[] {
  return Array.from(q.buckets, String);
}

/** Scores the model's way; the tower scorer is made once (its item vectors are those of model/). */
export class ServingRanker {
  readonly serving: ServingModel;
  private readonly towerScorer: TowerScorer | null;

  constructor(serving: ServingModel) {
    this.serving = serving;
    const { tokens, vectors, spec } = serving;
    this.towerScorer = tokens === null || vectors === null || spec.tower === null ? null : new TowerScorer(serving.vocab, tokens, vectors, spec.tower.dim);
  }

  get items(): number {
    return this.serving.items;
  }

  /**
   * The user's vector: the normalised mean of their history's serving vectors; null for an anonymous query, a user
   * without history, or a model without towers or histories.
   */
  userVector(user: number): Float32Array | null {
    const { histories: h, vectors, spec } = this.serving;
    if (user < 0 || h === null || vectors === null || spec.tower === null || user >= h.offsets.length - 1 || h.offsets[user] === h.offsets[user + 1]) return null;
    const dim = spec.tower.dim;
    const v = new Float32Array(dim);
    for (let k = h.offsets[user]; k < h.offsets[user + 1]; k++) {
      const o = h.items[k] * dim;
      for (let j = 0; j < dim; j++) v[j] += vectors[o + j];
    }
    normalize(v, 0, dim);
    return v;
  }

  score(q: EncodedQuery, items: Int32Array | null, alpha = this.serving.spec.alpha, user = -1, beta = this.serving.spec.personal?.beta ?? 0): SearchScores {
    const n = items === null ? this.items : items.length;
    let cosine: Float32Array | null = null;
    let bm25: Float32Array | null = null;
    if (this.towerScorer !== null) {
      cosine = new Float32Array(n);
      if (items === null) this.towerScorer.scoreAll(q, cosine);
      else this.towerScorer.scoreItems(q, items, cosine);
    }
    if (this.serving.bm25 !== null) bm25 = normalizedBm25(this.serving.bm25, q, items, n);
    const score = blend(cosine, bm25, alpha ?? 0);
    const u = beta > 0 ? this.userVector(user) : null;
    if (u !== null) {
      const dim = u.length;
      const m = this.serving.vectors as Float32Array;
      for (let k = 0; k < n; k++) {
        const o = (items === null ? k : items[k]) * dim;
        let s = 0;
        for (let j = 0; j < dim; j++) s += u[j] * m[o + j];
        score[k] += beta * s;
      }
    }
    return { score, cosine, bm25 };
  }
}

/** BM25 divided by the query's Σ idf over the terms the catalogue has: in [0, 1), comparable across queries. */
function normalizedBm25(index: Bm25Index, q: EncodedQuery, items: Int32Array | null, n: number): Float32Array {
  const out = new Float32Array(n);
  const terms = queryTerms(q);
  if (items === null) index.score(terms, out);
  else index.scoreItems(terms, items, out);
  let norm = 0;
  for (const term of new Set(terms)) {
    const df = index.df(term);
    if (df > 0) norm += Math.log(1 + (index.info.items - df + 0.5) / (df + 0.5));
  }
  if (norm > 0) for (let k = 0; k < n; k++) out[k] /= norm;
  return out;
}

export function blend(cosine: Float32Array | null, bm25: Float32Array | null, alpha: number): Float32Array {
  if (cosine === null) return bm25 as Float32Array;
  if (bm25 === null) return cosine;
  const out = new Float32Array(cosine.length);
  for (let k = 0; k < out.length; k++) out[k] = (1 - alpha) * cosine[k] + alpha * bm25[k];
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The serving block, little-endian:
//   0  8 bytes  magic "RECSRV1\0"
//   8  u32      format version (SERVING_FORMAT_VERSION)
//  12  u32      header length H (UTF-8 JSON: ServingHeader)
//  16  H bytes  header, zero-padded to a multiple of 8
//      sections, each at a multiple of 8 from the block's start, in the header's order: token_buckets i32,
//      token_embedding f32 and item_vectors f32 (towers), bm25 u8 (a RECBM25 block, bm25.ts), history_offsets and
//      history_items i32 (users)
// The header states the block's length, each section's offset and length, the CRC-32 (zlib's, where this Node has
// it) and the sha256 of the bytes after the header, and the sha256 of model/weights.bin written with it, which the
// reader compares with run.json's: a block left from another save is refused. Sections are read in place (views of
// the one buffer the file is read into), so loading costs one read and a checksum.

export const SERVING_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode('RECSRV1\0');
const SECTION_TYPES = { token_buckets: 'i32', token_embedding: 'f32', item_vectors: 'f32', bm25: 'u8', history_offsets: 'i32', history_items: 'i32' } as const;
type SectionName = keyof typeof SECTION_TYPES;

interface ServingHeader {
  spec: SearchSpec;
  items: number;
  weights_sha256: string;
  total_bytes: number;
  crc32: number | null;
  sha256: string;
  sections: { name: SectionName; offset: number; bytes: number }[];
}

const pad8 = (n: number): number => (n + 7) & ~7;
const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** The block for a model's serving parts; `weightsSha256` is model/weights.bin's, written in the same save. */
export function encodeServing(m: ServingModel, weightsSha256: string, bm25Bytes: Uint8Array | null): Uint8Array {
  const parts: [SectionName, Uint8Array][] = [];
  const add = (name: SectionName, a: Int32Array | Float32Array | Uint8Array | null) => {
    if (a !== null) parts.push([name, new Uint8Array(a.buffer, a.byteOffset, a.byteLength)]);
  };
  add('token_buckets', m.vocab.buckets);
  add('token_embedding', m.tokens);
  add('item_vectors', m.vectors);
  add('bm25', bm25Bytes);
  add('history_offsets', m.histories?.offsets ?? null);
  add('history_items', m.histories?.items ?? null);
  const sections: ServingHeader['sections'] = [];
  let at = 0;
  for (const [name, bytes] of parts) {
    sections.push({ name, offset: at, bytes: bytes.length });
    at = pad8(at + bytes.length);
  }
  const body = new Uint8Array(at);
  parts.forEach(([, bytes], k) => body.set(bytes, sections[k].offset));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const fixed = { spec: m.spec, items: m.items, weights_sha256: weightsSha256, crc32: crc32?.(body) ?? null, sha256, sections };
  // Section offsets are stored from the body's start, so the header's own length never moves them.
  const header = new TextEncoder().encode(JSON.stringify({ ...fixed, total_bytes: 0 }));
  const start = 16 + pad8(header.length + 32);
  const final = new TextEncoder().encode(JSON.stringify({ ...fixed, total_bytes: start + body.length } satisfies ServingHeader));
  if (16 + final.length > start) throw new Error('serving header grew past its reserved space');
  const out = new Uint8Array(start + body.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, SERVING_FORMAT_VERSION, true);
  view.setUint32(12, final.length, true);
  out.set(final, 16);
  out.set(body, start);
  return out;
}

function readServingHeader(bytes: Uint8Array, source: string): { header: ServingHeader; start: number } {
  const bad = (why: string): DataError => new DataError(`${source}: not a readable search serving block (${why}). The checkpoint is damaged; delete the file to load the model from its weights, or train again.`);
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('it does not start with RECSRV1');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SERVING_FORMAT_VERSION) throw bad(`format version ${version}; this rec reads version ${SERVING_FORMAT_VERSION}`);
  const length = view.getUint32(12, true);
  if (16 + length > bytes.length) throw bad(`the header claims ${length} bytes; the file has ${bytes.length}`);
  let header: ServingHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + length))) as ServingHeader;
  } catch {
    throw bad('its header is not UTF-8 JSON');
  }
  if (header.total_bytes !== bytes.length) throw bad(`it should be ${String(header.total_bytes)} bytes long; it is ${bytes.length} (truncated or damaged)`);
  const spec = header.spec as Partial<SearchSpec> | undefined;
  if (spec?.format !== SEARCH_FORMAT || !isSearchModelName(spec.model ?? '') || !Number.isSafeInteger(header.items) || !Array.isArray(header.sections)) throw bad('its header lacks the spec, items or sections');
  const start = bytes.length - header.sections.reduce((end, s) => Math.max(end, pad8(s.offset + s.bytes)), 0);
  if (start < 16 + length || start % 8 !== 0) throw bad('its sections overlap its header');
  return { header, start };
}

function checkBody(body: Uint8Array, header: ServingHeader, source: string): void {
  // CRC-32 where both sides have it (Node ≥ 20.15): a fifth of sha256's time on this block; sha256 otherwise.
  const ok = header.crc32 !== null && crc32 !== undefined ? crc32(body) === header.crc32 : createHash('sha256').update(body).digest('hex') === header.sha256;
  if (!ok) throw new DataError(`${source} is corrupt: its checksum does not match its header. Delete it to load the model from its weights, or train again.`);
}

/**
 * The serving parts from a block read whole (`bytes`, as readFile returns it). `recordedWeightsSha256` is run.json's
 * hash of model/weights.bin (null when it records none): a block written with other weights is refused.
 */
export function decodeServing(bytes: Uint8Array, source: string, recordedWeightsSha256: string | null): ServingModel {
  const { header, start } = readServingHeader(bytes, source);
  if (recordedWeightsSha256 !== null && header.weights_sha256 !== recordedWeightsSha256) {
    throw new DataError(`${source} was written with other weights than run.json records for model/weights.bin (${header.weights_sha256} vs ${recordedWeightsSha256}). Delete it to load the model from its weights, or train again.`);
  }
  // Typed views need aligned offsets: a buffer that does not start at a multiple of 8 is copied once.
  const buf = (bytes.byteOffset + start) % 8 === 0 ? bytes : Uint8Array.from(bytes);
  const body = buf.subarray(start);
  checkBody(body, header, source);
  const found = new Map<SectionName, Uint8Array>();
  for (const s of header.sections) {
    if (!(s.name in SECTION_TYPES) || s.offset % 8 !== 0 || s.offset + s.bytes > body.length || (SECTION_TYPES[s.name] !== 'u8' && s.bytes % 4 !== 0)) throw new DataError(`${source}: section ${JSON.stringify(s.name)} lies outside the block. The checkpoint is damaged; train again.`);
    found.set(s.name, body.subarray(s.offset, s.offset + s.bytes));
  }
  const i32 = (name: SectionName): Int32Array | null => {
    const b = found.get(name);
    return b === undefined ? null : new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const f32 = (name: SectionName): Float32Array | null => {
    const b = found.get(name);
    return b === undefined ? null : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  return servingParts(header, source, { buckets: i32('token_buckets'), tokens: f32('token_embedding'), vectors: f32('item_vectors'), bm25: found.get('bm25') ?? null, offsets: i32('history_offsets'), items: i32('history_items') });
}

interface RawSections {
  buckets: Int32Array | null;
  tokens: Float32Array | null;
  vectors: Float32Array | null;
  bm25: Uint8Array | null;
  offsets: Int32Array | null;
  items: Int32Array | null;
}

/** The sections checked against the spec (each model's parts present, with the shapes the spec gives). */
function servingParts(header: ServingHeader, source: string, s: RawSections): ServingModel {
  const { spec, items } = header;
  const damaged = (why: string) => new DataError(`${source}: ${why}. The checkpoint is damaged; train again.`);
  if (s.buckets === null) throw damaged('it has no token_buckets section');
  const vocab: TokenVocab = { buckets: s.buckets, values: spec.values };
  const tokenRows = vocab.buckets.length + vocab.values.length;
  if (spec.tower !== null) {
    const dim = spec.tower.dim;
    if (s.tokens === null || s.tokens.length !== tokenRows * dim) throw damaged(`its token_embedding holds ${s.tokens?.length ?? 0} values, expected ${tokenRows} × ${dim}`);
    if (s.vectors === null || s.vectors.length !== items * dim) throw damaged(`its item_vectors hold ${s.vectors?.length ?? 0} values, expected ${items} × ${dim}`);
  }
  let bm25: Bm25Index | null = null;
  if (spec.bm25 !== null) {
    if (s.bm25 === null) throw damaged('it has no bm25 section');
    bm25 = Bm25Index.fromBytes(s.bm25, `${source} bm25 section`, true);
    if (bm25.info.items !== items) throw damaged(`its BM25 index covers ${bm25.info.items} items, the block ${items}`);
  }
  let histories: UserHistories | null = null;
  if (s.offsets !== null && s.items !== null) {
    if (s.offsets[s.offsets.length - 1] !== s.items.length || s.items.some((i) => i < 0 || i >= items)) throw damaged('its user histories do not match its items');
    histories = { offsets: s.offsets, items: s.items };
  }
  return { spec, vocab, items, tokens: spec.tower === null ? null : s.tokens, vectors: spec.tower === null ? null : s.vectors, bm25, histories };
}
