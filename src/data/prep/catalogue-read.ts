/**
 * Reading catalogue files (`rec prep --items FILE`, issue #21 item 1): CSV/TSV with a header line, or JSON Lines of
 * objects, each optionally gzipped, streamed line by line (util/lines.ts, as the log readers do). In CSV/TSV a
 * quoted field may carry a row over lines (RFC 4180; the newline inside the value is LF), joined by the log
 * readers' RecordAssembler (quoted.ts) under the same bounds (--max-quoted-lines, --max-quoted-bytes): a field
 * still open after them, or at the end of the file, rejects only the line where it opened (`unclosed_quote`), and
 * the lines after it are read afresh; a row is numbered by the line it starts on. Each accepted row is featurised
 * (its text features in a worker thread for a large catalogue, text-queue.ts) into a CatalogueStore under its key (the raw item id, as the log writes it); a later row of the same key
 * replaces it (counted as a duplicate, and as conflicting when its values differ). Rows that cannot be read, or
 * have no usable key, go to rejects.jsonl with the file and line, and are counted by reason in the manifest's
 * catalogue block, apart from the log's rows.
 */
import { isUtf8 } from 'node:buffer';
import { parse as parseSync } from 'csv-parse/sync';
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import type { ManifestCatalogue } from '../manifest.js';
import { LineSplitter, MAX_LINE_BYTES, utf8Detail, type LineHandler } from '../../util/lines.js';
import { TextFeaturizer } from '../text.js';
import { OBJECT_VALUE, SAMPLE_ROWS, type FeatureSpec, type RawValue } from './catalogue-spec.js';
import { CatalogueStore } from './catalogue-store.js';
import { TextQueue } from './text-queue.js';
import { analyzeDelimitedHead } from './delimited.js';
import { DEFAULT_QUOTED_BOUNDS, joinedText, RecordAssembler, ByteQuoteOracle, type HeldLine, type QuotedBounds, type RecordHandler } from './quoted.js';
import { fileKind, type FileKind } from './options.js';
import { collectHead, interrupted } from './read.js';
import type { RejectReason } from './rejects.js';
import { readChunks, refuseWideEncoding, type SourceDigest } from './source.js';
import { decodeChunks, invalidDetail, parseEncoding, type DecodeStats, type EncodingSpec } from './encoding.js';

/** Why a catalogue row was rejected (counted in manifest.catalogue.rejected_by_reason). */
export type CatalogueRejectReason = 'bad_json' | 'invalid_utf8' | 'invalid_encoding' | 'line_too_long' | 'wrong_column_count' | 'bad_quoting' | 'unclosed_quote' | 'empty_key' | 'bad_key';

export interface CatalogueRejects {
  add(file: string, line: number, reason: CatalogueRejectReason, detail: string, raw: string): void;
}

/** One row's field by column name. */
type RowGetter = (column: string) => RawValue;

interface RowHandler {
  /**
   * One row: `raw()` its text (for a reject); `json` the row's JSON value of a key, for JSON Lines (ids keep the
   * log's spelling only for strings and safe integers); `fields` a CSV/TSV row's fields in the header's order (what
   * `get` reads, for a reader that has looked the columns up once). False: stop reading.
   */
  row(get: RowGetter, line: number, raw: () => string, json?: (column: string) => unknown, fields?: readonly string[]): boolean;
  reject(line: number, reason: CatalogueRejectReason, detail: string, raw: string): void;
  /** Awaited after each chunk of the file: lets the text featuriser thread catch up (text-queue.ts). */
  pace?: () => Promise<void>;
}

/** How one catalogue file was read: the manifest's record of it. */
export type CatalogueFileRecord = ManifestCatalogue['files'][number];

export interface CatalogueRead {
  /** Every key's latest row, featurised. */
  store: CatalogueStore;
  files: CatalogueFileRecord[];
  read: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** Rows whose key an earlier row already had (the later one is kept). */
  duplicates: number;
  /** Of those, rows whose values differ from the row they replace. */
  conflicting: number;
}

/** A JSON value as a catalogue field (see RawValue). */
function jsonField(v: unknown): RawValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const e of v) if (typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean') out.push(String(e));
    return out;
  }
  return OBJECT_VALUE;
}

/** The key of a JSON row as the log would spell the id, or why it is unusable. */
function jsonKey(v: unknown): string | { reason: CatalogueRejectReason; detail: string } {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0)) return String(v);
  if (v === null || v === undefined || v === '') return { reason: 'empty_key', detail: 'no key value' };
  return { reason: 'bad_key', detail: `key ${describeValue(v)} is not a string or a safe integer` };
}

/** The key of a CSV/TSV row: the field as written (ids are compared byte for byte with the log's). */
function delimitedKey(v: RawValue): string | { reason: CatalogueRejectReason; detail: string } {
  if (typeof v === 'string' && v.trim() !== '') return v;
  return { reason: 'empty_key', detail: 'no key value' };
}

class JsonRows implements LineHandler {
  private readonly h: RowHandler;
  stop = false;
  constructor(h: RowHandler) {
    this.h = h;
  }
  onLine(buf: Buffer, s: number, e: number, line: number, utf8: boolean): void {
    if (this.stop) return;
    const text = buf.toString('utf8', s, e);
    if (text.trim() === '') return;
    if (!utf8 && !isUtf8(buf.subarray(s, e))) return this.h.reject(line, 'invalid_utf8', utf8Detail(buf, s, e), text);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (error) {
      return this.h.reject(line, 'bad_json', (error as Error).message, text);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.h.reject(line, 'bad_json', 'not a JSON object', text);
    const obj = v as Record<string, unknown>;
    this.stop = !this.h.row((c) => (Object.hasOwn(obj, c) ? jsonField(obj[c]) : null), line, () => text, (c) => obj[c]);
  }
  onLongLine(line: number, head: Buffer, bytes: number): void {
    if (!this.stop) this.h.reject(line, 'line_too_long', `line of ${bytes}+ bytes, over the ${MAX_LINE_BYTES}-byte limit`, head.toString('utf8'));
  }
}

/** csv-parse on one row, for what splitQuoted leaves to it: its fields, or why it cannot be read. */
function parseRow(text: string, options: object): string[] | { reason: CatalogueRejectReason; detail: string } {
  try {
    const recs = parseSync(text, options) as string[][];
    if (recs.length !== 1) return { reason: 'bad_quoting', detail: `row parsed as ${recs.length} records` };
    return recs[0];
  } catch (error) {
    if ((error as { code?: unknown }).code === 'CSV_QUOTE_NOT_CLOSED') return { reason: 'unclosed_quote', detail: 'a quoted field does not close in this row' };
    return { reason: 'bad_quoting', detail: (error as Error).message };
  }
}

/** The rows of a CSV/TSV file after its header, from the RecordAssembler (a row may span lines). */
class DelimitedRows implements RecordHandler {
  stop = false;
  private header = true;
  private readonly index = new Map<string, number>();
  private readonly options: { delimiter: string; bom: boolean; relax_quotes: boolean; relax_column_count: boolean; skip_empty_lines: boolean };
  private readonly h: RowHandler;
  private readonly delimiter: string;
  private readonly columns: readonly string[];
  /** The current row's fields and text, read through `get` and `raw` (made once, not per row). */
  private fields: readonly string[] = [];
  private text = '';
  private readonly get: RowGetter = (c) => {
    const i = this.index.get(c);
    return i === undefined ? null : this.fields[i];
  };
  private readonly raw = (): string => this.text;

  constructor(h: RowHandler, delimiter: string, columns: readonly string[]) {
    this.h = h;
    this.delimiter = delimiter;
    this.columns = columns;
    columns.forEach((c, i) => {
      if (!this.index.has(c)) this.index.set(c, i);
    });
    this.options = { delimiter, bom: false, relax_quotes: true, relax_column_count: true, skip_empty_lines: false };
  }

  /** The header was read by delimitedHeader: the first row (on one line or several, or broken) is skipped. */
  private skipHeader(): boolean {
    if (!this.header) return this.stop;
    this.header = false;
    return true;
  }

  onLine(buf: Buffer, s: number, e: number, line: number, utf8: boolean): void {
    if (this.skipHeader()) return;
    const text = buf.toString('utf8', s, e);
    if (!utf8 && !isUtf8(buf.subarray(s, e))) return this.h.reject(line, 'invalid_utf8', utf8Detail(buf, s, e), text);
    this.fieldsOf(text, line);
  }

  onRows(lines: readonly HeldLine[]): void {
    if (this.skipHeader()) return;
    const first = lines[0].lineNo;
    for (const l of lines) {
      const b = l.bytes as Buffer;
      if (l.utf8 || isUtf8(b)) continue;
      const where = l.lineNo === first ? '' : ` (line ${l.lineNo}, inside the quoted field of the row that starts on this line)`;
      return this.h.reject(first, 'invalid_utf8', `${utf8Detail(b, 0, b.length)}${where}`, joinedText(lines));
    }
    this.fieldsOf(joinedText(lines), first);
  }

  onBroken(first: HeldLine, reason: RejectReason, detail: string): void {
    if (this.skipHeader()) return;
    // The assembler breaks a row for these two reasons only.
    this.h.reject(first.lineNo, reason === 'bad_quoting' ? 'bad_quoting' : 'unclosed_quote', detail, (first.bytes ?? first.longHead ?? Buffer.alloc(0)).toString('utf8'));
  }

  onLongLine(line: number, head: Buffer, bytes: number): void {
    if (this.skipHeader()) return;
    this.h.reject(line, 'line_too_long', `line of ${bytes}+ bytes, over the ${MAX_LINE_BYTES}-byte limit`, head.toString('utf8'));
  }

  private fieldsOf(text: string, line: number): void {
    let fields: string[] | null;
    if (!text.includes('"')) fields = text.split(this.delimiter);
    else {
      // What the quick reader cannot take (a quote inside an unquoted field, text after a closing quote) goes to csv-parse, as for the logs.
      fields = splitQuoted(text, this.delimiter);
      if (fields === null) {
        const r = parseRow(text, this.options);
        if (!Array.isArray(r)) return this.h.reject(line, r.reason, r.detail, text);
        fields = r;
      }
    }
    if (fields.length !== this.columns.length) {
      return this.h.reject(line, 'wrong_column_count', `${fields.length} fields, the header has ${this.columns.length}`, text);
    }
    this.fields = fields;
    this.text = text;
    this.stop = !this.h.row(this.get, line, this.raw, undefined, fields);
  }
}

/**
 * The fields of one line in the plain RFC 4180 form: a field is either unquoted (no `"` in it) or wholly quoted,
 * `""` standing for a quote inside. Null for anything else (csv-parse decides those).
 */
export function splitQuoted(text: string, delimiter: string): string[] | null {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return null;
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      out.push(value);
      if (i === n) return out;
      if (!text.startsWith(delimiter, i)) return null;
      i += delimiter.length;
      if (i === n) {
        out.push('');
        return out;
      }
    } else {
      const d = text.indexOf(delimiter, i);
      const end = d < 0 ? n : d;
      const field = text.slice(i, end);
      if (field.includes('"')) return null;
      out.push(field);
      if (d < 0) return out;
      i = d + delimiter.length;
      if (i === n) {
        out.push('');
        return out;
      }
    }
  }
}

/** The column names of a delimited catalogue (its header row) and its delimiter. */
function delimitedHeader(head: Buffer, final: boolean, kind: FileKind, path: string, quoted: QuotedBounds): { delimiter: string; columns: string[] } {
  const text = head.toString('utf8');
  const setup = analyzeDelimitedHead(text, final, kind, { delimiter: null, header: true, spec: null, quoted }, path);
  return { delimiter: setup.delimiter, columns: (setup.headerFields ?? []).map((c) => c.trim()) };
}

interface ScanResult {
  kind: FileKind;
  digest: SourceDigest;
  delimiter: string | null;
  /** Header fields (CSV/TSV); null for JSONL. */
  columns: string[] | null;
}

/** The line reader of one file: JSON Lines, or CSV/TSV rows through a RecordAssembler. */
function rowReader(head: Buffer, ended: boolean, kind: FileKind, path: string, handler: RowHandler, quoted: QuotedBounds) {
  if (kind.format === 'jsonl') {
    const reader = new JsonRows(handler);
    return { reader, lines: new LineSplitter(reader), assembler: null, delimiter: null, columns: null };
  }
  const { delimiter, columns } = delimitedHeader(head, ended, kind, path, quoted);
  const reader = new DelimitedRows(handler, delimiter, columns);
  const assembler = new RecordAssembler(reader, new ByteQuoteOracle(delimiter), quoted);
  return { reader, lines: new LineSplitter(assembler), assembler, delimiter, columns };
}

/**
 * Streams one catalogue file through `handler` until it returns false or the file ends. `onStart` sees the
 * header (CSV/TSV) before any row.
 */
async function scanFile(
  path: string,
  handler: RowHandler,
  onStart: (columns: string[] | null) => void,
  quoted: QuotedBounds,
  encoding: EncodingSpec,
  decoded: DecodeStats,
  signal?: AbortSignal,
): Promise<ScanResult> {
  const kind = fileKind(path, 'auto');
  if (kind.format === 'parquet' || kind.format === 'arrow') {
    throw new UsageError(`Catalogue ${path} is ${kind.format === 'parquet' ? 'Parquet' : 'Arrow IPC'}; --items reads CSV, TSV or JSONL (optionally .gz) for now. Expected a CSV/TSV/JSONL export of the catalogue, e.g. DuckDB: COPY (SELECT * FROM 'items.parquet') TO 'items.csv'.`);
  }
  const digest: SourceDigest = { bytes: 0, sha256: '', content_sha256: '' };
  const raw = readChunks(path, kind.gzip, digest, () => undefined)[Symbol.asyncIterator]();
  const it = decodeChunks(raw, encoding, path, decoded)[Symbol.asyncIterator]();
  try {
    const { bytes: head, ended } = await collectHead(it);
    refuseWideEncoding(head, path, kind.gzip);
    if (head.length === 0) throw new DataError(`Catalogue ${path} is empty. Expected a header line and one row per item (CSV/TSV), or one JSON object per item (JSONL).`);
    const { reader, lines, assembler, delimiter, columns } = rowReader(head, ended, kind, path, handler, quoted);
    onStart(columns);
    lines.push(head);
    if (signal?.aborted) throw interrupted(signal);
    for (let r = ended ? null : await it.next(); r !== null && !r.done && !reader.stop; r = await it.next()) {
      lines.push(r.value);
      if (signal?.aborted) throw interrupted(signal);
      await handler.pace?.();
    }
    if (!reader.stop) {
      lines.finish();
      assembler?.finish();
    }
    return { kind, digest, delimiter, columns };
  } finally {
    await it.return(undefined);
    await raw.return?.(undefined);
  }
}

/** The columns of the first catalogue file and its first SAMPLE_ROWS rows (every column), for checks and the guess. */
export async function sampleCatalogue(path: string, quoted: QuotedBounds = DEFAULT_QUOTED_BOUNDS, encoding: EncodingSpec = parseEncoding(null)): Promise<{ columns: string[]; rows: Map<string, RawValue>[] }> {
  const rows: Map<string, RawValue>[] = [];
  let header: string[] | null = null;
  const jsonKeys = new Set<string>();
  const handler: RowHandler = {
    row: (get, _line, raw) => {
      const names = header ?? Object.keys(JSON.parse(raw()) as Record<string, unknown>);
      const m = new Map<string, RawValue>();
      for (const n of names) {
        jsonKeys.add(n);
        m.set(n, get(n));
      }
      rows.push(m);
      return rows.length < SAMPLE_ROWS;
    },
    reject: () => undefined,
  };
  await scanFile(
    path,
    handler,
    (cols) => {
      header = cols;
    },
    quoted,
    encoding,
    { encoding: 'utf-8', bom: false, fallback_lines: 0 },
  );
  return { columns: header ?? [...jsonKeys], rows };
}

export interface ReadCatalogueOptions {
  signal?: AbortSignal;
  /** How far a quoted field may carry a row over lines (--max-quoted-lines, --max-quoted-bytes). */
  quoted?: QuotedBounds;
  featurizer?: TextFeaturizer;
  /** --encoding, as for the logs (default: UTF-8, or what a byte-order mark names). */
  encoding?: EncodingSpec;
  /** Featurise the text features in a worker thread (text-queue.ts) while this one reads: for large catalogues. */
  textWorker?: boolean;
  /** Index in `features` of the display title kept verbatim (item-titles.ts); none when absent. */
  titleFeature?: number;
}

/** Reads every catalogue file into one featurised row per key (the latest wins); rejects go to `rejects`. */
export async function readCatalogue(paths: readonly string[], key: string, features: readonly FeatureSpec[], rejects: CatalogueRejects, opts: ReadCatalogueOptions = {}): Promise<CatalogueRead> {
  const store = new CatalogueStore(features, opts.featurizer, opts.titleFeature);
  const out: CatalogueRead = { store, files: [], read: 0, rejected: 0, rejectedByReason: {}, duplicates: 0, conflicting: 0 };
  const queue = opts.textWorker === true && features.some((f) => f.kind === 'text') ? new TextQueue(store.featurizer) : null;
  store.deferred = queue;
  try {
    for (const path of paths) out.files.push(await readCatalogueFile(path, key, features, store, out, rejects, opts, queue));
    await queue?.finish();
    store.settle();
  } finally {
    store.deferred = null;
    await queue?.close();
  }
  out.duplicates = store.duplicates;
  out.conflicting = store.conflicting;
  out.rejectedByReason = Object.fromEntries(Object.entries(out.rejectedByReason).sort((a, b) => a[0].localeCompare(b[0])));
  return out;
}

/** Reads one catalogue file into `store`, counting into `out`; returns its record for the manifest. */
async function readCatalogueFile(
  path: string,
  key: string,
  features: readonly FeatureSpec[],
  store: CatalogueStore,
  out: CatalogueRead,
  rejects: CatalogueRejects,
  opts: ReadCatalogueOptions,
  queue: TextQueue | null,
): Promise<CatalogueFileRecord> {
  // One array for every row's values: the store copies what it keeps.
  const values: RawValue[] = features.map(() => null);
  let read = 0;
  let rejected = 0;
  /** CSV/TSV: the header position of the key and of each feature (−1: no such column), as `get` finds them. */
  let keyAt = -1;
  let featureAt: number[] = [];
  const decoded: DecodeStats = { encoding: 'utf-8', bom: false, fallback_lines: 0 };
  const handler: RowHandler = {
    row: (get, line, raw, json, fields) => {
      const k = fields !== undefined ? delimitedKey(keyAt < 0 ? null : fields[keyAt]) : json !== undefined ? jsonKey(json(key)) : delimitedKey(get(key));
      if (typeof k !== 'string') {
        handler.reject(line, k.reason, `${describeValue(key)}: ${k.detail}`, raw());
        return true;
      }
      read++;
      if (fields !== undefined) for (let f = 0; f < features.length; f++) values[f] = featureAt[f] < 0 ? null : fields[featureAt[f]];
      else for (let f = 0; f < features.length; f++) values[f] = get(features[f].name);
      // A CSV/TSV multi field is its values joined by `|`: the store reads them in place (no split per row).
      store.add(k, values, fields !== undefined);
      return true;
    },
    reject: (line, given, givenDetail, raw) => {
      read++;
      rejected++;
      // The decoder marked bytes invalid in the declared encoding (encoding.ts): name that encoding.
      const foreign = given === 'invalid_utf8' && decoded.encoding !== 'utf-8';
      const reason = foreign ? 'invalid_encoding' : given;
      out.rejectedByReason[reason] = (out.rejectedByReason[reason] ?? 0) + 1;
      rejects.add(path, line, reason, foreign ? invalidDetail(decoded.encoding) : givenDetail, raw);
    },
    pace: queue !== null ? () => queue.room() : undefined,
  };
  const scan = await scanFile(
    path,
    handler,
    (cols) => {
      if (cols === null) return;
      keyAt = cols.indexOf(key);
      featureAt = features.map((f) => cols.indexOf(f.name));
    },
    opts.quoted ?? DEFAULT_QUOTED_BOUNDS,
    opts.encoding ?? parseEncoding(null),
    decoded,
    opts.signal,
  );
  out.read += read;
  out.rejected += rejected;
  return {
    path,
    bytes: scan.digest.bytes,
    sha256: scan.digest.sha256,
    content_sha256: scan.digest.content_sha256,
    gzip: scan.kind.gzip,
    format: scan.kind.format as 'csv' | 'tsv' | 'jsonl',
    delimiter: scan.delimiter,
    rows_read: read,
    rejected,
    encoding: decoded.encoding,
    fallback_lines: decoded.fallback_lines,
  };
}
