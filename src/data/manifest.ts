/**
 * `manifest.json` of a dataset folder (docs/design.md#the-dataset-folder). Written by `rec prep`, read by
 * loadDataset. Bump DATASET_FORMAT_VERSION on any incompatible change of the folder layout.
 */
import type { OutputKind } from '../io/output-dir.js';

export const DATASET_FORMAT_VERSION = 1;

export const SPLIT_FILES = { train: 'train.arrow', valid: 'valid.arrow', test: 'test.arrow' } as const;
export const VOCAB_FILES = { users: 'users.arrow', items: 'items.arrow' } as const;
export const REJECTS_FILE = 'rejects.jsonl';
/** Written only when the dataset was prepped with a catalogue (`rec prep --items`). */
export const CATALOGUE_FILES = { item_features: 'item_features.arrow', item_feature_vocab: 'item_feature_vocab.arrow' } as const;
/** Written only with a catalogue that has a text feature: its display titles (item-titles.ts). */
export const TITLE_FILES = { item_titles: 'item_titles.arrow' } as const;
/** Written only for a search log (`rec prep --columns query=…`; docs/datasets.md#search-logs). */
export const SEARCH_FILES = { queries: 'queries.arrow' } as const;
export const MANIFEST_FILE = 'manifest.json';
/** Written only with `rec prep --export-parquet`: the splits with raw ids (prep/export-parquet.ts). */
export const PARQUET_EXPORT_FILES = { train_parquet: 'train.parquet', valid_parquet: 'valid.parquet', test_parquet: 'test.parquet' } as const;

const DATASET_FILES: ReadonlySet<string> = new Set([...Object.values(SPLIT_FILES), ...Object.values(VOCAB_FILES), ...Object.values(CATALOGUE_FILES), ...Object.values(TITLE_FILES), ...Object.values(PARQUET_EXPORT_FILES), ...Object.values(SEARCH_FILES), REJECTS_FILE, MANIFEST_FILE]);

/** A dataset folder as an output of `rec prep` (README.md#output-files): what it writes, and its marker. */
export const DATASET_OUTPUT: OutputKind = {
  noun: 'dataset folder',
  marker: MANIFEST_FILE,
  owns: (name) => DATASET_FILES.has(name),
};

/**
 * Row accounting (docs/datasets.md): read = accepted + rejected; accepted = deduplicated + filtered +
 * train + valid + test. `filtered` counts the rows removed by k-core and, under --window, the rows
 * that aged out (window.aged_out of them). In a dataset written with --append-to, `read` counts the
 * base dataset's rows (taken from its split files: append.rows.base) plus the rows read from the
 * new logs (append.rows.read_from_logs); rejected, deduplicated and filtered count what this run
 * removed, from base rows and new rows alike (the base's own accounting stays in its manifest,
 * named by append.base.manifest_sha256). `sources` then lists the base's sources first, with the
 * counts of the run that read them.
 */
export interface ManifestRows {
  read: number;
  accepted: number;
  rejected: number;
  deduplicated: number;
  filtered: number;
  train: number;
  valid: number;
  test: number;
}

export interface ManifestSource {
  path: string;
  /** `log` for the positional inputs, `valid`/`test` for --valid/--test files. */
  role: 'log' | 'valid' | 'test';
  bytes: number;
  /** sha256 of the file's bytes on disk. */
  sha256: string;
  /**
   * sha256 of the bytes read from it: the decompressed text of a .gz (whose file hash changes with
   * gzip's stored timestamp), else equal to `sha256`. Absent in manifests of older rec versions.
   */
  content_sha256?: string;
  gzip: boolean;
  format: 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'arrow';
  delimiter: string | null;
  header: boolean | null;
  /** Column (header name, JSON key or 0-based index) per mapped role. */
  columns: Record<string, string | number>;
  rows_read: number;
  rejected: number;
  /** The encoding it was read in (--encoding, or its byte-order mark); absent in manifests written before it was recorded. */
  encoding?: string;
  /** --encoding utf-8,X: physical lines read as X because they were not UTF-8. */
  fallback_lines?: number;
}

/** `rec prep --append-to BASE` (see data/prep/append.ts): what NEW took from BASE and what it added. */
export interface ManifestAppend {
  base: { path: string; manifest_sha256: string; users: number; items: number; rows: number };
  /** Settings taken from the base's manifest (the others were given). */
  inherited: string[];
  /** New logs read (paths as given). */
  sources_added: string[];
  /** Logs not read because a log with the same content (content_sha256) is already in the base (or earlier in this run). */
  sources_already_present: { path: string; sha256: string; content_sha256: string; rows_read: number | null }[];
  rows: {
    /** Rows taken from the base's split files (counted in rows.read and rows.accepted). */
    base: number;
    /** Rows read from the new logs (rows.read = base + read_from_logs). */
    read_from_logs: number;
    /** New-log rows that are in a split of this dataset. */
    added: number;
    /**
     * Base rows that --dedupe removed because a new row has the same (user, item): the dataset grows
     * by added − merged_from_base − the base rows aged out (absent in manifests written before it).
     */
    merged_from_base?: number;
    /** Rows removed by --window (base and new; part of rows.filtered). */
    aged_out: number;
    /** Rows the base's manifest records for the logs not read again. */
    already_present: number;
  };
  /** Ids with rows that the base's vocabulary did not have (their indices follow the base's). */
  new_users: number;
  new_items: number;
}

/**
 * `rec prep --window DAYS`: rows with ts < from_ts (anchor_ts − DAYS days) were dropped, base rows
 * and new alike. anchor_ts is newest_ts unless the newest rows are outliers (see prep/window.ts).
 */
export interface ManifestWindow {
  days: number;
  newest_ts: number | null;
  /** The timestamp the window counts back from (absent in datasets written before it was recorded). */
  anchor_ts?: number | null;
  from_ts: number | null;
  from_iso: string | null;
  /** Rows dropped (part of rows.filtered). */
  aged_out: number;
}

type CoreFiles = Omit<DatasetManifest['files'], keyof typeof CATALOGUE_FILES | keyof typeof TITLE_FILES | keyof typeof SEARCH_FILES | keyof typeof PARQUET_EXPORT_FILES>;
/** Every file's hash; the catalogue's only in datasets prepped with one, queries.arrow only for a search log, the Parquet export only with --export-parquet. */
export type DatasetFileHashes = Record<keyof CoreFiles, string> & Partial<Record<keyof typeof CATALOGUE_FILES | keyof typeof TITLE_FILES | keyof typeof SEARCH_FILES | keyof typeof PARQUET_EXPORT_FILES, string>>;

/**
 * A search log's dataset (docs/datasets.md#search-logs): its queries (queries.arrow) and how they were read.
 * `relevance`: the range of the graded labels kept (null when the log has events or nothing but the pairs);
 * `relevance_range`: --relevance-range as given (null when not). `queries_cleaned`: queries kept with control
 * characters removed. `text_featurizer`: the featuriser of queries.arrow's buckets (the catalogue's when there is one).
 */
export interface ManifestSearch {
  queries: number;
  queries_per_split: { train: number; valid: number; test: number };
  /** No user column: the split files' user column is null and users.arrow is empty. */
  anonymous: boolean;
  relevance: { min: number; max: number } | null;
  relevance_range: [number, number] | null;
  queries_cleaned: number;
  max_query_chars: number;
  /** Items of the dataset without a catalogue row (null without --items; the same as catalogue.log_items_without_row). */
  items_without_catalogue_row: number | null;
  text_featurizer: { version: string; hash: string; seed: number; num_buckets: number; max_chars: number; max_units: number };
}

/** `rec prep --items` (docs/datasets.md#a-catalogue-beside-the-log): how the catalogue was read and what it gave. */
export interface ManifestCatalogue {
  files: {
    path: string;
    bytes: number;
    sha256: string;
    content_sha256: string;
    gzip: boolean;
    format: 'csv' | 'tsv' | 'jsonl';
    delimiter: string | null;
    rows_read: number;
    rejected: number;
    encoding?: string;
    fallback_lines?: number;
  }[];
  key: string;
  /** Feature name → kind (item_features.arrow has a column of each name). */
  features: Record<string, 'text' | 'category' | 'multi' | 'number'>;
  /** True when the kinds were guessed (no --item-features); `skipped` lists the columns left out and why. */
  features_guessed: boolean;
  skipped: Record<string, string>;
  /** rows.read = rows.accepted + rows.rejected; accepted = items + duplicates. */
  rows: { read: number; accepted: number; rejected: number; duplicates: number; conflicting_duplicates: number; items: number };
  rejected_by_reason: Record<string, number>;
  /** Items of the dataset (from the log's rows) that the catalogue has no row for. */
  log_items_without_row: number;
  /** Items with a catalogue row and no row in the dataset (count 0 in items.arrow). */
  catalogue_only_items: number;
  /** The first index of the catalogue-only items this prep appended (the items before it are the log's, or the base's). */
  catalogue_only_from: number;
  /**
   * --append-to a dataset with a catalogue: of its `base_items`, those whose features were carried from it, and
   * those a newer catalogue row replaced (null otherwise; absent in datasets written before it existed).
   */
  append?: { base_items: number; carried: number; replaced: number } | null;
  /**
   * The text feature kept verbatim as items' display titles (item_titles.arrow); null when the catalogue has no text
   * feature. Absent in datasets written before titles were kept (they have no item_titles.arrow).
   */
  title?: string | null;
  /** Per feature: present / missing / invalid values, vocabulary size, number statistics. */
  feature_stats: Record<string, Record<string, number | string | null>>;
  text_featurizer: { version: string; hash: string; seed: number; num_buckets: number; max_chars: number; max_units: number; unicode: string };
}

export interface ManifestSplitStats {
  rows: number;
  users: number;
  items: number;
  /** Users / items of this split with no train row (0 for train). */
  cold_users: number;
  cold_items: number;
}

export interface DatasetManifest {
  format_version: number;
  rec_version: string;
  seed: number;
  sources: ManifestSource[];
  /** The prep: settings as resolved (strings parsed, defaults filled). */
  prep: Record<string, unknown>;
  /** The caller's resolved config, verbatim (e.g. the whole `prep:` section and seed). */
  config: unknown;
  rows: ManifestRows;
  rejected_by_reason: Record<string, number>;
  users: number;
  items: number;
  split: {
    kind: 'random' | 'temporal' | 'query' | 'days' | 'leave-last' | 'none';
    spec: string;
    /** Shares applied to the rows of the logs (random/temporal), after dropping predefined splits. */
    ratios: [number, number, number] | null;
    predefined: { valid: string | null; test: string | null };
    /** temporal and days: the first ts (epoch ms) of valid and of test; null when that split gets no rows by time. */
    cuts: { valid_from_ts: number | null; test_from_ts: number | null } | null;
  };
  splits: { train: ManifestSplitStats; valid: ManifestSplitStats; test: ManifestSplitStats };
  feedback: { kind: 'explicit' | 'implicit'; event_weights: Record<string, number> | null; value_min: number | null; value_max: number | null };
  events: string[] | null;
  dedupe: 'first' | 'last' | 'max' | 'sum' | 'none';
  kcore: { min_user: number; min_item: number; iterations: number };
  time: { has_ts: boolean; min_ts: number | null; max_ts: number | null; min_iso: string | null; max_iso: string | null };
  anonymize: { algorithm: string; key_fingerprint: string } | null;
  files: { train: string; valid: string; test: string; users: string; items: string; rejects: string; item_features?: string; item_feature_vocab?: string; item_titles?: string; queries?: string; train_parquet?: string; valid_parquet?: string; test_parquet?: string };
  /**
   * SHA-256 (hex) of each file of `files`, as prep wrote it: every reader of the dataset checks the
   * files it reads against these (absent in datasets written before it was recorded).
   */
  files_sha256?: DatasetFileHashes;
  /** What prep found surprising (also logged); absent in datasets written before it was recorded. */
  warnings?: string[];
  /** Set by --append-to (null otherwise; absent in datasets written before it existed). */
  append?: ManifestAppend | null;
  /** Set by --window (null otherwise; absent in datasets written before it existed). */
  window?: ManifestWindow | null;
  /** Set by --items (null otherwise; absent in datasets written before it existed). */
  catalogue?: ManifestCatalogue | null;
  /** Set for a search log (null otherwise; absent in datasets written before it existed). */
  search?: ManifestSearch | null;
}
