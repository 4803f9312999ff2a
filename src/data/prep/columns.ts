/**
 * Which input column plays which role (user, item, rating, event, ts): from --columns (names need
 * a header, indices are 0-based), or guessed from common header names, or, for files without a
 * header, by position (user,item[,rating][,ts]) unless the values of the first rows show that
 * layout cannot parse (e.g. Taobao's user,item,category,behavior,ts), then from those values.
 * Column profiles of the first rows also explain a mapping that makes no sense (diagnose.ts).
 */
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { parseNumberString } from './numbers.js';
import { COLUMN_ROLES, describeColumnRef, type ColumnRole, type ColumnsSpec } from './options.js';
import { DAY_MS, PLAUSIBLE_TS_MIN_MS, describeDateFormat, describeTsMs, guessDateFormat, parseIsoTs, type DateFormatGuess } from './timestamps.js';

/** Column index per role; -1 when the role is not mapped. */
export type ColumnPlan = Record<ColumnRole, number>;

/** Header names per role, normalised (lower case, without `_`, `-`, spaces), best first. */
const ALIASES: Record<ColumnRole, readonly string[]> = {
  user: ['userid', 'user', 'uid', 'customerid', 'customer', 'visitorid', 'memberid', 'reviewerid', 'sessionid', 'session'],
  item: ['itemid', 'item', 'iid', 'productid', 'product', 'movieid', 'movie', 'brandid', 'brand', 'articleid', 'asin', 'sku', 'skuid', 'contentid'],
  rating: ['rating', 'ratings', 'score', 'stars', 'overall'],
  event: ['event', 'eventtype', 'behaviortype', 'behaviourtype', 'behavior', 'behaviour', 'action', 'actiontype', 'type', 'interaction'],
  ts: ['timestamp', 'ts', 'time', 'datetime', 'eventtime', 'eventdate', 'visitdatetime', 'date', 'createdat', 'unixtime'],
  // Never guessed into a plan (a search log needs --columns); named so a header holding one is recognised.
  query: ['query', 'searchterm', 'searchquery', 'q'],
};

export function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_\-.]/g, '');
}

/** True when some name in the row is a known column name (header auto-detection). */
export function looksLikeHeader(fields: readonly string[]): boolean {
  const known = new Set(Object.values(ALIASES).flat());
  return fields.some((f) => known.has(normaliseName(f)));
}

/** The role a header name is a common name of (`brand_id` → item), or null. */
export function roleOfName(name: string): ColumnRole | null {
  const n = normaliseName(name);
  for (const role of COLUMN_ROLES) if (ALIASES[role].includes(n)) return role;
  return null;
}

export function emptyPlan(): ColumnPlan {
  return { user: -1, item: -1, rating: -1, event: -1, ts: -1, query: -1 };
}

function guessFromHeader(header: readonly string[]): ColumnPlan | null {
  const norm = header.map(normaliseName);
  const plan = emptyPlan();
  const used = new Set<number>();
  for (const role of COLUMN_ROLES) {
    if (role === 'query') continue;
    for (const alias of ALIASES[role]) {
      const idx = norm.findIndex((n, i) => n === alias && !used.has(i));
      if (idx >= 0) {
        plan[role] = idx;
        used.add(idx);
        break;
      }
    }
  }
  return plan.user >= 0 && plan.item >= 0 ? plan : null;
}

/** Headerless files: user,item[,rating][,ts] by position. */
function guessByPosition(count: number): ColumnPlan {
  const plan = emptyPlan();
  plan.user = 0;
  plan.item = 1;
  if (count >= 3) plan.rating = 2;
  if (count >= 4) plan.ts = 3;
  return plan;
}

/**
 * What the first rows of a column hold. `unix_s`/`unix_ms`: integers that are plausible times
 * (1995 to a day from now) in that unit; `iso`: ISO-8601 times; `date`: dates in another layout that
 * a --ts-format reads (`6-4`, `06/04/2014`; `dateFormat` says which); `rating`: numbers with at most
 * RATING_MAX_LEVELS distinct values within ±RATING_MAX_ABS (1..5, 0.5..5, 1..10, 0..100); `number`: other numbers;
 * `event`: a few distinct non-numeric tokens, each repeated (pv/cart/buy); `text`: anything else.
 */
export type ColumnKind = 'empty' | 'unix_s' | 'unix_ms' | 'iso' | 'date' | 'rating' | 'number' | 'event' | 'text';

export interface ColumnProfile {
  index: number;
  /** Header name, or null without a header. */
  name: string | null;
  kind: ColumnKind;
  /** Non-empty values sampled. */
  values: number;
  /** Values that are numbers, and that are ISO-8601 times. */
  numeric: number;
  iso: number;
  /** Distinct values, counted up to DISTINCT_CAP. */
  distinct: number;
  /** Up to 3 distinct values, in order of appearance. */
  examples: string[];
  /** Range of the numeric values (NaN when none). */
  min: number;
  max: number;
  /** For kind `date`: the --ts-format that reads every sampled value. */
  dateFormat: DateFormatGuess | null;
}

const RATING_MAX_LEVELS = 20;
const RATING_MAX_ABS = 100;
const EVENT_MAX_TYPES = 50;
const DISTINCT_CAP = 1000;

/** Profiles of every column over sample rows (rows with another field count are skipped). */
export function profileColumns(rows: readonly (readonly string[])[], count: number, header: readonly string[] | null, nowMs: number): ColumnProfile[] {
  const out: ColumnProfile[] = [];
  const sMin = PLAUSIBLE_TS_MIN_MS / 1000;
  const sMax = (nowMs + DAY_MS) / 1000;
  for (let c = 0; c < count; c++) {
    const seen = new Set<string>();
    const examples: string[] = [];
    let values = 0;
    let numeric = 0;
    let integers = 0;
    let iso = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    const texts: string[] = [];
    for (const r of rows) {
      if (r.length !== count) continue;
      const v = r[c].trim();
      if (v === '') continue;
      values++;
      texts.push(v);
      if (!seen.has(v)) {
        if (seen.size < DISTINCT_CAP) seen.add(v);
        if (examples.length < 3) examples.push(v);
      }
      const x = parseNumberString(v);
      if (Number.isFinite(x)) {
        numeric++;
        if (Number.isInteger(x)) integers++;
        if (x < min) min = x;
        if (x > max) max = x;
      } else if (!Number.isNaN(parseIsoTs(v))) {
        iso++;
      }
    }
    let kind: ColumnKind;
    const distinct = seen.size;
    // Before `event`: a month-day column has few repeated values too (Tmall's `6-4`).
    const dateFormat = numeric === 0 && iso === 0 ? guessDateFormat(texts) : null;
    if (values === 0) kind = 'empty';
    else if (numeric === values) {
      if (integers === values && min >= sMin && max <= sMax) kind = 'unix_s';
      else if (integers === values && min >= sMin * 1000 && max <= sMax * 1000) kind = 'unix_ms';
      else if (distinct <= RATING_MAX_LEVELS && min >= -RATING_MAX_ABS && max <= RATING_MAX_ABS) kind = 'rating';
      else kind = 'number';
    } else if (iso === values) kind = 'iso';
    else if (dateFormat !== null) kind = 'date';
    else if (numeric === 0 && iso === 0 && distinct <= EVENT_MAX_TYPES && distinct * 2 <= values) kind = 'event';
    else kind = 'text';
    out.push({ index: c, name: header ? (header[c] ?? null) : null, kind, values, numeric, iso, distinct, examples, min: numeric > 0 ? min : Number.NaN, max: numeric > 0 ? max : Number.NaN, dateFormat });
  }
  return out;
}

const TIME_KINDS: ReadonlySet<ColumnKind> = new Set(['unix_s', 'unix_ms', 'iso', 'date']);

/** True when the column's first rows are times (unix s/ms, ISO, or dates a --ts-format reads). */
export function isTimeKind(kind: ColumnKind): boolean {
  return TIME_KINDS.has(kind);
}

/** `column 3` or `column 3 ("behavior")`. */
export function describeColumn(index: number, header: readonly string[] | null): string {
  const name = header?.[index];
  return name !== undefined ? `column ${index} (${JSON.stringify(name)})` : `column ${index}`;
}

function fmtNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 1e6) / 1e6);
}

/** What a column looks like, as a phrase after "looks like" / "like". */
export function describeProfile(p: ColumnProfile): string {
  const ex = p.examples.map((e) => JSON.stringify(e)).join(', ');
  const more = p.distinct >= DISTINCT_CAP ? `${DISTINCT_CAP}+` : String(p.distinct);
  switch (p.kind) {
    case 'unix_s':
      return `unix seconds (e.g. ${fmtNumber(p.min)} = ${describeTsMs(p.min * 1000)})`;
    case 'unix_ms':
      return `unix milliseconds (e.g. ${fmtNumber(p.min)} = ${describeTsMs(p.min)})`;
    case 'iso':
      return `ISO-8601 times (e.g. ${ex})`;
    case 'date': {
      const g = p.dateFormat as DateFormatGuess;
      return `${g.needsYear ? 'dates without a year' : 'dates'} (e.g. ${ex}; read with ${describeDateFormat(g)})`;
    }
    case 'rating':
      return `ratings (${p.distinct} distinct value${p.distinct === 1 ? '' : 's'} ${fmtNumber(p.min)}..${fmtNumber(p.max)})`;
    case 'number':
      return `numbers (${more} distinct, ${fmtNumber(p.min)}..${fmtNumber(p.max)})`;
    case 'event':
      return `event types (${p.distinct} distinct: ${ex}${p.distinct > p.examples.length ? ', …' : ''})`;
    case 'text':
      return `text (e.g. ${ex})`;
    case 'empty':
      return 'nothing (empty in the first rows)';
  }
}

/**
 * A plan from what the columns hold: user and item as given (by default the first two columns:
 * ids look like anything), then the first other column that holds times → ts, event types → event, ratings → rating.
 * Null when no column after the ids looks like any of them.
 */
export function guessFromProfiles(profiles: readonly ColumnProfile[], user = 0, item = 1): ColumnPlan | null {
  if (profiles.length < 2) return null;
  const plan = emptyPlan();
  plan.user = user;
  plan.item = item;
  for (const p of profiles) {
    if (p.index === user || p.index === item) continue;
    if (plan.ts < 0 && isTimeKind(p.kind)) plan.ts = p.index;
    else if (plan.event < 0 && p.kind === 'event') plan.event = p.index;
    else if (plan.rating < 0 && p.kind === 'rating') plan.rating = p.index;
  }
  return plan.ts >= 0 || plan.event >= 0 || plan.rating >= 0 ? plan : null;
}

/**
 * The positional layout cannot parse when most values of its rating column are not numbers, or
 * most of its ts column are neither numbers nor ISO times (a stray bad row does not count: that
 * row is rejected, the layout stays).
 */
function positionFits(plan: ColumnPlan, profiles: readonly ColumnProfile[]): boolean {
  const r = plan.rating >= 0 ? profiles[plan.rating] : null;
  if (r && r.numeric * 2 < r.values) return false;
  const t = plan.ts >= 0 ? profiles[plan.ts] : null;
  if (t && (t.numeric + t.iso) * 2 < t.values) return false;
  return true;
}

/** `user=0,item=1,event=3,ts=4`, in the order of COLUMN_ROLES. */
export function formatPlan(plan: ColumnPlan, header: readonly string[] | null = null): string {
  return COLUMN_ROLES.filter((r) => plan[r] >= 0)
    .map((r) => `${r}=${header ? header[plan[r]] : plan[r]}`)
    .join(',');
}

/** How the plan of a file was chosen: from --columns, or guessed (and from what). */
export type PlanSource = 'columns' | 'header' | 'position' | 'values';

export interface PlanChoice {
  plan: ColumnPlan;
  source: PlanSource;
  /** Profiles of the sample rows; empty when no sample was given. */
  profiles: ColumnProfile[];
}

/** resolvePlan, also saying how the plan was chosen, with the columns' profiles. */
export function choosePlan(
  spec: ColumnsSpec | null,
  header: readonly string[] | null,
  count: number,
  file: string,
  sample: readonly (readonly string[])[] = [],
  nowMs: number = Date.now(),
): PlanChoice {
  const profiles = sample.length > 0 ? profileColumns(sample, count, header, nowMs) : [];
  if (spec !== null) return { plan: resolvePlan(spec, header, count, file), source: 'columns', profiles };
  const fromHeader = header ? guessFromHeader(header) : null;
  if (fromHeader) return { plan: fromHeader, source: 'header', profiles };
  const plan = resolvePlan(null, header, count, file);
  if (profiles.length === count && !positionFits(plan, profiles)) {
    const byValues = guessFromProfiles(profiles);
    if (byValues) return { plan: byValues, source: 'values', profiles };
  }
  return { plan, source: 'position', profiles };
}

export function specUsesNames(spec: ColumnsSpec | null): boolean {
  return spec !== null && COLUMN_ROLES.some((r) => spec[r]?.kind === 'name');
}

/**
 * Resolves the plan of one file. `header` is the header row (null without one); `count` the number
 * of columns. `file` names the input in errors.
 */
export function resolvePlan(spec: ColumnsSpec | null, header: readonly string[] | null, count: number, file: string): ColumnPlan {
  if (count < 2 && header === null) {
    throw new DataError(`${file}: the first lines have a single column. Expected at least a user and an item column; pass --delimiter (config prep.delimiter) if the file uses an unusual one.`);
  }
  if (spec === null) return (header && guessFromHeader(header)) ?? guessByPosition(count);
  const plan = emptyPlan();
  for (const role of COLUMN_ROLES) {
    const ref = spec[role];
    if (!ref) continue;
    if (ref.kind === 'index') {
      if (ref.index >= count) {
        throw new UsageError(
          `--columns (config prep.columns) maps ${role} to column ${ref.index}, but ${file} has ${count} column${count === 1 ? '' : 's'} (0-based indices 0..${count - 1}).`,
        );
      }
      plan[role] = ref.index;
    } else {
      if (header === null) {
        throw new UsageError(
          `--columns (config prep.columns) names the ${role} column ${describeValue(ref.name)}, but ${file} has no header. Expected 0-based indices (e.g. user=0,item=1) or --header.`,
        );
      }
      let idx = header.indexOf(ref.name);
      if (idx < 0) idx = header.findIndex((h) => h.trim().toLowerCase() === ref.name.trim().toLowerCase());
      if (idx < 0) {
        throw new UsageError(
          `--columns (config prep.columns) names the ${role} column ${describeValue(describeColumnRef(ref))}, which is not in the header of ${file}. Received header: ${describeValue(header.join(','), 200)}.`,
        );
      }
      plan[role] = idx;
    }
  }
  return plan;
}

export function planRoles(plan: ColumnPlan): ColumnRole[] {
  return COLUMN_ROLES.filter((r) => plan[r] >= 0);
}
