/**
 * Which input column plays which role (user, item, rating, event, ts): from --columns (names need
 * a header, indices are 0-based), or guessed from common header names, or by position for files
 * without a header (user,item[,rating][,ts]).
 */
import { DataError, UsageError, describeValue } from '../../util/errors.js';
import { COLUMN_ROLES, describeColumnRef, type ColumnRole, type ColumnsSpec } from './options.js';

/** Column index per role; -1 when the role is not mapped. */
export type ColumnPlan = Record<ColumnRole, number>;

/** Header names per role, normalised (lower case, without `_`, `-`, spaces), best first. */
const ALIASES: Record<ColumnRole, readonly string[]> = {
  user: ['userid', 'user', 'uid', 'customerid', 'customer', 'visitorid', 'memberid', 'reviewerid', 'sessionid', 'session'],
  item: ['itemid', 'item', 'iid', 'productid', 'product', 'movieid', 'movie', 'brandid', 'brand', 'articleid', 'asin', 'sku', 'skuid', 'contentid'],
  rating: ['rating', 'ratings', 'score', 'stars', 'overall'],
  event: ['event', 'eventtype', 'behaviortype', 'behaviourtype', 'behavior', 'behaviour', 'action', 'actiontype', 'type', 'interaction'],
  ts: ['timestamp', 'ts', 'time', 'datetime', 'eventtime', 'eventdate', 'visitdatetime', 'date', 'createdat', 'unixtime'],
};

export function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_\-.]/g, '');
}

/** True when some name in the row is a known column name (header auto-detection). */
export function looksLikeHeader(fields: readonly string[]): boolean {
  const known = new Set(Object.values(ALIASES).flat());
  return fields.some((f) => known.has(normaliseName(f)));
}

export function emptyPlan(): ColumnPlan {
  return { user: -1, item: -1, rating: -1, event: -1, ts: -1 };
}

function guessFromHeader(header: readonly string[]): ColumnPlan | null {
  const norm = header.map(normaliseName);
  const plan = emptyPlan();
  const used = new Set<number>();
  for (const role of COLUMN_ROLES) {
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
