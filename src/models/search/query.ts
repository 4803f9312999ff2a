/**
 * A query as the search models read it: the catalogue featuriser's buckets of its text (same spec as the dataset's item
 * text, so a query and a title share buckets), and the buckets of each kind of feature apart (word unigrams, bigrams,
 * character trigrams), which the relevance head reads as separate overlap features.
 */
import { featureBucket, TextFeaturizer, type TextFeaturizerSpec } from '../../data/text.js';
import type { QueryText } from './scorer.js';

export interface EncodedQuery extends QueryText {
  text: string;
  /** Distinct buckets of the word unigrams (w), bigrams (b) and character trigrams (t). */
  kinds: { w: Int32Array; b: Int32Array; t: Int32Array };
}

export class QueryEncoder {
  private readonly featurizer: TextFeaturizer;

  constructor(spec: TextFeaturizerSpec) {
    this.featurizer = new TextFeaturizer({ numBuckets: spec.num_buckets, seed: spec.seed, maxChars: spec.max_chars, maxUnits: spec.max_units });
  }

  encode(text: string): EncodedQuery {
    const { buckets, counts } = this.featurizer.featurize(text);
    const sets = { w: new Set<number>(), b: new Set<number>(), t: new Set<number>() };
    const { numBuckets, seed } = this.featurizer;
    for (const token of this.featurizer.tokens(text)) {
      const kind = token[0] as 'w' | 'b' | 't';
      sets[kind]?.add(featureBucket(token, numBuckets, seed));
    }
    const sorted = (s: Set<number>) => Int32Array.from(s).sort();
    return { text, buckets, counts, kinds: { w: sorted(sets.w), b: sorted(sets.b), t: sorted(sets.t) } };
  }
}
