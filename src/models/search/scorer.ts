/**
 * What every search model gives evaluation, validation and `rec search`: scores of catalogue items for a query given as
 * its text buckets (src/data/text.ts), over the whole catalogue or a list of items, and, where the model has one, a
 * relevance prediction on the log's scale. The towers score by cosine, BM25 by its formula, the hybrid by a blend of
 * the two fitted on the validation queries.
 */
import { textBag, type TokenVocab } from './bags.js';
import { normalize } from './two-tower.js';

/** A query as the models read it: its distinct text buckets and the features per bucket. */
export interface QueryText {
  buckets: Int32Array;
  counts: Int32Array;
}

export interface SearchScorer {
  readonly items: number;
  /** Writes a score for every item into `out` (length items). */
  scoreAll(q: QueryText, out: Float32Array): void;
  /** Writes the scores of `items` into `out` (same length). */
  scoreItems(q: QueryText, items: Int32Array, out: Float32Array): void;
}

/** Cosine of the query's pooled tokens with each item's serving vector. */
export class TowerScorer implements SearchScorer {
  readonly items: number;
  private readonly q: Float32Array;
  private readonly vocab: TokenVocab;
  private readonly tokens: Float32Array;
  private readonly itemVectors: Float32Array;
  private readonly dim: number;

  constructor(vocab: TokenVocab, tokens: Float32Array, itemVectors: Float32Array, dim: number) {
    this.vocab = vocab;
    this.tokens = tokens;
    this.itemVectors = itemVectors;
    this.dim = dim;
    this.items = itemVectors.length / dim;
    this.q = new Float32Array(dim);
  }

  /** The query's normalised vector (zero when none of its buckets is in the vocabulary). */
  encode(q: QueryText): Float32Array {
    const { rows, weights } = textBag(this.vocab, q.buckets, q.counts);
    const { dim, tokens } = this;
    const v = this.q.fill(0);
    for (let k = 0; k < rows.length; k++) {
      const t = rows[k] * dim;
      for (let j = 0; j < dim; j++) v[j] += weights[k] * tokens[t + j];
    }
    normalize(v, 0, dim);
    return v;
  }

  scoreAll(q: QueryText, out: Float32Array): void {
    const v = this.encode(q);
    const { dim, itemVectors: m } = this;
    for (let i = 0; i < this.items; i++) {
      let s = 0;
      const o = i * dim;
      for (let j = 0; j < dim; j++) s += v[j] * m[o + j];
      out[i] = s;
    }
  }

  scoreItems(q: QueryText, items: Int32Array, out: Float32Array): void {
    const v = this.encode(q);
    const { dim, itemVectors: m } = this;
    for (let k = 0; k < items.length; k++) {
      let s = 0;
      const o = items[k] * dim;
      for (let j = 0; j < dim; j++) s += v[j] * m[o + j];
      out[k] = s;
    }
  }
}
