/**
 * What a `rec prep` run records once its files are written: the row accounting, the manifest, the
 * --json answer and the summary lines on stderr.
 */
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DataError } from '../../util/errors.js';
import { ANONYMIZE_ALGORITHM } from '../anonymize.js';
import { datasetFileHashes } from '../dataset-check.js';
import { CATALOGUE_FILES, DATASET_FORMAT_VERSION, PARQUET_EXPORT_FILES, REJECTS_FILE, SEARCH_FILES, SPLIT_FILES, TITLE_FILES, VOCAB_FILES, type DatasetManifest, type ManifestCatalogue, type ManifestRows, type ManifestSearch } from '../manifest.js';
import type { ManifestAppend } from './append.js';
import type { PrepJob, ReadInputs, ShapedRows, Vocabularies } from './job.js';
import { nothingNew, rowsAlreadyPresent } from './nightly.js';
import { describeMaxRejects } from './options.js';
import { REMOVED_DEDUPE, TEST } from './order.js';
import type { PrepResult } from './request.js';

/** Where every row read went; they must add up to the rows stored. */
export function datasetRows(job: PrepJob, input: ReadInputs, shaped: ShapedRows, vocab: Vocabularies): ManifestRows {
  const rejected = job.sink.count;
  const { splitStats } = vocab;
  const rows: ManifestRows = {
    read: input.read,
    accepted: input.read - rejected,
    rejected,
    deduplicated: shaped.deduplicated,
    filtered: shaped.kcore.removed + shaped.agedOut,
    train: splitStats.train.rows,
    valid: splitStats.valid.rows,
    test: splitStats.test.rows,
  };
  const n = input.ing.store.length;
  if (rows.accepted !== rows.deduplicated + rows.filtered + rows.train + rows.valid + rows.test || rows.accepted !== n) {
    throw new DataError(`Internal accounting error: ${JSON.stringify(rows)} (stored ${n}). Please report this.`);
  }
  return rows;
}

/** --append-to: what was added to the base, as manifest.append records it. */
function appendRecord(job: PrepJob, input: ReadInputs, shaped: ShapedRows, vocab: Vocabularies): ManifestAppend | null {
  const { base, inherited, alreadyPresent } = job.plan;
  const { pre, seqStart, outcomes } = input;
  if (base === null || pre === null) return null;
  const store = input.ing.store;
  const n = store.length;
  let added = 0;
  let mergedFromBase = 0;
  const seq = store.seq;
  for (let i = 0; i < n; i++) {
    if (seq[i] >= seqStart) {
      if (shaped.assign[i] <= TEST) added++;
    } else if (shaped.assign[i] === REMOVED_DEDUPE) mergedFromBase++;
  }
  return {
    base: { path: base.dir, manifest_sha256: base.manifestSha256, users: pre.users, items: pre.items, rows: pre.rows },
    inherited,
    sources_added: outcomes.map((o) => o.source.path),
    sources_already_present: alreadyPresent,
    rows: {
      base: pre.rows,
      read_from_logs: input.logRead,
      added,
      merged_from_base: mergedFromBase,
      aged_out: shaped.agedOut,
      already_present: rowsAlreadyPresent(alreadyPresent),
    },
    new_users: vocab.sum.users.size - pre.users,
    new_items: vocab.sum.items.size - pre.items,
  };
}

function isoOf(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The settings the dataset was prepared with, as manifest.prep records them. */
function prepSettings(job: PrepJob, input: ReadInputs, shaped: ShapedRows): DatasetManifest['prep'] {
  const { cfg, base, settings } = job.plan;
  const { columns, outcomes } = input;
  const baseLog = base?.manifest.sources.find((src) => src.role === 'log');
  const eventWeights = settings.eventWeights;
  return {
    format: cfg.format,
    delimiter: cfg.delimiter,
    header: cfg.header,
    columns: cfg.columns,
    // The first input's mapping (header name, JSON key or 0-based index per role), guessed or given.
    column_map: outcomes.length > 0 ? outcomes[0].source.columns : (baseLog?.columns ?? {}),
    columns_guessed: columns !== null ? columns.source !== 'columns' : (base?.manifest.prep.columns_guessed ?? false),
    columns_from: columns !== null ? columns.source : (base?.manifest.prep.columns_from ?? 'columns'),
    ts_unit: cfg.ts_unit,
    ts_format: cfg.ts_format,
    ts_year: cfg.ts_year,
    feedback: shaped.feedback,
    event_weights: eventWeights ? Object.fromEntries(eventWeights) : null,
    dedupe: shaped.dedupe,
    min_user: cfg.min_user,
    min_item: cfg.min_item,
    split: cfg.split,
    test: cfg.test,
    valid: cfg.valid,
    anonymize: cfg.anonymize,
    max_rejects: describeMaxRejects(settings.maxRejects),
    parser: job.req.parser ?? 'fast',
    strict: cfg.strict,
    encoding: cfg.encoding,
    relevance_range: cfg.relevance_range,
  };
}

/** manifest.json of the staged folder, whose files (rejects.jsonl closed) are all written. */
export async function datasetManifest(job: PrepJob, input: ReadInputs, shaped: ShapedRows, vocab: Vocabularies, rows: ManifestRows, catalogue: ManifestCatalogue | null = null, search: ManifestSearch | null = null): Promise<DatasetManifest> {
  const { req, plan, sink } = job;
  const { cfg, base, splitSpec } = plan;
  const { sum, fp, eventNames } = vocab;
  const { feedback, split } = shaped;
  const eventWeights = plan.settings.eventWeights;
  const store = input.ing.store;
  const titles = (catalogue?.title ?? null) !== null;
  return {
    format_version: DATASET_FORMAT_VERSION,
    rec_version: req.recVersion,
    seed: req.seed,
    sources: [...(base?.manifest.sources ?? []), ...input.outcomes.map((o) => o.source)],
    prep: prepSettings(job, input, shaped),
    config: req.resolvedConfig ?? null,
    rows,
    rejected_by_reason: sink.reasons(),
    users: sum.users.size,
    items: sum.items.size,
    split: { kind: splitSpec.kind, spec: cfg.split, ratios: split.ratios, predefined: { valid: cfg.valid, test: cfg.test }, cuts: split.cuts },
    splits: vocab.splitStats,
    feedback: {
      kind: feedback,
      event_weights: feedback === 'implicit' && eventWeights ? Object.fromEntries(eventWeights) : null,
      value_min: sum.valueMin,
      value_max: sum.valueMax,
    },
    events: eventNames ? [...eventNames] : null,
    dedupe: shaped.dedupe,
    kcore: { min_user: cfg.min_user, min_item: cfg.min_item, iterations: shaped.kcore.iterations },
    time: { has_ts: store.hasTs, min_ts: sum.tsMin, max_ts: sum.tsMax, min_iso: isoOf(sum.tsMin), max_iso: isoOf(sum.tsMax) },
    anonymize: fp !== null ? { algorithm: ANONYMIZE_ALGORITHM, key_fingerprint: fp } : null,
    files: { ...SPLIT_FILES, ...VOCAB_FILES, rejects: REJECTS_FILE, ...(catalogue !== null ? CATALOGUE_FILES : {}), ...(titles ? TITLE_FILES : {}), ...(search !== null ? SEARCH_FILES : {}), ...(req.exportParquet === true ? PARQUET_EXPORT_FILES : {}) },
    files_sha256: await datasetFileHashes(job.stagedPath, catalogue !== null, req.exportParquet === true, search !== null, titles, job.written),
    warnings: job.log.warnings,
    append: appendRecord(job, input, shaped, vocab),
    window: shaped.window,
    catalogue,
    search,
  };
}

const fmt = (x: number): string => String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** The `rec prep --json` answer, after the summary lines on stderr. */
export function prepResult(job: PrepJob, input: ReadInputs, shaped: ShapedRows, manifest: DatasetManifest, t0: number): PrepResult {
  const { rows, append, window } = manifest;
  const elapsed = (performance.now() - t0) / 1000;
  const result: PrepResult = {
    dataset: job.req.out,
    rows,
    rejected_by_reason: manifest.rejected_by_reason,
    users: manifest.users,
    items: manifest.items,
    splits: manifest.splits,
    feedback: shaped.feedback,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    rows_per_s: elapsed > 0 ? Math.round(input.read / elapsed) : 0,
    warnings: job.log.warnings,
    ...(append !== null ? { append } : {}),
    ...(window !== null ? { window } : {}),
    ...(manifest.catalogue !== null && manifest.catalogue !== undefined ? { catalogue: manifest.catalogue } : {}),
    ...(manifest.search !== null && manifest.search !== undefined ? { search: manifest.search } : {}),
  };
  logSummary(job, input, shaped, result, elapsed);
  return result;
}

function logSummary(job: PrepJob, input: ReadInputs, shaped: ShapedRows, result: PrepResult, elapsed: number): void {
  const { io, plan } = job;
  const { rows, window, append } = result;
  const files = plan.files.length;
  io.log.info(
    `prep: ${fmt(input.read)} rows read from ${files} file${files === 1 ? '' : 's'}, ${fmt(rows.rejected)} rejected, ${fmt(shaped.deduplicated)} duplicates, ${fmt(shaped.kcore.removed)} k-core; ` +
      `train ${fmt(rows.train)} / valid ${fmt(rows.valid)} / test ${fmt(rows.test)}; ${fmt(result.users)} users, ${fmt(result.items)} items; ` +
      `${elapsed.toFixed(2)} s (${fmt(result.rows_per_s)} rows/s) → ${basename(job.req.out)}`,
  );
  const cat = result.catalogue;
  if (cat !== undefined) {
    io.log.info(
      `prep: catalogue: ${fmt(cat.rows.read)} rows read, ${fmt(cat.rows.rejected)} rejected, ${fmt(cat.rows.duplicates)} duplicates; ${fmt(cat.rows.items)} items, ` +
        `${fmt(cat.log_items_without_row)} log items without a catalogue row, ${fmt(cat.catalogue_only_items)} catalogue-only items (indices from ${cat.catalogue_only_from})`,
    );
  }
  const search = result.search;
  if (search !== undefined) {
    const q = search.queries_per_split;
    io.log.info(`prep: search log: ${fmt(search.queries)} queries (train ${fmt(q.train)} / valid ${fmt(q.valid)} / test ${fmt(q.test)}), ${search.anonymous ? 'anonymous' : 'with users'}, ${fmt(search.queries_cleaned)} rows' queries had control characters removed`);
  }
  if (window !== undefined) io.log.info(`prep: --window ${window.days}: ${fmt(window.aged_out)} rows older than ${window.from_iso ?? '-'} aged out`);
  if (append === undefined) return;
  const present = plan.alreadyPresent;
  io.log.info(
    input.outcomes.length === 0
      ? `${nothingNew(present, append.base.path)}; the dataset holds the base's ${fmt(append.rows.base - append.rows.aged_out)} rows`
      : `prep: appended to ${append.base.path}: +${fmt(append.rows.added)} rows, ${fmt(append.new_users)} new users, ${fmt(append.new_items)} new items` +
          (present.length > 0 ? `; ${present.length} log${present.length === 1 ? '' : 's'} already present, skipped` : ''),
  );
}
