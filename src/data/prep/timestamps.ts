/**
 * Timestamp parsing to epoch milliseconds. Units: unix seconds, unix milliseconds, ISO-8601 (no
 * offset means UTC; fractional seconds accepted), or a strftime-like pattern (`%m-%d` with a fixed
 * year). `auto` reads a number as seconds below 1e11 and as milliseconds from 1e11 on (1e11 s is
 * the year 5138; 1e11 ms is 1973-03-03), and anything else as ISO-8601.
 */
import { UsageError, describeValue } from '../../util/errors.js';
import { parseNumberString } from './numbers.js';

export type TsUnit = 'auto' | 's' | 'ms' | 'iso';

/** Returns epoch ms, or NaN when the text cannot be read. */
export type TsParser = (text: string) => number;

const MS_THRESHOLD = 1e11;

/** Numeric timestamp → epoch ms under a unit; NaN if out of the safe range. */
export function numericTsToMs(value: number, unit: TsUnit): number {
  let ms: number;
  if (unit === 'ms') ms = value;
  else if (unit === 's') ms = value * 1000;
  else ms = Math.abs(value) >= MS_THRESHOLD ? value : value * 1000;
  ms = Math.round(ms);
  return Number.isSafeInteger(ms) ? ms : Number.NaN;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function fractionToMs(frac: string): number {
  return Math.round(Number(`0.${frac}`) * 1000);
}

function offsetMinutes(z: string): number {
  if (z === 'Z' || z === 'z') return 0;
  const sign = z[0] === '-' ? -1 : 1;
  const digits = z.slice(1).replace(':', '');
  const h = Number(digits.slice(0, 2));
  const m = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (h > 23 || m > 59) return Number.NaN;
  return sign * (h * 60 + m);
}

function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 60) return Number.NaN;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime() + ms;
}

/** ISO-8601 date or date-time → epoch ms (UTC unless an offset is given); NaN if invalid. */
export function parseIsoTs(text: string): number {
  const m = ISO_RE.exec(text.trim());
  if (!m) return Number.NaN;
  const ms = m[7] ? fractionToMs(m[7]) : 0;
  const t = utcMs(Number(m[1]), Number(m[2]), Number(m[3]), m[4] ? Number(m[4]) : 0, m[5] ? Number(m[5]) : 0, m[6] ? Number(m[6]) : 0, ms);
  if (!m[8]) return t;
  return t - offsetMinutes(m[8]) * 60_000;
}

export function unitTsParser(unit: TsUnit): TsParser {
  if (unit === 'iso') return parseIsoTs;
  return (text: string) => {
    const n = parseNumberString(text);
    if (!Number.isNaN(n)) return Number.isFinite(n) ? numericTsToMs(n, unit) : Number.NaN;
    return unit === 'auto' ? parseIsoTs(text) : Number.NaN;
  };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

type Token =
  | { kind: 'lit'; text: string }
  | { kind: 'num'; field: 'Y' | 'y' | 'm' | 'd' | 'H' | 'M' | 'S' | 'f' | 'j' | 's'; min: number; max: number }
  | { kind: 'mon' }
  | { kind: 'tz' };

const NUM_SPECS: Record<string, [number, number]> = {
  Y: [4, 4], y: [2, 2], m: [1, 2], d: [1, 2], H: [1, 2], M: [1, 2], S: [1, 2], f: [1, 9], j: [1, 3], s: [1, 15],
};

function tsFormatError(pattern: string, expected: string): never {
  throw new UsageError(`--ts-format (config prep.ts_format) is invalid. Received: ${describeValue(pattern)}. Expected ${expected}.`);
}

/**
 * A strftime-like pattern: %Y %y %m %d %H %M %S %f (fraction of a second) %j (day of year)
 * %s (unix seconds) %b (month name) %z (Z or ±HH[:MM]) %%; other characters match literally.
 * Numbers may be unpadded (`6-4` matches `%m-%d`). Without %Y/%y/%s the year comes from `year`.
 */
export function patternTsParser(pattern: string, year: number | null): TsParser {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c !== '%') {
      const last = tokens[tokens.length - 1];
      if (last && last.kind === 'lit') last.text += c;
      else tokens.push({ kind: 'lit', text: c });
      continue;
    }
    const f = pattern[++i];
    if (f === undefined) tsFormatError(pattern, 'a pattern whose % is followed by one of Y y m d H M S f j s b z %');
    if (f === '%') tokens.push({ kind: 'lit', text: '%' });
    else if (f === 'b') tokens.push({ kind: 'mon' });
    else if (f === 'z') tokens.push({ kind: 'tz' });
    else if (NUM_SPECS[f]) tokens.push({ kind: 'num', field: f as 'Y', min: NUM_SPECS[f][0], max: NUM_SPECS[f][1] });
    else tsFormatError(pattern, `a known directive (%Y %y %m %d %H %M %S %f %j %s %b %z %%), not %${f}`);
  }
  const fields = new Set(tokens.flatMap((t) => (t.kind === 'num' ? [t.field] : [])));
  const hasYear = fields.has('Y') || fields.has('y') || fields.has('s');
  if (!hasYear && year === null) {
    throw new UsageError(
      `--ts-format ${describeValue(pattern)} (config prep.ts_format) has no year (%Y, %y or %s). Expected --ts-year YYYY (config prep.ts_year) as well, e.g. --ts-year 2014.`,
    );
  }
  if (!fields.has('m') && !tokens.some((t) => t.kind === 'mon') && !fields.has('j') && !fields.has('s')) {
    tsFormatError(pattern, 'a pattern with a month (%m or %b), a day of year (%j) or unix seconds (%s)');
  }
  return (input: string) => {
    const text = input.trim();
    let pos = 0;
    let Y = year ?? 1970;
    let mo = 1;
    let d = 1;
    let H = 0;
    let Mi = 0;
    let S = 0;
    let ms = 0;
    let doy = -1;
    let unix = Number.NaN;
    let tz = 0;
    for (const t of tokens) {
      if (t.kind === 'lit') {
        if (!text.startsWith(t.text, pos)) return Number.NaN;
        pos += t.text.length;
      } else if (t.kind === 'mon') {
        const idx = MONTHS.indexOf(text.slice(pos, pos + 3).toLowerCase());
        if (idx < 0) return Number.NaN;
        mo = idx + 1;
        pos += 3;
        while (pos < text.length && /[a-z]/i.test(text[pos])) pos++;
      } else if (t.kind === 'tz') {
        const m = /^(Z|z|[+-]\d{2}(?::?\d{2})?)/.exec(text.slice(pos));
        if (!m) return Number.NaN;
        tz = offsetMinutes(m[1]);
        pos += m[1].length;
      } else {
        let end = pos;
        while (end < text.length && end - pos < t.max && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
        if (end - pos < t.min) return Number.NaN;
        const digits = text.slice(pos, end);
        const v = Number(digits);
        pos = end;
        switch (t.field) {
          case 'Y': Y = v; break;
          case 'y': Y = v < 69 ? 2000 + v : 1900 + v; break;
          case 'm': mo = v; break;
          case 'd': d = v; break;
          case 'H': H = v; break;
          case 'M': Mi = v; break;
          case 'S': S = v; break;
          case 'f': ms = fractionToMs(digits); break;
          case 'j': doy = v; break;
          case 's': unix = v; break;
        }
      }
    }
    if (pos !== text.length || Number.isNaN(tz)) return Number.NaN;
    // Up to 15 digits of %s seconds overflow the exact range of ms, as in numericTsToMs.
    if (!Number.isNaN(unix)) return Number.isSafeInteger(unix * 1000 + ms) ? unix * 1000 + ms : Number.NaN;
    let t: number;
    if (doy >= 0) {
      const leap = daysInMonth(Y, 2) === 29;
      if (doy < 1 || doy > (leap ? 366 : 365)) return Number.NaN;
      t = utcMs(Y, 1, 1, H, Mi, S, ms);
      t += (doy - 1) * 86_400_000;
    } else {
      t = utcMs(Y, mo, d, H, Mi, S, ms);
    }
    return t - tz * 60_000;
  };
}

export function makeTsParser(unit: TsUnit, pattern: string | null, year: number | null): TsParser {
  return pattern !== null ? patternTsParser(pattern, year) : unitTsParser(unit);
}

/**
 * Times a behaviour log plausibly holds: from 1995 (the oldest public e-commerce and rating logs,
 * e.g. MovieLens-25M, start in January 1995) to a day after now (clock skew between servers).
 * Outside it, a column is usually not a timestamp, or its unit is wrong.
 */
export const PLAUSIBLE_TS_MIN_MS = Date.UTC(1995, 0, 1);
export const DAY_MS = 86_400_000;

export function plausibleTsMs(ms: number, nowMs: number): boolean {
  return ms >= PLAUSIBLE_TS_MIN_MS && ms <= nowMs + DAY_MS;
}

/** `1997-12-04T15:55:49Z` without milliseconds when they are 0; the raw number when out of Date's range. */
export function describeTsMs(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return `${ms} ms`;
  return d.toISOString().replace('.000Z', 'Z');
}

/**
 * Date layouts that neither unix times nor ISO-8601 cover, as --ts-format patterns, month before day
 * where both read (`6-4` is 4 June in the Tmall log, US and Chinese order): month-day without a year
 * (Tmall's `visit_datetime`), then US/European dates with a year, with or without a time of day, and
 * Amazon's `reviewTime` (`06 17, 2018`).
 */
const DATE_FORMATS: readonly string[] = [
  '%m-%d', '%d-%m', '%m/%d', '%d/%m',
  '%Y/%m/%d', '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M',
  '%m/%d/%Y', '%d/%m/%Y', '%m/%d/%Y %H:%M:%S', '%d/%m/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%d/%m/%Y %H:%M',
  '%d.%m.%Y', '%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M',
  '%m %d, %Y', '%d %b %Y', '%b %d, %Y',
];

/** A --ts-format that reads dates (given without a year, when the pattern has none). */
export interface DateFormatGuess {
  format: string;
  /** The pattern has no year: --ts-year YYYY is needed too. */
  needsYear: boolean;
}

/** Share of sampled values a layout must read to be suggested: a stray bad date (`2-30`) is that row's reject. */
const DATE_MIN_SHARE = 0.8;

/**
 * The one of DATE_FORMATS that reads the most of `values` (non-empty, trimmed; the earlier on a tie),
 * when it reads at least DATE_MIN_SHARE of them; else null. A leap year stands in for a missing
 * one, so that `2-29` reads.
 */
export function guessDateFormat(values: readonly string[]): DateFormatGuess | null {
  if (values.length === 0) return null;
  let best: DateFormatGuess | null = null;
  let bestCount = 0;
  for (const format of DATE_FORMATS) {
    const needsYear = !/%[Yys]/.test(format);
    const parse = patternTsParser(format, needsYear ? 2000 : null);
    let count = 0;
    for (const v of values) if (!Number.isNaN(parse(v))) count++;
    if (count > bestCount) {
      best = { format, needsYear };
      bestCount = count;
    }
  }
  return bestCount >= values.length * DATE_MIN_SHARE ? best : null;
}

/** `--ts-format %m-%d --ts-year YYYY` (the year only when the pattern has none). */
export function describeDateFormat(g: DateFormatGuess): string {
  return `--ts-format ${g.format.includes(' ') ? `'${g.format}'` : g.format}${g.needsYear ? ' --ts-year YYYY' : ''}`;
}
