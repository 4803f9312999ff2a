/**
 * The in-memory form of a dataset folder (README "Output files", docs/datasets.md): typed-array
 * splits and vocabularies. Kept apart from the reader (dataset.ts) so that the integrity checks it
 * calls (dataset-check.ts) can name these types without importing the reader back.
 */
import type { DatasetManifest } from './manifest.js';
import type { TextFeaturizerSpec } from './text.js';

export type SplitName = 'train' | 'valid' | 'test';

export interface SplitData {
  /** Number of rows. */
  length: number;
  /** Dense user index per row (into Dataset.users); -1 on the rows of a search log without users (anonymous). */
  users: Int32Array;
  /** Dense item index per row (into Dataset.items). */
  items: Int32Array;
  /** Rating (explicit) or implicit weight. */
  values: Float32Array;
  /** Epoch ms per row; null when the log had no time. */
  ts: Float64Array | null;
  /** Row position in the input (stable order). */
  seq: Float64Array;
  /** Event code per row (into Dataset.eventNames); null when the log had no event column. */
  events: Int32Array | null;
  /** Dense query index per row (into Dataset.queries); null when the dataset is not a search log. */
  queries: Int32Array | null;
}

/** One row's values of a list feature: values[offsets[i], offsets[i + 1]); valid[i] = 0 when missing. */
export interface ListFeature {
  offsets: Int32Array;
  values: Int32Array;
  valid: Uint8Array;
}

/**
 * A search log's queries (queries.arrow; docs/datasets.md#search-logs), one per query index: the text as read
 * (decoded, control characters removed), its rows over all splits, and its TextFeaturizer features under `spec`
 * (the catalogue's featuriser, so a query and a title share buckets). bucketCounts is aligned with buckets.values.
 */
export interface Queries {
  texts: string[];
  buckets: ListFeature;
  bucketCounts: Int32Array;
  counts: Int32Array;
  spec: TextFeaturizerSpec;
}

export interface Vocab {
  /** Raw id (or its HMAC under --anonymize) of each index. */
  ids: string[];
  /** Rows per id over all splits. */
  counts: Int32Array;
  /** First / last ts (ms) per id; NaN when the log had no time. */
  firstTs: Float64Array;
  lastTs: Float64Array;
  /** Raw id → index. */
  index: ReadonlyMap<string, number>;
  /** Index of a raw id, or -1 when it is not in the vocabulary. */
  lookup(id: string): number;
}

export interface Dataset {
  dir: string;
  manifest: DatasetManifest;
  train: SplitData;
  valid: SplitData;
  test: SplitData;
  users: Vocab;
  items: Vocab;
  /** Event dictionary, or null when the log had no event column. */
  eventNames: string[] | null;
  /** A search log's queries; null when the dataset is not a search log. */
  queries: Queries | null;
}
