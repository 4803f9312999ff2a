/**
 * Explains data that parsed but makes no sense (issue #13): a column mapping that reads the
 * timestamps as ratings, a --ts-unit that puts every row in 1970, one column rejecting nearly every
 * row, splits left empty, event weights that match no event. Each finding names the column or flag
 * at fault and, when the first rows tell, the setting that would work. Pure functions returning
 * messages; run.ts logs them as warnings (errors under --strict).
 */
import {
  describeColumn,
  describeProfile,
  formatPlan,
  guessFromProfiles,
  isTimeKind,
  roleOfName,
  type ColumnPlan,
  type ColumnProfile,
  type PlanSource,
} from './columns.js';
import { COLUMN_ROLES, type ColumnRole, type SplitSpec } from './options.js';
import type { RowStore } from './store.js';
import { DAY_MS, PLAUSIBLE_TS_MIN_MS, describeDateFormat, describeTsMs, type DateFormatGuess, type TsUnit } from './timestamps.js';

/** The first input's column plan, with what its first rows held. */
export interface ColumnContext {
  file: string;
  plan: ColumnPlan;
  source: PlanSource;
  /** Empty for JSONL (its values are not profiled). */
  profiles: ColumnProfile[];
  header: readonly string[] | null;
  /** How messages name the column of each mapped role, e.g. `column 3` or `key "ts"`. */
  labels: Partial<Record<ColumnRole, string>>;
}

/** Ratings with more levels or a wider span than this are not ratings (1..5, 0.5..5, 1..10, 0..100). */
const RATING_MAX_DISTINCT = 100;
const RATING_MAX_SPAN = 1e4;
/** Share of users with a single row above which a per-user split or model has little to work on. */
const SINGLE_ROW_SHARE = 0.9;
const SINGLE_ROW_MIN_USERS = 20;

function label(ctx: ColumnContext, role: ColumnRole): string {
  return ctx.labels[role] ?? (ctx.plan[role] >= 0 ? describeColumn(ctx.plan[role], ctx.header) : role);
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 1e6) / 1e6);
}

function samePlan(a: ColumnPlan, b: ColumnPlan): boolean {
  return a.user === b.user && a.item === b.item && a.rating === b.rating && a.event === b.event && a.ts === b.ts && a.query === b.query;
}

/** Whether a column's first rows suit a role: event codes may be small numbers (Tmall's 0..3). */
function fits(role: ColumnRole, p: ColumnProfile): boolean {
  if (role === 'ts') return isTimeKind(p.kind);
  if (role === 'event') return p.kind === 'event' || p.kind === 'rating';
  if (role === 'rating') return p.kind === 'rating';
  return true;
}

/**
 * A plan from the profiles that keeps every role whose column suits it and moves the others
 * (user and item kept); null when the profiles tell nothing.
 */
function betterPlan(ctx: ColumnContext): ColumnPlan | null {
  const guess = guessFromProfiles(ctx.profiles, ctx.plan.user, ctx.plan.item);
  if (guess === null) return null;
  for (const role of ['rating', 'event', 'ts'] as const) {
    const c = ctx.plan[role];
    if (c < 0 || !fits(role, ctx.profiles[c])) continue;
    for (const other of ['rating', 'event', 'ts'] as const) if (guess[other] === c) guess[other] = -1;
    guess[role] = c;
  }
  return guess;
}

/**
 * `--columns … [--ts-format …]` for the mapping the first rows suggest, or null when they suggest
 * the one used. Adds the --ts-format its ts column needs (unless `tsFormat` is it), and says so
 * when that mapping has no ts column although the one used has.
 */
function suggestedMapping(ctx: ColumnContext, tsFormat: string | null): { plan: ColumnPlan; flags: string; lost: string } | null {
  if (ctx.profiles.length === 0) return null;
  const plan = betterPlan(ctx);
  if (plan === null || samePlan(plan, ctx.plan)) return null;
  const date = plan.ts >= 0 ? ctx.profiles[plan.ts].dateFormat : null;
  const flags = `--columns ${formatPlan(plan)}${date !== null && date.format !== tsFormat ? ` ${describeDateFormat(date)}` : ''}`;
  const lost =
    ctx.plan.ts >= 0 && plan.ts < 0
      ? ` That mapping has no ts column: rows would keep no time (needed by temporal and days splits, --window and sequence models); if ${label(ctx, 'ts')} holds times, keep it as ts and pass --ts-format (config prep.ts_format) instead.`
      : '';
  return { plan, flags, lost };
}

/**
 * `Column 2 looks like ratings (…) and column 3 like unix seconds (…): try --columns …` when the
 * first rows suggest another mapping than the one used (user and item kept); '' otherwise.
 */
export function suggestColumns(ctx: ColumnContext, tsFormat: string | null = null): string {
  const s = suggestedMapping(ctx, tsFormat);
  if (s === null) return '';
  const parts: string[] = [];
  for (const role of ['rating', 'event', 'ts'] as const) {
    const c = s.plan[role];
    if (c < 0 || c === ctx.plan[role]) continue;
    const what = describeProfile(ctx.profiles[c]);
    parts.push(parts.length === 0 ? `${describeColumn(c, ctx.header)} looks like ${what}` : `${describeColumn(c, ctx.header)} like ${what}`);
  }
  for (const role of ['rating', 'event', 'ts'] as const) {
    const c = ctx.plan[role];
    if (parts.length > 0 || c < 0 || s.plan[role] >= 0) continue;
    parts.push(`${describeColumn(c, ctx.header)}, mapped as ${role}, holds ${describeProfile(ctx.profiles[c])}`);
  }
  const text = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
  return `${text[0].toUpperCase()}${text.slice(1)}: try ${s.flags}.${s.lost}`;
}

/** The info line for a mapping rec chose itself (docs/datasets.md: columns guessed from header or position). */
export function describeGuess(ctx: ColumnContext): string | null {
  if (ctx.source === 'columns') return null;
  const mapping = formatPlan(ctx.plan, ctx.header);
  let why: string;
  if (ctx.source === 'header') why = ctx.header === null ? 'from the key names' : 'from the header names';
  else if (ctx.source === 'values') why = 'from the values of the first rows (no header; user and item are the first two columns)';
  else why = `by position (${ctx.header === null ? 'no header' : 'the header names no known column'}: user,item[,rating][,ts])`;
  const seen: string[] = [];
  for (const role of ['rating', 'event', 'ts'] as const) {
    const c = ctx.plan[role];
    if (c >= 0 && ctx.profiles[c]) seen.push(`${role} ${describeColumn(c, ctx.header)} holds ${describeProfile(ctx.profiles[c])}`);
  }
  const ignored = ctx.profiles.filter((p) => !Object.values(ctx.plan).includes(p.index)).map((p) => p.index);
  const rest = ignored.length > 0 ? `; column${ignored.length === 1 ? '' : 's'} ${ignored.join(', ')} ignored` : '';
  const rows = ctx.profiles.length > 0 ? ctx.profiles[0].values : 0;
  const held = seen.length > 0 ? `; in the first ${rows} rows, ${seen.join('; ')}` : '';
  return `prep: ${ctx.file}: no --columns given; guessed ${mapping} ${why}${held}${rest}. Pass --columns (config prep.columns) to choose.`;
}

const REASON_ROLE: Record<string, ColumnRole> = { bad_ts: 'ts', bad_rating: 'rating', unknown_event: 'event' };

/** A --ts-unit that reads a column of this kind, or null when the unit is not the problem. */
function unitFor(kind: ColumnProfile['kind'], unit: TsUnit): TsUnit | null {
  if (kind === 'unix_s' && unit !== 's' && unit !== 'auto') return 's';
  if (kind === 'unix_ms' && unit !== 'ms' && unit !== 'auto') return 'ms';
  if (kind === 'iso' && unit !== 'iso' && unit !== 'auto') return 'iso';
  return null;
}

export interface RejectFacts {
  reasons: Record<string, number>;
  total: number;
  tsUnit: TsUnit;
  tsFormat: string | null;
  /** Events that occurred without a weight in --event-weights, with their row counts. */
  unweighted: ReadonlyMap<string, number>;
  eventWeights: ReadonlyMap<string, number> | null;
}

/**
 * When more than half the rejects share a reason that belongs to one column, which column, what
 * it held and what would parse it; '' otherwise.
 */
export function explainRejects(ctx: ColumnContext, facts: RejectFacts): string {
  let top = '';
  let topCount = 0;
  for (const [reason, count] of Object.entries(facts.reasons)) {
    if (count > topCount) {
      top = reason;
      topCount = count;
    }
  }
  const role = REASON_ROLE[top];
  if (role === undefined || topCount * 2 <= facts.total || ctx.plan[role] < 0) return '';
  const profile = ctx.profiles[ctx.plan[role]] as ColumnProfile | undefined;
  const held = profile ? `, which holds ${describeProfile(profile)}` : '';
  const head = `${topCount} of the ${facts.total} rejects are ${top} from ${label(ctx, role)}, mapped as ${role}${held}.`;
  let fix = '';
  if (role === 'ts' && profile && facts.tsFormat === null) {
    const unit = unitFor(profile.kind, facts.tsUnit);
    if (unit !== null) fix = `Try --ts-unit ${unit} (config prep.ts_unit).`;
  }
  if (role === 'ts' && profile?.dateFormat && profile.dateFormat.format !== facts.tsFormat) fix = dateFix(profile.dateFormat);
  if (role === 'event' && facts.eventWeights !== null && facts.unweighted.size > 0 && (!profile || profile.kind === 'event')) {
    fix = unweightedFix(facts.unweighted, facts.eventWeights);
  }
  if (fix === '') fix = suggestColumns(ctx, facts.tsFormat);
  if (fix === '') fix = `Check --columns (config prep.columns)${role === 'ts' ? ' and --ts-unit (config prep.ts_unit)' : ''}.`;
  return `${head} ${fix}`;
}

function dateFix(g: DateFormatGuess): string {
  const year = g.needsYear ? ', with YYYY the year the log was recorded: the dates have none' : '';
  return `Try ${describeDateFormat(g)} (config prep.ts_format${g.needsYear ? ', prep.ts_year' : ''})${year}.`;
}

function unweightedFix(unweighted: ReadonlyMap<string, number>, weights: ReadonlyMap<string, number>): string {
  const names = [...unweighted.keys()];
  const given = [...weights.entries()].map(([k, v]) => `${k}=${fmt(v)}`);
  return `Give them a weight, e.g. --event-weights ${[...given, ...names.slice(0, 5).map((n) => `${n}=1`)].join(',')} (config prep.event_weights).`;
}

/**
 * Mapped columns whose values or header name belong to another role: an event column that holds
 * times (a suggested or typed --columns that turned the time column into events: every row kept,
 * none with a time), and, under --columns, columns named like another role (`type` mapped as
 * rating, `user_id` as item).
 */
export function checkColumnRoles(ctx: ColumnContext, tsFormat: string | null): string[] {
  const out: string[] = [];
  const ev = ctx.plan.event;
  if (ev >= 0 && ctx.profiles[ev] && isTimeKind(ctx.profiles[ev].kind)) {
    const s = suggestedMapping(ctx, tsFormat);
    const fix = s !== null ? `Try ${s.flags} (config prep.columns).${s.lost}` : 'Map it as ts (--columns …,ts=C, config prep.columns).';
    out.push(`${label(ctx, 'event')}, mapped as event, holds ${describeProfile(ctx.profiles[ev])}: it looks like the time column, and ${ctx.plan.ts < 0 ? 'no column is mapped as ts, so no row keeps its time' : 'each of its dates counts as an event type'}. ${fix}`);
  }
  if (ctx.source !== 'columns' || ctx.header === null) return out;
  const header = ctx.header;
  const clashes: string[] = [];
  for (const role of COLUMN_ROLES) {
    const c = ctx.plan[role];
    const named = c >= 0 && header[c] !== undefined ? roleOfName(header[c]) : null;
    if (named !== null && named !== role) clashes.push(`${describeColumn(c, header)} is mapped as ${role} but named like ${named === 'item' || named === 'event' ? 'an' : 'a'} ${named} column`);
  }
  if (clashes.length > 0) {
    const swapped = roleOfName(header[ctx.plan.user]) === 'item' && roleOfName(header[ctx.plan.item]) === 'user';
    out.push(`--columns (config prep.columns): ${clashes.join('; ')}. ${swapped ? 'Are user and item swapped?' : 'Check the mapping.'}`);
  }
  return out;
}

/** Thresholds of the swapped user/item hint; see checkUserItemSwap. */
const SWAP_MIN_USERS = 100;
const SWAP_USERS_PER_ITEM = 3;
const SWAP_SINGLE_USER_SHARE = 0.2;
const SWAP_SINGLE_RATIO = 10;

/** Rows per id of an id column (the users', before the arrangement, which can take them: order.ts arrangeRows). */
export function idCounts(ids: Int32Array, n: number, size: number): Int32Array {
  const counts = new Int32Array(size);
  for (let i = 0; i < n; i++) counts[ids[i]]++;
  return counts;
}

function singleShare(counts: Int32Array, size: number): { distinct: number; single: number } {
  let distinct = 0;
  let single = 0;
  for (let k = 0; k < size; k++) {
    if (counts[k] > 0) distinct++;
    if (counts[k] === 1) single++;
  }
  return { distinct, single: distinct > 0 ? single / distinct : 0 };
}

/**
 * A hint that the user and item columns may be swapped: far more users than items, and the long
 * tail of single-row ids on the user side while items have next to none. In behaviour logs the
 * long tail is the items' (products seen once); in the shared real logs (MovieLens 100K/1M/latest,
 * Taobao, Tmall, Amazon Games/Beauty/Gift Cards/Magazines, YOOCHOOSE, DIGINETICA) the share of
 * single-row items is never below the users', while Tmall or MovieLens-latest with the columns
 * swapped shows 11-16 times more "users" than "items", 25-35% of them with one row and about 1%
 * of "items". A shop with a small catalogue and many one-off customers looks the same, so this is
 * a hint, never an error.
 */
export function checkUserItemSwap(store: RowStore, nUsers: number, nItems: number, ctx: ColumnContext | null, userCounts = idCounts(store.users, store.length, nUsers)): string | null {
  const n = store.length;
  const u = singleShare(userCounts, nUsers);
  if (u.distinct < SWAP_MIN_USERS || u.single < SWAP_SINGLE_USER_SHARE) return null;
  const i = singleShare(idCounts(store.items, n, nItems), nItems);
  if (u.distinct < SWAP_USERS_PER_ITEM * i.distinct || i.single * SWAP_SINGLE_RATIO > u.single) return null;
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const where = ctx !== null ? ` (user: ${label(ctx, 'user')}, item: ${label(ctx, 'item')})` : '';
  const swapped = ctx !== null && ctx.profiles.length > 0 ? formatPlan({ ...ctx.plan, user: ctx.plan.item, item: ctx.plan.user }) : null;
  const fix = swapped !== null ? `pass --columns ${swapped}` : 'swap them in --columns';
  return (
    `${u.distinct} users but ${i.distinct} items, and ${pct(u.single)} of the users have a single row against ${pct(i.single)} of the items; ` +
    `in behaviour logs the long tail is usually the items'. Are the user and item columns swapped${where}? If so, ${fix} (config prep.columns); if the shop has that many one-off customers, ignore this.`
  );
}

/** Ratings that cannot be ratings: too many levels, a huge span, or values that are unix times. */
export function checkRatings(store: RowStore, ctx: ColumnContext, nowMs: number): string | null {
  const n = store.length;
  if (n === 0 || ctx.plan.rating < 0) return null;
  const levels = new Set<number>();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let integers = 0;
  for (let i = 0; i < n; i++) {
    const v = store.valueAt(i);
    if (v < min) min = v;
    if (v > max) max = v;
    if (Number.isInteger(v)) integers++;
    if (levels.size <= RATING_MAX_DISTINCT) levels.add(v);
  }
  const sMin = PLAUSIBLE_TS_MIN_MS / 1000;
  const sMax = (nowMs + DAY_MS) / 1000;
  // Ratings are stored as float32: unix seconds keep their magnitude, not their last digits.
  const unixS = integers === n && min >= sMin && max <= sMax * 1.0001;
  const unixMs = integers === n && min >= sMin * 1000 && max <= (nowMs + DAY_MS) * 1.0001;
  const many = levels.size > RATING_MAX_DISTINCT;
  if (!many && max - min <= RATING_MAX_SPAN && !unixS && !unixMs) return null;
  const count = many ? `more than ${RATING_MAX_DISTINCT}` : String(levels.size);
  const note = unixS ? ', which look like unix seconds' : unixMs ? ', which look like unix milliseconds' : '';
  const fix = suggestColumns(ctx) || 'Check --columns (config prep.columns).';
  return (
    `${label(ctx, 'rating')}, mapped as rating, holds ${count} distinct values from ${fmt(min)} to ${fmt(max)}${note}; ratings are a few levels such as 1..5. ` +
    `${fix} If the log has no ratings, pass --feedback implicit (config prep.feedback).`
  );
}

/** The least and greatest ts in ms, from one tight pass over the stored column (null if it holds a NaN). */
function storedRange(store: RowStore): { min: number; max: number } | null {
  const ts = store.tsStorage();
  if (ts === null) return null;
  const n = store.length;
  let lo = ts[0];
  let hi = ts[0];
  for (let i = 1; i < n; i++) {
    const t = ts[i];
    if (t < lo) lo = t;
    else if (t > hi) hi = t;
  }
  if (Number.isNaN(lo) || Number.isNaN(hi)) return null;
  return { min: store.msOfStored(lo), max: store.msOfStored(hi) };
}

/** Times before 1995 or more than a day ahead: the ts column or its --ts-unit is wrong. */
export function checkTimes(store: RowStore, ctx: ColumnContext, tsUnit: TsUnit, tsFormat: string | null, nowMs: number): string | null {
  const n = store.length;
  if (!store.hasTs || n === 0) return null;
  const late = nowMs + DAY_MS;
  const stored = storedRange(store);
  // The stored units map to ms increasingly: when the extremes are plausible, every row is.
  if (stored !== null && stored.min >= PLAUSIBLE_TS_MIN_MS && stored.max <= late) return null;
  let early = 0;
  let future = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = store.tsAt(i);
    if (t < PLAUSIBLE_TS_MIN_MS) early++;
    else if (t > late) future++;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  if (early === 0 && future === 0) return null;
  const col = `${label(ctx, 'ts')}, mapped as ts,`;
  const range = `(${describeTsMs(min)} to ${describeTsMs(max)})`;
  const unitFlag = tsFormat !== null ? '--ts-format (config prep.ts_format)' : `--ts-unit ${tsUnit} (config prep.ts_unit)`;
  const generic = (): string => suggestColumns(ctx, tsFormat) || `Check --columns (config prep.columns) and ${unitFlag}.`;
  if (early * 2 > n) {
    let fix: string;
    if (tsFormat === null && tsUnit === 'ms' && min * 1000 >= PLAUSIBLE_TS_MIN_MS && max * 1000 <= late) {
      fix = 'The values look like unix seconds read as milliseconds: try --ts-unit s (config prep.ts_unit).';
    } else fix = `Is it a time column? ${generic()}`;
    return `${col} puts ${early} of ${n} rows before 1995 ${range} under ${unitFlag}. ${fix}`;
  }
  if (future * 2 > n) {
    let fix: string;
    if (tsFormat === null && tsUnit === 's' && min / 1000 >= PLAUSIBLE_TS_MIN_MS && max / 1000 <= late) {
      fix = 'The values look like unix milliseconds read as seconds: try --ts-unit ms (config prep.ts_unit).';
    } else fix = `Is it a time column? ${generic()}`;
    return `${col} puts ${future} of ${n} rows more than a day in the future ${range} under ${unitFlag}. ${fix}`;
  }
  const parts: string[] = [];
  if (early > 0) parts.push(`${early} before 1995`);
  if (future > 0) parts.push(`${future} more than a day in the future`);
  return `${col} has ${parts.join(' and ')} of its ${n} rows ${range}; they are kept. Check those rows of the input (see manifest time.min_iso / max_iso).`;
}

/** Weights for events no row has (misspelt?), and events rows have but no weight names. */
export function checkEventWeights(weights: ReadonlyMap<string, number> | null, seen: readonly string[], unweighted: ReadonlyMap<string, number>): string[] {
  if (weights === null) return [];
  const out: string[] = [];
  const have = new Set([...seen, ...unweighted.keys()]);
  const unused = [...weights.keys()].filter((k) => !have.has(k));
  if (unused.length > 0) {
    const list = [...have].map((e) => JSON.stringify(e)).join(', ');
    out.push(
      `--event-weights (config prep.event_weights) gives a weight to ${unused.map((e) => JSON.stringify(e)).join(', ')}, which no row has (events seen: ${list || 'none'}). Check the spelling.`,
    );
  }
  if (unweighted.size > 0) {
    const rows = [...unweighted.values()].reduce((a, b) => a + b, 0);
    const names = [...unweighted.entries()].slice(0, 5).map(([k, v]) => `${JSON.stringify(k)} (${v})`).join(', ');
    out.push(`${rows} rows were rejected as unknown_event: their events have no weight in --event-weights: ${names}${unweighted.size > 5 ? ', …' : ''}. ${unweightedFix(unweighted, weights)}`);
  }
  return out;
}

export interface SplitFacts {
  spec: SplitSpec;
  /** Shares applied (random/temporal). */
  ratios: [number, number, number] | null;
  rows: { train: number; valid: number; test: number };
  predefined: { valid: boolean; test: boolean };
  /** Rows per user after dedupe and k-core. */
  userCounts: Int32Array;
  removed: { rejected: number; deduplicated: number; filtered: number; minUser: number; minItem: number };
}

/** Splits left empty, all rows in one split, and users with too few rows for the split asked for. */
export function checkSplits(f: SplitFacts): string[] {
  const out: string[] = [];
  const total = f.rows.train + f.rows.valid + f.rows.test;
  if (total === 0) {
    const r = f.removed;
    const kcore = r.filtered > 0 ? ` Lower --min-user ${r.minUser} / --min-item ${r.minItem} (config prep.min_user, prep.min_item).` : '';
    out.push(`no rows are left for any split: ${r.rejected} were rejected, ${r.deduplicated} merged as duplicates and ${r.filtered} removed by k-core; the dataset is empty.${kcore}`);
    return out;
  }
  if (f.spec.kind === 'none') return out;
  const users = f.userCounts.length;
  let single = 0;
  let underThree = 0;
  for (let u = 0; u < users; u++) {
    if (f.userCounts[u] === 1) single++;
    if (f.userCounts[u] < 3) underThree++;
  }
  if (f.spec.kind === 'leave-last') {
    if (!f.predefined.valid && !f.predefined.test && f.rows.valid === 0 && f.rows.test === 0) {
      out.push(
        `--split leave-last (config prep.split) put every row in train: no user has the 3 rows it needs (last → test, second last → valid). Is the user column right? Otherwise use --split random:0.8,0.1,0.1.`,
      );
    } else if (underThree * 2 > users) {
      out.push(`${underThree} of ${users} users have fewer than 3 rows, so --split leave-last (config prep.split) keeps them wholly in train: valid and test hold only ${users - underThree} users.`);
    }
  } else if (f.spec.kind === 'days') {
    if (f.rows.train === 0) {
      out.push(
        `--split ${f.spec.kind}:${f.spec.valid},${f.spec.test} (config prep.split) left train empty: every row is within ${f.spec.valid + f.spec.test} days of the newest. Expected a log spanning more days, or fewer valid/test days.`,
      );
    }
  } else if (f.ratios !== null) {
    const names = ['train', 'valid', 'test'] as const;
    for (let k = 0; k < 3; k++) {
      const name = names[k];
      if (f.ratios[k] > 0 && f.rows[name] === 0) {
        const why = f.spec.kind === 'temporal' ? ' (temporal: rows sharing a timestamp stay together, so few distinct times leave a split empty)' : ' (too few rows)';
        out.push(`the ${name} split is empty although --split ${f.spec.kind} (config prep.split) gives it a share of ${fmt(f.ratios[k])}${why}.`);
      }
    }
  }
  if (users >= SINGLE_ROW_MIN_USERS && single >= SINGLE_ROW_SHARE * users) {
    out.push(
      `${single} of ${users} users (${((100 * single) / users).toFixed(1)}%) have a single row: a per-user model learns little about them${f.spec.kind === 'leave-last' ? ', and leave-last leaves them all in train' : ''}. Is the user column right (--columns, config prep.columns)? Session logs may need the session id as user.`,
    );
  }
  return out;
}
