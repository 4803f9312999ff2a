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
