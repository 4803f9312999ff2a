/**
 * Physical lines of one input file, as byte ranges, for every reader of a user's text: prep's
 * delimited fast path, csv-parse reference path and JSON Lines, and (through io/text-lines.ts)
 * eval's candidates files. One splitter, so every reader agrees on what a line is. Only a quoted
 * delimited field joins lines into one row (RFC 4180, src/data/prep/quoted.ts), bounded so that a
 * stray quote cannot swallow the rows after it; JSON Lines and candidates files are one row a line.
 *
 * Lines end at LF, CRLF or a lone CR (old Mac exports); a UTF-8 BOM before the first line is
 * dropped; the last line may lack its terminator. A line longer than MAX_LINE_BYTES is reported
 * once (its first bytes) and skipped, so memory stays bounded whatever the input.
 */
import { isUtf8 } from 'node:buffer';

/** Longest line kept in memory; real log lines are far shorter, JSON Lines reviews included. */
export const MAX_LINE_BYTES = 4 << 20;

export interface LineHandler {
  /**
   * One physical line [start, end) of `buf`, without its terminator. `utf8` is true when the line
   * is known to be valid UTF-8; false means "not checked", not "invalid".
   */
  onLine(buf: Buffer, start: number, end: number, lineNo: number, utf8: boolean): void;
  /** A line over MAX_LINE_BYTES: its first bytes and (a lower bound of) its length. */
  onLongLine(lineNo: number, head: Buffer, bytes: number): void;
}

const EMPTY = Buffer.alloc(0);

/** Feeds chunks of one file and calls the handler once per physical line, in order. */
export class LineSplitter {
  private readonly handler: LineHandler;
  /** The start of a line cut at the end of the previous chunk. */
  private carry: Buffer | null = null;
  private first = true;
  /** The previous chunk ended in CR: an LF at the start of this one completes a CRLF. */
  private pendingCr = false;
  /** Inside a line over MAX_LINE_BYTES, already reported: drop bytes up to its terminator. */
  private skipping = false;
  /** Physical lines seen so far (1-based number of the last one). */
  line = 0;

  constructor(handler: LineHandler) {
    this.handler = handler;
  }

  push(chunk: Buffer): void {
    this.run(chunk, false);
  }

  finish(): void {
    this.run(EMPTY, true);
  }

  private run(chunk: Buffer, final: boolean): void {
    let data = chunk;
    if (this.first) {
      // A BOM can only be the first 3 bytes: wait for them (or the end) before deciding.
      if (this.carry !== null) {
        data = Buffer.concat([this.carry, data]);
        this.carry = null;
      }
      if (data.length < 3 && !final) {
        if (data.length > 0) this.carry = Buffer.from(data);
        return;
      }
      this.first = false;
      if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    }
    let pos = 0;
    const n = data.length;
    if (this.pendingCr && n > 0) {
      this.pendingCr = false;
      if (data[0] === 10) pos = 1;
    }
    if (this.skipping) {
      const t = nextTerminator(data, pos);
      if (t === -1) {
        if (final) this.skipping = false;
        return;
      }
      this.skipping = false;
      pos = this.afterTerminator(data, t, final);
    }
    const carry = this.carry;
    if (carry !== null) {
      // Join only the line cut at the chunk boundary; the rest of the chunk is read in place.
      const t = nextTerminator(data, pos);
      if (t === -1) {
        const joined = Buffer.concat([carry, data.subarray(pos)]);
        this.carry = null;
        if (final) this.emit(joined, 0, joined.length, isUtf8(joined));
        else this.keepPartial(joined, 0);
        return;
      }
      this.carry = null;
      const joined = Buffer.concat([carry, data.subarray(pos, t)]);
      if (joined.length > MAX_LINE_BYTES) {
        this.line++;
        this.handler.onLongLine(this.line, joined.subarray(0, 256), joined.length);
      } else {
        this.emit(joined, 0, joined.length, isUtf8(joined));
      }
      pos = this.afterTerminator(data, t, final);
    }
    // Complete lines end at the last terminator; they are checked for UTF-8 in one native pass
    // (a terminator is ASCII, so the lines are valid exactly when the whole range is).
    const lastEnd = final ? n : Math.max(data.lastIndexOf(10), data.lastIndexOf(13));
    const utf8 = lastEnd > pos && isUtf8(data.subarray(pos, lastEnd));
    let lf = data.indexOf(10, pos);
    let cr = data.indexOf(13, pos);
    const handler = this.handler;
    while (pos < n) {
      if (lf !== -1 && lf < pos) lf = data.indexOf(10, pos);
      if (cr !== -1 && cr < pos) cr = data.indexOf(13, pos);
      const t = lf === -1 ? cr : cr === -1 ? lf : lf < cr ? lf : cr;
      if (t === -1) break;
      this.line++;
      if (t - pos > MAX_LINE_BYTES) handler.onLongLine(this.line, data.subarray(pos, pos + 256), t - pos);
      else handler.onLine(data, pos, t, this.line, utf8);
      pos = this.afterTerminator(data, t, final);
    }
    if (pos >= n) return;
    if (final) this.emit(data, pos, n, utf8);
    else this.keepPartial(data, pos);
  }

  /** Position after the terminator at t (CRLF is one terminator, also across chunks). */
  private afterTerminator(data: Buffer, t: number, final: boolean): number {
    if (data[t] !== 13) return t + 1;
    if (t + 1 < data.length) return data[t + 1] === 10 ? t + 2 : t + 1;
    if (!final) this.pendingCr = true;
    return t + 1;
  }

  private emit(buf: Buffer, start: number, end: number, utf8: boolean): void {
    this.line++;
    if (end - start > MAX_LINE_BYTES) this.handler.onLongLine(this.line, buf.subarray(start, start + 256), end - start);
    else this.handler.onLine(buf, start, end, this.line, utf8);
  }

  /** Keeps the cut last line for the next chunk, or reports and skips it when it is too long. */
  private keepPartial(data: Buffer, pos: number): void {
    if (data.length - pos > MAX_LINE_BYTES) {
      this.line++;
      this.handler.onLongLine(this.line, Buffer.from(data.subarray(pos, pos + 256)), data.length - pos);
      this.skipping = true;
      return;
    }
    this.carry = Buffer.from(data.subarray(pos));
  }
}

function nextTerminator(data: Buffer, from: number): number {
  const lf = data.indexOf(10, from);
  const cr = data.indexOf(13, from);
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
}

/**
 * Offset (from `start`) of the first byte of [start, end) that is not part of well-formed UTF-8
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF); -1 when it all is. Written out
 * rather than asking a decoder, so that the reference reader checks lines independently of
 * isUtf8, and so that a reject can say where the bad byte is.
 */
export function utf8ErrorOffset(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = buf[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i - start;
    if (i + need >= end) return i - start;
    const b1 = buf[i + 1];
    if (b1 < lo || b1 > hi) return i - start;
    for (let k = 2; k <= need; k++) {
      const b = buf[i + k];
      if (b < 0x80 || b > 0xbf) return i - start;
    }
    i += need + 1;
  }
  return -1;
}

/** A reject detail for a line that is not UTF-8. */
export function utf8Detail(buf: Uint8Array, start: number, end: number): string {
  const at = utf8ErrorOffset(buf, start, end);
  const byte = at >= 0 ? buf[start + at] : 0;
  return `invalid UTF-8 at byte ${at + 1} of the line (0x${byte.toString(16).padStart(2, '0')}); expected UTF-8 text, so that distinct ids stay distinct`;
}

/** Encodings of text that UTF-8 readers mangle: every ASCII character carries NUL bytes. */
export type WideEncoding = 'UTF-16LE' | 'UTF-16BE' | 'UTF-32LE' | 'UTF-32BE';

const SNIFF_BYTES = 4096;
/** Code units to see before judging a file without a BOM by where its NUL bytes fall. */
const SNIFF_MIN_UNITS = 8;

/**
 * The wide encoding of a file's first (decompressed) bytes, from its byte-order mark or, without
 * one, from its NUL bytes: ASCII text in UTF-16LE has a NUL at every odd offset and none at even
 * ones (BE the reverse; UTF-32 three NULs in four). A UTF-8 log has no NUL bytes, so a file where
 * half the bytes at some offsets are NUL and nearly none at the others is not UTF-8.
 */
export function sniffWideEncoding(head: Buffer): { encoding: WideEncoding; bom: boolean } | null {
  const b = head;
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) return { encoding: 'UTF-32LE', bom: true };
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) return { encoding: 'UTF-32BE', bom: true };
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return { encoding: 'UTF-16LE', bom: true };
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return { encoding: 'UTF-16BE', bom: true };
  const n = Math.min(b.length, SNIFF_BYTES) & ~3;
  if (n < SNIFF_MIN_UNITS * 2) return null;
  const zeros = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) if (b[i] === 0) zeros[i & 3]++;
  const quarter = n / 4;
  const mostly = (k: number): boolean => zeros[k] >= quarter * 0.5;
  const hardly = (k: number): boolean => zeros[k] <= quarter * 0.05;
  if (mostly(1) && mostly(2) && mostly(3) && hardly(0)) return { encoding: 'UTF-32LE', bom: false };
  if (mostly(0) && mostly(1) && mostly(2) && hardly(3)) return { encoding: 'UTF-32BE', bom: false };
  if (mostly(1) && mostly(3) && hardly(0) && hardly(2)) return { encoding: 'UTF-16LE', bom: false };
  if (mostly(0) && mostly(2) && hardly(1) && hardly(3)) return { encoding: 'UTF-16BE', bom: false };
  return null;
}

/**
 * `PATH is UTF-16LE text (byte-order mark). Convert it first, e.g. iconv …`: names the encoding and
 * the command that converts it (through gunzip/gzip for a .gz file).
 */
export function wideEncodingMessage(path: string, found: { encoding: WideEncoding; bom: boolean }, gzip: boolean): string {
  const how = found.bom ? 'byte-order mark' : 'NUL bytes between its characters, no byte-order mark';
  const q = shellQuote(path);
  const conv = `iconv -f ${found.encoding} -t UTF-8`;
  const cmd = gzip
    ? `gunzip -c ${q} | ${conv} | gzip > ${shellQuote(`${path.replace(/\.gz$/i, '')}.utf8.gz`)}`
    : `${conv} ${q} > ${shellQuote(`${path}.utf8`)}`;
  return `${path}${gzip ? ' (decompressed)' : ''} is ${found.encoding} text (${how}). Convert it to UTF-8 first, e.g. ${cmd}, and use the converted file.`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
