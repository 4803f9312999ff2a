/** What `rec prep` is asked to do and what it answers: the library call's request and result types. */
import type { PrepConfig } from '../../config/schema.js';
import type { ManifestCatalogue, ManifestRows, ManifestWindow, ManifestSearch } from '../manifest.js';
import type { ManifestAppend } from './append.js';

export interface PrepRequest {
  /** Log files, read in this order (absolute or relative to the process cwd). */
  inputs: string[];
  /**
   * Dataset folder to write: an absent or empty folder, or a dataset folder rec wrote (replaced
   * atomically); anything else only with `force` (the dataset's files are moved in, the rest kept).
   */
  out: string;
  force?: boolean;
  config: PrepConfig;
  seed: number;
  /** HMAC key for --anonymize (from --anonymize-key-file or REC_ANON_KEY). */
  anonKey?: Buffer;
  recVersion: string;
  /** Recorded verbatim in manifest.config. */
  resolvedConfig?: unknown;
  /** Delimited reader: the byte-level fast path (default) or csv-parse throughout (reference). */
  parser?: 'fast' | 'csv-parse';
  /** "Now" for the plausibility of timestamps (epoch ms; default the clock). */
  now?: number;
  /** --append-to BASE: start from this dataset folder's rows and vocabularies (see append.ts). */
  appendTo?: string;
  /**
   * The prep settings the caller set (by a flag or a config file): a search log given no --split splits by query;
   * under appendTo the others are
   * taken from BASE's manifest. Default: none, i.e. every inheritable setting comes from BASE.
   */
  explicitKeys?: ReadonlySet<string>;
  /** --window DAYS: drop rows older than (newest ts − DAYS days), base rows and new alike; "newest" as window.ts anchors it. */
  windowDays?: number;
  /** --force-window: age out most of an --append-to base's rows without refusing. */
  forceWindow?: boolean;
  /** --export-parquet: also write the splits as Parquet with raw ids (export-parquet.ts). */
  exportParquet?: boolean;
}

export interface PrepSplitSummary {
  rows: number;
  users: number;
  items: number;
  cold_users: number;
  cold_items: number;
}

/** The `rec prep --json` document (docs/datasets.md) plus timings. */
export interface PrepResult {
  dataset: string;
  rows: ManifestRows;
  rejected_by_reason: Record<string, number>;
  users: number;
  items: number;
  splits: { train: PrepSplitSummary; valid: PrepSplitSummary; test: PrepSplitSummary };
  feedback: 'explicit' | 'implicit';
  elapsed_s: number;
  rows_per_s: number;
  warnings: string[];
  /** --append-to: what was added to the base (as in manifest.append). */
  append?: ManifestAppend;
  /** --window: the cut and how many rows aged out (as in manifest.window). */
  window?: ManifestWindow;
  /** --items: the catalogue's account (as in manifest.catalogue). */
  catalogue?: ManifestCatalogue;
  /** A search log: its queries' account (as in manifest.search). */
  search?: ManifestSearch;
  /** True when nothing was written: an in-place --append-to with every log already in the base. */
  unchanged?: boolean;
}
