/**
 * What a saved search model declares about itself (model/search_spec.json, and the header of the serving block):
 * the family, the featuriser, the tower and BM25 settings, the blend and the relevance head. Apart from the model so
 * that serving (src/models/search/serving.ts) reads it without TF.js.
 */
import type { TextFeaturizerSpec } from '../../data/text.js';

export const SEARCH_MODELS = ['bm25', 'two-tower', 'hybrid'] as const;
export type SearchModelName = (typeof SEARCH_MODELS)[number];
export const SEARCH_SIDECAR = 'search';
export const SEARCH_FORMAT = 'rec-search-v1';

export function isSearchModelName(name: string): name is SearchModelName {
  return (SEARCH_MODELS as readonly string[]).includes(name);
}

/**
 * The relevance head: prediction = clip(Σ weights[f] · feature f, range), over the base features and, where
 * `pairwise`, every product of two of them (a quadratic model: the features' effects interact, e.g. word overlap
 * counts for more when the cosine is high).
 */
export interface RelevanceHead {
  features: string[];
  weights: number[];
  range: [number, number];
  pairwise: boolean;
}

export interface SearchSpec {
  format: typeof SEARCH_FORMAT;
  model: SearchModelName;
  featurizer: TextFeaturizerSpec;
  /** Feature-value tokens of the vocabulary after its text buckets (`FIELD\tVALUE`). */
  values: string[];
  tower: { dim: number; temperature: number; id_dropout: number } | null;
  bm25: { k1: number; b: number } | null;
  /** Hybrid: the weight of BM25 in the blend. */
  alpha: number | null;
  head: RelevanceHead | null;
  /**
   * Personalised ranking (a log with users, a model with towers): score + beta · cosine(user, item), the user being
   * the normalised mean of the serving vectors of their last `history` training items; beta chosen on validation
   * (0 where the user's history does not help). Null without users.
   */
  personal?: { beta: number; history: number } | null;
}

/** Each user's most recent training items (by time, then input order), at most `history` distinct: CSR by user index. */
export interface UserHistories {
  offsets: Int32Array;
  items: Int32Array;
}

