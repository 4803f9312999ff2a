/**
 * `rec prep --encoding` (config prep.encoding; docs/datasets.md#text-encodings): the logs and catalogue files are
 * decoded to UTF-8 bytes before any reader sees them, so every reader (delimited, csv-parse, JSON Lines, the
 * catalogue's) stays a UTF-8 reader and line numbers are unchanged (no terminator is added or removed).
 *
 *  - utf-8 (the default): the bytes pass through untouched; lines invalid in UTF-8 are rejected `invalid_utf8`.
 *  - latin1 (ISO-8859-1): every byte is its code point; nothing is invalid.
 *  - cp1252 (Windows-1252): latin1 with 0x80–0x9F as Windows has them (€, ‚, „, …, ™); its five undefined bytes
 *    (0x81, 0x8D, 0x8F, 0x90, 0x9D) make the line `invalid_encoding`.
 *  - utf-16: little-endian unless a byte-order mark (or the NUL pattern of the first bytes) says big-endian; an
 *    unpaired surrogate makes the line `invalid_encoding`.
 *  - utf-8,cp1252 and utf-8,latin1: UTF-8, and each physical line (ended by LF, CR or CRLF) invalid in UTF-8 read
 *    in the second encoding instead, counted per file (`fallback_lines`): for exports that mix the two.
 *
 * A byte-order mark names its encoding: with no --encoding given it wins (a UTF-16 file with a BOM is read as
 * UTF-16); one contradicting a declared encoding is a DataError naming the file. An invalid byte is written as
 * 0xFF, which is never UTF-8, so the reader rejects its line; Ingest and the catalogue then name the encoding.
 */
import { isUtf8 } from 'node:buffer';
import { DataError, UsageError } from '../../util/errors.js';
import { sniffWideEncoding } from '../../util/lines.js';

export type SingleEncoding = 'utf-8' | 'latin1' | 'cp1252' | 'utf-16';

export interface EncodingSpec {
  primary: SingleEncoding;
  /** utf-8,X: lines invalid in UTF-8 are read as X. */
  fallback: 'latin1' | 'cp1252' | null;
  /** False when --encoding was not given: then a byte-order mark decides. */
  given: boolean;
}

/** What decoding one file did, for the manifest's sources. */
export interface DecodeStats {
  /** The encoding the file was read in: utf-8, latin1, cp1252, utf-16le, utf-16be, utf-8,cp1252 or utf-8,latin1. */
  encoding: string;
  /** The file starts with a byte-order mark. */
  bom: boolean;
  /** utf-8,X: physical lines read as X. */
  fallback_lines: number;
}

const NAMES: Readonly<Record<string, SingleEncoding>> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  latin1: 'latin1',
  'latin-1': 'latin1',
  'iso-8859-1': 'latin1',
  cp1252: 'cp1252',
  'windows-1252': 'cp1252',
  'utf-16': 'utf-16',
  utf16: 'utf-16',
  'utf-16le': 'utf-16',
};

/** --encoding NAME or utf-8,NAME; null (not given) reads UTF-8 unless a byte-order mark says otherwise. */
export function parseEncoding(text: string | null): EncodingSpec {
  if (text === null) return { primary: 'utf-8', fallback: null, given: false };
  const expected = 'utf-8, latin1, cp1252, utf-16, utf-16be, or utf-8,cp1252 / utf-8,latin1 (UTF-8, and lines invalid in it read as the second)';
  const parts = text.toLowerCase().split(',').map((s) => s.trim());
  const bad = (): never => {
    throw new UsageError(`--encoding (config prep.encoding) is invalid. Received: ${JSON.stringify(text)}. Expected ${expected}.`);
  };
  if (parts.length === 1 && parts[0] === 'utf-16be') return { primary: 'utf-16', fallback: null, given: true };
  const names = parts.map((p) => NAMES[p] ?? bad());
  if (names.length === 1) return { primary: names[0], fallback: null, given: true };
  if (names.length !== 2 || names[0] !== 'utf-8' || (names[1] !== 'cp1252' && names[1] !== 'latin1')) return bad();
  return { primary: 'utf-8', fallback: names[1] as 'cp1252' | 'latin1', given: true };
}

/** Windows-1252's code points for 0x80–0x9F; -1 where it defines none. */
const CP1252_HIGH = [
  0x20ac, -1, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, -1, 0x017d, -1, -1, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013,
  0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, -1, 0x017e, 0x0178,
];

/** Single-byte text (latin1 or cp1252) as UTF-8; an undefined cp1252 byte becomes 0xFF. */
export function singleByteToUtf8(src: Uint8Array, cp1252: boolean): Buffer {
  const out = Buffer.allocUnsafe(src.length * 3);
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b < 0x80) {
      out[j++] = b;
      continue;
    }
    const cp = cp1252 && b < 0xa0 ? CP1252_HIGH[b - 0x80] : b;
    if (cp < 0) out[j++] = 0xff;
    else if (cp < 0x800) {
      out[j++] = 0xc0 | (cp >> 6);
      out[j++] = 0x80 | (cp & 0x3f);
    } else {
      out[j++] = 0xe0 | (cp >> 12);
      out[j++] = 0x80 | ((cp >> 6) & 0x3f);
      out[j++] = 0x80 | (cp & 0x3f);
    }
  }
  return out.subarray(0, j);
}

const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

/** A decoded UTF-16 string as UTF-8; each unpaired surrogate becomes 0xFF (Buffer.from would make it U+FFFD, silently). */
function utf16TextToUtf8(text: string): Buffer {
  if (!LONE_SURROGATE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (const m of text.matchAll(LONE_SURROGATES)) {
    parts.push(Buffer.from(text.slice(at, m.index), 'utf8'), Buffer.from([0xff]));
    at = m.index + m[0].length;
  }
  parts.push(Buffer.from(text.slice(at), 'utf8'));
  return Buffer.concat(parts);
}

/** Streaming UTF-16 → UTF-8: an odd byte or a high surrogate at a chunk's end waits for the next chunk. */
class Utf16Decoder {
  private carry: Buffer = Buffer.alloc(0);
  private readonly bigEndian: boolean;
  constructor(bigEndian: boolean) {
    this.bigEndian = bigEndian;
  }

  push(chunk: Buffer, final: boolean): Buffer {
    let data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let usable = data.length & ~1;
    if (!final && usable >= 2) {
      const last = this.bigEndian ? (data[usable - 2] << 8) | data[usable - 1] : (data[usable - 1] << 8) | data[usable - 2];
      if (last >= 0xd800 && last <= 0xdbff) usable -= 2;
    }
    this.carry = Buffer.from(data.subarray(usable));
    data = data.subarray(0, usable);
    const le = this.bigEndian ? Buffer.from(data).swap16() : data;
    const out = utf16TextToUtf8(le.toString('utf16le'));
    // An odd byte left at the very end has no character: it is invalid.
    return final && this.carry.length > 0 ? Buffer.concat([out, Buffer.from([0xff])]) : out;
  }
}

/** utf-8,X: complete lines valid in UTF-8 pass; the others are read as X (counted). The last partial line waits. */
class FallbackDecoder {
  private carry: Buffer = Buffer.alloc(0);
  lines = 0;
  private readonly cp1252: boolean;
  constructor(cp1252: boolean) {
    this.cp1252 = cp1252;
  }

  push(chunk: Buffer, final: boolean): Buffer {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = final ? data.length : Math.max(data.lastIndexOf(10), data.lastIndexOf(13)) + 1;
    this.carry = Buffer.from(data.subarray(end));
    const body = data.subarray(0, end);
    if (isUtf8(body)) return body;
    const parts: Buffer[] = [];
    let s = 0;
    for (let i = 0; i <= body.length; i++) {
      if (i < body.length && body[i] !== 10 && body[i] !== 13) continue;
      const line = body.subarray(s, i);
      if (isUtf8(line)) parts.push(line);
      else {
        parts.push(singleByteToUtf8(line, this.cp1252));
        this.lines++;
      }
      if (i < body.length) parts.push(body.subarray(i, i + 1));
      s = i + 1;
    }
    return Buffer.concat(parts);
  }
}

type Bom = 'utf-8' | 'utf-16le' | 'utf-16be' | null;

function bomOf(b: Buffer): Bom {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf-8';
  // FF FE 00 00 is UTF-32LE's mark: left to the wide-encoding refusal.
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe && !(b.length >= 4 && b[2] === 0 && b[3] === 0)) return 'utf-16le';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  return null;
}

/** The encoding a file is read in, from the setting and its first bytes (a BOM wins over the default, and must agree with a given one). */
function resolve(spec: EncodingSpec, head: Buffer, path: string): { encoding: string; bom: Bom } {
  const bom = bomOf(head);
  const declared = spec.fallback !== null ? `utf-8,${spec.fallback}` : spec.primary;
  if (bom === null) {
    if (spec.primary !== 'utf-16') return { encoding: declared, bom };
    return { encoding: sniffWideEncoding(head)?.encoding === 'UTF-16BE' ? 'utf-16be' : 'utf-16le', bom };
  }
  const fits = bom === 'utf-8' ? spec.primary === 'utf-8' : spec.primary === 'utf-16' || !spec.given;
  if (!fits) {
    throw new DataError(
      `${path} starts with a ${bom === 'utf-8' ? 'UTF-8' : bom.toUpperCase()} byte-order mark, but --encoding (config prep.encoding) declares ${declared}. Expected --encoding ${bom === 'utf-8' ? 'utf-8' : 'utf-16'} (or no --encoding: the mark decides).`,
    );
  }
  return { encoding: bom === 'utf-8' ? declared : bom, bom };
}

/** Why a line was invalid in `encoding` (the detail of an `invalid_encoding` reject). */
export function invalidDetail(encoding: string): string {
  if (encoding === 'cp1252' || encoding === 'utf-8,cp1252') {
    return `not valid ${encoding === 'cp1252' ? 'cp1252' : 'UTF-8 nor cp1252'}: a byte cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90 or 0x9D)`;
  }
  if (encoding.startsWith('utf-16')) return `not valid ${encoding.toUpperCase()}: an unpaired surrogate or an odd trailing byte`;
  return `not valid ${encoding}`;
}

/**
 * A file's chunks decoded to UTF-8 (see the file comment). `stats` says what was done once the stream ends. For
 * UTF-8 without a fallback the chunks are passed on as they are.
 */
export async function* decodeChunks(source: AsyncIterator<Buffer>, spec: EncodingSpec, path: string, stats: DecodeStats): AsyncGenerator<Buffer> {
  let first = await source.next();
  // A mark is at most 4 bytes (UTF-32's): wait for them unless the file is shorter.
  while (!first.done && first.value.length < 4) {
    const more = await source.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) {
    stats.encoding = spec.fallback !== null ? `utf-8,${spec.fallback}` : spec.primary;
    return;
  }
  const { encoding, bom } = resolve(spec, first.value, path);
  stats.encoding = encoding;
  stats.bom = bom !== null;
  if (encoding === 'utf-8') {
    yield first.value;
    for (let r = await source.next(); !r.done; r = await source.next()) yield r.value;
    return;
  }
  const head = bom === 'utf-16le' || bom === 'utf-16be' ? first.value.subarray(2) : first.value;
  const step = decoderFor(encoding, stats);
  yield step(head, false);
  for (let r = await source.next(); !r.done; r = await source.next()) yield step(r.value, false);
  const tail = step(Buffer.alloc(0), true);
  if (tail.length > 0) yield tail;
}

function decoderFor(encoding: string, stats: DecodeStats): (chunk: Buffer, final: boolean) => Buffer {
  if (encoding === 'latin1' || encoding === 'cp1252') {
    const cp = encoding === 'cp1252';
    return (chunk) => singleByteToUtf8(chunk, cp);
  }
  if (encoding === 'utf-16le' || encoding === 'utf-16be') {
    const d = new Utf16Decoder(encoding === 'utf-16be');
    return (chunk, final) => d.push(chunk, final);
  }
  const d = new FallbackDecoder(encoding === 'utf-8,cp1252');
  return (chunk, final) => {
    const out = d.push(chunk, final);
    stats.fallback_lines = d.lines;
    return out;
  };
}
