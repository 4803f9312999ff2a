/**
 * Delimited text (CSV, TSV, `::`, …) → rows. Two readers with one behaviour:
 *  - the fast path splits unquoted lines at the byte level (no string per field; ids and numbers
 *    are read from the bytes) and hands any record whose field starts with a quote to csv-parse
 *    (so quoted commas, quotes and newlines are read by the reference parser);
 *  - the reference path streams the whole file through csv-parse.
 * Both skip empty lines, strip a UTF-8 BOM, accept LF and CRLF and a missing final newline, and
 * number rows by the physical line on which they start (header = line 1).
 */
import { parse as parseStream, type Options as CsvOptions } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { looksLikeHeader, specUsesNames } from './columns.js';
import type { Ingest } from './ingest.js';
import type { ColumnsSpec, FileKind } from './options.js';
import { delimiterCandidates } from './options.js';

export interface DelimitedSetup {
  delimiter: string;
  header: boolean;
  /** Header fields, or null without a header. */
  headerFields: string[] | null;
  /** Fields a row must have: the header's, else the most common count in the first lines. */
  columnCount: number;
}

function csvOptions(delimiter: string): CsvOptions {
  return {
    delimiter,
    bom: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: false,
    record_delimiter: ['\r\n', '\n'],
  };
}

const HEAD_LINES = 100;

/** Text of the first complete lines (all of it when `final`), without a BOM. */
function headLines(head: string, final: boolean): string[] {
  let text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  if (!final) {
    // Drop the last, possibly cut line (unless it is the only one).
    const nl = text.lastIndexOf('\n');
    text = nl >= 0 ? text.slice(0, nl) : text;
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l !== '') out.push(l);
    if (out.length >= HEAD_LINES) break;
  }
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

/**
 * Decides the delimiter, whether there is a header and the column count of one file from its
 * first bytes (`head`, decoded; `final` when that is the whole file).
 */
export function analyzeDelimitedHead(
  head: string,
  final: boolean,
  kind: FileKind,
  cfg: { delimiter: string | null; header: boolean | null; spec: ColumnsSpec | null },
  file: string,
): DelimitedSetup {
  const lines = headLines(head, final);
  if (lines.length === 0) throw new DataError(`${file} is empty: no rows to read.`);
  const delimiter = cfg.delimiter ?? sniffDelimiter(lines, delimiterCandidates(kind), file);
  let records: string[][];
  try {
    records = parseSync(lines.join('\n'), { ...csvOptions(delimiter), skip_records_with_error: true }) as string[][];
  } catch {
    records = lines.map((l) => l.split(delimiter));
  }
  records = records.filter((r) => !(r.length === 1 && r[0] === ''));
  if (records.length === 0) throw new DataError(`${file} is empty: no rows to read.`);
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
  return { delimiter, header, headerFields, columnCount };
}

/** Longest quoted record we wait for before calling its quote unterminated. */
const MAX_QUOTED_RECORD = 4 << 20;

/** The byte-level reader of one file. Feed it chunks with push(); call finish() at the end. */
export class FastDelimitedReader {
  private readonly ingest: Ingest;
  private readonly d0: number;
  private readonly dBytes: Buffer;
  private readonly dLen: number;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly maxFields: number;
  private readonly syncOptions: CsvOptions;
  private carry: Buffer | null = null;
  private first = true;
  private pendingHeader: boolean;
  line = 0;
  dataRows = 0;

  constructor(setup: DelimitedSetup, ingest: Ingest) {
    this.ingest = ingest;
    this.dBytes = Buffer.from(setup.delimiter, 'utf8');
    this.d0 = this.dBytes[0];
    this.dLen = this.dBytes.length;
    this.maxFields = setup.columnCount + 1;
    this.starts = new Int32Array(this.maxFields);
    this.ends = new Int32Array(this.maxFields);
    this.pendingHeader = setup.header;
    this.syncOptions = csvOptions(setup.delimiter);
  }

  push(chunk: Buffer): void {
    this.run(chunk, false);
  }

  finish(): void {
    this.run(Buffer.alloc(0), true);
  }

  private run(chunk: Buffer, final: boolean): void {
    let rest = chunk;
    const carry = this.carry;
    if (carry !== null && !final) {
      // Join only the line cut at the chunk boundary and read the rest of the chunk in place,
      // rather than copying every chunk behind the carry. Falls back to joining everything when a
      // quoted record runs on past that line (kept under MAX_QUOTED_RECORD so that the joined
      // part alone never decides a quote is unterminated).
      const nl = chunk.indexOf(10);
      if (nl !== -1 && carry.length + nl + 1 <= MAX_QUOTED_RECORD) {
        const joined = this.stripBom(Buffer.concat([carry, chunk.subarray(0, nl + 1)]), false);
        const pos = this.records(joined, false);
        this.carry = pos < joined.length ? joined.subarray(pos) : null;
        rest = chunk.subarray(nl + 1);
      }
    }
    let data = this.carry !== null ? (rest.length ? Buffer.concat([this.carry, rest]) : this.carry) : rest;
    data = this.stripBom(data, final);
    const pos = this.records(data, final);
    this.carry = pos < data.length ? Buffer.from(data.subarray(pos)) : null;
  }

  /**
   * Drops a UTF-8 BOM at the start of the file: decided on the first data that has 3 bytes, a
   * line end or the end of the file (a BOM can only come before the first line end).
   */
  private stripBom(data: Buffer, final: boolean): Buffer {
    if (!this.first || (data.length < 3 && !final && data.indexOf(10) === -1)) return data;
    this.first = false;
    return data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data.subarray(3) : data;
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

  /** True when the delimiter starts at i. */
  private delimAt(data: Buffer, i: number, n: number): boolean {
    if (data[i] !== this.d0) return false;
    if (this.dLen === 1) return true;
    if (i + this.dLen > n) return false;
    for (let k = 1; k < this.dLen; k++) if (data[i + k] !== this.dBytes[k]) return false;
    return true;
  }

  /**
   * End of the quoted record starting at pos: the index of its terminating LF, n when it ends at
   * the end of the file, -1 when more data is needed, -2 when its quote never closes.
   */
  private quotedRecordEnd(data: Buffer, pos: number, n: number, final: boolean): number {
    let i = pos;
    let fieldStart = true;
    let inQuote = false;
    while (i < n) {
      const c = data[i];
      if (inQuote) {
        if (c === 34) {
          if (i + 1 >= n && !final) return -1;
          if (data[i + 1] === 34) {
            i += 2;
            continue;
          }
          inQuote = false;
        }
        i++;
        continue;
      }
      if (c === 10) return i;
      if (fieldStart && c === 34) {
        inQuote = true;
        fieldStart = false;
        i++;
        continue;
      }
      if (this.delimAt(data, i, n)) {
        fieldStart = true;
        i += this.dLen;
        continue;
      }
      fieldStart = false;
      i++;
    }
    if (!final) return -1;
    return inQuote ? -2 : n;
  }

  private records(data: Buffer, final: boolean): number {
    const n = data.length;
    const ingest = this.ingest;
    let pos = 0;
    while (pos < n) {
      const nl = data.indexOf(10, pos);
      let lineEnd: number;
      let next: number;
      if (nl === -1) {
        if (!final) break;
        lineEnd = n;
        next = n;
      } else {
        lineEnd = nl;
        next = nl + 1;
      }
      let e = lineEnd;
      if (e > pos && data[e - 1] === 13) e--;
      if (e === pos) {
        this.line++;
        pos = next;
        continue;
      }
      const nf = this.split(data, pos, e);
      if (nf >= 0) {
        this.line++;
        if (this.pendingHeader) this.pendingHeader = false;
        else {
          this.dataRows++;
          ingest.acceptBytes(data, this.starts, this.ends, nf, this.line, pos, e);
        }
        pos = next;
        continue;
      }
      let end = this.quotedRecordEnd(data, pos, n, final);
      if (end === -1) {
        if (n - pos <= MAX_QUOTED_RECORD) break;
        end = -2;
      }
      if (end === -2) {
        // Unterminated quote: reject the line it opens on and read on from the next line.
        this.line++;
        this.dataRows++;
        ingest.rejectUnparsed(this.line, 'bad_quoting', 'a quoted field is never closed', data.toString('utf8', pos, e));
        pos = next;
        continue;
      }
      let recEnd = end;
      if (recEnd > pos && data[recEnd - 1] === 13) recEnd--;
      const startLine = this.line + 1;
      let inner = 0;
      for (let k = data.indexOf(10, pos); k !== -1 && k < end; k = data.indexOf(10, k + 1)) inner++;
      this.line += 1 + inner;
      const text = data.toString('utf8', pos, recEnd);
      pos = end >= n ? n : end + 1;
      let fields: string[] | null = null;
      let problem = '';
      try {
        const recs = parseSync(text, this.syncOptions) as string[][];
        if (recs.length === 1) fields = recs[0];
        else problem = `quoted record parsed as ${recs.length} records`;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (this.pendingHeader) {
        this.pendingHeader = false;
        continue;
      }
      this.dataRows++;
      if (fields === null) ingest.rejectUnparsed(startLine, 'bad_quoting', problem, text);
      else ingest.acceptStrings(fields, fields.length, startLine, text);
    }
    return pos;
  }
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
  raw: string;
}

/** The reference reader: the whole file through csv-parse's streaming parser. */
export async function readDelimitedWithCsvParse(chunks: AsyncIterable<Buffer>, setup: DelimitedSetup, ingest: Ingest): Promise<number> {
  let lastEnd = 0;
  let pendingHeader = setup.header;
  let dataRows = 0;
  const parser = parseStream({
    ...csvOptions(setup.delimiter),
    info: true,
    raw: true,
    skip_records_with_error: true,
    on_skip: (error: unknown, raw?: string) => {
      const lines = (error as { lines?: number } | undefined)?.lines ?? lastEnd + 1;
      dataRows++;
      ingest.rejectUnparsed(lastEnd + 1, 'bad_quoting', (error as Error | undefined)?.message ?? 'unreadable record', raw ?? '');
      lastEnd = lines;
    },
  });
  const feed = (async () => {
    try {
      for await (const chunk of chunks) {
        if (!parser.write(chunk)) await new Promise((r) => parser.once('drain', r));
      }
      parser.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  for await (const r of parser as AsyncIterable<CsvRecord>) {
    const startLine = lastEnd + 1;
    lastEnd = r.info.lines;
    const raw = r.raw.replace(/\r?\n$|\r$/, '');
    if (raw === '') continue;
    if (pendingHeader) {
      pendingHeader = false;
      continue;
    }
    dataRows++;
    ingest.acceptStrings(r.record, r.record.length, startLine, raw);
  }
  await feed;
  return dataRows;
}
