/**
 * Reading the inputs of `rec prep` (and of commands that inspect logs the same way, rec drift):
 * per file, the head decides the column plan; the first file also decides feedback kind, ts and
 * events; then every chunk streams into the shared Ingest, rejects into the RejectSink.
 */
import type { PrepConfig } from '../../config/schema.js';
import { DataError, interruptedError, UsageError } from '../../util/errors.js';
import type { ProgressBar } from '../../util/progress.js';
import type { RunIO } from '../../util/run-io.js';
import type { ManifestSource } from '../manifest.js';
import { describeColumn, planRoles, type ColumnPlan, type PlanSource } from './columns.js';
import { describeGuess, type ColumnContext } from './diagnose.js';
import { FastDelimitedReader, planDelimited, readDelimitedWithCsvParse, type DelimitedSetup } from './delimited.js';
import { Ingest, type FileCounts } from './ingest.js';
import { expandInputs } from './inputs.js';
import { analyzeJsonHead, jsonFieldPlan, JsonlReader, type JsonPlan } from './jsonl.js';
import {
  COLUMN_ROLES,
  describeMaxRejects,
  fileKind,
  isColumnarFormat,
  parseColumnsSpec,
  parseEventWeights,
  parseMaxRejects,
  type ColumnsSpec,
  type FileKind,
  type MaxRejects,
  type SplitSpec,
} from './options.js';
import { RejectSink } from './rejects.js';
import { inputSize, readChunks, refuseWideEncoding, type SourceDigest } from './source.js';
import { decodeChunks, parseEncoding, type DecodeStats, type EncodingSpec } from './encoding.js';
import { parseRelevanceRange } from './search.js';
import { makeTsParser, type TsParser } from './timestamps.js';

export interface InputFile {
  path: string;
  role: 'log' | 'valid' | 'test';
  size: number;
  kind: FileKind;
}

export interface ReadOutcome {
  source: ManifestSource;
  /** Storage index range of the file's accepted rows. */
  from: number;
  to: number;
}

export interface ReadState {
  /** Created from the first file's columns (they decide feedback kind, ts and events). */
  ingest: Ingest | null;
  roles: string | null;
  /** The first input's column plan and what its first rows held, to explain surprises. */
  columns: ColumnContext | null;
}

/** The reading settings of a prep config, parsed once. */
export interface ReaderSettings {
  spec: ColumnsSpec | null;
  eventWeights: Map<string, number> | null;
  maxRejects: MaxRejects;
  tsPattern: TsParser | null;
  tsParser: TsParser;
  /** --relevance-range of a search log; null when not given. */
  relevanceRange: [number, number] | null;
  /** --encoding of the logs (and catalogue files). */
  encoding: EncodingSpec;
}

export interface ReadContext extends ReaderSettings {
  cfg: PrepConfig;
  splitSpec: SplitSpec;
  sink: RejectSink;
  tooMany: (read: number) => DataError;
  warn: (msg: string) => void;
  io: RunIO;
  parser: 'fast' | 'csv-parse';
  bar: ProgressBar;
  bytesDone: number;
  /** Rows the Parquet inputs not yet read hold (columnar.ts sizes the row store once by it). */
  columnarRows?: number;
  /** The Parquet inputs in the order they are read (parquet-thread.ts starts on the next one early). */
  parquetPaths?: readonly string[];
  /** The rows all of them hold (parquet-thread.ts keeps the largest runs on the main thread). */
  parquetRows?: number;
  firstPath: string;
  now: number;
  windowDays: number | null;
}

/** The first bytes of a file: enough to plan its columns. */
interface Head {
  bytes: Buffer;
  text: string;
  /** The whole file is in `bytes`. */
  final: boolean;
}

/** How one file's fields map to the roles, and what its head showed. */
interface FilePlan {
  plan: ColumnPlan;
  columns: ColumnContext;
  setup: DelimitedSetup | null;
  jsonPlan: JsonPlan | null;
}

type Chunks = AsyncGenerator<Buffer>;

const HEAD_BYTES = 1 << 16;

/** `rec prep`'s reading settings and everything shared by the files of one run. */
export function readContext(cfg: PrepConfig, settings: ReaderSettings, run: Omit<ReadContext, keyof ReaderSettings | 'cfg' | 'bytesDone'>): ReadContext {
  return { cfg, ...settings, ...run, bytesDone: 0 };
}

export function readerSettings(cfg: PrepConfig): ReaderSettings {
  const tsPattern: TsParser | null = cfg.ts_format !== null ? makeTsParser('auto', cfg.ts_format, cfg.ts_year) : null;
  return {
    spec: cfg.columns !== null ? parseColumnsSpec(cfg.columns) : null,
    eventWeights: cfg.event_weights !== null ? parseEventWeights(cfg.event_weights) : null,
    maxRejects: parseMaxRejects(cfg.max_rejects),
    tsPattern,
    tsParser: tsPattern ?? makeTsParser(cfg.ts_unit, null, null),
    relevanceRange: parseRelevanceRange(cfg.relevance_range),
    encoding: parseEncoding(cfg.encoding),
  };
}

/** Whether the rejects so far break --max-rejects, `read` rows having been read (a share counts against them). */
export function overMaxRejects(sink: RejectSink, maxRejects: MaxRejects, read: number): boolean {
  return maxRejects.kind === 'count' ? sink.count > maxRejects.count : sink.count * 100 > maxRejects.percent * read;
}

/** The --max-rejects error: counts, share, reasons and the first examples, then `advice` (may be empty). */
export function tooManyRejects(sink: RejectSink, maxRejects: MaxRejects, read: number, advice: string): DataError {
  const reasons = Object.entries(sink.reasons()).map(([k, v]) => `${k} ${v}`).join(', ');
  const first = sink.examples.map((e) => `${e.file}:${e.line} ${e.reason} (${e.detail})`).join('; ');
  const pct = read > 0 ? ` (${((100 * sink.count) / read).toFixed(2)}% of ${read} rows read)` : '';
  const encoding = (sink.byReason.get('invalid_utf8') ?? 0) > 0 ? ' Lines that are not UTF-8: if a file is in another encoding, pass --encoding latin1, cp1252, utf-16 or utf-8,cp1252 (config prep.encoding).' : '';
  return new DataError(`Too many rejected rows: ${sink.count}${pct}, over --max-rejects ${describeMaxRejects(maxRejects)} (config prep.max_rejects). By reason: ${reasons}. First: ${first}.${encoding}${advice !== '' ? ` ${advice}` : ''}`);
}

export function interrupted(signal: AbortSignal): Error {
  return interruptedError(signal, 'rec prep was interrupted; no dataset was written.');
}

export function makeIngest(ctx: ReadContext, feedback: 'explicit' | 'implicit', hasTs: boolean, hasEvents: boolean): Ingest {
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
    search: ctx.spec?.query !== undefined ? { relevanceRange: ctx.relevanceRange } : null,
  });
}

/** Reads one input file into the shared Ingest: head analysis, column plan, then every chunk. */
export async function readInput(file: InputFile, ctx: ReadContext, state: ReadState): Promise<ReadOutcome> {
  if (isColumnarFormat(file.kind.format)) return readColumnar(file, ctx, state);
  const digest: SourceDigest = { bytes: 0, sha256: '', content_sha256: '' };
  const raw = readChunks(file.path, file.kind.gzip, digest, (n) => {
    ctx.bytesDone += n;
    ctx.bar.update(ctx.bytesDone);
  })[Symbol.asyncIterator]();
  const decoded: DecodeStats = { encoding: 'utf-8', bom: false, fallback_lines: 0 };
  const it = decodeChunks(raw, ctx.encoding, file.path, decoded)[Symbol.asyncIterator]();
  try {
    const head = await readHead(it, file);
    const planned = planFile(file, head, ctx);
    const guess = describeGuess(planned.columns);
    if (guess !== null) ctx.io.log.info(guess);
    state.columns ??= planned.columns;
    const ing = ingestFor(file, planned.plan, ctx, state);
    ing.beginFile({ file: file.path, plan: planned.plan, columnCount: planned.setup ? planned.setup.columnCount : 0, encoding: decoded.encoding });
    const from = ing.store.length;
    reserveRows(ing, file, head, digest);
    const dataRows = await readRows(it, head.bytes, planned, ing, ctx);
    await ctx.sink.flush();
    const counts = ing.fileCounts();
    if (dataRows === 0) throw new DataError(`${file.path} has no data rows${planned.setup?.header ? ' (only a header)' : ''}. Expected at least one interaction.`);
    return { source: { ...sourceOf(file, digest, planned, counts), encoding: decoded.encoding, fallback_lines: decoded.fallback_lines }, from, to: ing.store.length };
  } finally {
    await it.return(undefined);
    await raw.return?.(undefined);
  }
}

/** Sets ctx.columnarRows from the footers of the Parquet inputs, when there are any. */
export async function planColumnarRows(ctx: ReadContext, files: readonly InputFile[]): Promise<void> {
  const parquet = files.filter((f) => f.kind.format === 'parquet').map((f) => f.path);
  if (parquet.length === 0) return;
  ctx.parquetPaths = parquet;
  ctx.columnarRows = await (await import('./parquet.js')).parquetRowCount(parquet);
  ctx.parquetRows = ctx.columnarRows;
}

/** Parquet and Arrow IPC (columnar.ts), loaded only when an input is one. */
async function readColumnar(file: InputFile, ctx: ReadContext, state: ReadState): Promise<ReadOutcome> {
  const { readColumnarInput } = await import('./columnar.js');
  const threaded = file.kind.format === 'parquet' ? (await import('./parquet-thread.js')).openParquetThreaded : null;
  const paths = ctx.parquetPaths ?? [];
  const next = paths[paths.indexOf(file.path) + 1] ?? null;
  const open = threaded !== null ? (path: string) => threaded(path, state, next, ctx.parquetRows ?? 0) : (await import('./arrow-ipc.js')).openArrowIpc;
  const aborted = (): Error | null => (ctx.io.signal?.aborted ? interrupted(ctx.io.signal) : null);
  return readColumnarInput(file, open, ctx, state, { ingestFor: (plan) => ingestFor(file, plan, ctx, state), aborted });
}

async function readHead(it: Chunks, file: InputFile): Promise<Head> {
  const { bytes, ended } = await collectHead(it);
  refuseWideEncoding(bytes, file.path, file.kind.gzip);
  return { bytes, text: bytes.toString('utf8', 0, Math.min(bytes.length, HEAD_BYTES)), final: ended && bytes.length <= HEAD_BYTES };
}

/** The file's first chunks, up to HEAD_BYTES or its end (`ended`): what its format is guessed from (logs and catalogues). */
export async function collectHead(it: AsyncIterator<Buffer>): Promise<{ bytes: Buffer; ended: boolean }> {
  const parts: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < HEAD_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    parts.push(r.value);
    length += r.value.length;
  }
  return { bytes: Buffer.concat(parts), ended };
}

function planFile(file: InputFile, head: Head, ctx: ReadContext): FilePlan {
  if (file.kind.format === 'jsonl') {
    const jsonPlan = analyzeJsonHead(head.text, head.final, ctx.spec, file.path);
    const plan = jsonFieldPlan(jsonPlan);
    const labels: ColumnContext['labels'] = {};
    for (const role of COLUMN_ROLES) {
      const key = jsonPlan[role];
      if (key !== null) labels[role] = typeof key === 'number' ? `field ${key}` : `key ${JSON.stringify(key)}`;
    }
    const source: PlanSource = ctx.spec !== null ? 'columns' : COLUMN_ROLES.some((r) => typeof jsonPlan[r] === 'number') ? 'position' : 'header';
    return { plan, setup: null, jsonPlan, columns: { file: file.path, plan, source, profiles: [], header: null, labels } };
  }
  const quoted = { maxLines: ctx.cfg.max_quoted_lines, maxBytes: ctx.cfg.max_quoted_bytes };
  const cfg = { delimiter: ctx.cfg.delimiter, header: ctx.cfg.header, spec: ctx.spec, quoted };
  const { setup, choice } = planDelimited(head.text, head.final, file.kind, cfg, file.path, { tsParser: ctx.tsParser, nowMs: ctx.now, warn: ctx.warn });
  const plan = choice.plan;
  const labels: ColumnContext['labels'] = {};
  for (const role of COLUMN_ROLES) if (plan[role] >= 0) labels[role] = describeColumn(plan[role], setup.headerFields);
  return { plan, setup, jsonPlan: null, columns: { file: file.path, plan, source: choice.source, profiles: choice.profiles, header: setup.headerFields, labels } };
}

/** The run's Ingest: made from the first file's plan (checked against the settings), and every later file must map the same roles. */
function ingestFor(file: InputFile, plan: ColumnPlan, ctx: ReadContext, state: ReadState): Ingest {
  const fileRoles = planRoles(plan).join(',');
  if (state.ingest === null) {
    state.roles = fileRoles;
    state.ingest = firstIngest(file, plan, ctx);
  } else if (fileRoles !== state.roles) {
    throw new UsageError(
      `${file.path} maps the columns ${fileRoles}, but ${ctx.firstPath} maps ${state.roles}. Expected the same columns in every input; pass --columns (config prep.columns).`,
    );
  }
  return state.ingest;
}

function firstIngest(file: InputFile, plan: ColumnPlan, ctx: ReadContext): Ingest {
  if ((ctx.splitSpec.kind === 'temporal' || ctx.splitSpec.kind === 'days') && plan.ts < 0) {
    throw new UsageError(`--split ${ctx.splitSpec.kind === 'temporal' ? 'temporal' : ctx.cfg.split} (config prep.split) needs timestamps, but no ts column is mapped for ${file.path}. Expected --columns …,ts=C or another split.`);
  }
  if (ctx.windowDays !== null && plan.ts < 0) {
    throw new UsageError(`--window ${ctx.windowDays} needs timestamps, but no ts column is mapped for ${file.path}. Expected --columns …,ts=C, or no --window.`);
  }
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
  return makeIngest(ctx, feedback, plan.ts >= 0, plan.event >= 0);
}

/** Sizes the columns for this file from its first lines, so they rarely need to grow. */
function reserveRows(ing: Ingest, file: InputFile, head: Head, digest: SourceDigest): void {
  const headLines = Math.max(1, countNewlines(head.bytes));
  const bytesPerLine = head.bytes.length / headLines;
  const ratio = file.kind.gzip && digest.bytes > 0 ? head.bytes.length / digest.bytes : 1;
  if (!head.final) ing.store.reserve(Math.ceil(((file.size * ratio) / bytesPerLine) * 1.02));
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Feeds the head, then every further chunk, to the file's reader; returns the data rows it saw. */
async function readRows(it: Chunks, head: Buffer, planned: FilePlan, ing: Ingest, ctx: ReadContext): Promise<number> {
  const afterChunk = async (): Promise<void> => {
    if (ctx.sink.pendingBytes > 1 << 16) await ctx.sink.flush();
    if (ctx.io.signal?.aborted) throw interrupted(ctx.io.signal);
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
  if (planned.jsonPlan !== null) return pump(new JsonlReader(planned.jsonPlan, ing));
  if (planned.setup !== null && ctx.parser === 'csv-parse') {
    async function* all(): AsyncGenerator<Buffer> {
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        yield r.value;
        await afterChunk();
      }
    }
    return readDelimitedWithCsvParse(all(), planned.setup, ing);
  }
  return pump(new FastDelimitedReader(planned.setup as DelimitedSetup, ing));
}

/** The manifest's record of one input: its bytes, hashes, layout, column mapping and counts. */
function sourceOf(file: InputFile, digest: SourceDigest, planned: FilePlan, counts: FileCounts): ManifestSource {
  const { plan, setup, jsonPlan } = planned;
  const sourceCols: Record<string, string | number> = {};
  for (const role of COLUMN_ROLES) {
    if (plan[role] < 0) continue;
    if (jsonPlan) sourceCols[role] = jsonPlan[role] as string | number;
    else if (setup?.headerFields) sourceCols[role] = setup.headerFields[plan[role]];
    else sourceCols[role] = plan[role];
  }
  return {
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
  };
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
  const settings = readerSettings(cfg);
  const files: InputFile[] = [];
  for (const path of await expandInputs(inputs, cfg.format)) files.push({ path, role: 'log', size: await inputSize(path, 'Input log'), kind: fileKind(path, cfg.format) });
  const sink = RejectSink.counting();
  const tooMany = (read: number): DataError => tooManyRejects(sink, settings.maxRejects, read, '');
  const bar = io.progress.start('read', files.reduce((a, f) => a + f.size, 0), 'B', { rate: { unit: 'MB', scale: 1e-6 } });
  const ctx = readContext(cfg, settings, {
    splitSpec: { kind: 'none' },
    sink,
    tooMany,
    warn: (msg) => io.log.warn(msg),
    io,
    parser: 'fast',
    bar,
    firstPath: files[0].path,
    now,
    windowDays: null,
  });
  const state: ReadState = { ingest: null, roles: null, columns: null };
  await planColumnarRows(ctx, files);
  try {
    for (const file of files) await readInput(file, ctx, state);
  } finally {
    bar.stop();
  }
  const ing = state.ingest;
  if (ing === null) throw new DataError('No input was read.');
  if (overMaxRejects(sink, settings.maxRejects, ing.seq)) throw tooMany(ing.seq);
  return { ingest: ing, read: ing.seq, rejected: sink.count, rejected_by_reason: sink.reasons() };
}
