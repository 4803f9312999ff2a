/**
 * `rec prep` as a library call (PRODUCT §2, §3, §10): behaviour logs → dataset folder.
 *
 * Pipeline: read every input (streaming; accepted rows into typed-array columns, rejects into
 * rejects.jsonl) → de-duplicate (user, item) → iterative k-core → split → drop ids left without
 * rows → write train/valid/test.arrow sorted by (user, ts, seq), users/items.arrow and
 * manifest.json into a staged folder beside --out → rename it into place (or, under --force into a
 * folder holding other files, move the dataset's files in, manifest.json last). Any failure
 * removes the staged folder.
 */
import { lstat, realpath, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PrepConfig } from '../../config/schema.js';
import { ensureDir, linkTarget, pathExists, removeStaleTemps, restoreMissingDir, stableJson, stageDir, writeFileAtomic, type StagedDir } from '../../io/atomic.js';
import { acquireLockFile, describeHolder, lockPathBeside, type FolderLock } from '../../io/lock.js';
import { errorCode, inputsInside, inspectOutputDir, outputFsError, refuseOutputDir } from '../../io/output-dir.js';
import { findPromoted, promotedRefusal } from '../../io/promoted.js';
import { DataError, interruptedError, RecError, UsageError } from '../../util/errors.js';
import type { ProgressBar } from '../../util/progress.js';
import type { RunIO } from '../../util/run-io.js';
import { ANONYMIZE_ALGORITHM, anonymizeId, keyFingerprint } from '../anonymize.js';
import { datasetFileHashes } from '../dataset-check.js';
import { isCompleteDataset } from '../dataset.js';
import {
  DATASET_FORMAT_VERSION,
  DATASET_OUTPUT,
  MANIFEST_FILE,
  REJECTS_FILE,
  SPLIT_FILES,
  VOCAB_FILES,
  type DatasetManifest,
  type ManifestRows,
  type ManifestSource,
  type ManifestWindow,
} from '../manifest.js';
import {
  INHERITED_KEYS,
  baseRoles,
  checkAppendCompatible,
  loadBaseData,
  foldAnonymizedUsers,
  inheritPrepConfig,
  loadAppendBase,
  preloadBase,
  restoreBaseSplits,
  type AppendBase,
  type ManifestAppend,
  type PreloadedBase,
} from './append.js';
import { writeInteractions, writeVocab } from './arrow-write.js';
import { describeColumn, planRoles, type ColumnPlan, type PlanChoice, type PlanSource } from './columns.js';
import {
  checkColumnRoles,
  checkEventWeights,
  checkRatings,
  checkSplits,
  checkTimes,
  checkUserItemSwap,
  describeGuess,
  explainRejects,
  type ColumnContext,
} from './diagnose.js';
import { dedupeRows, type DedupeRule } from './dedupe.js';
import { FastDelimitedReader, planDelimited, readDelimitedWithCsvParse, type DelimitedSetup } from './delimited.js';
import { Ingest } from './ingest.js';
import { analyzeJsonHead, jsonFieldPlan, JsonlReader, type JsonPlan } from './jsonl.js';
import { kcoreRows } from './kcore.js';
import {
  COLUMN_ROLES,
  describeMaxRejects,
  fileKind,
  parseColumnsSpec,
  parseEventWeights,
  parseMaxRejects,
  parseSplitSpec,
  type ColumnsSpec,
  type FileKind,
  type MaxRejects,
  type SplitSpec,
} from './options.js';
import { POOL, TEST, TRAIN, VALID, arrangeRows } from './order.js';
import { splitStatistics, summarizeRows } from './finalize.js';
import { RejectSink } from './rejects.js';
import type { RowStore } from './store.js';
import { inputSize, readChunks, refuseWideEncoding, sourceDigest, type SourceDigest } from './source.js';
import { applySplit } from './split.js';
import { makeTsParser, type TsParser } from './timestamps.js';
import { aheadOfAnchor, ageOut, checkBaseAgedOut, windowAnchor } from './window.js';

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
   * Under appendTo: the prep settings the caller set (by a flag or a config file). The others are
   * taken from BASE's manifest. Default: none, i.e. every inheritable setting comes from BASE.
   */
  explicitKeys?: ReadonlySet<string>;
  /** --window DAYS: drop rows older than (newest ts − DAYS days), base rows and new alike; "newest" as window.ts anchors it. */
  windowDays?: number;
  /** --force-window: age out most of an --append-to base's rows without refusing. */
  forceWindow?: boolean;
}

export interface PrepSplitSummary {
  rows: number;
  users: number;
  items: number;
  cold_users: number;
  cold_items: number;
}

/** The `rec prep --json` document (PRODUCT §10) plus timings. */
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
  /** True when nothing was written: an in-place --append-to with every log already in the base. */
  unchanged?: boolean;
}

interface InputFile {
  path: string;
  role: 'log' | 'valid' | 'test';
  size: number;
  kind: FileKind;
}

interface ReadOutcome {
  source: ManifestSource;
  /** Storage index range of the file's accepted rows. */
  from: number;
  to: number;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

const INTERRUPTED = 'rec prep was interrupted; no dataset was written.';

/**
 * How the dataset reaches `out` (PRODUCT §2): `replace` swaps a whole folder in (absent, empty, or
 * a dataset rec wrote), `merge` moves the dataset's files into a folder that also holds the user's
 * (only with --force). Inputs inside `out` are never overwritten or deleted, --force or not.
 */
async function planOutput(out: string, inputs: readonly string[], force: boolean): Promise<'replace' | 'merge'> {
  if (dirname(out) === out) {
    throw new UsageError(`--out ${out} is the root of the file system. Expected a folder of its own for the dataset, e.g. --out ${join(out, 'data', 'dataset')}.`);
  }
  // Checked again here, just before writing: replacing a production link with a dataset folder,
  // or writing into a promoted checkpoint, breaks production.
  const promoted = await findPromoted(out);
  if (promoted !== null) throw new UsageError(promotedRefusal(`rec prep --out ${out}`, promoted));
  const state = await inspectOutputDir(out, DATASET_OUTPUT);
  if (state.kind === 'absent') return 'replace';
  for (const rel of await inputsInside(out, inputs)) {
    // Replacing the folder deletes everything in it; merging overwrites only the dataset's names.
    if (DATASET_OUTPUT.owns(rel) || state.kind !== 'foreign') {
      throw new UsageError(
        `--out ${out} holds the input ${join(out, rel)}, which writing the dataset would ${DATASET_OUTPUT.owns(rel) ? 'overwrite' : 'delete'}. Nothing was written. Choose another --out folder, or move the input out of it.`,
      );
    }
  }
  if (state.kind !== 'foreign') return 'replace';
  if (!force) throw refuseOutputDir(out, state, DATASET_OUTPUT);
  return 'merge';
}

/** fs failures on the output side name --out and say why, instead of surfacing as a crash. */
function outputError(out: string, error: unknown): unknown {
  return !(error instanceof RecError) && errorCode(error) !== undefined ? outputFsError(out, error) : error;
}

function resolveDedupe(rule: PrepConfig['dedupe'], feedback: 'explicit' | 'implicit'): DedupeRule {
  if (rule === 'auto') return feedback === 'explicit' ? 'last' : 'max';
  return rule;
}

function isoOf(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

interface ReadState {
  /** Created from the first file's columns (they decide feedback kind, ts and events). */
  ingest: Ingest | null;
  roles: string | null;
  /** The first input's column plan and what its first rows held, to explain surprises. */
  columns: ColumnContext | null;
}

interface ReadContext {
  cfg: PrepConfig;
  spec: ColumnsSpec | null;
  splitSpec: SplitSpec;
  eventWeights: Map<string, number> | null;
  tsPattern: TsParser | null;
  tsParser: TsParser;
  sink: RejectSink;
  maxRejects: MaxRejects;
  tooMany: (read: number) => DataError;
  warn: (msg: string) => void;
  io: RunIO;
  parser: 'fast' | 'csv-parse';
  bar: ProgressBar;
  bytesDone: number;
  firstPath: string;
  now: number;
  windowDays: number | null;
}

function makeIngest(ctx: ReadContext, feedback: 'explicit' | 'implicit', hasTs: boolean, hasEvents: boolean): Ingest {
  return new Ingest({
    feedback,
    hasTs,
    hasEvents,
    eventWeights: ctx.eventWeights,
    tsUnit: ctx.cfg.ts_unit,
    tsPattern: ctx.tsPattern,
    tsParser: ctx.tsParser,
    rejects: ctx.sink,
    onReject: () => {
      if (ctx.maxRejects.kind === 'count' && ctx.sink.count > ctx.maxRejects.count) throw ctx.tooMany(-1);
    },
  });
}

/** Reads one input file into the shared Ingest: head analysis, column plan, then every chunk. */
async function readInput(file: InputFile, ctx: ReadContext, state: ReadState): Promise<ReadOutcome> {
  const digest: SourceDigest = { bytes: 0, sha256: '', content_sha256: '' };
  const it = readChunks(file.path, file.kind.gzip, digest, (n) => {
    ctx.bytesDone += n;
    ctx.bar.update(ctx.bytesDone);
  })[Symbol.asyncIterator]();
  try {
    const headParts: Buffer[] = [];
    let headLen = 0;
    let ended = false;
    while (headLen < 1 << 16) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      headParts.push(r.value);
      headLen += r.value.length;
    }
    const head = Buffer.concat(headParts);
    refuseWideEncoding(head, file.path, file.kind.gzip);
    const headText = head.toString('utf8', 0, Math.min(head.length, 1 << 16));
    const headFinal = ended && head.length <= 1 << 16;
    let setup: DelimitedSetup | null = null;
    let jsonPlan: JsonPlan | null = null;
    let plan: ColumnPlan;
    let columns: ColumnContext;
    if (file.kind.format === 'jsonl') {
      jsonPlan = analyzeJsonHead(headText, headFinal, ctx.spec, file.path);
      plan = jsonFieldPlan(jsonPlan);
      const labels: ColumnContext['labels'] = {};
      for (const role of COLUMN_ROLES) {
        const key = jsonPlan[role];
        if (key !== null) labels[role] = typeof key === 'number' ? `field ${key}` : `key ${JSON.stringify(key)}`;
      }
      const source: PlanSource = ctx.spec !== null ? 'columns' : COLUMN_ROLES.some((r) => typeof jsonPlan?.[r] === 'number') ? 'position' : 'header';
      columns = { file: file.path, plan, source, profiles: [], header: null, labels };
    } else {
      const cfg = { delimiter: ctx.cfg.delimiter, header: ctx.cfg.header, spec: ctx.spec };
      let choice: PlanChoice;
      ({ setup, choice } = planDelimited(headText, headFinal, file.kind, cfg, file.path, { tsParser: ctx.tsParser, nowMs: ctx.now, warn: ctx.warn }));
      plan = choice.plan;
      const labels: ColumnContext['labels'] = {};
      for (const role of COLUMN_ROLES) if (plan[role] >= 0) labels[role] = describeColumn(plan[role], setup.headerFields);
      columns = { file: file.path, plan, source: choice.source, profiles: choice.profiles, header: setup.headerFields, labels };
    }
    const guess = describeGuess(columns);
    if (guess !== null) ctx.io.log.info(guess);
    state.columns ??= columns;
    const fileRoles = planRoles(plan).join(',');
    if (state.ingest === null) {
      if ((ctx.splitSpec.kind === 'temporal' || ctx.splitSpec.kind === 'days') && plan.ts < 0) {
        throw new UsageError(`--split ${ctx.splitSpec.kind === 'temporal' ? 'temporal' : ctx.cfg.split} (config prep.split) needs timestamps, but no ts column is mapped for ${file.path}. Expected --columns …,ts=C or another split.`);
      }
      if (ctx.windowDays !== null && plan.ts < 0) {
        throw new UsageError(`--window ${ctx.windowDays} needs timestamps, but no ts column is mapped for ${file.path}. Expected --columns …,ts=C, or no --window.`);
      }
      state.roles = fileRoles;
      const hasRating = plan.rating >= 0;
      let feedback: 'explicit' | 'implicit';
      if (ctx.cfg.feedback === 'auto') feedback = hasRating ? 'explicit' : 'implicit';
      else feedback = ctx.cfg.feedback;
      if (feedback === 'explicit' && !hasRating) {
        throw new UsageError(`--feedback explicit (config prep.feedback) needs a rating column, but none is mapped for ${file.path}. Expected --columns user=C,item=C,rating=C or --feedback implicit.`);
      }
      if (ctx.eventWeights !== null && plan.event < 0) {
        throw new UsageError(`--event-weights (config prep.event_weights) is given, but no event column is mapped for ${file.path}. Expected --columns …,event=C.`);
      }
      if (ctx.eventWeights !== null && feedback === 'explicit') ctx.warn('--event-weights is ignored under explicit feedback: values are the ratings.');
      state.ingest = makeIngest(ctx, feedback, plan.ts >= 0, plan.event >= 0);
    } else if (fileRoles !== state.roles) {
      throw new UsageError(
        `${file.path} maps the columns ${fileRoles}, but ${ctx.firstPath} maps ${state.roles}. Expected the same columns in every input; pass --columns (config prep.columns).`,
      );
    }
    const ing = state.ingest;
    ing.beginFile({ file: file.path, plan, columnCount: setup ? setup.columnCount : 0 });
    const from = ing.store.length;
    // Size the columns for this file from its first lines, so they rarely need to grow.
    const headLines = Math.max(1, countNewlines(head));
    const bytesPerLine = head.length / headLines;
    const ratio = file.kind.gzip && digest.bytes > 0 ? head.length / digest.bytes : 1;
    if (!headFinal) ing.store.reserve(Math.ceil(((file.size * ratio) / bytesPerLine) * 1.02));
    const afterChunk = async (): Promise<void> => {
      if (ctx.sink.pendingBytes > 1 << 16) await ctx.sink.flush();
      if (ctx.io.signal?.aborted) throw interruptedError(ctx.io.signal, INTERRUPTED);
    };
    // Both push-style readers take the head chunk, then every further chunk, then finish.
    const pump = async (reader: { push(chunk: Buffer): void; finish(): void; readonly dataRows: number }): Promise<number> => {
      reader.push(head);
      await afterChunk();
      for (let r = await it.next(); !r.done; r = await it.next()) {
        reader.push(r.value);
        await afterChunk();
      }
      reader.finish();
      return reader.dataRows;
    };
    let dataRows: number;
    if (jsonPlan !== null) {
      dataRows = await pump(new JsonlReader(jsonPlan, ing));
    } else if (setup !== null && ctx.parser === 'csv-parse') {
      const s = setup;
      async function* all(): AsyncGenerator<Buffer> {
        yield head;
        for (let r = await it.next(); !r.done; r = await it.next()) {
          yield r.value;
          await afterChunk();
        }
      }
      dataRows = await readDelimitedWithCsvParse(all(), s, ing);
    } else {
      dataRows = await pump(new FastDelimitedReader(setup as DelimitedSetup, ing));
    }
    await ctx.sink.flush();
    const counts = ing.fileCounts();
    if (dataRows === 0) throw new DataError(`${file.path} has no data rows${setup?.header ? ' (only a header)' : ''}. Expected at least one interaction.`);
    const sourceCols: Record<string, string | number> = {};
    for (const role of COLUMN_ROLES) {
      if (plan[role] < 0) continue;
      if (jsonPlan) sourceCols[role] = jsonPlan[role] as string | number;
      else if (setup?.headerFields) sourceCols[role] = setup.headerFields[plan[role]];
      else sourceCols[role] = plan[role];
    }
    return {
      source: {
        path: file.path,
        role: file.role,
        bytes: digest.bytes,
        sha256: digest.sha256,
        content_sha256: digest.content_sha256,
        gzip: file.kind.gzip,
        format: file.kind.format,
        delimiter: setup ? setup.delimiter : null,
        header: setup ? setup.header : null,
        columns: sourceCols,
        rows_read: counts.read,
        rejected: counts.rejected,
      },
      from,
      to: ing.store.length,
    };
  } finally {
    await it.return(undefined);
  }
}

/** The reading settings of a prep config, parsed once: shared by rec prep and readLogs. */
function readerSettings(cfg: PrepConfig): { spec: ColumnsSpec | null; eventWeights: Map<string, number> | null; maxRejects: MaxRejects; tsPattern: TsParser | null; tsParser: TsParser } {
  const tsPattern: TsParser | null = cfg.ts_format !== null ? makeTsParser('auto', cfg.ts_format, cfg.ts_year) : null;
  return {
    spec: cfg.columns !== null ? parseColumnsSpec(cfg.columns) : null,
    eventWeights: cfg.event_weights !== null ? parseEventWeights(cfg.event_weights) : null,
    maxRejects: parseMaxRejects(cfg.max_rejects),
    tsPattern,
    tsParser: tsPattern ?? makeTsParser(cfg.ts_unit, null, null),
  };
}

/** The --max-rejects error: counts, share, reasons and the first examples, then `advice` (may be empty). */
function tooManyRejects(sink: RejectSink, maxRejects: MaxRejects, read: number, advice: string): DataError {
  const reasons = Object.entries(sink.reasons()).map(([k, v]) => `${k} ${v}`).join(', ');
  const first = sink.examples.map((e) => `${e.file}:${e.line} ${e.reason} (${e.detail})`).join('; ');
  const pct = read > 0 ? ` (${((100 * sink.count) / read).toFixed(2)}% of ${read} rows read)` : '';
  return new DataError(`Too many rejected rows: ${sink.count}${pct}, over --max-rejects ${describeMaxRejects(maxRejects)} (config prep.max_rejects). By reason: ${reasons}. First: ${first}.${advice !== '' ? ` ${advice}` : ''}`);
}

/** What `readLogs` returns: the accepted rows (input order, not de-duplicated) with their vocabularies. */
export interface LogRows {
  ingest: Ingest;
  read: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
}

/**
 * Reads logs exactly as `rec prep` does (formats, column guessing, timestamps, event weights,
 * rejects and --max-rejects), and writes nothing: for commands that inspect logs (rec drift).
 */
export async function readLogs(inputs: readonly string[], cfg: PrepConfig, io: RunIO, now = Date.now()): Promise<LogRows> {
  if (inputs.length === 0) throw new UsageError('Expected at least one log file.');
  const { spec, eventWeights, maxRejects, tsPattern, tsParser } = readerSettings(cfg);
  const files: InputFile[] = [];
  for (const path of inputs) files.push({ path, role: 'log', size: await inputSize(path, 'Input log'), kind: fileKind(path, cfg.format) });
  const sink = RejectSink.counting();
  const tooMany = (read: number): DataError => tooManyRejects(sink, maxRejects, read, '');
  const bar = io.progress.start('read', files.reduce((a, f) => a + f.size, 0), 'B', { rate: { unit: 'MB', scale: 1e-6 } });
  const ctx: ReadContext = {
    cfg,
    spec,
    splitSpec: { kind: 'none' },
    eventWeights,
    tsPattern,
    tsParser,
    sink,
    maxRejects,
    tooMany,
    warn: (msg) => io.log.warn(msg),
    io,
    parser: 'fast',
    bar,
    bytesDone: 0,
    firstPath: files[0].path,
    now,
    windowDays: null,
  };
  const state: ReadState = { ingest: null, roles: null, columns: null };
  try {
    for (const file of files) await readInput(file, ctx, state);
  } finally {
    bar.stop();
  }
  const ing = state.ingest;
  if (ing === null) throw new DataError('No input was read.');
  const over = maxRejects.kind === 'count' ? sink.count > maxRejects.count : sink.count * 100 > maxRejects.percent * ing.seq;
  if (over) throw tooMany(ing.seq);
  return { ingest: ing, read: ing.seq, rejected: sink.count, rejected_by_reason: sink.reasons() };
}

/**
 * Whether `--append-to BASE --out BASE` with every log already in BASE would rewrite BASE with the
 * same rows under the same settings: same folder, no setting given that differs from BASE's, and
 * --window absent or equal to BASE's (the newest ts is unchanged, so it would age out nothing more).
 */
async function unchangedInPlace(req: PrepRequest, base: AppendBase, cfg: PrepConfig, windowDays: number | null): Promise<boolean> {
  const same = async (a: string, b: string): Promise<boolean> => {
    try {
      return (await realpath(a)) === (await realpath(b));
    } catch {
      return false;
    }
  };
  if (!(await same(req.out, base.dir))) return false;
  const asBase = inheritPrepConfig(req.config, base.manifest, new Set<string>()).cfg;
  for (const key of INHERITED_KEYS) if (cfg[key] !== asBase[key]) return false;
  const baseWindow = base.manifest.window?.days ?? null;
  return windowDays === null || windowDays === baseWindow;
}

function alreadyUpToDate(base: AppendBase, alreadyPresent: ManifestAppend['sources_already_present'], inherited: string[], io: RunIO, t0: number): PrepResult {
  const m = base.manifest;
  const rows = m.rows.train + m.rows.valid + m.rows.test;
  const append: ManifestAppend = {
    base: { path: base.dir, manifest_sha256: base.manifestSha256, users: m.users, items: m.items, rows },
    inherited,
    sources_added: [],
    sources_already_present: alreadyPresent,
    rows: { base: rows, read_from_logs: 0, added: 0, aged_out: 0, already_present: alreadyPresent.reduce((a, p) => a + (p.rows_read ?? 0), 0) },
    new_users: 0,
    new_items: 0,
  };
  io.log.info(`prep: nothing new: ${alreadyPresent.length === 1 ? 'the log is' : `all ${alreadyPresent.length} logs are`} already in ${base.dir}, which is left as it is`);
  return {
    dataset: base.dir,
    rows: m.rows,
    rejected_by_reason: m.rejected_by_reason,
    users: m.users,
    items: m.items,
    splits: m.splits,
    feedback: m.feedback.kind,
    elapsed_s: Math.round(performance.now() - t0) / 1000,
    rows_per_s: 0,
    warnings: [],
    append,
    ...(m.window ? { window: m.window } : {}),
    unchanged: true,
  };
}

/**
 * Whether a log is already in BASE or earlier in this run (`seen`: content hashes of the logs to
 * read), by the sha256 of what is read from it, so the same night compressed again (gzip stores a
 * timestamp) is still known; recorded in `present` and not read. Sources in older manifests have
 * no content hash: a plain file's is its file hash, a .gz one matches only the same compressed bytes.
 */
async function alreadyAppended(file: InputFile, base: AppendBase, seen: Set<string>, present: ManifestAppend['sources_already_present'], io: RunIO): Promise<boolean> {
  const digest = await sourceDigest(file.path, file.kind.gzip);
  const known = base.manifest.sources.find((s) => (s.content_sha256 ?? (s.gzip ? null : s.sha256)) === digest.content_sha256 || s.sha256 === digest.sha256);
  if (known === undefined && !seen.has(digest.content_sha256)) {
    seen.add(digest.content_sha256);
    return false;
  }
  present.push({ path: file.path, sha256: digest.sha256, content_sha256: digest.content_sha256, rows_read: known?.rows_read ?? null });
  const how = known !== undefined && known.sha256 !== digest.sha256 ? 'same content, compressed differently' : 'same sha256';
  io.log.info(`prep: ${file.path} is already in ${known !== undefined ? `the base dataset (as ${known.path})` : 'this run'} (${how}); not read again`);
  return true;
}

/** --append-to DIR: a missing folder is a usage error (exit 2), a broken dataset a data error. */
async function openBase(dir: string): Promise<AppendBase> {
  try {
    await lstat(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new UsageError(`--append-to ${dir} does not exist. Expected a dataset folder written by rec prep.`);
    throw error;
  }
  return loadAppendBase(dir);
}

/** --window: marks the rows it ages out; under --append-to refuses to age out most of the base unless forced. */
function applyWindow(store: RowStore, assign: Uint8Array, days: number, ctx: { seqStart: number; now: number; appending: boolean; force: boolean; warn: (msg: string) => void }): ManifestWindow {
  if (store.ts === null) throw new UsageError(`--window ${days} needs timestamps, but the data has no ts column. Expected --columns …,ts=C, or no --window.`);
  const at = windowAnchor(store, ctx.seqStart, ctx.now);
  const window = ageOut(store, assign, days, at);
  const ahead = aheadOfAnchor(store, at);
  if (ahead !== null) ctx.warn(ahead);
  if (ctx.appending) checkBaseAgedOut(store, assign, ctx.seqStart, window, ctx.force);
  return window;
}

/**
 * `rec prep` holding the lock of every dataset folder it reads or writes (--out, and --append-to
 * when it is another folder; io/lock.ts): a second prep into the same folder waits for the first
 * to finish, then reads the base as the first left it, so two nights appended at once both land
 * (docs/nightly.md). A folder that a prep killed between the two renames of its swap left absent is
 * put back first, before anything reads it or sweeps its set-aside copy away.
 */
export async function runPrep(req: PrepRequest, io: RunIO): Promise<PrepResult> {
  const held = await lockPrepFolders(req, io);
  let ok = false;
  try {
    const result = await prepLocked(req, io);
    ok = true;
    return result;
  } finally {
    for (const lock of held.locks.reverse()) await lock.release();
    if (!ok) await removeEmptyFolders(held.created);
  }
}

interface HeldFolders {
  locks: FolderLock[];
  /** Folders made to hold --out's lock, deepest first: removed again if the prep fails. */
  created: string[];
}

async function lockPrepFolders(req: PrepRequest, io: RunIO): Promise<HeldFolders> {
  const out = await linkTarget(req.out);
  const base = req.appendTo !== undefined ? await linkTarget(req.appendTo) : null;
  const held: HeldFolders = { locks: [], created: [] };
  // The root of the file system cannot be --out (planOutput says so), and holds no lock.
  if (dirname(out) === out) return held;
  try {
    held.created = await ensureParents(out);
    // Taken in one order (by path), so two preps appending each into the other's base never wait on each other.
    const folders = base !== null && base !== out ? [out, base].sort() : [out];
    for (const dir of folders) {
      const lock = await lockDatasetFolder(dir, dir === out ? `--out ${req.out}` : `--append-to ${req.appendTo}`, dir === out, io);
      if (lock === null) continue;
      held.locks.push(lock);
      const restored = await restoreMissingDir(dir, MANIFEST_FILE, isCompleteDataset);
      if (restored !== null) io.log.warn(`prep: ${dir} was missing (a rec prep was killed while swapping it in); restored the complete copy ${basename(restored)}`);
    }
  } catch (error) {
    for (const lock of held.locks.reverse()) await lock.release();
    await removeEmptyFolders(held.created);
    throw outputError(req.out, error);
  }
  return held;
}

/**
 * The lock beside a dataset folder (lockPathBeside), waiting while a live process holds it. A base
 * that is only read may sit where this user cannot write (a shared read-only dataset): without its
 * lock it is still read, and a change while reading it is caught (append.ts loadBaseData).
 */
async function lockDatasetFolder(dir: string, what: string, required: boolean, io: RunIO): Promise<FolderLock | null> {
  try {
    return await acquireLockFile(lockPathBeside(dir), 'rec prep', what, {
      onWait: (holder, path) => io.log.warn(`prep: ${what} is being written by ${describeHolder(holder)}; waiting for pid ${holder.pid} to finish (it holds ${path})`),
      aborted: () => (io.signal?.aborted ? interruptedError(io.signal, INTERRUPTED) : null),
    });
  } catch (error) {
    // An fs failure (permission, read-only disk, a file on the path) is said of the folder, not of the lock file.
    if (!(error instanceof DataError) || errorCode(error.cause) === undefined) throw error;
    if (required) throw outputFsError(dir, error.cause);
    io.log.debug(`prep: ${what} read without its lock: ${error.message}`);
    return null;
  }
}

/** Creates the missing folders above `dir`; returns those it made, deepest first. */
async function ensureParents(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = dirname(dir); !(await pathExists(p)) && dirname(p) !== p; p = dirname(p)) missing.push(p);
  if (missing.length > 0) await ensureDir(missing[0]);
  return missing;
}

async function removeEmptyFolders(deepestFirst: readonly string[]): Promise<void> {
  for (const dir of deepestFirst) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}

async function prepLocked(req: PrepRequest, io: RunIO): Promise<PrepResult> {
  const t0 = performance.now();
  let cfg = req.config;
  const warnings: string[] = [];
  let tPhase = t0;
  const phase = (name: string): void => {
    const now = performance.now();
    io.log.debug(`prep: ${name} ${((now - tPhase) / 1000).toFixed(3)} s`);
    tPhase = now;
  };
  const now = req.now ?? Date.now();
  const note = (msg: string): void => {
    warnings.push(msg);
    io.log.warn(msg);
  };
  // Under --strict a surprise in the data is an error; notes on how flags combine (a --split share
  // that a --test file replaces) are not surprises in the data, so they stay warnings.
  const warn = (msg: string): void => {
    if (cfg.strict) throw new DataError(`${msg} (--strict, config prep.strict, makes this warning an error; no dataset was written.)`);
    note(msg);
  };

  // 1. Settings (all usage errors before anything is read or written).
  if (req.inputs.length === 0) throw new UsageError('rec prep needs at least one log file. Expected: rec prep LOG... --out DIR.');
  const promoted = await findPromoted(req.out);
  if (promoted !== null) throw new UsageError(promotedRefusal(`rec prep --out ${req.out}`, promoted));
  const windowDays = req.windowDays ?? null;
  if (windowDays !== null && !(Number.isFinite(windowDays) && windowDays > 0)) {
    throw new UsageError(`--window ${windowDays} is invalid. Expected a positive number of days, e.g. --window 30 (or 36h).`);
  }
  let base: AppendBase | null = null;
  let inherited: string[] = [];
  if (req.appendTo !== undefined) {
    base = await openBase(req.appendTo);
    const r = inheritPrepConfig(cfg, base.manifest, req.explicitKeys ?? new Set<string>());
    cfg = r.cfg;
    inherited = r.inherited;
    checkAppendCompatible(cfg, base, req.anonKey);
  }
  const { spec, eventWeights, maxRejects, tsPattern, tsParser } = readerSettings(cfg);
  const splitSpec = parseSplitSpec(cfg.split);
  if (cfg.anonymize && (!req.anonKey || req.anonKey.length === 0)) {
    throw new UsageError('--anonymize (config prep.anonymize) needs a key: pass --anonymize-key-file FILE (config prep.anonymize_key_file) or set REC_ANON_KEY.');
  }
  const files: InputFile[] = [];
  const alreadyPresent: ManifestAppend['sources_already_present'] = [];
  const seen = new Set<string>();
  for (const path of req.inputs) {
    const file: InputFile = { path, role: 'log', size: await inputSize(path, 'Input log'), kind: fileKind(path, cfg.format) };
    if (base === null || !(await alreadyAppended(file, base, seen, alreadyPresent, io))) files.push(file);
  }
  if (cfg.valid !== null) files.push({ path: cfg.valid, role: 'valid', size: await inputSize(cfg.valid, '--valid file (config prep.valid)'), kind: fileKind(cfg.valid, cfg.format) });
  if (cfg.test !== null) files.push({ path: cfg.test, role: 'test', size: await inputSize(cfg.test, '--test file (config prep.test)'), kind: fileKind(cfg.test, cfg.format) });
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  if (base !== null && files.length === 0 && (await unchangedInPlace(req, base, cfg, windowDays))) {
    // Re-running a night in place: nothing to add and nothing to change, so BASE stays byte for
    // byte as it is (its manifest hash too, which checkpoints record).
    return alreadyUpToDate(base, alreadyPresent, inherited, io, t0);
  }
  const baseData = base !== null ? await loadBaseData(base) : null;

  let staged: StagedDir;
  let mode: 'replace' | 'merge';
  try {
    mode = await planOutput(req.out, files.map((f) => f.path), req.force === true);
    // A symlinked --out (data → a bigger disk) stays a symlink: the dataset goes where it points.
    const target = await linkTarget(req.out);
    for (const path of await removeStaleTemps(dirname(target), basename(target))) io.log.info(`prep: removed ${path}, left by an interrupted run`);
    staged = await stageDir(target);
  } catch (error) {
    throw outputError(req.out, error);
  }
  // The phases after reading are synchronous; one turn of the event loop between them lets a
  // SIGINT/SIGTERM handler run, so a signal is seen within a phase's time (about a second per few
  // million rows), not only at the end.
  const checkAbort = async (): Promise<void> => {
    await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
    if (io.signal?.aborted) throw interruptedError(io.signal, INTERRUPTED);
  };
  let rejects: RejectSink | null = null;
  const bar = io.progress.start('prep', totalBytes, 'B', { rate: { unit: 'MB', scale: 1e-6 } });
  try {
    rejects = await RejectSink.create(join(staged.path, REJECTS_FILE), !cfg.anonymize);
    const sink = rejects;
    const state: ReadState = { ingest: null, roles: null, columns: null };
    const firstPath = base !== null ? `the base dataset ${base.dir}` : files[0].path;
    const overLimit = (read: number): boolean =>
      maxRejects.kind === 'count' ? sink.count > maxRejects.count : sink.count * 100 > maxRejects.percent * read;
    const whyRejected = (): string =>
      state.columns !== null
        ? explainRejects(state.columns, {
            reasons: sink.reasons(),
            total: sink.count,
            tsUnit: cfg.ts_unit,
            tsFormat: cfg.ts_format,
            unweighted: state.ingest?.unweighted ?? new Map<string, number>(),
            eventWeights,
          })
        : '';
    const tooMany = (read: number): DataError => {
      const why = whyRejected();
      return tooManyRejects(sink, maxRejects, read, why !== '' ? `${why} No dataset was written.` : 'No dataset was written; fix the input (see the reasons) or raise --max-rejects.');
    };

    // 2. Read every input.
    const ctx: ReadContext = {
      cfg,
      spec,
      splitSpec,
      eventWeights,
      tsPattern,
      tsParser,
      sink,
      maxRejects,
      tooMany,
      warn,
      io,
      parser: req.parser ?? 'fast',
      bar,
      bytesDone: 0,
      firstPath,
      now,
      windowDays,
    };
    let pre: PreloadedBase | null = null;
    if (base !== null && baseData !== null) {
      const m = base.manifest;
      state.ingest = makeIngest(ctx, m.feedback.kind, m.time.has_ts, m.events !== null);
      state.roles = baseRoles(m);
      pre = preloadBase(state.ingest, baseData);
      phase('base');
    }
    const outcomes: ReadOutcome[] = [];
    for (const file of files) outcomes.push(await readInput(file, ctx, state));
    const ing = state.ingest;
    const columns = state.columns;
    if (ing === null || (columns === null && base === null)) throw new DataError('No input was read.');
    const store = ing.store;
    const seqStart = pre?.seqStart ?? 0;
    // Rows read from the new logs; the base's rows count as read from its split files.
    const logRead = ing.seq - seqStart;
    const read = (pre?.rows ?? 0) + logRead;
    if (overLimit(logRead)) throw tooMany(logRead);
    bar.update(totalBytes, 'processing');
    phase('read');
    // Under a generous --max-rejects, most rows may be gone without an error: say why.
    if (sink.count * 2 > logRead) warn(`${sink.count} of ${logRead} rows were rejected (see rejects.jsonl). ${whyRejected() || `By reason: ${JSON.stringify(sink.reasons())}.`}`);
    if (columns !== null) {
      const ratingNote = ing.opts.feedback === 'explicit' ? checkRatings(store, columns, now) : null;
      if (ratingNote !== null) warn(ratingNote);
      const timeNote = checkTimes(store, columns, cfg.ts_unit, cfg.ts_format, now);
      if (timeNote !== null) warn(timeNote);
      if (ing.opts.feedback === 'implicit') for (const weightNote of checkEventWeights(eventWeights, ing.eventNames, ing.unweighted)) warn(weightNote);
      for (const roleNote of checkColumnRoles(columns, cfg.ts_format)) warn(roleNote);
    }
    const swapNote = checkUserItemSwap(store, ing.users.size, ing.items.size, columns);
    if (swapNote !== null) note(swapNote);
    if (baseData !== null && baseData.manifest.anonymize !== null && req.anonKey !== undefined) {
      const key = req.anonKey;
      foldAnonymizedUsers(store, baseData.users.ids, (k) => ing.users.idAt(k), ing.users.size, (raw) => anonymizeId(key, raw));
    }

    // 3. Dedupe, k-core, split on the accepted rows.
    const n = store.length;
    const assign = new Uint8Array(n).fill(POOL);
    for (const o of outcomes) {
      if (o.source.role === 'log') continue;
      assign.fill(o.source.role === 'valid' ? VALID : TEST, o.from, o.to);
    }
    const feedback = ing.opts.feedback;
    const dedupe = resolveDedupe(cfg.dedupe, feedback);
    const nUsers0 = ing.users.size;
    const nItems0 = ing.items.size;
    const predefined = { valid: cfg.valid !== null, test: cfg.test !== null };
    const window = windowDays !== null ? applyWindow(store, assign, windowDays, { seqStart, now, appending: pre !== null, force: req.forceWindow === true, warn }) : null;
    const agedOut = window?.aged_out ?? 0;
    await checkAbort();
    arrangeRows(store, assign, nUsers0);
    phase('arrange');
    await checkAbort();
    const deduplicated = dedupeRows(store, assign, nItems0, dedupe, predefined.valid || predefined.test);
    phase('dedupe');
    await checkAbort();
    const kcore = kcoreRows(store, assign, nUsers0, nItems0, cfg.min_user, cfg.min_item);
    phase('k-core');
    await checkAbort();
    const split = applySplit(store, assign, nUsers0, splitSpec, predefined, req.seed);
    if (pre !== null && splitSpec.kind === 'random') restoreBaseSplits(store, assign, pre);
    phase('split');
    await checkAbort();
    for (const text of split.notes) note(text);

    // 4. Vocabularies of the ids that still have rows, in order of first appearance.
    const sum = summarizeRows(store, assign, nUsers0, nItems0, pre?.users ?? 0, pre?.items ?? 0);
    const um = sum.users;
    const im = sum.items;
    const splitStats = splitStatistics(store, assign, nUsers0, nItems0);
    const splitNotes = checkSplits({
      spec: splitSpec,
      ratios: split.ratios,
      rows: { train: splitStats.train.rows, valid: splitStats.valid.rows, test: splitStats.test.rows },
      predefined,
      userCounts: um.counts,
      removed: { rejected: sink.count, deduplicated, filtered: kcore.removed + agedOut, minUser: cfg.min_user, minItem: cfg.min_item },
    });
    for (const splitNote of splitNotes) warn(splitNote);
    const fp = req.anonKey && cfg.anonymize ? keyFingerprint(req.anonKey) : null;
    const userIds: string[] = new Array<string>(um.size);
    const itemIds: string[] = new Array<string>(im.size);
    for (let k = 0; k < nUsers0; k++) {
      const j = um.map[k];
      if (j < 0) continue;
      const raw = ing.users.idAt(k);
      // A base's ids are already HMACs (append.ts folds new raw ids onto them).
      userIds[j] = fp !== null && req.anonKey && k >= (pre?.users ?? 0) ? anonymizeId(req.anonKey, raw) : raw;
    }
    for (let k = 0; k < nItems0; k++) {
      const j = im.map[k];
      if (j >= 0) itemIds[j] = ing.items.idAt(k);
    }
    ing.users.freeze();
    ing.items.freeze();
    phase('vocab');

    // 5. Split files (rows already in (user, ts, seq) order); per-split stats with cold ids.
    const eventNames = store.events ? ing.eventNames : null;
    for (const [name, code] of [['train', TRAIN], ['valid', VALID], ['test', TEST]] as const) {
      await checkAbort();
      await writeInteractions(join(staged.path, SPLIT_FILES[name]), store, assign, code, splitStats[name].rows, um.map, im.map, eventNames);
    }
    await writeVocab(join(staged.path, VOCAB_FILES.users), userIds, um.counts, um.firstTs, um.lastTs);
    await writeVocab(join(staged.path, VOCAB_FILES.items), itemIds, im.counts, im.firstTs, im.lastTs);
    phase('write');

    // 6. Manifest.
    const rejected = sink.count;
    const rows: ManifestRows = {
      read,
      accepted: read - rejected,
      rejected,
      deduplicated,
      filtered: kcore.removed + agedOut,
      train: splitStats.train.rows,
      valid: splitStats.valid.rows,
      test: splitStats.test.rows,
    };
    if (rows.accepted !== rows.deduplicated + rows.filtered + rows.train + rows.valid + rows.test || rows.accepted !== n) {
      throw new DataError(`Internal accounting error: ${JSON.stringify(rows)} (stored ${n}). Please report this.`);
    }
    const tmin = sum.tsMin;
    const tmax = sum.tsMax;
    let append: ManifestAppend | null = null;
    if (base !== null && pre !== null) {
      let added = 0;
      for (let i = 0; i < n; i++) if (store.seq[i] >= seqStart && assign[i] <= TEST) added++;
      append = {
        base: { path: base.dir, manifest_sha256: base.manifestSha256, users: pre.users, items: pre.items, rows: pre.rows },
        inherited,
        sources_added: outcomes.map((o) => o.source.path),
        sources_already_present: alreadyPresent,
        rows: {
          base: pre.rows,
          read_from_logs: logRead,
          added,
          aged_out: agedOut,
          already_present: alreadyPresent.reduce((a, p) => a + (p.rows_read ?? 0), 0),
        },
        new_users: um.size - pre.users,
        new_items: im.size - pre.items,
      };
    }
    const baseLog = base?.manifest.sources.find((src) => src.role === 'log');
    // Closed before the manifest, which records the sha256 of every file written (rejects.jsonl too).
    await sink.close();
    const manifest: DatasetManifest = {
      format_version: DATASET_FORMAT_VERSION,
      rec_version: req.recVersion,
      seed: req.seed,
      sources: [...(base?.manifest.sources ?? []), ...outcomes.map((o) => o.source)],
      prep: {
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
        feedback,
        event_weights: eventWeights ? Object.fromEntries(eventWeights) : null,
        dedupe,
        min_user: cfg.min_user,
        min_item: cfg.min_item,
        split: cfg.split,
        test: cfg.test,
        valid: cfg.valid,
        anonymize: cfg.anonymize,
        max_rejects: describeMaxRejects(maxRejects),
        parser: req.parser ?? 'fast',
        strict: cfg.strict,
      },
      config: req.resolvedConfig ?? null,
      rows,
      rejected_by_reason: sink.reasons(),
      users: um.size,
      items: im.size,
      split: {
        kind: splitSpec.kind,
        spec: cfg.split,
        ratios: split.ratios,
        predefined: { valid: cfg.valid, test: cfg.test },
        cuts: split.cuts,
      },
      splits: splitStats,
      feedback: {
        kind: feedback,
        event_weights: feedback === 'implicit' && eventWeights ? Object.fromEntries(eventWeights) : null,
        value_min: sum.valueMin,
        value_max: sum.valueMax,
      },
      events: eventNames ? [...eventNames] : null,
      dedupe,
      kcore: { min_user: cfg.min_user, min_item: cfg.min_item, iterations: kcore.iterations },
      time: {
        has_ts: store.ts !== null,
        min_ts: tmin,
        max_ts: tmax,
        min_iso: isoOf(tmin),
        max_iso: isoOf(tmax),
      },
      anonymize: fp !== null ? { algorithm: ANONYMIZE_ALGORITHM, key_fingerprint: fp } : null,
      files: { ...SPLIT_FILES, ...VOCAB_FILES, rejects: REJECTS_FILE },
      files_sha256: await datasetFileHashes(staged.path),
      warnings,
      append,
      window,
    };
    await writeFileAtomic(join(staged.path, MANIFEST_FILE), stableJson(manifest));
    await checkAbort();
    if (mode === 'merge') {
      await staged.commitInto(MANIFEST_FILE);
    } else {
      try {
        await staged.commit();
      } catch (error) {
        // A mount point cannot be renamed; here it holds only rec's own files, so move them in.
        if (errorCode(error) !== 'EBUSY') throw error;
        await staged.commitInto(MANIFEST_FILE);
      }
    }
    bar.stop();

    const elapsed = (performance.now() - t0) / 1000;
    const result: PrepResult = {
      dataset: req.out,
      rows,
      rejected_by_reason: manifest.rejected_by_reason,
      users: um.size,
      items: im.size,
      splits: splitStats,
      feedback,
      elapsed_s: Math.round(elapsed * 1000) / 1000,
      rows_per_s: elapsed > 0 ? Math.round(read / elapsed) : 0,
      warnings,
      ...(append !== null ? { append } : {}),
      ...(window !== null ? { window } : {}),
    };
    const fmt = (x: number): string => String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    io.log.info(
      `prep: ${fmt(read)} rows read from ${files.length} file${files.length === 1 ? '' : 's'}, ${fmt(rejected)} rejected, ${fmt(deduplicated)} duplicates, ${fmt(kcore.removed)} k-core; ` +
        `train ${fmt(rows.train)} / valid ${fmt(rows.valid)} / test ${fmt(rows.test)}; ${fmt(um.size)} users, ${fmt(im.size)} items; ` +
        `${elapsed.toFixed(2)} s (${fmt(result.rows_per_s)} rows/s) → ${basename(req.out)}`,
    );
    if (window !== null) io.log.info(`prep: --window ${window.days}: ${fmt(window.aged_out)} rows older than ${window.from_iso ?? '-'} aged out`);
    if (append !== null) {
      const a = append;
      io.log.info(
        outcomes.length === 0
          ? `prep: nothing new: ${alreadyPresent.length === 1 ? 'the log is' : `all ${alreadyPresent.length} logs are`} already in ${a.base.path}; the dataset holds the base's ${fmt(a.rows.base - a.rows.aged_out)} rows`
          : `prep: appended to ${a.base.path}: +${fmt(a.rows.added)} rows, ${fmt(a.new_users)} new users, ${fmt(a.new_items)} new items` +
              (alreadyPresent.length > 0 ? `; ${alreadyPresent.length} log${alreadyPresent.length === 1 ? '' : 's'} already present, skipped` : ''),
      );
    }
    return result;
  } catch (error) {
    bar.stop();
    await rejects?.discard();
    await staged.abort();
    throw outputError(req.out, error);
  }
}
