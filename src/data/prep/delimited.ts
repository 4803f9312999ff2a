/**
 * Delimited text (CSV, TSV, `::`, …) → rows. Two readers with one behaviour:
 *  - the fast path splits unquoted lines at the byte level (no string per field; ids and numbers
 *    are read from the bytes) and hands any row with a field that starts with a quote to
 *    csv-parse (so quoted delimiters and doubled quotes are read by the reference parser);
 *  - the reference path hands every row to csv-parse.
 * Both read physical lines (lines.ts: LF, CRLF or CR, BOM dropped, last newline optional) through a
 * RecordAssembler (quoted.ts), which joins the lines of a row whose quoted field spans lines
 * (RFC 4180; newlines inside a value are LF) and bounds such a field (prep.max_quoted_lines,
 * prep.max_quoted_bytes): one still open after the bound or at the end of the file rejects only the
 * line where it opened (`unclosed_quote`), and the lines after it are read afresh. Where a row ends
 * is decided independently by each reader (fast: a byte scan; reference: csv-parse's "quote not
 * closed"), so the parity tests check one against the other. Empty lines between rows are skipped;
 * the first row is the header when there is one; every other row is one row read, numbered by the
 * line it starts on.
 */
import { isUtf8 } from 'node:buffer';
import type { Options as CsvOptions } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { choosePlan, isTimeKind, looksLikeHeader, specUsesNames, type PlanChoice } from './columns.js';
import { parseNumberString } from './numbers.js';
import { plausibleTsMs, type TsParser } from './timestamps.js';
import type { Ingest } from './ingest.js';
import { LineSplitter, MAX_LINE_BYTES, utf8Detail, utf8ErrorOffset } from '../../util/lines.js';
import type { RejectReason } from './rejects.js';
import { ByteQuoteOracle, DEFAULT_QUOTED_BOUNDS, joinedText, RecordAssembler, type HeldLine, type QuoteOracle, type QuotedBounds, type RecordHandler } from './quoted.js';
import { COLUMN_ROLES, delimiterCandidates, type ColumnsSpec, type FileKind } from './options.js';

export interface DelimitedSetup {
  delimiter: string;
  header: boolean;
  /** Header fields, or null without a header. */
  headerFields: string[] | null;
  /** Fields a row must have: the header's, else the most common count in the first lines. */
  columnCount: number;
  /** The first data rows (split into fields), from which a headerless file's columns are guessed and mistakes explained. */
  sample: string[][];
  /** How far a quoted field may carry a row over lines. */
  quoted: QuotedBounds;
}

/** csv-parse on one row (its lines joined by LF; the file's BOM is already gone). */
function lineOptions(delimiter: string, relaxQuotes = true): CsvOptions {
  return {
    delimiter,
    bom: false,
    relax_quotes: relaxQuotes,
    relax_column_count: true,
    skip_empty_lines: false,
  };
}

interface LineProblem {
  reason: RejectReason;
  detail: string;
}

/** The fields of one line by csv-parse, or why it cannot be read. */
function parseLine(text: string, options: CsvOptions): string[] | LineProblem {
  try {
    const recs = parseSync(text, options) as string[][];
    if (recs.length === 1) return recs[0];
    return { reason: 'bad_quoting', detail: `line parsed as ${recs.length} records` };
  } catch (error) {
    if ((error as { code?: unknown }).code === 'CSV_QUOTE_NOT_CLOSED') {
      return { reason: 'unclosed_quote', detail: 'a quoted field does not close in this row' };
    }
    return { reason: 'bad_quoting', detail: (error as Error).message };
  }
}

function longLineDetail(bytes: number): string {
  return `line of ${bytes}${bytes > MAX_LINE_BYTES ? '+' : ''} bytes, over the ${MAX_LINE_BYTES}-byte limit`;
}

const HEAD_LINES = 100;

/** The head without a BOM and, unless `final`, without its last, possibly cut line (unless it is the only one). */
function headText(head: string, final: boolean): string {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  if (final) return text;
  const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return cut >= 0 ? text.slice(0, cut) : text;
}

/** Text of the first complete non-empty lines (all of it when `final`), without a BOM. */
function headLines(head: string, final: boolean): string[] {
  const out: string[] = [];
  for (const l of headText(head, final).split(/\r\n|\r|\n/)) {
    if (l !== '') out.push(l);
    if (out.length >= HEAD_LINES) break;
  }
  return out;
}

/**
 * The first rows of the head split into fields, read as the readers read them (rows over lines
 * joined; a row still open at the end of a cut head left out). A line that cannot be read as a row
 * is split at the delimiter: a stray quote must not join the sample's lines either.
 */
function headRecords(head: string, final: boolean, delimiter: string, bounds: QuotedBounds): string[][] {
  const options = lineOptions(delimiter);
  const out: string[][] = [];
  const add = (text: string, fallback: string): void => {
    if (out.length >= HEAD_LINES) return;
    const r = parseLine(text, options);
    out.push(Array.isArray(r) ? r : fallback.split(delimiter));
  };
  const assembler = new RecordAssembler(
    {
      onLine: (buf, s, e) => {
        const t = buf.toString('utf8', s, e);
        add(t, t);
      },
      onLongLine: () => undefined,
      onRows: (lines) => add(joinedText(lines), joinedText(lines)),
      onBroken: (first) => {
        const t = (first.bytes ?? Buffer.alloc(0)).toString('utf8');
        if (out.length < HEAD_LINES) out.push(t.split(delimiter));
      },
    },
    new ByteQuoteOracle(delimiter),
    bounds,
  );
  const lines = new LineSplitter(assembler);
  lines.push(Buffer.from(headText(head, final)));
  lines.finish();
  // A cut head ends at a line end: a row still open there may close in the next bytes.
  if (final) assembler.finish();
  return out;
}

function sniffDelimiter(lines: readonly string[], candidates: readonly string[], file: string): string {
  const sample = lines.slice(0, 20);
  for (const d of candidates) {
    const counts = sample.map((l) => l.split(d).length);
    if (counts[0] < 2) continue;
    const agree = counts.filter((c) => c === counts[0]).length;
    if (agree >= Math.ceil(sample.length * 0.8)) return d;
  }
  for (const d of candidates) if (sample.length > 0 && sample[0].includes(d)) return d;
  throw new DataError(
    `${file}: cannot detect the field delimiter from the first line ${describeValue(sample[0] ?? '', 80)}; tried ${candidates.map((c) => JSON.stringify(c)).join(' ')}. Pass --delimiter (config prep.delimiter).`,
  );
}

function mode(values: readonly number[]): number {
  const counts = new Map<number, number>();
  let best = values[0] ?? 0;
  let bestCount = 0;
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/** What a delimited file's reading is told: null where it is to be detected. */
export interface DelimitedConfig {
  delimiter: string | null;
  header: boolean | null;
  spec: ColumnsSpec | null;
  /** Default: DEFAULT_QUOTED_BOUNDS. */
  quoted?: QuotedBounds;
}

/**
 * Decides the delimiter, whether there is a header and the column count of one file from its
 * first bytes (`head`, decoded; `final` when that is the whole file).
 */
export function analyzeDelimitedHead(
  head: string,
  final: boolean,
  kind: FileKind,
  cfg: DelimitedConfig,
  file: string,
): DelimitedSetup {
  const lines = headLines(head, final);
  if (lines.length === 0) throw new DataError(`${file} is empty: no rows to read.`);
  const delimiter = cfg.delimiter ?? sniffDelimiter(lines, delimiterCandidates(kind), file);
  const quoted = cfg.quoted ?? DEFAULT_QUOTED_BOUNDS;
  const records = headRecords(head, final, delimiter, quoted);
  if (records.length === 0) records.push(lines[0].split(delimiter));
  const names = specUsesNames(cfg.spec);
  if (cfg.header === false && names) {
    throw new UsageError(
      `--columns (config prep.columns) names columns, but --no-header (config prep.header: false) says ${file} has no header. Expected 0-based indices (e.g. user=0,item=1) or a header.`,
    );
  }
  const header = cfg.header ?? (names || looksLikeHeader(records[0]));
  const headerFields = header ? records[0] : null;
  const data = header ? records.slice(1) : records;
  const columnCount = headerFields ? headerFields.length : mode(data.map((r) => r.length));
  return { delimiter, header, headerFields, columnCount, sample: data.slice(0, 500), quoted };
}

/**
 * The mapped fields of a line given as header (by --header, config prep.header, or the base's
 * header setting under --append-to) that read as the data below them: numeric ids and ratings
 * where the column's sampled values are numbers, a plausible time where they are times, a known
 * event. Null when a field reads as a name (a header), when none can be judged (text ids only),
 * or when the line has another field count than the rows.
 */
export function headerAsData(setup: DelimitedSetup, choice: PlanChoice, tsParser: TsParser, nowMs: number): string[] | null {
  const fields = setup.headerFields;
  if (fields === null || choice.profiles.length !== fields.length || fields.length !== mode(setup.sample.map((r) => r.length))) return null;
  const seen: string[] = [];
  for (const role of COLUMN_ROLES) {
    const c = choice.plan[role];
    if (c < 0) continue;
    const p = choice.profiles[c];
    const f = fields[c].trim();
    let data: boolean;
    if (role === 'ts' && isTimeKind(p.kind)) data = plausibleTsMs(tsParser(f), nowMs);
    else if (role !== 'ts' && role !== 'event' && p.values > 0 && p.numeric === p.values) data = Number.isFinite(parseNumberString(f));
    else if (role === 'event' && p.kind === 'event') data = p.examples.includes(f);
    else continue;
    if (!data) return null;
    seen.push(`${role} ${describeValue(f, 40)}`);
  }
  return seen.length > 0 ? seen : null;
}

/**
 * The head analysis and column plan of a delimited file. A line given as header whose mapped
 * fields read as data (a night without a header under a base prepped with --header) is read as a
 * row, with a warning: skipping it would lose a row without a trace.
 */
export function planDelimited(
  head: string,
  final: boolean,
  kind: FileKind,
  cfg: DelimitedConfig,
  file: string,
  read: { tsParser: TsParser; nowMs: number; warn: (msg: string) => void },
): { setup: DelimitedSetup; choice: PlanChoice } {
  const setup = analyzeDelimitedHead(head, final, kind, cfg, file);
  const choice = choosePlan(cfg.spec, setup.headerFields, setup.columnCount, file, setup.sample, read.nowMs);
  if (cfg.header !== true || setup.headerFields === null || specUsesNames(cfg.spec)) return { setup, choice };
  const seen = headerAsData(setup, choice, read.tsParser, read.nowMs);
  if (seen === null) return { setup, choice };
  const sample = [setup.headerFields, ...setup.sample];
  const asRows: DelimitedSetup = { ...setup, header: false, headerFields: null, columnCount: mode(sample.map((r) => r.length)), sample };
  read.warn(
    `${file}: its first line ${describeValue(setup.headerFields.join(setup.delimiter), 80)} was to be skipped as a header (--header, config prep.header, or the base dataset's header setting under --append-to), but it reads as data (${seen.join(', ')}): it is read as a row. Pass --no-header (config prep.header: false) for files without a header line.`,
  );
  return { setup: asRows, choice: choosePlan(cfg.spec, null, asRows.columnCount, file, sample, read.nowMs) };
}

/**
 * A row over several lines to the ingest: rejected as `invalid_utf8` when a line is not UTF-8
 * (`isUtf8`: each reader's own check), else its fields by csv-parse (the row is strict RFC 4180).
 */
function readRows(lines: readonly HeldLine[], ingest: Ingest, options: CsvOptions, isUtf8Line: (l: HeldLine) => boolean): void {
  const first = lines[0].lineNo;
  for (const l of lines) {
    if (isUtf8Line(l)) continue;
    const b = l.bytes as Buffer;
    const where = l.lineNo === first ? '' : ` (line ${l.lineNo}, inside the quoted field of the row that starts on this line)`;
    ingest.rejectUnparsed(first, 'invalid_utf8', `${utf8Detail(b, 0, b.length)}${where}`, joinedText(lines));
    return;
  }
  const text = joinedText(lines);
  const r = parseLine(text, options);
  if (Array.isArray(r)) ingest.acceptStrings(r, r.length, first, text);
  else ingest.rejectUnparsed(first, r.reason, r.detail, text);
}

/** The byte-level reader of one file. Feed it chunks with push(); call finish() at the end. */
export class FastDelimitedReader implements RecordHandler {
  private readonly ingest: Ingest;
  private readonly lines: LineSplitter;
  private readonly assembler: RecordAssembler;
  private readonly d0: number;
  private readonly dBytes: Buffer;
  private readonly dLen: number;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly maxFields: number;
  private readonly options: CsvOptions;
  private pendingHeader: boolean;
  dataRows = 0;

  constructor(setup: DelimitedSetup, ingest: Ingest) {
    this.ingest = ingest;
    this.assembler = new RecordAssembler(this, new ByteQuoteOracle(setup.delimiter), setup.quoted);
    this.lines = new LineSplitter(this.assembler);
    this.dBytes = Buffer.from(setup.delimiter, 'utf8');
    this.d0 = this.dBytes[0];
    this.dLen = this.dBytes.length;
    this.maxFields = setup.columnCount + 1;
    this.starts = new Int32Array(this.maxFields);
    this.ends = new Int32Array(this.maxFields);
    this.pendingHeader = setup.header;
    this.options = lineOptions(setup.delimiter);
  }

  /** Physical lines read so far. */
  get line(): number {
    return this.lines.line;
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  finish(): void {
    this.lines.finish();
    this.assembler.finish();
  }

  onLine(buf: Buffer, s: number, e: number, lineNo: number, utf8: boolean): void {
    if (this.pendingHeader) {
      this.pendingHeader = false;
      return;
    }
    this.dataRows++;
    const ingest = this.ingest;
    if (!utf8 && !isUtf8(buf.subarray(s, e))) {
      ingest.rejectUnparsed(lineNo, 'invalid_utf8', utf8Detail(buf, s, e), buf.toString('utf8', s, e));
      return;
    }
    const nf = this.split(buf, s, e);
    if (nf >= 0) {
      ingest.acceptBytes(buf, this.starts, this.ends, nf, lineNo, s, e);
      return;
    }
    const text = buf.toString('utf8', s, e);
    const r = parseLine(text, this.options);
    if (Array.isArray(r)) ingest.acceptStrings(r, r.length, lineNo, text);
    else ingest.rejectUnparsed(lineNo, r.reason, r.detail, text);
  }

  onLongLine(lineNo: number, head: Buffer, bytes: number): void {
    if (this.pendingHeader) {
      this.pendingHeader = false;
      return;
    }
    this.dataRows++;
    this.ingest.rejectUnparsed(lineNo, 'line_too_long', longLineDetail(bytes), head.toString('utf8'));
  }

  onRows(lines: readonly HeldLine[]): void {
    if (this.pendingHeader) {
      this.pendingHeader = false;
      return;
    }
    this.dataRows++;
    readRows(lines, this.ingest, this.options, (l) => l.utf8 || isUtf8(l.bytes as Buffer));
  }

  onBroken(first: HeldLine, reason: RejectReason, detail: string): void {
    if (this.pendingHeader) {
      this.pendingHeader = false;
      return;
    }
    this.dataRows++;
    this.ingest.rejectUnparsed(first.lineNo, reason, detail, (first.bytes as Buffer).toString('utf8'));
  }

  /** Splits [s, e) at the delimiter into starts/ends; -1 when a field starts with a quote. */
  private split(data: Buffer, s: number, e: number): number {
    const starts = this.starts;
    const ends = this.ends;
    const max = this.maxFields;
    const d0 = this.d0;
    if (data[s] === 34) return -1;
    let nf = 0;
    let fs = s;
    if (this.dLen === 1) {
      for (let i = s; i < e; i++) {
        if (data[i] === d0) {
          if (nf < max) {
            starts[nf] = fs;
            ends[nf] = i;
          }
          nf++;
          fs = i + 1;
          if (fs < e && data[fs] === 34) return -1;
        }
      }
    } else {
      const dl = this.dLen;
      const db = this.dBytes;
      const last = e - dl;
      let i = s;
      while (i <= last) {
        if (data[i] === d0) {
          let k = 1;
          while (k < dl && data[i + k] === db[k]) k++;
          if (k === dl) {
            if (nf < max) {
              starts[nf] = fs;
              ends[nf] = i;
            }
            nf++;
            i += dl;
            fs = i;
            if (fs < e && data[fs] === 34) return -1;
            continue;
          }
        }
        i++;
      }
    }
    if (nf < max) {
      starts[nf] = fs;
      ends[nf] = e;
    }
    return nf + 1;
  }
}

/**
 * The reference path's oracle: csv-parse itself says whether a row's quoted field is open
 * (CSV_QUOTE_NOT_CLOSED on the row so far) and whether it is strict RFC 4180 (parsed without
 * relax_quotes), independently of the fast path's byte scan.
 */
class CsvParseQuoteOracle implements QuoteOracle {
  private readonly relaxed: CsvOptions;
  private readonly strictOptions: CsvOptions;

  constructor(delimiter: string) {
    this.relaxed = lineOptions(delimiter);
    this.strictOptions = lineOptions(delimiter, false);
  }

  opens(buf: Buffer, s: number, e: number): boolean {
    const text = buf.toString('utf8', s, e);
    return text.includes('"') && this.open(text);
  }

  stillOpen(lines: readonly HeldLine[]): boolean {
    return this.open(joinedText(lines));
  }

  strict(lines: readonly HeldLine[]): boolean {
    try {
      parseSync(joinedText(lines), this.strictOptions);
      return true;
    } catch {
      return false;
    }
  }

  private open(text: string): boolean {
    const r = parseLine(text, this.relaxed);
    return !Array.isArray(r) && r.reason === 'unclosed_quote';
  }
}

/**
 * The reference reader: every row through csv-parse, checked for UTF-8 by utf8ErrorOffset rather
 * than isUtf8, so that the parity tests compare two ways of reading each field. Runs of lines
 * without a quote go to csv-parse together (without quotes no row can span lines, so rows and
 * lines correspond one to one), which keeps it fast enough for the parity tests.
 */
export async function readDelimitedWithCsvParse(chunks: AsyncIterable<Buffer>, setup: DelimitedSetup, ingest: Ingest): Promise<number> {
  let pendingHeader = setup.header;
  let dataRows = 0;
  const options = lineOptions(setup.delimiter);
  const batch: string[] = [];
  const batchLines: number[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const recs = parseSync(batch.join('\n'), options) as string[][];
    if (recs.length !== batch.length) throw new Error(`csv-parse read ${recs.length} records from ${batch.length} unquoted lines`);
    for (let k = 0; k < recs.length; k++) ingest.acceptStrings(recs[k], recs[k].length, batchLines[k], batch[k]);
    batch.length = 0;
    batchLines.length = 0;
  };
  /** Whether this row is the header (skipped); else it is counted and earlier lines are flushed. */
  const header = (): boolean => {
    if (pendingHeader) {
      pendingHeader = false;
      return true;
    }
    flush();
    dataRows++;
    return false;
  };
  const handler: RecordHandler = {
    onLine(buf: Buffer, s: number, e: number, lineNo: number): void {
      if (pendingHeader) {
        pendingHeader = false;
        return;
      }
      dataRows++;
      const text = buf.toString('utf8', s, e);
      if (utf8ErrorOffset(buf, s, e) < 0 && !text.includes('"')) {
        batch.push(text);
        batchLines.push(lineNo);
        if (batch.length >= 4096) flush();
        return;
      }
      flush();
      if (utf8ErrorOffset(buf, s, e) >= 0) {
        ingest.rejectUnparsed(lineNo, 'invalid_utf8', utf8Detail(buf, s, e), text);
        return;
      }
      const r = parseLine(text, options);
      if (Array.isArray(r)) ingest.acceptStrings(r, r.length, lineNo, text);
      else ingest.rejectUnparsed(lineNo, r.reason, r.detail, text);
    },
    onLongLine(lineNo: number, head: Buffer, bytes: number): void {
      if (header()) return;
      ingest.rejectUnparsed(lineNo, 'line_too_long', longLineDetail(bytes), head.toString('utf8'));
    },
    onRows(lines: readonly HeldLine[]): void {
      if (header()) return;
      readRows(lines, ingest, options, (l) => utf8ErrorOffset(l.bytes as Buffer, 0, (l.bytes as Buffer).length) < 0);
    },
    onBroken(first: HeldLine, reason: RejectReason, detail: string): void {
      if (header()) return;
      ingest.rejectUnparsed(first.lineNo, reason, detail, (first.bytes as Buffer).toString('utf8'));
    },
  };
  const assembler = new RecordAssembler(handler, new CsvParseQuoteOracle(setup.delimiter), setup.quoted);
  const lines = new LineSplitter(assembler);
  for await (const chunk of chunks) lines.push(chunk);
  lines.finish();
  assembler.finish();
  flush();
  return dataRows;
}
