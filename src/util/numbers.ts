/**
 * Strict number syntax for everything a user types or writes: log fields (data/prep), flags,
 * REC_* environment values and gate thresholds. Number() alone also reads `0x10`, `0b11`, `0o7`
 * and `Infinity`, and reads `''` or blanks as 0: in a log that is corruption, on a command line a
 * typo, and either way it must not become a value silently.
 */

/** Plain decimal notation: optional sign, digits with an optional fraction, optional exponent. */
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The value of a decimal number (surrounding whitespace allowed); NaN for anything else. An
 * exponent out of range gives ±Infinity, as Number() does: callers that need a finite value
 * (every flag does) check Number.isFinite.
 */
export function parseDecimal(text: string): number {
  const t = text.trim();
  if (!DECIMAL_RE.test(t)) return Number.NaN;
  return Number(t);
}

/**
 * An integer written as `[-]digits` (surrounding whitespace allowed) that a double holds exactly;
 * NaN otherwise. `1e3`, `10.0` and anything past 2^53 - 1 are refused: past that, two different
 * typed values would become the same number.
 */
export function parseSafeInteger(text: string): number {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) return Number.NaN;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** The environment variable `name` as a whole number ≥ 0 (parseSafeInteger), or `fallback` when it is unset or anything else. */
export function envCount(name: string, fallback: number): number {
  const text = process.env[name];
  const n = text === undefined ? Number.NaN : parseSafeInteger(text);
  return n >= 0 ? n : fallback;
}
