/**
 * Which catalogue columns `rec prep --items` reads and as what (issue #21 item 1, docs/datasets.md#a-catalogue-beside-the-log):
 * the key column (`--item-key`, else the first of item, item_id, id, asin, product_id present) and the features,
 * declared (`--item-features title:text,brand:category,categories:multi,price:number`) or guessed from the first
 * rows of the first catalogue file.
 *
 * The guess, per column other than the key, over its non-empty values in the sample (an empty string, an empty
 * array or null is empty):
 *  - no non-empty value, or a JSON object in any row → not a feature (listed as skipped);
 *  - JSON arrays in most rows → `multi` when their elements are short (at most 30 characters on average), else
 *    `text` (a description written as a list of paragraphs);
 *  - at least 90% of the values read as numbers by parseCatalogueNumber (`$12.99`, `1.299,00 €`) → `number`;
 *  - `|` in at least half of the values → `multi` (the CSV/TSV spelling of several values);
 *  - short values (at most 30 characters and 3 words on average) that repeat (distinct values at most 80% of the
 *    values: brands, departments) → `category`;
 *  - anything else → `text`.
 */
import type { EncodingSpec } from './encoding.js';
import { UsageError, describeValue } from '../../util/errors.js';
import type { ItemFeatures } from '../item-features.js';
import { parseCatalogueNumber } from '../price.js';
import type { QuotedBounds } from './quoted.js';

export const FEATURE_KINDS = ['text', 'category', 'multi', 'number'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/** Key columns tried in this order when --item-key is not given. */
export const DEFAULT_ITEM_KEYS = ['item', 'item_id', 'id', 'asin', 'product_id'] as const;

/** Rows of the first catalogue file that the column list and the guess are taken from. */
export const SAMPLE_ROWS = 1000;

/** A catalogue field as read: text, the values of a JSON array (or a `|` list once split), or nothing. */
export type RawValue = string | readonly string[] | null;

/** A field that held a JSON object: kept apart so that the guess can skip the column. */
export const OBJECT_VALUE: readonly string[] = Object.freeze(['\u0000object']);

export interface FeatureSpec {
  name: string;
  kind: FeatureKind;
}

export interface CatalogueSpec {
  key: string;
  features: FeatureSpec[];
  /** True when the kinds were guessed (no --item-features). */
  guessed: boolean;
  /** Guessing: the columns left out and why. */
  skipped: Record<string, string>;
}

/** The catalogue settings of one prep, checked before anything is read (catalogue.ts planCatalogue). */
export interface CataloguePlan {
  paths: string[];
  declared: FeatureSpec[] | null;
  key: string | null;
  bytes: number;
  /** How far a quoted field may carry a catalogue row over lines (--max-quoted-lines, --max-quoted-bytes, as for the logs). */
  quoted: QuotedBounds;
  /** --encoding, as for the logs. */
  encoding: EncodingSpec;
  /** --append-to a dataset with a catalogue: its features (carried for items no new row replaces); the key and kinds are its. */
  base: ItemFeatures | null;
  /** --append-to: the base's display-title feature and titles by item (null: it kept none). */
  baseTitle?: string | null;
  baseTitles?: (string | null)[] | null;
}

/** Parses `NAME:KIND[,NAME:KIND…]`; a UsageError names the bad part. */
export function parseItemFeatures(spec: string): FeatureSpec[] {
  const out: FeatureSpec[] = [];
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const colon = p.lastIndexOf(':');
    const name = colon > 0 ? p.slice(0, colon).trim() : '';
    const kind = colon > 0 ? p.slice(colon + 1).trim() : '';
    if (name === '' || !(FEATURE_KINDS as readonly string[]).includes(kind)) {
      throw new UsageError(
        `--item-features (config prep.item_features) has ${describeValue(p)}. Expected NAME:KIND with KIND one of ${FEATURE_KINDS.join(', ')}, e.g. title:text,brand:category,categories:multi,price:number.`,
      );
    }
    if (seen.has(name)) throw new UsageError(`--item-features (config prep.item_features) names ${describeValue(name)} twice. Expected each column once.`);
    seen.add(name);
    out.push({ name, kind: kind as FeatureKind });
  }
  if (out.length === 0) throw new UsageError('--item-features (config prep.item_features) is empty. Expected NAME:KIND[,NAME:KIND…], e.g. title:text,price:number.');
  return out;
}

/** The key column: `given` when the catalogue has it, else the first default name present. */
export function chooseKey(given: string | null, columns: readonly string[], file: string): string {
  const list = describeValue(columns.join(','), 300);
  if (given !== null) {
    if (columns.includes(given)) return given;
    throw new UsageError(`--item-key ${describeValue(given)} (config prep.item_key) is not a column of ${file}. Its columns: ${list}.`);
  }
  const found = DEFAULT_ITEM_KEYS.find((k) => columns.includes(k));
  if (found !== undefined) return found;
  throw new UsageError(`${file}: no item key column (tried ${DEFAULT_ITEM_KEYS.join(', ')}). Its columns: ${list}. Pass --item-key COLUMN (config prep.item_key).`);
}

/** The declared features, each a column of the catalogue other than the key. */
export function checkDeclared(features: readonly FeatureSpec[], key: string, columns: readonly string[], file: string): void {
  const unknown = features.filter((f) => !columns.includes(f.name)).map((f) => f.name);
  if (unknown.length > 0) {
    throw new UsageError(
      `--item-features (config prep.item_features) names ${unknown.map((u) => describeValue(u)).join(', ')}, not ${unknown.length === 1 ? 'a column' : 'columns'} of ${file}. Its columns: ${describeValue(columns.join(','), 300)}.`,
    );
  }
  const marked = features.filter((f) => f.name.includes('#')).map((f) => f.name);
  if (marked.length > 0) throw new UsageError(`--item-features (config prep.item_features) names ${marked.map((u) => describeValue(u)).join(', ')}: feature names cannot hold "#", which item_features.arrow keeps for its own columns. Rename the column in the catalogue.`);
  if (features.some((f) => f.name === key)) throw new UsageError(`--item-features (config prep.item_features) names the key column ${describeValue(key)}. Expected the key (--item-key) to be left out of the features.`);
}

const SHORT_CHARS = 30;
const SHORT_WORDS = 3;

function meanLength(values: readonly string[]): number {
  let total = 0;
  for (const v of values) total += v.length;
  return values.length > 0 ? total / values.length : 0;
}

/** The kind of one column from its sampled values, or why it is not a feature (see the module comment). */
export function guessKind(values: readonly RawValue[]): FeatureKind | { skip: string } {
  const strings: string[] = [];
  const arrays: (readonly string[])[] = [];
  for (const v of values) {
    if (v === OBJECT_VALUE) return { skip: 'holds JSON objects' };
    if (v === null) continue;
    if (typeof v === 'string') {
      if (v.trim() !== '') strings.push(v);
    } else if (v.length > 0) arrays.push(v);
  }
  const n = strings.length + arrays.length;
  if (n === 0) return { skip: 'empty in the rows sampled' };
  if (arrays.length * 2 > n) return meanLength(arrays.flat()) <= SHORT_CHARS ? 'multi' : 'text';
  const numeric = strings.filter((s) => parseCatalogueNumber(s).ok).length;
  if (numeric * 10 >= strings.length * 9 && strings.length > 0) return 'number';
  if (strings.filter((s) => s.includes('|')).length * 2 >= strings.length && strings.length > 0) return 'multi';
  const distinct = new Set(strings).size;
  let words = 0;
  for (const v of strings) words += v.trim().split(/\s+/).length;
  if (meanLength(strings) <= SHORT_CHARS && words <= SHORT_WORDS * strings.length && distinct * 5 <= strings.length * 4) return 'category';
  return 'text';
}

/** Kinds of every column but the key, from the sampled rows. */
export function guessFeatures(columns: readonly string[], key: string, rows: readonly ReadonlyMap<string, RawValue>[]): { features: FeatureSpec[]; skipped: Record<string, string> } {
  const features: FeatureSpec[] = [];
  const skipped: Record<string, string> = {};
  for (const name of columns) {
    if (name === key) continue;
    if (name.includes('#')) {
      skipped[name] = 'its name holds "#", which item_features.arrow keeps for its own columns';
      continue;
    }
    const kind = guessKind(rows.map((r) => r.get(name) ?? null));
    if (typeof kind === 'string') features.push({ name, kind });
    else skipped[name] = kind.skip;
  }
  return { features, skipped };
}

/** `--item-features` as it would be written for this spec (printed with a guess, so it can be pasted and edited). */
export function describeFeatures(features: readonly FeatureSpec[]): string {
  return features.map((f) => `${f.name}:${f.kind}`).join(',');
}
