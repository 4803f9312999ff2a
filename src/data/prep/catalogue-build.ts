/**
 * The catalogue's rows → one feature row per item index of the dataset (issue #21 item 1,
 * docs/datasets.md#a-catalogue-beside-the-log). The log's items keep their indices; catalogue-only items (no row
 * in the dataset) are appended after them in the catalogue's order, so nothing that indexes the log's items moves.
 *
 * Per kind: `text` → the TextFeaturizer's distinct buckets and counts (an array of strings is joined by newlines;
 * a value with no word, e.g. only emoji, counts as `invalid`); `category` → an index into the feature's vocabulary
 * (values trimmed; an array gives its first value and counts as `invalid` when it holds several); `multi` → the
 * distinct indices of its values (a `|` list in CSV/TSV, a JSON array in JSONL; values trimmed, empty ones dropped);
 * `number` → parseCatalogueNumber, the raw value stored and its mean and population standard deviation recorded
 * (missing-value markers such as `N/A` count as missing; unparsable values, `$12.99 - $25.00`, count as `invalid` and are
 * stored as missing). Vocabularies hold the values
 * in order of first appearance over the items in index order.
 *
 * The rows were featurised as they were read (catalogue-store.ts, in file order); this puts them in item order. The
 * list columns (text, multi) are not copied here: item_features.arrow is written a batch of items at a time
 * (ListSource.slice), so memory holds the store's arrays and one batch, not a second copy of every list.
 */
import type { TextFeaturizerSpec } from '../text.js';
import type { ItemFeature, ItemFeatures, ListFeature } from '../item-features.js';
import type { CatalogueRead } from './catalogue-read.js';
import type { FeatureKind, FeatureSpec } from './catalogue-spec.js';
import { GrowInt32, LocalVocab, VALUE_INVALID, VALUE_MISSING, VALUE_PRESENT, type ChunkedLists, type CountArray, type CountType, type ListStore, type SlotColumn } from './catalogue-store.js';

/** A list column: item i has values[offsets[i], offsets[i + 1]); valid[i] = 0 where the item has no value. */
export interface ListColumn {
  offsets: Int32Array;
  values: Int32Array;
  /** Text: features per bucket, aligned with values, in the column's countArray type. */
  counts: CountArray | null;
  valid: Uint8Array;
}

/** Where item i's list comes from (src[i]): a store slot (≥ 0), no value (NONE), or the base dataset's row i (BASE). */
const NONE = -1;
const BASE = -2;

/** Slices whose values are kept at once: the one being written and the one gathered meanwhile (writeBatches' lookahead). */
const SLICE_BUFFERS = 2;

/** The narrowest array type item_features.arrow's counts take for a largest count of `max` (docs/datasets.md). */
export function countArrayFor(max: number): CountType {
  return max <= 0xff ? 'uint8' : max <= 0xffff ? 'uint16' : 'int32';
}

function newCounts(type: CountType, n: number): CountArray {
  return type === 'uint8' ? new Uint8Array(n) : type === 'uint16' ? new Uint16Array(n) : new Int32Array(n);
}

/** A list column in item order, read out a range of items at a time. */
export class ListSource {
  readonly valid: Uint8Array;
  private readonly src: Int32Array;
  private readonly col: SlotColumn;
  private readonly base: ListFeature | null;
  private readonly baseCounts: Int32Array | null;
  /** multi: local code → the dataset's code. */
  private readonly remap: Int32Array | null;
  /** Text: the type of the counts written, from the largest count of any list written (null until asked). */
  private countType: CountType | null = null;
  /** Per slice buffer: values and counts, refilled by the slice SLICE_BUFFERS later (by then writeBatches has written it). */
  private readonly bufs: { values: Int32Array; counts: CountArray | null }[] = [];
  private slices = 0;

  constructor(src: Int32Array, valid: Uint8Array, col: SlotColumn, base: ListFeature | null, baseCounts: Int32Array | null, remap: Int32Array | null) {
    this.src = src;
    this.valid = valid;
    this.col = col;
    this.base = base;
    this.baseCounts = baseCounts;
    this.remap = remap;
  }

  get withCounts(): boolean {
    return this.col.lists?.withCounts === true;
  }

  /**
   * Text: the array type of the counts, the narrowest that holds the largest count of the lists written: Uint8 at
   * once when no list held has a count past 255 (a title's), else one pass over the lists written.
   */
  get countArray(): CountType {
    if (this.countType !== null) return this.countType;
    const lists = this.col.lists as ListStore;
    if (this.base === null && lists.countBound <= 0xff) return (this.countType = 'uint8');
    const bo = this.base?.offsets ?? null;
    let max = 0;
    for (let i = 0; i < this.src.length; i++) {
      const s = this.src[i];
      if (s >= 0) max = Math.max(max, lists.maxCountOf(s));
      else if (s === BASE && bo !== null && this.baseCounts !== null) for (let k = bo[i]; k < bo[i + 1]; k++) max = Math.max(max, this.baseCounts[k]);
    }
    return (this.countType = countArrayFor(max));
  }

  /** Items [from, to) as a column of their own (offsets from 0); its values and counts are overwritten SLICE_BUFFERS slices later. */
  slice(from: number, to: number): ListColumn {
    const lists = this.col.lists as ListStore;
    const bo = this.base?.offsets ?? null;
    const offsets = new Int32Array(to - from + 1);
    let size = 0;
    for (let i = from; i < to; i++) {
      const s = this.src[i];
      if (s >= 0) size += lists.lengthOf(s);
      else if (s === BASE && bo !== null) size += bo[i + 1] - bo[i];
      offsets[i - from + 1] = size;
    }
    const { values, counts } = this.buffers(size, lists.withCounts);
    for (let i = from; i < to; i++) {
      const s = this.src[i];
      const at = offsets[i - from];
      if (s >= 0) lists.copyTo(s, values, counts, at, this.remap);
      else if (s === BASE && this.base !== null && bo !== null) {
        values.set(this.base.values.subarray(bo[i], bo[i + 1]), at);
        if (counts !== null && this.baseCounts !== null) counts.set(this.baseCounts.subarray(bo[i], bo[i + 1]), at);
      }
    }
    return { offsets, values, counts, valid: this.valid.subarray(from, to) };
  }

  /** The next slice buffer, grown to `size`, as views of that length. */
  private buffers(size: number, withCounts: boolean): { values: Int32Array; counts: CountArray | null } {
    const k = this.slices++ % SLICE_BUFFERS;
    let b = this.bufs[k];
    if (b === undefined || b.values.length < size) {
      b = { values: new Int32Array(size), counts: withCounts ? newCounts(this.countArray, size) : null };
      this.bufs[k] = b;
    }
    return { values: b.values.subarray(0, size), counts: b.counts !== null ? b.counts.subarray(0, size) : null };
  }
}

export type FeatureColumn =
  | { kind: 'text'; list: ListSource }
  | { kind: 'multi'; list: ListSource }
  | { kind: 'category'; codes: Int32Array }
  | { kind: 'number'; values: Float64Array };

/** Per feature, the manifest's account of its values. */
export interface FeatureSummary {
  kind: FeatureKind;
  /** Items whose catalogue row has a value. */
  present: number;
  /** Items without a value (no catalogue row, or an empty field). */
  missing: number;
  /** Values that could not be used as the kind asks (see the module comment); stored as missing for numbers. */
  invalid: number;
  /** category and multi: distinct values. */
  vocab_size?: number;
  /** number: over the present values (null when there are none). */
  mean?: number | null;
  std?: number | null;
  min?: number | null;
  max?: number | null;
}

export interface BuiltCatalogue {
  /** Catalogue-only ids, appended to the items vocabulary in this order. */
  extraIds: string[];
  /** Items of the whole vocabulary (log items + extra). */
  items: number;
  /** Per item index: 1 when the catalogue has a row for it. */
  inCatalogue: Uint8Array;
  /** Per item index: its key index in the store (CatalogueStore.keys), −1 when the catalogue has no row for it. */
  keyOf: Int32Array;
  columns: FeatureColumn[];
  /** category and multi features: their values by index (empty for the others). */
  vocabs: { values: string[]; items: Int32Array }[];
  summaries: FeatureSummary[];
  logItemsWithoutRow: number;
  /** Items with a catalogue row and no row in the dataset (set again once the vocabulary's counts are known). */
  catalogueOnly: number;
  /** --append-to: base items whose features were carried from the base / replaced by a newer catalogue row. */
  fromBase: number;
  replaced: number;
  textSpec: TextFeaturizerSpec;
}

/** The dataset's vocabulary of a category or multi feature: the base's values first, then new ones as items use them. */
class ValueVocab extends LocalVocab {
  items: number[] = [];
  private readonly remap: Int32Array;
  private readonly local: readonly string[];
  constructor(base: readonly string[], local: readonly string[]) {
    super();
    for (const v of base) this.intern(v);
    this.local = local;
    this.remap = new Int32Array(local.length).fill(-1);
  }
  override intern(v: string): number {
    const before = this.values.length;
    const k = super.intern(v);
    // A new value starts with no items.
    if (this.values.length > before) this.items.push(0);
    return k;
  }
  /** The dataset's code of a store's local code, counting one more item with it. */
  use(local: number): number {
    let k = this.remap[local];
    if (k < 0) k = this.remap[local] = this.intern(this.local[local]);
    this.items[k]++;
    return k;
  }
  done(): { values: string[]; items: Int32Array; remap: Int32Array } {
    return { values: this.values, items: Int32Array.from(this.items), remap: this.remap };
  }
}

/** Where each item's features come from: `slot[i]` (−1: no catalogue row) and whether the base's are carried. */
interface ItemSources {
  n: number;
  slot: Int32Array;
  carried: Uint8Array;
}

function count(s: FeatureSummary, status: number): void {
  if (status === VALUE_MISSING) s.missing++;
  else {
    s.present++;
    if (status === VALUE_INVALID) s.invalid++;
  }
}

function listColumn(col: SlotColumn, base: ItemFeature | null, items: ItemSources, s: FeatureSummary): { column: FeatureColumn; vocab: { values: string[]; items: Int32Array } } {
  const { n, slot, carried } = items;
  const status = col.status.a;
  const src = new Int32Array(n);
  const valid = new Uint8Array(n);
  const text = col.spec.kind === 'text';
  const baseList = base?.kind === 'text' ? base.buckets : base?.kind === 'multi' ? base.codes : null;
  const vocab = text ? null : new ValueVocab(base?.kind === 'multi' ? base.vocab : [], (col.vocab as { values: string[] }).values);
  const codes = text ? null : (col.lists as ChunkedLists);
  for (let i = 0; i < n; i++) {
    const sl = slot[i];
    if (sl >= 0) {
      src[i] = sl;
      count(s, status[sl]);
      valid[i] = status[sl] === VALUE_MISSING ? 0 : 1;
      // Codes in item order, so new values join the vocabulary in order of first appearance over the items.
      if (vocab !== null && codes !== null) for (const c of codes.valuesOf(sl)) vocab.use(c);
    } else if (carried[i] === 1 && baseList !== null) {
      src[i] = BASE;
      valid[i] = baseList.valid[i];
      if (baseList.valid[i] === 1) {
        s.present++;
        if (text && baseList.offsets[i] === baseList.offsets[i + 1]) s.invalid++;
        if (vocab !== null) for (let k = baseList.offsets[i]; k < baseList.offsets[i + 1]; k++) vocab.items[baseList.values[k]]++;
      } else s.missing++;
    } else {
      src[i] = NONE;
      s.missing++;
    }
  }
  const v = vocab?.done() ?? null;
  if (v !== null) s.vocab_size = v.values.length;
  const list = new ListSource(src, valid, col, baseList, base?.kind === 'text' ? base.counts : null, v?.remap ?? null);
  return { column: text ? { kind: 'text', list } : { kind: 'multi', list }, vocab: v ?? { values: [], items: new Int32Array(0) } };
}

function categoryColumn(col: SlotColumn, base: ItemFeature | null, items: ItemSources, s: FeatureSummary): { column: FeatureColumn; vocab: { values: string[]; items: Int32Array } } {
  const { n, slot, carried } = items;
  const status = col.status.a;
  const local = (col.codes as GrowInt32).a;
  const baseCodes = base?.kind === 'category' ? base.codes : null;
  const vocab = new ValueVocab(base?.kind === 'category' ? base.vocab : [], (col.vocab as { values: string[] }).values);
  const codes = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const sl = slot[i];
    if (sl >= 0) {
      count(s, status[sl]);
      if (local[sl] >= 0) codes[i] = vocab.use(local[sl]);
    } else if (carried[i] === 1 && baseCodes !== null && baseCodes[i] >= 0) {
      s.present++;
      codes[i] = baseCodes[i];
      vocab.items[baseCodes[i]]++;
    } else s.missing++;
  }
  const v = vocab.done();
  s.vocab_size = v.values.length;
  return { column: { kind: 'category', codes }, vocab: { values: v.values, items: v.items } };
}

function numberColumn(col: SlotColumn, base: ItemFeature | null, items: ItemSources, s: FeatureSummary): FeatureColumn {
  const { n, slot, carried } = items;
  const status = col.status.a;
  const stored = (col.numbers as { a: Float64Array }).a;
  const baseValues = base?.kind === 'number' ? base.values : null;
  const values = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    const sl = slot[i];
    if (sl >= 0) {
      if (status[sl] === VALUE_INVALID) s.invalid++;
      if (status[sl] === VALUE_PRESENT) {
        s.present++;
        values[i] = stored[sl];
      } else s.missing++;
    } else if (carried[i] === 1 && baseValues !== null && !Number.isNaN(baseValues[i])) {
      s.present++;
      values[i] = baseValues[i];
    } else s.missing++;
  }
  numberStats(values, s);
  return { kind: 'number', values };
}

function numberStats(values: Float64Array, s: FeatureSummary): void {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of values) {
    if (Number.isNaN(x)) continue;
    n++;
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = n > 0 ? sum / n : null;
  let ss = 0;
  if (mean !== null) for (const x of values) if (!Number.isNaN(x)) ss += (x - mean) * (x - mean);
  s.mean = mean;
  s.std = n > 0 ? Math.sqrt(ss / n) : null;
  s.min = n > 0 ? min : null;
  s.max = n > 0 ? max : null;
}

/** Each item's source: its latest catalogue row, else (--append-to) the base's features, else none. */
function itemSources(read: CatalogueRead, logItemIds: readonly string[], base: ItemFeatures | null) {
  const store = read.store;
  // Each log item looked up in the store's keys (not each of a million keys in a map of the log's items).
  const logKey = new Int32Array(logItemIds.length);
  const inLog = new Uint8Array(store.keys.size);
  for (let i = 0; i < logItemIds.length; i++) {
    const k = store.keys.indexOf(logItemIds[i]);
    logKey[i] = k;
    if (k >= 0) inLog[k] = 1;
  }
  const extraIds: string[] = [];
  const extraKeys = new GrowInt32();
  const ids = store.keys.values;
  for (let k = 0; k < ids.length; k++) {
    if (inLog[k] === 1) continue;
    extraIds.push(ids[k]);
    extraKeys.push(k);
  }
  const n = logItemIds.length + extraIds.length;
  const slot = new Int32Array(n).fill(-1);
  const carried = new Uint8Array(n);
  const inCatalogue = new Uint8Array(n);
  const keyOf = new Int32Array(n).fill(-1);
  const slotOfKey = store.slotOfKey.a;
  let logItemsWithoutRow = 0;
  let fromBase = 0;
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    const found = i < logItemIds.length ? logKey[i] : extraKeys.a[i - logItemIds.length];
    const k = found >= 0 ? found : undefined;
    if (k !== undefined) {
      slot[i] = slotOfKey[k];
      keyOf[i] = k;
    }
    // The base's items keep their indices under --append-to, so item i of the base is item i here.
    const inBase = base !== null && i < base.items && base.inCatalogue[i] === 1;
    if (k !== undefined && inBase) replaced++;
    if (k === undefined && inBase) {
      carried[i] = 1;
      fromBase++;
    }
    if (k === undefined && !inBase) logItemsWithoutRow++;
    else inCatalogue[i] = 1;
  }
  return { extraIds, sources: { n, slot, carried }, inCatalogue, keyOf, logItemsWithoutRow, fromBase, replaced };
}

/**
 * Features of every item of the dataset: `logItemIds` (the items vocabulary as the log's rows left it), then the
 * catalogue-only items in the catalogue's order.
 */
export function buildCatalogue(read: CatalogueRead, features: readonly FeatureSpec[], logItemIds: readonly string[], base: ItemFeatures | null = null): BuiltCatalogue {
  const { extraIds, sources, inCatalogue, keyOf, logItemsWithoutRow, fromBase, replaced } = itemSources(read, logItemIds, base);
  const columns: FeatureColumn[] = [];
  const vocabs: { values: string[]; items: Int32Array }[] = [];
  const summaries: FeatureSummary[] = [];
  features.forEach((f, k) => {
    const col = read.store.columns[k];
    const b = base?.features.find((x) => x.name === f.name && x.kind === f.kind) ?? null;
    const s: FeatureSummary = { kind: f.kind, present: 0, missing: 0, invalid: 0 };
    if (f.kind === 'text' || f.kind === 'multi' || f.kind === 'category') {
      const r = f.kind === 'category' ? categoryColumn(col, b, sources, s) : listColumn(col, b, sources, s);
      columns.push(r.column);
      vocabs.push(r.vocab);
    } else {
      columns.push(numberColumn(col, b, sources, s));
      vocabs.push({ values: [], items: new Int32Array(0) });
    }
    summaries.push(s);
  });
  return {
    extraIds,
    items: sources.n,
    inCatalogue,
    keyOf,
    columns,
    vocabs,
    summaries,
    logItemsWithoutRow,
    catalogueOnly: extraIds.length,
    fromBase,
    replaced,
    textSpec: read.store.featurizer.spec(),
  };
}
