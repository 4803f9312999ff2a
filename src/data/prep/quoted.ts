/**
 * Rows that span lines (RFC 4180 §2.6): a field that opens with a quote runs, newlines included,
 * to a quote followed by the delimiter or the end of the row; `""` inside it is one quote. The
 * delimited readers see physical lines (util/lines.ts); a RecordAssembler between the lines and a
 * reader joins the lines of a row whose quoted field is still open at the end of a line.
 *
 * A stray quote must not swallow the rows after it, so an open field is bounded (prep.max_quoted_lines,
 * prep.max_quoted_bytes): when it is still open after that many lines or bytes, at the end of the
 * file, or at a line over MAX_LINE_BYTES, only the row's first line is rejected (`unclosed_quote`)
 * and reading resumes at its second line, which is read afresh. A row that spans lines is kept only
 * when it is strict RFC 4180 (no quote inside an unquoted field, every closing quote followed by
 * the delimiter or the end of the row): CSV writers emit nothing else, while a stray quote followed
 * by a later line's quotes is caught there (`bad_quoting`, first line rejected, read on likewise).
 * Single-line rows keep csv-parse's relax_quotes reading.
 *
 * Newlines inside a value are LF, whatever ended the lines in the file (LF, CRLF or CR): the same
 * text exported on Windows or Unix gives the same value. Memory: the lines of one open row, at most
 * max_quoted_bytes plus one line.
 */
import { MAX_LINE_BYTES } from '../../util/lines.js';
import type { RejectReason } from './rejects.js';

export const DEFAULT_MAX_QUOTED_LINES = 100;
export const DEFAULT_MAX_QUOTED_BYTES = 1 << 20;

export interface QuotedBounds {
  /** Most physical lines a row with an open quoted field may span. */
  maxLines: number;
  /** Most bytes (line breaks counted as one) a row with an open quoted field may hold. */
  maxBytes: number;
}

export const DEFAULT_QUOTED_BOUNDS: QuotedBounds = { maxLines: DEFAULT_MAX_QUOTED_LINES, maxBytes: DEFAULT_MAX_QUOTED_BYTES };

/** A physical line held while its row is open: a copy of its bytes, or, over MAX_LINE_BYTES, its head. */
export interface HeldLine {
  lineNo: number;
  /** The line's bytes (without terminator); null for a line over MAX_LINE_BYTES. */
  bytes: Buffer | null;
  /** True when the line is known to be UTF-8 (false: not checked). */
  utf8: boolean;
  /** For a line over MAX_LINE_BYTES: its first bytes and length. */
  longHead: Buffer | null;
  longBytes: number;
}

/** The text of a row that spans lines: its lines joined by LF. */
export function joinedText(lines: readonly HeldLine[]): string {
  return lines.map((l) => (l.bytes as Buffer).toString('utf8')).join('\n');
}

/** scanQuotes result bits. */
export const QUOTE_OPEN = 1;
export const QUOTE_IMPROPER = 2;

function delimiterAt(buf: Buffer, i: number, e: number, d: Buffer): boolean {
  const n = d.length;
  if (i + n > e) return false;
  for (let k = 0; k < n; k++) if (buf[i + k] !== d[k]) return false;
  return true;
}

/**
 * Scans [s, e) as csv-parse reads it under relax_quotes, from the start of a row (`open` false) or
 * inside a quoted field (`open` true). Returns QUOTE_OPEN when a quoted field is open at the end,
 * QUOTE_IMPROPER when a quote is not RFC 4180 (inside an unquoted field, or a closing quote followed
 * by something other than the delimiter or the end: relax_quotes then reads the field as text).
 */
export function scanQuotes(buf: Buffer, s: number, e: number, d: Buffer, open: boolean): number {
  let q = open;
  let fieldStart = !open;
  let improper = false;
  let i = s;
  while (i < e) {
    if (q) {
      const j = buf.indexOf(34, i);
      if (j === -1 || j >= e) return QUOTE_OPEN | (improper ? QUOTE_IMPROPER : 0);
      if (j + 1 < e && buf[j + 1] === 34) {
        i = j + 2;
        continue;
      }
      q = false;
      i = j + 1;
      if (i < e && delimiterAt(buf, i, e, d)) {
        i += d.length;
        fieldStart = true;
      } else if (i < e) {
        improper = true;
        fieldStart = false;
      }
      continue;
    }
    if (fieldStart && buf[i] === 34) {
      q = true;
      fieldStart = false;
      i++;
      continue;
    }
    fieldStart = false;
    if (delimiterAt(buf, i, e, d)) {
      i += d.length;
      fieldStart = true;
      continue;
    }
    if (buf[i] === 34) improper = true;
    i++;
  }
  return (q ? QUOTE_OPEN : 0) | (improper ? QUOTE_IMPROPER : 0);
}

/** How a reader decides where a row ends; the fast path scans bytes, the reference path asks csv-parse. */
export interface QuoteOracle {
  /** Whether a row that starts with this line has a quoted field open at its end. */
  opens(buf: Buffer, s: number, e: number): boolean;
  /** With `lines` the row so far (the last one just added): whether its quoted field is still open. */
  stillOpen(lines: readonly HeldLine[]): boolean;
  /** Whether the complete row (lines[0] opened it) is strict RFC 4180. */
  strict(lines: readonly HeldLine[]): boolean;
}

/** What the assembler hands a reader: rows, in the order of their first lines. */
export interface RecordHandler {
  /** A row on one line ([s, e) of buf, not copied; never empty). */
  onLine(buf: Buffer, s: number, e: number, lineNo: number, utf8: boolean): void;
  /** A line over MAX_LINE_BYTES outside any open row. */
  onLongLine(lineNo: number, head: Buffer, bytes: number): void;
  /** A strict RFC 4180 row over several lines (copies; lines[0] is where it starts). */
  onRows(lines: readonly HeldLine[]): void;
  /** A row that cannot be read: its first line is rejected for `reason`; the lines after it are read again. */
  onBroken(first: HeldLine, reason: RejectReason, detail: string): void;
}

const RESUME = 'rejected this line only and read on from the next';

/** Joins the lines of rows that span lines; a LineHandler for LineSplitter. */
export class RecordAssembler {
  private readonly handler: RecordHandler;
  private readonly oracle: QuoteOracle;
  private readonly bounds: QuotedBounds;
  /** The lines of the open row (empty when none is open). */
  private held: HeldLine[] = [];
  private heldBytes = 0;
  /** Lines to read again after a broken row, and whether they are being read. */
  private queue: HeldLine[] = [];
  private qi = 0;
  private replaying = false;

  constructor(handler: RecordHandler, oracle: QuoteOracle, bounds: QuotedBounds) {
    this.handler = handler;
    this.oracle = oracle;
    this.bounds = bounds;
  }

  onLine(buf: Buffer, s: number, e: number, lineNo: number, utf8: boolean): void {
    if (this.held.length === 0) {
      if (s === e) return;
      if (!this.oracle.opens(buf, s, e)) {
        this.handler.onLine(buf, s, e, lineNo, utf8);
        return;
      }
      this.hold(buf, s, e, lineNo, utf8);
      this.checkBounds();
      return;
    }
    this.hold(buf, s, e, lineNo, utf8);
    if (this.oracle.stillOpen(this.held)) this.checkBounds();
    else this.complete();
  }

  onLongLine(lineNo: number, head: Buffer, bytes: number): void {
    if (this.held.length === 0) {
      this.handler.onLongLine(lineNo, head, bytes);
      return;
    }
    this.held.push({ lineNo, bytes: null, utf8: false, longHead: Buffer.from(head), longBytes: bytes });
    this.fail('unclosed_quote', `a quoted field that opens on this line is still open at line ${lineNo}, which is over the ${MAX_LINE_BYTES}-byte line limit; ${RESUME}`);
  }

  /** At the end of the file: a row still open is broken (and so may be the rows read again after it). */
  finish(): void {
    while (this.held.length > 0) this.fail('unclosed_quote', `a quoted field that opens on this line is still open at the end of the file; ${RESUME}`);
  }

  private hold(buf: Buffer, s: number, e: number, lineNo: number, utf8: boolean): void {
    this.heldBytes += e - s + (this.held.length > 0 ? 1 : 0);
    this.held.push({ lineNo, bytes: Buffer.from(buf.subarray(s, e)), utf8, longHead: null, longBytes: 0 });
  }

  private checkBounds(): void {
    const { maxLines, maxBytes } = this.bounds;
    const n = this.held.length;
    if (n >= maxLines) {
      this.fail('unclosed_quote', `a quoted field that opens on this line is still open after ${n} line${n === 1 ? '' : 's'}, the --max-quoted-lines bound (config prep.max_quoted_lines); ${RESUME}`);
    } else if (this.heldBytes >= maxBytes) {
      this.fail('unclosed_quote', `a quoted field that opens on this line is still open after ${this.heldBytes} bytes (${n} lines), at or over the --max-quoted-bytes bound ${maxBytes} (config prep.max_quoted_bytes); ${RESUME}`);
    }
  }

  private complete(): void {
    const lines = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (this.oracle.strict(lines)) {
      this.handler.onRows(lines);
      return;
    }
    const last = lines[lines.length - 1].lineNo;
    this.handler.onBroken(
      lines[0],
      'bad_quoting',
      `the row that starts on this line spans lines ${lines[0].lineNo}-${last} but is not RFC 4180 (a quote inside an unquoted field, or a closing quote followed by neither the delimiter nor the end of the row); ${RESUME}`,
    );
    this.replay(lines);
  }

  private fail(reason: RejectReason, detail: string): void {
    const lines = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.handler.onBroken(lines[0], reason, detail);
    this.replay(lines);
  }

  /** Reads lines[1..] again, from the start of a row, before any line still queued. */
  private replay(lines: readonly HeldLine[]): void {
    this.queue = lines.slice(1).concat(this.queue.slice(this.qi));
    this.qi = 0;
    if (this.replaying) return;
    this.replaying = true;
    try {
      while (this.qi < this.queue.length) {
        const l = this.queue[this.qi++];
        if (l.bytes === null) this.onLongLine(l.lineNo, l.longHead as Buffer, l.longBytes);
        else this.onLine(l.bytes, 0, l.bytes.length, l.lineNo, l.utf8);
      }
    } finally {
      this.replaying = false;
      this.queue = [];
      this.qi = 0;
    }
  }
}

/** The fast path's oracle: scanQuotes over the bytes, each line once (a line without a quote in O(1)). */
export class ByteQuoteOracle implements QuoteOracle {
  private readonly d: Buffer;
  private improper = false;
  /** The next quote at or after some position of `quoteBuf` (-1: none), so quote-free lines cost nothing. */
  private quoteBuf: Buffer | null = null;
  private quoteFrom = 0;
  private quoteAt = -1;

  constructor(delimiter: string) {
    this.d = Buffer.from(delimiter, 'utf8');
  }

  opens(buf: Buffer, s: number, e: number): boolean {
    if (buf !== this.quoteBuf || s < this.quoteFrom || (this.quoteAt !== -1 && this.quoteAt < s)) {
      this.quoteBuf = buf;
      this.quoteFrom = s;
      this.quoteAt = buf.indexOf(34, s);
    }
    if (this.quoteAt === -1 || this.quoteAt >= e) return false;
    const f = scanQuotes(buf, s, e, this.d, false);
    this.improper = (f & QUOTE_IMPROPER) !== 0;
    return (f & QUOTE_OPEN) !== 0;
  }

  stillOpen(lines: readonly HeldLine[]): boolean {
    const b = lines[lines.length - 1].bytes as Buffer;
    const f = scanQuotes(b, 0, b.length, this.d, true);
    if ((f & QUOTE_IMPROPER) !== 0) this.improper = true;
    return (f & QUOTE_OPEN) !== 0;
  }

  strict(): boolean {
    return !this.improper;
  }
}
