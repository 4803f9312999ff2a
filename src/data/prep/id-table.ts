/**
 * Id text → dense index, kept outside the V8 heap: every id's UTF-8 bytes in one growing byte
 * arena, and an open-addressing hash table (linear probing) of int32 indices, with each id's hash
 * and end offset in typed arrays. About 20 bytes an id plus its text, where a Map of strings took
 * an estimated 60 and gave the collector millions of objects to trace (docs/warehouse.md#memory).
 *
 * Strings are keyed by their UTF-8 bytes, so an id read from a CSV's bytes and the same id read
 * as a JS string (a quoted CSV field, JSONL, Parquet) get one index. A lone UTF-16 surrogate,
 * which has no UTF-8 form, is written as its three-byte generalised UTF-8 sequence (WTF-8), so
 * two different strings never share a key; such text never comes from valid UTF-8 bytes.
 * Ids may also be added without a hash entry (`addUnindexed`): IdVocab looks small integer ids
 * up in its own flat table and keeps only their text here.
 */
import { isUtf8 } from 'node:buffer';
import { DataError } from '../../util/errors.js';
import { FNV_OFFSET, FNV_PRIME, hashBytes, mix } from './string-hash.js';

/** Arena offsets are uint32. */
const MAX_ARENA = 0xffffffff;

/** Writes `text` as generalised UTF-8 (lone surrogates as three bytes) into out at 0; returns the length (out holds 3 bytes a code unit). */
function encodeWtf8(text: string, out: Uint8Array): number {
  let k = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[k++] = c;
      continue;
    }
    if (c < 0x800) {
      out[k++] = 0xc0 | (c >> 6);
      out[k++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[k++] = 0xf0 | (c >> 18);
        out[k++] = 0x80 | ((c >> 12) & 0x3f);
        out[k++] = 0x80 | ((c >> 6) & 0x3f);
        out[k++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    out[k++] = 0xe0 | (c >> 12);
    out[k++] = 0x80 | ((c >> 6) & 0x3f);
    out[k++] = 0x80 | (c & 0x3f);
  }
  return k;
}

/** Decodes generalised UTF-8 (what encodeWtf8 writes), lone surrogates included. */
function decodeWtf8(buf: Uint8Array, start: number, end: number): string {
  const units: number[] = [];
  for (let i = start; i < end; ) {
    const b = buf[i];
    if (b < 0x80) {
      units.push(b);
      i += 1;
    } else if (b < 0xe0) {
      units.push(((b & 0x1f) << 6) | (buf[i + 1] & 0x3f));
      i += 2;
    } else if (b < 0xf0) {
      units.push(((b & 0x0f) << 12) | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f));
      i += 3;
    } else {
      const c = ((b & 0x07) << 18) | ((buf[i + 1] & 0x3f) << 12) | ((buf[i + 2] & 0x3f) << 6) | (buf[i + 3] & 0x3f);
      units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
      i += 4;
    }
  }
  let out = '';
  for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.slice(i, i + 4096));
  return out;
}

export class IdTable {
  /** Ids in index order: id i is arena[ends[i - 1] (0 for i = 0), ends[i]). */
  private arena: Buffer = Buffer.alloc(1 << 12);
  private used = 0;
  private ends = new Uint32Array(256);
  /**
   * Open addressing, two words a slot: the id's index + 1 (0 = empty) and its hash, compared before
   * its bytes; the hash beside the index saves a probe a second cache line. Slots: a power of two.
   */
  private slots = new Int32Array(1024);
  private mask = 511;
  private indexed = 0;
  private frozen = false;
  private scratch = new Uint8Array(256);
  size = 0;

  /** The index of the id with these bytes, added when new. */
  internBytes(buf: Uint8Array, start: number, end: number): number {
    const h = hashBytes(buf, start, end);
    const slots = this.slots;
    const mask = this.mask;
    const len = end - start;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = slots[2 * s];
      if (v === 0) return this.insert(buf, start, end, h, s);
      if (slots[2 * s + 1] !== h) continue;
      const idx = v - 1;
      const from = idx === 0 ? 0 : this.ends[idx - 1];
      if (this.ends[idx] - from !== len) continue;
      const arena = this.arena;
      let k = 0;
      while (k < len && arena[from + k] === buf[start + k]) k++;
      if (k === len) return idx;
    }
  }

  /** The index of the id with this text (keyed by its UTF-8 bytes), added when new. */
  internText(text: string): number {
    const len = text.length;
    let h = FNV_OFFSET;
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return this.internEncoded(text);
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    // ASCII: the bytes are the code units, so the hash and the comparison need no encoding.
    h = mix(h);
    const slots = this.slots;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = slots[2 * s];
      if (v === 0) return this.insertAscii(text, h, s);
      if (slots[2 * s + 1] !== h) continue;
      const idx = v - 1;
      const from = idx === 0 ? 0 : this.ends[idx - 1];
      if (this.ends[idx] - from !== len) continue;
      const arena = this.arena;
      let k = 0;
      while (k < len && arena[from + k] === text.charCodeAt(k)) k++;
      if (k === len) return idx;
    }
  }

  private internEncoded(text: string): number {
    if (this.scratch.length < text.length * 3) this.scratch = new Uint8Array(text.length * 3);
    const n = encodeWtf8(text, this.scratch);
    return this.internBytes(this.scratch, 0, n);
  }

  /** Adds an id that is looked up elsewhere (no hash entry); its ASCII text is kept for textAt. */
  addUnindexed(ascii: string): number {
    this.checkOpen();
    const idx = this.append(ascii.length);
    this.arena.write(ascii, this.used - ascii.length, 'latin1');
    return idx;
  }

  /** The id's text. */
  textAt(index: number): string {
    if (index < 0 || index >= this.size) throw new RangeError(`id index ${index} out of range 0..${this.size - 1}`);
    const from = index === 0 ? 0 : this.ends[index - 1];
    const to = this.ends[index];
    const bytes = this.arena.subarray(from, to);
    return isUtf8(bytes) ? bytes.toString('utf8') : decodeWtf8(this.arena, from, to);
  }

  /**
   * The bytes of the ids order[from], …, order[from + n - 1] end to end, and where each ends
   * (offsets[j + 1]; offsets[0] = 0): an Arrow Utf8 column's buffers without a string per id.
   */
  bytesOf(order: Int32Array, from: number, n: number): { offsets: Int32Array; data: Uint8Array } {
    const ends = this.ends;
    const offsets = new Int32Array(n + 1);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const k = order[from + j];
      total += ends[k] - (k === 0 ? 0 : ends[k - 1]);
      offsets[j + 1] = total;
    }
    const data = new Uint8Array(total);
    const arena = this.arena;
    for (let j = 0; j < n; j++) {
      const k = order[from + j];
      const end = ends[k];
      let o = offsets[j];
      for (let b = k === 0 ? 0 : ends[k - 1]; b < end; b++) data[o++] = arena[b];
    }
    return { offsets, data };
  }

  /** Frees the hash table once no more ids will be added; the text stays for textAt. */
  freeze(): void {
    this.frozen = true;
    // One empty slot: a later lookup reaches insert, which refuses.
    this.slots = new Int32Array(2);
    this.mask = 0;
  }

  private checkOpen(): void {
    if (this.frozen) throw new Error('Internal error: an id was added to a vocabulary after it was frozen. Please report this.');
  }

  private insert(buf: Uint8Array, start: number, end: number, h: number, slot: number): number {
    this.checkOpen();
    const idx = this.append(end - start);
    this.arena.set(buf.subarray(start, end), this.used - (end - start));
    return this.index(idx, slot, h);
  }

  private insertAscii(text: string, h: number, slot: number): number {
    this.checkOpen();
    const idx = this.append(text.length);
    this.arena.write(text, this.used - text.length, 'latin1');
    return this.index(idx, slot, h);
  }

  /** Reserves len arena bytes and the next index (its end offset set). */
  private append(len: number): number {
    const used = this.used + len;
    if (used > MAX_ARENA) throw new DataError(`Too many distinct ids: their text is over ${MAX_ARENA} bytes in all.`);
    if (used > this.arena.length) {
      const next = Buffer.alloc(Math.min(MAX_ARENA, Math.max(used, this.arena.length * 2)));
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    const idx = this.size;
    if (idx === this.ends.length) {
      const cap = idx * 2;
      const ends = new Uint32Array(cap);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.used = used;
    this.ends[idx] = used;
    this.size = idx + 1;
    return idx;
  }

  /** Puts a new id and its hash in its slot, doubling the table past 70 % full. */
  private index(idx: number, slot: number, h: number): number {
    this.slots[2 * slot] = idx + 1;
    this.slots[2 * slot + 1] = h;
    this.indexed++;
    if (this.indexed * 10 > (this.mask + 1) * 7) this.rehash((this.mask + 1) * 2);
    return idx;
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    const slots = new Int32Array(2 * capacity);
    const mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const v = old[i];
      if (v === 0) continue;
      const h = old[i + 1];
      let s = h & mask;
      while (slots[2 * s] !== 0) s = (s + 1) & mask;
      slots[2 * s] = v;
      slots[2 * s + 1] = h;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
