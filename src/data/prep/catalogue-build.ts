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
 */
import { parseCatalogueNumber } from '../price.js';
import { TextFeaturizer, type TextFeaturizerSpec } from '../text.js';
import type { ItemFeature, ItemFeatures } from '../item-features.js';
import type { CatalogueRead } from './catalogue-read.js';
import type { FeatureKind, FeatureSpec, RawValue } from './catalogue-spec.js';

/** A list column: item i has values[offsets[i], offsets[i + 1]); valid[i] = 0 where the item has no value. */
export interface ListColumn {
  offsets: Int32Array;
  values: Int32Array;
  /** Text: features per bucket, aligned with values. */
  counts: Int32Array | null;
  valid: Uint8Array;
}

export type FeatureColumn =
  | { kind: 'text'; list: ListColumn }
  | { kind: 'multi'; list: ListColumn }
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

class ListBuilder {
  offsets: Int32Array;
  values = new Int32Array(1024);
  counts: Int32Array | null;
  valid: Uint8Array;
  size = 0;
  constructor(n: number, withCounts: boolean) {
    this.offsets = new Int32Array(n + 1);
    this.valid = new Uint8Array(n);
    this.counts = withCounts ? new Int32Array(1024) : null;
  }
  push(i: number, vals: ArrayLike<number>, counts: ArrayLike<number> | null): void {
    const need = this.size + vals.length;
    if (need > this.values.length) {
      const cap = Math.max(need, 2 * this.values.length);
      const v = new Int32Array(cap);
      v.set(this.values.subarray(0, this.size));
      this.values = v;
      if (this.counts !== null) {
        const c = new Int32Array(cap);
        c.set(this.counts.subarray(0, this.size));
        this.counts = c;
      }
    }
    for (let k = 0; k < vals.length; k++) this.values[this.size + k] = vals[k];
    if (this.counts !== null && counts !== null) for (let k = 0; k < vals.length; k++) this.counts[this.size + k] = counts[k];
    this.size = need;
    this.valid[i] = 1;
  }
  close(i: number): void {
    this.offsets[i + 1] = this.size;
  }
  done(): ListColumn {
    return { offsets: this.offsets, values: this.values.slice(0, this.size), counts: this.counts?.slice(0, this.size) ?? null, valid: this.valid };
  }
}

class ValueVocab {
  readonly index = new Map<string, number>();
  readonly values: string[] = [];
  items: number[] = [];
  intern(v: string): number {
    let k = this.index.get(v);
    if (k === undefined) {
      k = this.values.length;
      this.index.set(v, k);
      this.values.push(v);
      this.items.push(0);
    }
    return k;
  }
}

function isEmpty(v: RawValue): boolean {
  return v === null || (typeof v === 'string' ? v.trim() === '' : v.every((x) => x.trim() === ''));
}

function listOf(v: RawValue): string[] {
  const raw = v === null ? [] : typeof v === 'string' ? [v] : v;
  const out: string[] = [];
  for (const s of raw) {
    const t = s.trim();
    if (t !== '' && !out.includes(t)) out.push(t);
  }
  return out;
}

interface Accum {
  spec: FeatureSpec;
  summary: FeatureSummary;
  list: ListBuilder | null;
  codes: Int32Array | null;
  numbers: Float64Array | null;
  vocab: ValueVocab | null;
}

function accumFor(spec: FeatureSpec, n: number, base: ItemFeature | null): Accum {
  const summary: FeatureSummary = { kind: spec.kind, present: 0, missing: 0, invalid: 0 };
  let vocab: ValueVocab | null = null;
  if (spec.kind === 'category' || spec.kind === 'multi') {
    vocab = new ValueVocab();
    // Append-only: the base's values keep their codes, new values follow.
    if (base !== null && (base.kind === 'category' || base.kind === 'multi')) for (const v of base.vocab) vocab.intern(v);
  }
  return {
    spec,
    summary,
    list: spec.kind === 'text' || spec.kind === 'multi' ? new ListBuilder(n, spec.kind === 'text') : null,
    codes: spec.kind === 'category' ? new Int32Array(n).fill(-1) : null,
    numbers: spec.kind === 'number' ? new Float64Array(n).fill(Number.NaN) : null,
    vocab,
  };
}

function listSlice(l: { offsets: Int32Array; values: Int32Array }, i: number): Int32Array {
  return l.values.subarray(l.offsets[i], l.offsets[i + 1]);
}

/** Adds item i's value as the base dataset stored it (codes are valid: vocabularies only grow). */
function addBaseValue(a: Accum, i: number, f: ItemFeature, j: number): void {
  const s = a.summary;
  let present: boolean;
  if (f.kind === 'text') {
    present = f.buckets.valid[j] === 1;
    if (present) {
      if (f.buckets.offsets[j] === f.buckets.offsets[j + 1]) s.invalid++;
      a.list?.push(i, listSlice(f.buckets, j), f.counts.subarray(f.buckets.offsets[j], f.buckets.offsets[j + 1]));
    }
  } else if (f.kind === 'multi') {
    present = f.codes.valid[j] === 1;
    if (present) {
      const codes = listSlice(f.codes, j);
      for (const c of codes) (a.vocab as ValueVocab).items[c]++;
      a.list?.push(i, codes, null);
    }
  } else if (f.kind === 'category') {
    const c = f.codes[j];
    present = c >= 0;
    if (present) {
      (a.vocab as ValueVocab).items[c]++;
      (a.codes as Int32Array)[i] = c;
    }
  } else {
    present = !Number.isNaN(f.values[j]);
    if (present) (a.numbers as Float64Array)[i] = f.values[j];
  }
  if (present) s.present++;
  else s.missing++;
}

/** Adds item i's value `v` to the feature's column. */
function addValue(a: Accum, i: number, v: RawValue, featurizer: TextFeaturizer): void {
  const s = a.summary;
  if (isEmpty(v)) {
    s.missing++;
    return;
  }
  s.present++;
  switch (a.spec.kind) {
    case 'text': {
      const n = featurizer.featurizeInto(typeof v === 'string' ? v : (v ?? []).join('\n'));
      if (n === 0) s.invalid++;
      a.list?.push(i, featurizer.lastBuckets, featurizer.lastCounts);
      return;
    }
    case 'multi': {
      const vals = listOf(v);
      const vocab = a.vocab as ValueVocab;
      const codes = vals.map((x) => vocab.intern(x));
      for (const c of codes) vocab.items[c]++;
      a.list?.push(i, codes, null);
      return;
    }
    case 'category': {
      const vals = listOf(v);
      if (vals.length > 1) s.invalid++;
      const vocab = a.vocab as ValueVocab;
      const c = vocab.intern(vals[0]);
      vocab.items[c]++;
      (a.codes as Int32Array)[i] = c;
      return;
    }
    case 'number': {
      const parsed = typeof v === 'string' ? parseCatalogueNumber(v) : null;
      if (parsed === null || !parsed.ok) {
        // `N/A`, `""`, `-` are missing values, not invalid ones.
        if (parsed === null || parsed.reason !== 'empty') s.invalid++;
        s.present--;
        s.missing++;
        return;
      }
      (a.numbers as Float64Array)[i] = parsed.value;
      return;
    }
  }
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

function finish(a: Accum): { column: FeatureColumn; vocab: { values: string[]; items: Int32Array } } {
  const vocab = a.vocab !== null ? { values: a.vocab.values, items: Int32Array.from(a.vocab.items) } : { values: [], items: new Int32Array(0) };
  if (a.vocab !== null) a.summary.vocab_size = a.vocab.values.length;
  switch (a.spec.kind) {
    case 'text':
      return { column: { kind: 'text', list: (a.list as ListBuilder).done() }, vocab };
    case 'multi':
      return { column: { kind: 'multi', list: (a.list as ListBuilder).done() }, vocab };
    case 'category':
      return { column: { kind: 'category', codes: a.codes as Int32Array }, vocab };
    case 'number':
      numberStats(a.numbers as Float64Array, a.summary);
      return { column: { kind: 'number', values: a.numbers as Float64Array }, vocab };
  }
}

/**
 * Features of every item of the dataset: `logItemIds` (the items vocabulary as the log's rows left it), then the
 * catalogue-only items. `features` is the spec the rows were read with (their values are in that order).
 */
export function buildCatalogue(
  read: CatalogueRead,
  features: readonly FeatureSpec[],
  logItemIds: readonly string[],
  featurizer = new TextFeaturizer(),
  base: ItemFeatures | null = null,
): BuiltCatalogue {
  const logIndex = new Map<string, number>();
  for (let i = 0; i < logItemIds.length; i++) logIndex.set(logItemIds[i], i);
  const extraIds: string[] = [];
  for (const id of read.rows.keys()) if (!logIndex.has(id)) extraIds.push(id);
  const n = logItemIds.length + extraIds.length;
  const baseFeatures = features.map((f) => base?.features.find((b) => b.name === f.name && b.kind === f.kind) ?? null);
  const accums = features.map((f, k) => accumFor(f, n, baseFeatures[k]));
  const inCatalogue = new Uint8Array(n);
  let logItemsWithoutRow = 0;
  let fromBase = 0;
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    const id = i < logItemIds.length ? logItemIds[i] : extraIds[i - logItemIds.length];
    const row = read.rows.get(id);
    // The base's items keep their indices under --append-to, so item i of the base is item i here.
    const carried = row === undefined && base !== null && i < base.items && base.inCatalogue[i] === 1;
    if (row !== undefined && base !== null && i < base.items && base.inCatalogue[i] === 1) replaced++;
    if (carried) fromBase++;
    if (row === undefined && !carried) logItemsWithoutRow++;
    else inCatalogue[i] = 1;
    for (let f = 0; f < accums.length; f++) {
      const a = accums[f];
      const bf = baseFeatures[f];
      if (carried && bf !== null) addBaseValue(a, i, bf, i);
      else addValue(a, i, row !== undefined ? row.values[f] : null, featurizer);
      a.list?.close(i);
    }
  }
  const done = accums.map(finish);
  return {
    extraIds,
    items: n,
    inCatalogue,
    columns: done.map((d) => d.column),
    vocabs: done.map((d) => d.vocab),
    summaries: accums.map((a) => a.summary),
    logItemsWithoutRow,
    catalogueOnly: extraIds.length,
    fromBase,
    replaced,
    textSpec: featurizer.spec(),
  };
}
