/**
 * The 32-bit hash of prep's two typed-array tables (key-table.ts: strings kept as strings; id-table.ts: ids kept
 * as UTF-8 bytes outside the heap): FNV-1a, then MurmurHash3's finaliser, because FNV-1a's low bits alone
 * cluster for keys that differ only in their last characters (`P00000001`, `P00000002`) and the tables index by
 * the low bits. Fixed (no per-process seed): keys built to collide make lookups slow, never wrong.
 */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** MurmurHash3's 32-bit finaliser. */
export function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Over bytes buf[start, end). */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
  return mix(h);
}

/** Over a string's UTF-16 units (equal to hashBytes of its UTF-8 bytes when it is ASCII). */
export function keyHash(s: string): number {
  return keyHashRange(s, 0, s.length);
}

/** keyHash of s.slice(from, to), without the slice. */
export function keyHashRange(s: string, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return mix(h);
}

/** The second lane of the 64-bit row hash below: its start and MurmurHash2's multiplier. */
export const LANE2_OFFSET = 0x2545f491;
const LANE2_PRIME = 0x5bd1e995;

/**
 * A 64-bit hash in two 32-bit lanes (lanes[0] FNV-1a, lanes[1] multiply-xorshift), fed a word at a time: a catalogue
 * row's duplicate check (catalogue-store.ts, and text-batch.ts on the featuriser thread) reads 64 bits, since 32 would
 * let two rows of a million-item catalogue collide. Start from [FNV_OFFSET, LANE2_OFFSET]; finish with mix of each.
 */
export function laneWord(lanes: Int32Array, w: number): void {
  lanes[0] = Math.imul(lanes[0] ^ w, FNV_PRIME);
  lanes[1] = Math.imul(lanes[1] ^ w, LANE2_PRIME);
}

/** Feeds s[from, to) to the lanes: its length, then its UTF-16 units two at a time (titles are most of a row). */
export function laneUnits(lanes: Int32Array, s: string, from: number, to: number): void {
  let h1 = Math.imul(lanes[0] ^ (to - from), FNV_PRIME);
  let h2 = Math.imul(lanes[1] ^ (to - from), LANE2_PRIME);
  let i = from;
  for (; i + 1 < to; i += 2) {
    const c = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    h1 = Math.imul(h1 ^ c, FNV_PRIME);
    h2 = Math.imul(h2 ^ c, LANE2_PRIME);
    h2 ^= h2 >>> 15;
  }
  if (i < to) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), FNV_PRIME);
    h2 = Math.imul(h2 ^ s.charCodeAt(i), LANE2_PRIME);
  }
  lanes[0] = h1;
  lanes[1] = h2;
}
