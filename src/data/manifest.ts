/**
 * `manifest.json` of a dataset folder (PRODUCT §3, §10). Written by `rec prep`, read by
 * loadDataset. Bump DATASET_FORMAT_VERSION on any incompatible change of the folder layout.
 */
import type { OutputKind } from '../io/output-dir.js';

export const DATASET_FORMAT_VERSION = 1;

export const SPLIT_FILES = { train: 'train.arrow', valid: 'valid.arrow', test: 'test.arrow' } as const;
export const VOCAB_FILES = { users: 'users.arrow', items: 'items.arrow' } as const;
export const REJECTS_FILE = 'rejects.jsonl';
export const MANIFEST_FILE = 'manifest.json';

const DATASET_FILES: ReadonlySet<string> = new Set([...Object.values(SPLIT_FILES), ...Object.values(VOCAB_FILES), REJECTS_FILE, MANIFEST_FILE]);

/** A dataset folder as an output of `rec prep` (PRODUCT §2, §3): what it writes, and its marker. */
export const DATASET_OUTPUT: OutputKind = {
  noun: 'dataset folder',
  marker: MANIFEST_FILE,
  owns: (name) => DATASET_FILES.has(name),
};

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
  sha256: string;
  gzip: boolean;
  format: 'csv' | 'tsv' | 'jsonl';
  delimiter: string | null;
  header: boolean | null;
  /** Column (header name, JSON key or 0-based index) per mapped role. */
  columns: Record<string, string | number>;
  rows_read: number;
  rejected: number;
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
    kind: 'random' | 'temporal' | 'leave-last' | 'none';
    spec: string;
    /** Shares applied to the rows of the logs (random/temporal), after dropping predefined splits. */
    ratios: [number, number, number] | null;
    predefined: { valid: string | null; test: string | null };
    cuts: { valid_from_ts: number | null; test_from_ts: number | null } | null;
  };
  splits: { train: ManifestSplitStats; valid: ManifestSplitStats; test: ManifestSplitStats };
  feedback: { kind: 'explicit' | 'implicit'; event_weights: Record<string, number> | null; value_min: number | null; value_max: number | null };
  events: string[] | null;
  dedupe: 'first' | 'last' | 'max' | 'sum' | 'none';
  kcore: { min_user: number; min_item: number; iterations: number };
  time: { has_ts: boolean; min_ts: number | null; max_ts: number | null; min_iso: string | null; max_iso: string | null };
  anonymize: { algorithm: string; key_fingerprint: string } | null;
  files: { train: string; valid: string; test: string; users: string; items: string; rejects: string };
  /** What prep found surprising (also logged); absent in datasets written before it was recorded. */
  warnings?: string[];
}
