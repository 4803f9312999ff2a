/**
 * The search model families (`bm25`, `two-tower`, `hybrid`; docs/search.md) as one saved object: what `rec search`,
 * `rec eval` and validation load from a checkpoint's model/ without the dataset.
 *  - bm25: Okapi BM25F over the items' text buckets (src/models/search/bm25.ts), nothing trained;
 *  - two-tower: the towers of src/models/search/two-tower.ts, scored by cosine;
 *  - hybrid: both, blended as (1 − α)·cosine + α·BM25/Σidf(query), α chosen on the validation queries.
 * Each has a relevance head where the log has graded relevance: a linear model of per-pair features (the model's
 * scores and the query's word, bigram and trigram overlap with the item), fitted by least squares on the validation
 * pairs and clipped to the log's scale.
 *
 * Saved as model/'s Keras graph (the two-tower graph; bm25's is a 1×1 placeholder so every checkpoint loads alike) plus
 * the `search` sidecar: `search_spec.json` (this spec) and tensors (token buckets, the item bags, the id rows, the
 * BM25 index bytes). model/ (not last/) also gets the serving block of serving.ts, all that `rec search` reads.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../engine/tf.js';
import { DataError } from '../../util/errors.js';
import { bucketRow, type TokenBags, type TokenVocab } from './bags.js';
import { Bm25Index } from './bm25.js';
import type { EncodedQuery } from './query.js';
import { encodeServing, SERVING_FILE, ServingRanker, type SearchScores, type ServingModel } from './serving.js';
import { buildTowerModel, refreshItemVectors, wrapTowerModel, type TowerModel } from './tower-model.js';
import { TWO_TOWER_FORMAT, type TwoTowerSpec } from './two-tower.js';
import { isSearchModelName, SEARCH_FORMAT, SEARCH_SIDECAR, type RelevanceHead, type SearchSpec, type UserHistories } from './spec.js';

export { blend, queryTerms, SERVING_FILE, type SearchScores } from './serving.js';
export { isSearchModelName, SEARCH_FORMAT, SEARCH_MODELS, SEARCH_SIDECAR, type RelevanceHead, type SearchModelName, type SearchSpec, type UserHistories } from './spec.js';

/** A base feature row (bias first) with the products of every two non-bias features appended. */
export function pairwiseRow(x: Float64Array): Float64Array {
  const p = x.length;
  const out = new Float64Array(p + ((p - 1) * p) / 2);
  out.set(x);
  let at = p;
  for (let i = 1; i < p; i++) for (let j = i; j < p; j++) out[at++] = x[i] * x[j];
  return out;
}

export function pairwiseNames(names: readonly string[]): string[] {
  const out = [...names];
  for (let i = 1; i < names.length; i++) for (let j = i; j < names.length; j++) out.push(`${names[i]}*${names[j]}`);
  return out;
}

/** Histories from training pairs in time order (rows sorted by user, ts, seq as every split is). */
export function userHistories(users: Int32Array, items: Int32Array, numUsers: number, history: number): UserHistories {
  const lists: number[][] = Array.from({ length: numUsers }, () => []);
  for (let r = users.length - 1; r >= 0; r--) {
    const u = users[r];
    if (u < 0) continue;
    const list = lists[u];
    if (list.length < history && !list.includes(items[r])) list.push(items[r]);
  }
  const offsets = new Int32Array(numUsers + 1);
  lists.forEach((l, u) => (offsets[u + 1] = offsets[u] + l.length));
  return { offsets, items: Int32Array.from(lists.flat()) };
}

export interface SearchModel {
  readonly keras: TF.LayersModel;
  spec: SearchSpec;
  readonly vocab: TokenVocab;
  readonly itemBags: TokenBags;
  readonly tower: TowerModel | null;
  readonly bm25: Bm25Index | null;
  /** Items with a training pair: their id rows take part in the serving vectors. */
  readonly trained: Uint8Array;
  /** Per item, from the training pairs: the shrunk mean pair weight (the relevance head's item prior) and log(1 + pairs). */
  readonly prior: ItemPrior;
  /** Users' recent items for personalised ranking; null without users. */
  readonly histories: UserHistories | null;
  sidecar(): { name: string; spec: Record<string, unknown>; tensors: TF.NamedTensorMap; serving: (weightsSha256: string) => { file: string; bytes: Uint8Array } };
}

/** BM25 terms of an item: its text buckets, each repeated by its feature count (BM25 reads term frequencies). */
export function bm25Fields(vocab: TokenVocab, itemBags: TokenBags, counts: (item: number, k: number) => number): { name: string; terms: string[][] }[] {
  const items = itemBags.offsets.length - 1;
  const terms: string[][] = [];
  for (let i = 0; i < items; i++) {
    const list: string[] = [];
    for (let k = itemBags.offsets[i]; k < itemBags.offsets[i + 1]; k++) {
      const row = itemBags.rows[k];
      if (row >= vocab.buckets.length) continue;
      const term = String(vocab.buckets[row]);
      for (let c = counts(i, k); c > 0; c--) list.push(term);
    }
    terms.push(list);
  }
  return [{ name: 'text', terms }];
}

export interface ItemPrior {
  mean: Float32Array;
  logPairs: Float32Array;
}

/** Pseudo-pairs at the overall mean that an item's own mean is shrunk with (an item with one pair says little). */
const PRIOR_SHRINK = 2;

/** The item prior of training pairs with weights in [0, 1] (src/train/search-run.ts pairWeights). */
export function itemPrior(items: Int32Array, weights: Float32Array, numItems: number): ItemPrior {
  const sum = new Float64Array(numItems);
  const n = new Float64Array(numItems);
  let total = 0;
  for (let r = 0; r < items.length; r++) {
    sum[items[r]] += weights[r];
    n[items[r]] += 1;
    total += weights[r];
  }
  const mu = items.length > 0 ? total / items.length : 0;
  return {
    mean: Float32Array.from(sum, (s, i) => (s + PRIOR_SHRINK * mu) / (n[i] + PRIOR_SHRINK)),
    logPairs: Float32Array.from(n, (c) => Math.log1p(c)),
  };
}

export interface NewSearchModel {
  spec: SearchSpec;
  vocab: TokenVocab;
  itemBags: TokenBags;
  /** Feature counts per item-bag entry (text), for BM25's term frequencies. */
  bagCounts: Int32Array;
  trained: Uint8Array;
  prior: ItemPrior;
  histories: UserHistories | null;
  seed: number;
  /** Standard deviation of the rows' normal initialisation. */
  initStd: number;
}

export function buildSearchModel(n: NewSearchModel): SearchModel {
  const items = n.itemBags.offsets.length - 1;
  const tokens = n.vocab.buckets.length + n.vocab.values.length;
  const tower = n.spec.tower === null ? null : buildTowerModel(towerSpec(n.spec, n.vocab), { tokens, items }, n.seed, n.initStd);
  const bm25 = n.spec.bm25 === null ? null : Bm25Index.build(bm25Fields(n.vocab, n.itemBags, (_i, k) => n.bagCounts[k]), n.spec.bm25);
  const keras = tower?.keras ?? placeholderGraph();
  keras.setUserDefinedMetadata({ rec: { model: n.spec.model, config: { tower: n.spec.tower, bm25: n.spec.bm25 }, shape: { users: 0, items, globalMean: 0 } } });
  return assemble(keras, n.spec, n.vocab, n.itemBags, tower, bm25, n.trained, n.prior, n.histories);
}

function towerSpec(spec: SearchSpec, vocab: TokenVocab): TwoTowerSpec {
  const t = spec.tower as NonNullable<SearchSpec['tower']>;
  return { format: TWO_TOWER_FORMAT, dim: t.dim, temperature: t.temperature, id_dropout: t.id_dropout, buckets: Array.from(vocab.buckets), values: vocab.values, featurizer: spec.featurizer };
}

function placeholderGraph(): TF.LayersModel {
  const x = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const e = tf.layers.embedding({ name: 'placeholder', inputDim: 1, outputDim: 1, embeddingsInitializer: 'zeros' }).apply(x) as TF.SymbolicTensor;
  return tf.model({ inputs: x, outputs: tf.layers.flatten().apply(e) as TF.SymbolicTensor, name: 'bm25' });
}

function assemble(
  keras: TF.LayersModel,
  spec: SearchSpec,
  vocab: TokenVocab,
  itemBags: TokenBags,
  tower: TowerModel | null,
  bm25: Bm25Index | null,
  trained: Uint8Array,
  prior: ItemPrior,
  histories: UserHistories | null,
): SearchModel {
  // What never changes after the model is built is made into tensors once and kept, as the item encoder's sidecar keeps
  // its variables: the writers do not dispose a sidecar's tensors, so fresh ones at every save would leak.
  let fixed: TF.NamedTensorMap | null = null;
  let bm25Bytes: Uint8Array | null = null;
  const model: SearchModel = {
    keras,
    spec,
    vocab,
    itemBags,
    tower,
    bm25,
    trained,
    prior,
    histories,
    sidecar: () => {
      fixed ??= fixedTensors(model);
      const tensors = tower === null ? fixed : { ...fixed, item_id: tower.itemIds };
      // model/ gains the serving block (rec search reads it alone); the BM25 bytes never change, so are encoded once.
      const serving = (weightsSha256: string) => {
        bm25Bytes ??= model.bm25?.toBytes() ?? null;
        return { file: SERVING_FILE, bytes: encodeServing(servingModel(model), weightsSha256, bm25Bytes) };
      };
      return { name: SEARCH_SIDECAR, spec: { ...model.spec } as unknown as Record<string, unknown>, tensors, serving };
    },
  };
  return model;
}

/** The sidecar's tensors other than the trained id rows. */
function fixedTensors(m: SearchModel): TF.NamedTensorMap {
  const out: TF.NamedTensorMap = {
    token_buckets: tf.tensor1d(m.vocab.buckets, 'int32'),
    item_bag_offsets: tf.tensor1d(m.itemBags.offsets, 'int32'),
    item_bag_rows: tf.tensor1d(m.itemBags.rows, 'int32'),
    item_bag_weights: tf.tensor1d(m.itemBags.weights, 'float32'),
    trained: tf.tensor1d(Int32Array.from(m.trained), 'int32'),
    item_prior: tf.tensor1d(m.prior.mean, 'float32'),
    item_log_pairs: tf.tensor1d(m.prior.logPairs, 'float32'),
  };
  if (m.histories !== null) {
    out.history_offsets = tf.tensor1d(m.histories.offsets, 'int32');
    out.history_items = tf.tensor1d(m.histories.items, 'int32');
  }
  if (m.bm25 !== null) {
    const bytes = m.bm25.toBytes();
    const padded = new Uint8Array((bytes.length + 3) & ~3);
    padded.set(bytes);
    out.bm25_bytes = tf.tensor1d(new Int32Array(padded.buffer, 0, padded.length / 4), 'int32');
    out.bm25_length = tf.tensor1d([bytes.length], 'int32');
  }
  return out;
}

/** The model from model/'s graph and its `search` sidecar. */
export function wrapSearchModel(keras: TF.LayersModel, side: { spec: Record<string, unknown>; tensors: TF.NamedTensorMap }, where: string): SearchModel {
  const spec = side.spec as unknown as SearchSpec;
  if (spec.format !== SEARCH_FORMAT || !isSearchModelName(spec.model)) throw new DataError(`${where}: search_spec.json is not a rec search model (format ${JSON.stringify(spec.format)}, expected ${SEARCH_FORMAT}).`);
  const t = side.tensors;
  const need = (name: string): TF.Tensor => {
    const v = t[name];
    if (v === undefined) throw new DataError(`${where}: the search sidecar has no tensor ${name}. The checkpoint is damaged; train it again.`);
    return v;
  };
  const vocab: TokenVocab = { buckets: need('token_buckets').dataSync() as Int32Array, values: spec.values };
  const itemBags: TokenBags = {
    offsets: need('item_bag_offsets').dataSync() as Int32Array,
    rows: need('item_bag_rows').dataSync() as Int32Array,
    weights: need('item_bag_weights').dataSync() as Float32Array,
  };
  const trained = Uint8Array.from(need('trained').dataSync());
  const tower = spec.tower === null ? null : wrapTowerModel(keras, towerSpec(spec, vocab), need('item_id') as TF.Tensor2D);
  let bm25: Bm25Index | null = null;
  if (spec.bm25 !== null) {
    const words = need('bm25_bytes').dataSync() as Int32Array;
    const length = (need('bm25_length').dataSync() as Int32Array)[0];
    bm25 = Bm25Index.fromBytes(new Uint8Array(words.buffer, words.byteOffset, length), `${where} bm25 index`);
  }
  const prior = { mean: need('item_prior').dataSync() as Float32Array, logPairs: need('item_log_pairs').dataSync() as Float32Array };
  const histories = t.history_offsets === undefined ? null : { offsets: need('history_offsets').dataSync() as Int32Array, items: need('history_items').dataSync() as Int32Array };
  return assemble(keras, spec, vocab, itemBags, tower, bm25, trained, prior, histories);
}

/** Scores the model's way, from the whole model (training, validation, rec eval); `itemVectors` default to model/'s. */
export class SearchRanker extends ServingRanker {
  readonly model: SearchModel;

  constructor(model: SearchModel, itemVectors: Float32Array | null = null) {
    super(servingModel(model, itemVectors));
    this.model = model;
  }
}

/** The parts of `model` that scoring reads (views of its tensors' data, no copy). */
export function servingModel(model: SearchModel, itemVectors: Float32Array | null = null): ServingModel {
  const t = model.tower;
  return {
    spec: model.spec,
    vocab: model.vocab,
    items: model.itemBags.offsets.length - 1,
    tokens: t === null ? null : (t.tokens.dataSync() as Float32Array),
    vectors: t === null ? null : (itemVectors ?? (t.itemVectors.dataSync() as Float32Array)),
    bm25: model.bm25,
    histories: model.histories,
  };
}

/** The head's features of (query, item k of `items`): constant, the model's scores, the overlaps by kind. */
export function headFeatures(model: SearchModel, q: EncodedQuery, items: Int32Array, s: SearchScores): { names: string[]; rows: Float64Array[] } {
  const names = [
    'bias',
    ...(s.cosine !== null ? ['cosine'] : []),
    ...(s.bm25 !== null ? ['bm25'] : []),
    'overlap_words',
    'overlap_bigrams',
    'overlap_trigrams',
    'log_query_words',
    'log_item_tokens',
    'item_prior',
    'log_item_pairs',
  ];
  const rows: Float64Array[] = [];
  const kinds = [q.kinds.w, q.kinds.b, q.kinds.t].map((b) => Array.from(b, (x) => bucketRow(model.vocab, x)));
  const qlen = Math.log(1 + q.kinds.w.length);
  for (let k = 0; k < items.length; k++) {
    const i = items[k];
    const bag = new Set(model.itemBags.rows.subarray(model.itemBags.offsets[i], model.itemBags.offsets[i + 1]));
    const ov = kinds.map((rows) => (rows.length === 0 ? 0 : rows.filter((r) => r >= 0 && bag.has(r)).length / rows.length));
    const tokens = Math.log1p(model.itemBags.offsets[i + 1] - model.itemBags.offsets[i]);
    const row = [1, ...(s.cosine !== null ? [s.cosine[k]] : []), ...(s.bm25 !== null ? [s.bm25[k]] : []), ...ov, qlen, tokens, model.prior.mean[i], model.prior.logPairs[i]];
    rows.push(Float64Array.from(row));
  }
  return { names, rows };
}

export function predictRelevance(head: RelevanceHead, rows: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const x = head.pairwise ? pairwiseRow(rows[k]) : rows[k];
    let s = 0;
    for (let f = 0; f < head.weights.length; f++) s += head.weights[f] * x[f];
    out[k] = Math.min(head.range[1], Math.max(head.range[0], s));
  }
  return out;
}

/** Least squares with a small ridge (features can be collinear on a small validation split); float64 throughout. */
export function fitHead(base: string[], baseRows: readonly Float64Array[], targets: ArrayLike<number>, range: [number, number], ridge = 1e-3, pairwise = true): RelevanceHead {
  const names = pairwise ? pairwiseNames(base) : base;
  const rows = pairwise ? baseRows.map(pairwiseRow) : baseRows;
  const p = names.length;
  const a = Array.from({ length: p }, () => new Float64Array(p + 1));
  for (let n = 0; n < rows.length; n++) {
    const x = rows[n];
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) a[i][j] += x[i] * x[j];
      a[i][p] += x[i] * targets[n];
    }
  }
  for (let i = 1; i < p; i++) a[i][i] += ridge * rows.length;
  const w = solve(a, p);
  return { features: names, weights: Array.from(w), range, pairwise };
}

/** Gaussian elimination with partial pivoting of the augmented p × (p + 1) system. */
function solve(a: Float64Array[], p: number): Float64Array {
  for (let c = 0; c < p; c++) {
    let pivot = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    if (a[c][c] === 0) continue;
    for (let r = c + 1; r < p; r++) {
      const f = a[r][c] / a[c][c];
      for (let k = c; k <= p; k++) a[r][k] -= f * a[c][k];
    }
  }
  const w = new Float64Array(p);
  for (let r = p - 1; r >= 0; r--) {
    let s = a[r][p];
    for (let k = r + 1; k < p; k++) s -= a[r][k] * w[k];
    w[r] = a[r][r] === 0 ? 0 : s / a[r][r];
  }
  return w;
}

/** Item vectors for serving, refreshed from the towers (before model/ is written). */
export function refreshServing(model: SearchModel): Float32Array | null {
  return model.tower === null ? null : refreshItemVectors(model.tower, model.itemBags, model.trained);
}
