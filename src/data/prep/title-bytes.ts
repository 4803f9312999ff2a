/**
 * The catalogue's display titles as they are read (issue #21), kept as UTF-8 bytes in fixed chunks rather than as a
 * million JS strings: a title read from a CSV row is a slice of its line, so keeping the string kept the whole line
 * alive, and each one survived the young generation, to be copied by the scavenger and marked at every full GC for the
 * rest of the read. The bytes are what item_titles.arrow holds (Buffer's UTF-8, a lone surrogate as U+FFFD), so the
 * file is written from them without encoding a title again.
 */
import type { TitleSource } from '../item-titles.js';

/** Bytes per chunk (a longer title gets a chunk of its own); a title never spans two. */
const CHUNK_BYTES = 1 << 22;
/** `length` of an index without a title. */
const NONE = -1;

export class TitleBytes implements TitleSource {
  private readonly chunks: Buffer[] = [];
  private last: Buffer = Buffer.alloc(0);
  private used = 0;
  private n = 0;
  /** Per index: the chunk and position of its bytes, and their length (NONE: no title). */
  private chunk: Int32Array = new Int32Array(1024);
  private at: Int32Array = new Int32Array(1024);
  private length: Int32Array = new Int32Array(1024);

  get size(): number {
    return this.n;
  }

  /** Appends the next index's title (null: none). */
  push(title: string | null): void {
    if (this.n === this.length.length) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(2 * a.length);
        b.set(a);
        return b;
      };
      this.chunk = grow(this.chunk);
      this.at = grow(this.at);
      this.length = grow(this.length);
    }
    this.set(this.n++, title);
  }

  /** Replaces index k's title (a later catalogue row of the same key); the earlier bytes are left unused. */
  set(k: number, title: string | null): void {
    if (title === null) {
      this.length[k] = NONE;
      return;
    }
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4).
    const most = 3 * title.length;
    if (this.used + most > this.last.length) {
      this.last = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, most));
      this.chunks.push(this.last);
      this.used = 0;
    }
    const n = this.last.write(title, this.used, 'utf8');
    this.chunk[k] = this.chunks.length - 1;
    this.at[k] = this.used;
    this.length[k] = n;
    this.used += n;
  }

  byteLength(k: number): number {
    return this.length[k];
  }

  copyTo(k: number, out: Uint8Array, at: number): void {
    const n = this.length[k];
    if (n > 0) this.chunks[this.chunk[k]].copy(out, at, this.at[k], this.at[k] + n);
  }

  /** Index k's title as a string (null: none). */
  get(k: number): string | null {
    const n = this.length[k];
    return n === NONE ? null : this.chunks[this.chunk[k]].toString('utf8', this.at[k], this.at[k] + n);
  }
}
