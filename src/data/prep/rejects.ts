/**
 * Rejected input rows → `rejects.jsonl` (docs/design.md#the-dataset-folder): one JSON line per row with the file, the
 * 1-based line number where the row starts (a row quoted over lines is numbered by its first), a reason code, a short detail and the raw text
 * (truncated). Under --anonymize the raw text is left out: it holds the raw user id.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

/**
 * Every reason a row can be rejected for. `unclosed_quote`: a quoted field still open after
 * prep.max_quoted_lines lines or prep.max_quoted_bytes bytes, at the end of the file or at a line
 * over MAX_LINE_BYTES (only the line where it opened is rejected; the next is read afresh, quoted.ts);
 * `bad_quoting`: a row over lines that is not strict RFC 4180 (likewise), or other quoting
 * csv-parse cannot read;
 * `invalid_utf8`: the line is not UTF-8 (decoding it would turn distinct ids into one);
 * `unsafe_integer_id`: a JSON number id beyond ±(2^53 − 1), whose digits JSON.parse may already
 * have changed; `bad_id`: a JSON number id that is not an integer; `line_too_long`: a line over
 * MAX_LINE_BYTES (lines.ts). Search logs: `empty_query` (empty, or whitespace and controls only),
 * `query_too_long` (over MAX_QUERY_CHARS, ingest.ts), `relevance_out_of_range` (outside --relevance-range).
 * `invalid_encoding`: a line not valid in the declared --encoding other than UTF-8 (encoding.ts).
 */
export const REJECT_REASONS = [
  'wrong_column_count',
  'empty_id',
  'bad_id',
  'unsafe_integer_id',
  'invalid_utf8',
  'bad_rating',
  'unknown_event',
  'bad_ts',
  'bad_json',
  'bad_quoting',
  'unclosed_quote',
  'line_too_long',
  'empty_query',
  'query_too_long',
  'relevance_out_of_range',
  'invalid_encoding',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const RAW_MAX_CHARS = 200;

export interface RejectExample {
  file: string;
  line: number;
  reason: RejectReason;
  detail: string;
}

export class RejectSink {
  readonly byReason = new Map<RejectReason, number>();
  readonly examples: RejectExample[] = [];
  count = 0;
  private pending: string[] = [];
  private pendingChars = 0;
  private handle: FileHandle | null = null;
  readonly path: string;
  private readonly keepRaw: boolean;

  private constructor(path: string, keepRaw: boolean) {
    this.path = path;
    this.keepRaw = keepRaw;
  }

  static async create(path: string, keepRaw: boolean): Promise<RejectSink> {
    const sink = new RejectSink(path, keepRaw);
    sink.handle = await open(path, 'w');
    return sink;
  }

  /** Counts rejects without writing them anywhere (rec drift reads logs and writes nothing). */
  static counting(): RejectSink {
    return new RejectSink('', false);
  }

  add(file: string, line: number, reason: RejectReason, detail: string, raw: string): void {
    this.count++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.examples.length < 5) this.examples.push({ file, line, reason, detail });
    let text: string | null = null;
    if (this.keepRaw) text = raw.length > RAW_MAX_CHARS ? `${raw.slice(0, RAW_MAX_CHARS)}…` : raw;
    const json = JSON.stringify({ detail, file, line, raw: text, reason });
    this.pending.push(json);
    this.pendingChars += json.length + 1;
  }

  /**
   * A rejected catalogue row (rec prep --items): written to rejects.jsonl with `"source": "catalogue"`, but not
   * counted with the log's rows (the manifest's catalogue block counts it).
   */
  addCatalogue(file: string, line: number, reason: string, detail: string, raw: string): void {
    let text: string | null = null;
    if (this.keepRaw) text = raw.length > RAW_MAX_CHARS ? `${raw.slice(0, RAW_MAX_CHARS)}…` : raw;
    const json = JSON.stringify({ detail, file, line, raw: text, reason, source: 'catalogue' });
    this.pending.push(json);
    this.pendingChars += json.length + 1;
  }

  get pendingBytes(): number {
    return this.pendingChars;
  }

  async flush(): Promise<void> {
    if (!this.handle) {
      this.pending = [];
      this.pendingChars = 0;
      return;
    }
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.pendingChars = 0;
    await this.handle.write(text);
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.handle) {
      await this.handle.sync();
      await this.handle.close();
      this.handle = null;
    }
  }

  /** Closes without flushing; used when the staged dataset is being thrown away. */
  async discard(): Promise<void> {
    this.pending = [];
    if (this.handle) {
      await this.handle.close().catch(() => undefined);
      this.handle = null;
    }
  }

  reasons(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of [...this.byReason.entries()].sort((a, b) => a[0].localeCompare(b[0]))) out[k] = v;
    return out;
  }
}
