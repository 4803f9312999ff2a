/**
 * Catalogue features in an item's vector (issue #21): for every item table T of a model (MF's
 * factors and bias, NCF's GMF and MLP item tables, SASRec's shared input/output table)
 *
 *   e_i = m_i · T[i] + Σ_f Σ_{t ∈ f(i)} w_{i,t} · F_T[t]
 *
 * where t runs over the item's feature tokens (a category value, each value of a multi-valued
 * feature, each hashed text bucket, the quantile bucket of a number), w_{i,t} pools each feature to
 * its mean (text buckets by their counts), and F_T is a table with one row per token, T's width.
 * This is TensorFlow Recommenders' item tower (id embedding ⊕ pooled feature embeddings) with the
 * text as a projected bag of hashed n-grams (Nigam et al., KDD 2019). In training m_i is dropped to 0
 * with probability `id_dropout` per item and step (DropoutNet, Volkovs et al., NeurIPS 2017), so the
 * features alone must carry an item; an item that had no training row is scored with m_i = 0, from
 * its features: a new product is ranked on its first day.
 *
 * A token gets a row only where it can learn something that transfers: it appears in at least two
 * items, one of them with training rows (a fine-tune also keeps every token of its parent, whose rows
 * carry what the parent learned). Rows start at zero, so an untrained token adds nothing.
 *
 * The composition is linear in the rows, so a step gathers the batch's item rows and token rows,
 * composes them inside the differentiated function, and the row-sparse optimizer updates exactly
 * the rows used: O(batch × tokens × dim), whatever the catalogue's size.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ItemFeatures } from '../data/item-features.js';
import { DataError } from '../util/errors.js';
import type { Prng } from '../util/prng.js';
import type { EmbeddingTable } from './model.js';

/** Quantile buckets of a number feature. */
export const NUMBER_BUCKETS = 10;
/** Items a token must appear in to get a row (one of them with training rows). */
const MIN_TOKEN_ITEMS = 2;
/** Items composed at once over the whole catalogue: bounds the [tokens, width] temporaries. */
const COMPOSE_BLOCK_ITEMS = 16_384;
export const FEATURE_TABLE_SUFFIX = '#features';

export type FeatureKind = 'text' | 'category' | 'multi' | 'number';

/** What a checkpoint records of its encoder (model/item_encoder.json): enough to rebuild the token rows from a dataset's catalogue. */
export interface ItemEncoderSpec {
  format_version: 1;
  fields: { name: string; kind: FeatureKind; boundaries?: number[] }[];
  /** Token keys in row order: `FIELD\tVALUE` (a text bucket as `#N`, a number bucket as `<K`). */
  tokens: string[];
  id_dropout: number;
  /** Item tables the encoder adds to, by name. */
  tables: string[];
}

/** Each item's tokens: tokens[offsets[i], offsets[i + 1]) with their pooling weights. */
export interface ItemTokens {
  offsets: Int32Array;
  tokens: Int32Array;
  weights: Float32Array;
}

export interface FeatureTable {
  /** `${of}#features` */
  readonly name: string;
  /** The item table it adds to. */
  readonly of: string;
  readonly variable: TF.Variable;
}

export interface ItemEncoder {
  readonly spec: ItemEncoderSpec;
  readonly items: ItemTokens;
  /** Per model item: 1 when at least one of its tokens has a row (it can be scored from its features). */
  readonly featured: Uint8Array;
  /** Per model item: 1 when its id row was learned (training rows, or a parent's); 0: scored from features only. */
  readonly learned: Uint8Array;
  readonly tables: readonly FeatureTable[];
  /** The model's item tables composed for scoring (m_i = learned_i), [items, width] by table name. */
  compose(itemTables: readonly EmbeddingTable[]): Record<string, TF.Tensor2D>;
  dispose(): void;
}

function tokenKey(field: string, value: string): string {
  return `${field}\t${value}`;
}

/** Upper bound search: the bucket of `x` among sorted `boundaries` (x < b[0] → 0). */
function bucketOf(x: number, boundaries: readonly number[]): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < boundaries[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Inner quantiles of the finite values: NUMBER_BUCKETS − 1 cut points, duplicates removed. */
function quantileBoundaries(values: Float64Array): number[] {
  const finite = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return [];
  const cuts: number[] = [];
  for (let q = 1; q < NUMBER_BUCKETS; q++) {
    const v = finite[Math.min(finite.length - 1, Math.floor((q * finite.length) / NUMBER_BUCKETS))];
    if (cuts.length === 0 || v > cuts[cuts.length - 1]) cuts.push(v);
  }
  return cuts;
}

/** Calls `emit(key, weight)` for each token of dataset item `i` under `field`, weights pooling the field to its mean. */
function fieldTokens(f: ItemFeatures['features'][number], i: number, boundaries: readonly number[] | undefined, emit: (key: string, weight: number) => void): void {
  if (f.kind === 'category') {
    if (f.codes[i] >= 0) emit(tokenKey(f.name, f.vocab[f.codes[i]]), 1);
  } else if (f.kind === 'multi') {
    const { offsets, values } = f.codes;
    const n = offsets[i + 1] - offsets[i];
    for (let k = offsets[i]; k < offsets[i + 1]; k++) emit(tokenKey(f.name, f.vocab[values[k]]), 1 / n);
  } else if (f.kind === 'text') {
    const { offsets, values } = f.buckets;
    let total = 0;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) total += f.counts[k];
    for (let k = offsets[i]; k < offsets[i + 1]; k++) emit(tokenKey(f.name, `#${values[k]}`), f.counts[k] / total);
  } else if (Number.isFinite(f.values[i])) {
    emit(tokenKey(f.name, `<${bucketOf(f.values[i], boundaries ?? [])}`), 1);
  }
}

/**
 * The encoder's spec for a dataset's catalogue: which tokens get rows (see the module comment), a
 * parent's tokens first and in its order, so its rows copy across by position of key.
 */
export function encoderSpec(features: ItemFeatures, warm: Uint8Array, opts: { idDropout: number; tables: string[]; parent?: ItemEncoderSpec | null }): ItemEncoderSpec {
  const parent = opts.parent ?? null;
  const fields = features.features.map((f) => {
    if (f.kind !== 'number') return { name: f.name, kind: f.kind };
    const inherited = parent?.fields.find((p) => p.name === f.name && p.kind === 'number')?.boundaries;
    return { name: f.name, kind: f.kind, boundaries: inherited ?? quantileBoundaries(f.values) };
  });
  const seen = new Map<string, { items: number; warm: boolean }>();
  const order: string[] = [];
  for (let i = 0; i < features.items; i++) {
    features.features.forEach((f, k) =>
      fieldTokens(f, i, fields[k].boundaries, (key) => {
        let s = seen.get(key);
        if (s === undefined) {
          s = { items: 0, warm: false };
          seen.set(key, s);
          order.push(key);
        }
        // Tokens repeat within an item only through text buckets, which are unique per item.
        s.items++;
        if (warm[i] === 1) s.warm = true;
      }),
    );
  }
  const inherited = parent?.tokens ?? [];
  const kept = new Set(inherited);
  const tokens = [...inherited];
  for (const key of order) {
    const s = seen.get(key) as { items: number; warm: boolean };
    if (!kept.has(key) && s.warm && s.items >= MIN_TOKEN_ITEMS) {
      kept.add(key);
      tokens.push(key);
    }
  }
  return { format_version: 1, fields, tokens, id_dropout: opts.idDropout, tables: opts.tables };
}

/** Each model item's tokens under `spec` (dataset items first; items past the catalogue have none). */
export function itemTokens(spec: ItemEncoderSpec, features: ItemFeatures, modelItems: number): ItemTokens {
  const row = new Map(spec.tokens.map((key, r) => [key, r]));
  const byName = new Map(features.features.map((f) => [f.name, f]));
  const offsets = new Int32Array(modelItems + 1);
  const tokens: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < modelItems; i++) {
    if (i < features.items) {
      for (const field of spec.fields) {
        const f = byName.get(field.name);
        if (f === undefined) continue;
        const from = tokens.length;
        let total = 0;
        fieldTokens(f, i, field.boundaries, (key, weight) => {
          const r = row.get(key);
          if (r === undefined) return;
          tokens.push(r);
          weights.push(weight);
          total += weight;
        });
        // The field's mean over its tokens that have rows.
        for (let k = from; k < tokens.length; k++) weights[k] /= total;
      }
    }
    offsets[i + 1] = tokens.length;
  }
  return { offsets, tokens: Int32Array.from(tokens), weights: Float32Array.from(weights) };
}

/** Checks that a spec read from a checkpoint fits the dataset's catalogue: the same fields, of the same kinds. */
export function checkSpecFields(spec: ItemEncoderSpec, features: ItemFeatures, where: string): void {
  for (const field of spec.fields) {
    const f = features.features.find((x) => x.name === field.name);
    if (f === undefined || f.kind !== field.kind) {
      throw new DataError(`${where} was trained with the catalogue feature ${field.name}:${field.kind}, which the dataset's catalogue ${f === undefined ? 'lacks' : `has as ${f.kind}`}. Prep the data with the same --item-features, or train with --features none.`);
    }
  }
}

/** A step's bag over a list of items: token rows to gather and where each one's weighted row adds. */
interface BagPlan {
  /** Token row per entry. */
  tokens: Int32Array;
  /** [entries, 1] pooling weights. */
  weights: Float32Array;
  /** The position (in the item list) each entry adds to. */
  segments: Int32Array;
}

function bagPlan(items: ItemTokens, list: Int32Array): BagPlan {
  let n = 0;
  for (const i of list) n += items.offsets[i + 1] - items.offsets[i];
  const tokens = new Int32Array(n);
  const weights = new Float32Array(n);
  const segments = new Int32Array(n);
  let at = 0;
  list.forEach((i, k) => {
    for (let e = items.offsets[i]; e < items.offsets[i + 1]; e++, at++) {
      tokens[at] = items.tokens[e];
      weights[at] = items.weights[e];
      segments[at] = k;
    }
  });
  return { tokens, weights, segments };
}

/**
 * Where the vectors of a list of items come from: out[k] = ids[posOf[k]] (nothing when posOf[k] =
 * kept) + Σ_{e: segments[e] = k} weights[e] · tokens[entries[e]]. The training step and scoring
 * compose through it, with `entries` indexing the token rows they read.
 */
export interface ComposeLayout {
  count: number;
  /** Position k's id row among the kept ones, or `kept` for none. */
  posOf: Int32Array;
  kept: number;
  entries: Int32Array;
  weights: Float32Array;
  segments: Int32Array;
}

/** The layout of `list` whose id rows `mask` keeps (entries are token rows of the feature tables), and the kept items in order. */
export function composeLayout(items: ItemTokens, list: Int32Array, mask: Uint8Array): { layout: ComposeLayout; kept: Int32Array } {
  const keptItems: number[] = [];
  const posOf = new Int32Array(list.length);
  list.forEach((item, k) => {
    if (mask[k] === 1) {
      posOf[k] = keptItems.length;
      keptItems.push(item);
    } else posOf[k] = -1;
  });
  const kept = keptItems.length;
  for (let k = 0; k < posOf.length; k++) if (posOf[k] < 0) posOf[k] = kept;
  const plan = bagPlan(items, list);
  return { layout: { count: list.length, posOf, kept, entries: plan.tokens, weights: plan.weights, segments: plan.segments }, kept: Int32Array.from(keptItems) };
}

/** The composed vectors [count, width] (row-major) from the kept id rows and the token rows `entries` index. */
export function composeForward(layout: ComposeLayout, idValues: Float32Array, tokenValues: Float32Array, width: number): Float32Array {
  const { count, posOf, kept, entries, weights, segments } = layout;
  const out = new Float32Array(count * width);
  for (let k = 0; k < count; k++) if (posOf[k] < kept) out.set(idValues.subarray(posOf[k] * width, (posOf[k] + 1) * width), k * width);
  for (let e = 0; e < entries.length; e++) axpy(out, segments[e] * width, weights[e], tokenValues, entries[e] * width, width);
  return out;
}

/**
 * y[yo, yo + n) += a · x[xo, xo + n), four at a time: the inner loop of composing item vectors and
 * routing their gradients, about 1.5× the plain loop in V8 at the widths of item tables (measured at
 * width 33).
 */
export function axpy(y: Float32Array, yo: number, a: number, x: Float32Array, xo: number, n: number): void {
  const end4 = yo + (n & ~3);
  let i = yo;
  let k = xo;
  for (; i < end4; i += 4, k += 4) {
    y[i] += a * x[k];
    y[i + 1] += a * x[k + 1];
    y[i + 2] += a * x[k + 2];
    y[i + 3] += a * x[k + 3];
  }
  for (const end = yo + n; i < end; i++, k++) y[i] += a * x[k];
}

/**
 * Per distinct item of a step: whether its id row takes part (1) or is dropped (0). Items without
 * features keep theirs (they would have no vector); items whose id row was never learned never use it.
 */
export function idMask(encoder: Pick<ItemEncoder, 'featured' | 'learned'>, list: Int32Array, dropout: number, rng: Prng | null): Uint8Array {
  const mask = new Uint8Array(list.length);
  list.forEach((i, k) => {
    if (encoder.featured[i] === 0) mask[k] = 1;
    else if (encoder.learned[i] === 0) mask[k] = 0;
    else mask[k] = rng !== null && rng.next() < dropout ? 0 : 1;
  });
  return mask;
}

export interface ItemEncoderOptions {
  spec: ItemEncoderSpec;
  features: ItemFeatures;
  modelItems: number;
  /** Per model item: its id row was learned. */
  learned: Uint8Array;
  /** Widths of the item tables the encoder adds to. */
  widths: Readonly<Record<string, number>>;
  /** Saved values of the feature tables by name (resume, fine-tune); absent ones start at zero. */
  values?: Readonly<Record<string, Float32Array>>;
}

export function createItemEncoder(opts: ItemEncoderOptions): ItemEncoder {
  const { spec } = opts;
  const items = itemTokens(spec, opts.features, opts.modelItems);
  const featured = new Uint8Array(opts.modelItems);
  for (let i = 0; i < opts.modelItems; i++) featured[i] = items.offsets[i + 1] > items.offsets[i] ? 1 : 0;
  const rows = Math.max(1, spec.tokens.length);
  const tables: FeatureTable[] = spec.tables.map((of) => {
    const width = opts.widths[of];
    const name = `${of}${FEATURE_TABLE_SUFFIX}`;
    const saved = opts.values?.[name];
    if (saved !== undefined && saved.length !== rows * width) throw new DataError(`the saved feature table ${name} has ${saved.length} values; ${rows} tokens × ${width} expected`);
    const init = saved !== undefined ? tf.tensor2d(saved, [rows, width]) : tf.zeros([rows, width]);
    const variable = tf.variable(init, true, name);
    init.dispose();
    return { name, of, variable };
  });
  const encoder: ItemEncoder = {
    spec,
    items,
    featured,
    learned: opts.learned,
    tables,
    compose: (itemTables) => composeAll(encoder, itemTables, opts.modelItems),
    dispose: () => tables.forEach((t) => t.variable.dispose()),
  };
  return encoder;
}

/** Scoring-time vectors (m_i = learned_i) of every item, composed in blocks of items. */
function composeAll(encoder: ItemEncoder, itemTables: readonly EmbeddingTable[], modelItems: number): Record<string, TF.Tensor2D> {
  const out: Record<string, TF.Tensor2D> = {};
  for (const f of encoder.tables) {
    const table = itemTables.find((t) => t.name === f.of);
    if (table === undefined) throw new Error(`item encoder: the model has no item table ${f.of}`);
    const width = table.variable.shape[1] ?? 1;
    const tokenValues = f.variable.dataSync() as Float32Array;
    const values = new Float32Array(modelItems * width);
    for (let lo = 0; lo < modelItems; lo += COMPOSE_BLOCK_ITEMS) {
      const part = Int32Array.from({ length: Math.min(COMPOSE_BLOCK_ITEMS, modelItems - lo) }, (_, k) => lo + k);
      const { layout, kept } = composeLayout(encoder.items, part, idMask(encoder, part, 0, null));
      const index = tf.tensor1d(kept, 'int32');
      const gathered = tf.gather(table.variable, index);
      // Read outside a tidy: tidy would walk a returned typed array element by element.
      const ids = gathered.dataSync() as Float32Array;
      tf.dispose([index, gathered]);
      values.set(composeForward(layout, ids, tokenValues, width), lo * width);
    }
    out[f.of] = tf.tensor2d(values, [modelItems, width]);
  }
  return out;
}

/**
 * Runs `fn` with the model's item tables holding the composed vectors (validation ranks and model/
 * saves what eval and recommend will score), then puts the id rows back for training.
 */
export async function withComposedTables<T>(encoder: ItemEncoder, itemTables: readonly EmbeddingTable[], fn: (raw: Readonly<Record<string, TF.Tensor2D>>) => Promise<T>): Promise<T> {
  const composed = encoder.compose(itemTables);
  const raw: Record<string, TF.Tensor2D> = {};
  for (const t of itemTables) {
    if (composed[t.name] === undefined) continue;
    raw[t.name] = tf.clone(t.variable) as TF.Tensor2D;
    t.variable.assign(composed[t.name]);
  }
  tf.dispose(Object.values(composed));
  try {
    return await fn(raw);
  } finally {
    for (const t of itemTables) {
      if (raw[t.name] === undefined) continue;
      t.variable.assign(raw[t.name]);
    }
    tf.dispose(Object.values(raw));
  }
}
