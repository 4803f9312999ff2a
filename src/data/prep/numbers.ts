/**
 * Number parsing shared by the byte-level fast path and the csv-parse path, so both read every
 * field to the same value. The byte path handles `[-]digits[.digits]` itself: with at most 15
 * significant digits the mantissa is exact and m / 10^k (k ≤ 22) is one correctly rounded
 * division, i.e. exactly what Number() returns (Clinger 1990, "How to read floating point
 * numbers accurately", fast path). Anything else goes through the string function.
 */
import { parseDecimal } from '../../util/numbers.js';

/** The value of a decimal number (surrounding whitespace allowed); NaN for anything else (util/numbers.ts). */
export function parseNumberString(text: string): number {
  return parseDecimal(text);
}

/** Largest finite float32: values are stored as float32 (docs/design.md#the-dataset-folder), so anything beyond is ±Inf. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** True when `v` is finite and stays finite as a float32. */
export function isFiniteFloat32(v: number): boolean {
  return Number.isFinite(Math.fround(v));
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

export function parseNumberBytes(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (i < end && buf[i] === 45) {
    neg = true;
    i++;
  }
  let m = 0;
  let digits = 0;
  let frac = 0;
  let sawDot = false;
  for (; i < end; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      if (m !== 0 || digits > 0) digits++;
      if (sawDot) frac++;
    } else if (c === 46 && !sawDot) {
      sawDot = true;
    } else {
      return slowNumber(buf, start, end);
    }
  }
  const len = end - start - (neg ? 1 : 0) - (sawDot ? 1 : 0);
  if (len === 0 || digits > 15 || frac > 22) return slowNumber(buf, start, end);
  const v = frac === 0 ? m : m / POW10[frac];
  return neg ? -v : v;
}

function slowNumber(buf: Uint8Array, start: number, end: number): number {
  return parseNumberString(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8'));
}

/**
 * A canonical non-negative integer id (`0` or digits without a leading zero, at most 15 digits)
 * as a number; -1 otherwise. Canonical ids are keyed by number in the vocabulary, everything else
 * by string; String(n) gives the exact original text back, so `007` and `7` stay distinct ids.
 */
export function canonicalIntBytes(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 15) return -1;
  let c = buf[start];
  if (c === 48) return len === 1 ? 0 : -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    c = buf[i];
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

export function canonicalIntString(text: string): number {
  const len = text.length;
  if (len === 0 || len > 15) return -1;
  let c = text.charCodeAt(0);
  if (c === 48) return len === 1 ? 0 : -1;
  let v = 0;
  for (let i = 0; i < len; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}
