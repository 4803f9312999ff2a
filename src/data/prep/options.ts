/**
 * Parsers for the string-valued `prep:` settings (the flag spellings of `rec prep --help`). Each error names the flag
 * and the config key, the value received and what was expected (docs/design.md#exit-codes).
 */
import { UsageError, describeValue } from '../../util/errors.js';
import { isFiniteFloat32, parseNumberString } from './numbers.js';

export const COLUMN_ROLES = ['user', 'item', 'rating', 'event', 'ts', 'query'] as const;
export type ColumnRole = (typeof COLUMN_ROLES)[number];

/** A column named in the header, or a 0-based position. */
export type ColumnRef = { kind: 'name'; name: string } | { kind: 'index'; index: number };
/**
 * A behaviour log maps user and item; a search log (docs/datasets.md#search-logs) maps query and item, user
 * optional. `relevance=C` is read as the rating role (a graded label) and recorded in `relevance`.
 */
export type ColumnsSpec = Partial<Record<ColumnRole, ColumnRef>> & { item: ColumnRef; relevance?: boolean };

export type SplitSpec =
  | { kind: 'random' | 'temporal'; ratios: [number, number, number] }
  /** Search logs: whole queries to one split (held-out queries), one seeded draw per query. */
  | { kind: 'query'; ratios: [number, number, number] }
  | { kind: 'leave-last' }
  /** The last `test` days (by ts, counted back from the newest row) → test, the `valid` days before → valid. */
  | { kind: 'days'; valid: number; test: number }
  | { kind: 'none' };

export type MaxRejects = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

export type InputFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'arrow';

/** Formats read column by column from a typed schema (columnar.ts), not as lines of text. */
export function isColumnarFormat(format: InputFormat): format is 'parquet' | 'arrow' {
  return format === 'parquet' || format === 'arrow';
}

function usage(flag: string, key: string, received: unknown, expected: string): never {
  throw new UsageError(`${flag} (config prep.${key}) is invalid. Received: ${describeValue(received)}. Expected ${expected}.`);
}

export function describeColumnRef(ref: ColumnRef): string {
  return ref.kind === 'name' ? ref.name : String(ref.index);
}

/**
 * `user=C,item=C[,rating=C][,event=C][,ts=C]`, or for a search log `query=C,item=C[,user=C][,ts=C][,relevance=C|event=C]`;
 * C a header name or a 0-based index.
 */
export function parseColumnsSpec(text: string): ColumnsSpec {
  const expected =
    'user=C,item=C[,rating=C][,event=C][,ts=C] (a behaviour log) or query=C,item=C[,user=C][,ts=C][,relevance=C|event=C] (a search log), where C is a column name or a 0-based index, e.g. user=0,item=1,rating=2';
  const out: Partial<Record<ColumnRole, ColumnRef>> = {};
  let relevance = false;
  const parts = text.split(',').map((p) => p.trim());
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) usage('--columns', 'columns', text, expected);
    let role = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (role === 'relevance') {
      if (relevance || out.rating) usage('--columns', 'columns', text, `${expected}; relevance and rating are one role, given twice`);
      relevance = true;
      role = 'rating';
    }
    if (!(COLUMN_ROLES as readonly string[]).includes(role)) usage('--columns', 'columns', text, `${expected}; "${role}" is not one of ${[...COLUMN_ROLES, 'relevance'].join(', ')}`);
    const r = role as ColumnRole;
    if (out[r]) usage('--columns', 'columns', text, `${expected}; "${role}" is given twice`);
    out[r] = /^\d+$/.test(value) ? { kind: 'index', index: Number(value) } : { kind: 'name', name: value };
  }
  if (!out.item || (!out.user && !out.query)) usage('--columns', 'columns', text, `${expected}; item and a user or a query are required`);
  if (relevance && !out.query) usage('--columns', 'columns', text, `${expected}; relevance is for search logs (with query=C); a behaviour log maps rating=C`);
  if (out.query && out.rating && out.event) usage('--columns', 'columns', text, `${expected}; a search log takes relevance=C or event=C, not both`);
  const seen = new Map<string, string>();
  for (const role of COLUMN_ROLES) {
    const ref = out[role];
    if (!ref) continue;
    const k = `${ref.kind}:${describeColumnRef(ref)}`;
    const other = seen.get(k);
    if (other) usage('--columns', 'columns', text, `${expected}; ${other} and ${role} name the same column`);
    seen.set(k, role);
  }
  return { ...(out as ColumnsSpec), ...(relevance ? { relevance: true } : {}) };
}

/** `random:TRAIN,VALID,TEST | temporal:TRAIN,VALID,TEST | query:TRAIN,VALID,TEST | days:VALID,TEST | leave-last | none`. */
export function parseSplitSpec(text: string): SplitSpec {
  const expected =
    'random:TRAIN,VALID,TEST, temporal:TRAIN,VALID,TEST, query:TRAIN,VALID,TEST (search logs; three shares summing to 1, e.g. random:0.8,0.1,0.1), days:VALID,TEST (durations: days, or with a unit s/m/h/d, e.g. days:0,1 or days:0,15m), leave-last or none';
  const t = text.trim();
  if (t === 'leave-last') return { kind: 'leave-last' };
  if (t === 'none') return { kind: 'none' };
  const d = /^days:(.*)$/.exec(t);
  if (d) {
    const parts = d[1].split(',').map((s) => s.trim());
    const days = parts.map(parseDuration);
    if (parts.length !== 2 || days.some((x) => x === null)) usage('--split', 'split', text, `${expected}; days takes two durations VALID,TEST: whole days (days:0,1) or a number with a unit s, m, h or d (days:0,15m)`);
    const [valid, test] = days as [number, number];
    if (valid + test === 0) usage('--split', 'split', text, `${expected}; days:0,0 would leave everything in train (use none)`);
    if (valid + test > 100000) usage('--split', 'split', text, `${expected}; at most 100000 days in all`);
    return { kind: 'days', valid, test };
  }
  const m = /^(random|temporal|query):(.*)$/.exec(t);
  if (!m) usage('--split', 'split', text, expected);
  const nums = m[2].split(',').map((s) => s.trim());
  if (nums.length !== 3 || nums.some((s) => !/^\d*\.?\d+$/.test(s))) usage('--split', 'split', text, expected);
  const ratios = nums.map(Number) as [number, number, number];
  const sum = ratios[0] + ratios[1] + ratios[2];
  if (Math.abs(sum - 1) > 1e-6) usage('--split', 'split', text, `${expected}; these sum to ${sum}`);
  return { kind: m[1] as 'random' | 'temporal' | 'query', ratios };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration in days: `7` (days), or a non-negative decimal with a unit, `90s`, `15m`, `36h`,
 * `1.5d`. Units matter because a log can span hours rather than days (the Taobao excerpt: 2h10m),
 * and a nightly job may run hourly. Null when the text is not one.
 */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) return null;
  const value = (Number(m[1]) * UNIT_SECONDS[m[2] === '' ? 'd' : m[2]]) / 86400;
  return Number.isFinite(value) ? value : null;
}

/** `view=1,cart=3,buy=5`: a finite weight per event name. */
export function parseEventWeights(text: string): Map<string, number> {
  const expected = 'NAME=WEIGHT pairs separated by commas, e.g. view=1,cart=3,buy=5 (weights decimal numbers within the float32 range)';
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) usage('--event-weights', 'event_weights', text, expected);
    const name = part.slice(0, eq).trim();
    const w = part.slice(eq + 1).trim();
    const weight = parseNumberString(w);
    if (name === '' || !isFiniteFloat32(weight)) usage('--event-weights', 'event_weights', text, expected);
    if (out.has(name)) usage('--event-weights', 'event_weights', text, `${expected}; "${name}" is given twice`);
    out.set(name, weight);
  }
  return out;
}

/** A count (`100`) or a percentage of the rows read (`5%`, `0.5%`). */
export function parseMaxRejects(value: string | number): MaxRejects {
  const expected = 'a non-negative integer count (e.g. 100) or a percentage of the rows read (e.g. 5%)';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) usage('--max-rejects', 'max_rejects', value, expected);
    return { kind: 'count', count: value };
  }
  const t = value.trim();
  let m = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (m) {
    const percent = Number(m[1]);
    if (percent > 100) usage('--max-rejects', 'max_rejects', value, expected);
    return { kind: 'percent', percent };
  }
  m = /^\d+$/.exec(t);
  if (m) return { kind: 'count', count: Number(t) };
  return usage('--max-rejects', 'max_rejects', value, expected);
}

export function maxRejectsAllowed(spec: MaxRejects, rowsRead: number): number {
  return spec.kind === 'count' ? spec.count : Math.floor((spec.percent / 100) * rowsRead);
}

export function describeMaxRejects(spec: MaxRejects): string {
  return spec.kind === 'count' ? String(spec.count) : `${spec.percent}%`;
}

export interface FileKind {
  format: InputFormat;
  gzip: boolean;
  /** The extension that decided the format (`.dat`, `.txt`, …), lower case, without `.gz`. */
  ext: string;
}

/** Format from the extension (`.csv .tsv .txt .dat .jsonl .json`, each optionally `.gz`; `.parquet`, `.arrow`/`.feather`); `forced` wins. */
export function fileKind(path: string, forced: 'auto' | InputFormat): FileKind {
  let name = path.toLowerCase();
  const gzip = name.endsWith('.gz');
  if (gzip) name = name.slice(0, -3);
  const dot = name.lastIndexOf('.');
  const slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  const ext = dot > slash ? name.slice(dot) : '';
  if (forced !== 'auto') return { format: forced, gzip, ext };
  if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') return { format: 'jsonl', gzip, ext };
  if (ext === '.tsv' || ext === '.tab') return { format: 'tsv', gzip, ext };
  if (!gzip && (ext === '.parquet' || ext === '.parq' || ext === '.pq')) return { format: 'parquet', gzip, ext };
  if (!gzip && (ext === '.arrow' || ext === '.feather' || ext === '.ipc' || ext === '.arrows')) return { format: 'arrow', gzip, ext };
  // .csv, .dat, .txt, .data, .base, .test, no extension: delimited, delimiter sniffed from the first lines.
  return { format: 'csv', gzip, ext };
}

/** Delimiters tried, in order, when none is given. */
export function delimiterCandidates(kind: FileKind): string[] {
  if (kind.format === 'tsv') return ['\t'];
  if (kind.ext === '.csv') return [',', ';', '\t', '|'];
  if (kind.ext === '.dat') return ['::', '\t', ',', ';', '|'];
  return ['\t', '::', ',', ';', '|', ' '];
}
