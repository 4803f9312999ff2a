/**
 * How NEW's interactions differ from OLD's (rec drift): pure functions over id → row-count maps,
 * float64 throughout. Every share is of rows (interactions), not of distinct ids, unless the name
 * says `_ids`.
 */
import { DAY_MS } from '../data/prep/timestamps.js';

/** What one side of the comparison holds. */
export interface Profile {
  /** The path as given. */
  source: string;
  kind: 'dataset' | 'log';
  rows: number;
  /** Rows per user id / item id (ids with no rows are absent). */
  users: Map<string, number>;
  items: Map<string, number>;
  /** Rows per event name; null when the data has no event column. */
  events: Map<string, number> | null;
  /** Epoch ms of the oldest and newest row; null without timestamps. */
  minTs: number | null;
  maxTs: number | null;
}

export const DRIFT_METRICS = ['new_users', 'new_items', 'new_user_ids', 'new_item_ids', 'top100_overlap', 'js_items', 'js_events', 'volume_ratio'] as const;
export type DriftMetric = (typeof DRIFT_METRICS)[number];

export interface DriftMetrics {
  /** Share of NEW's rows whose user has no row in OLD (0..1). */
  new_users: number | null;
  /** Share of NEW's rows whose item has no row in OLD (0..1). */
  new_items: number | null;
  /** Distinct users / items of NEW with no row in OLD. */
  new_user_ids: number;
  new_item_ids: number;
  /** |top-100 items of OLD ∩ top-100 of NEW| / min(100, items of OLD, items of NEW), by row count (ties: id order). */
  top100_overlap: number | null;
  /** Jensen–Shannon divergence (base 2, 0..1) of the item frequency distributions. */
  js_items: number | null;
  /** Jensen–Shannon divergence (base 2) of the event mixes; null when either side has no events. */
  js_events: number | null;
  /** NEW's volume over OLD's: rows per day when both have timestamps, else rows (see volume_basis). */
  volume_ratio: number | null;
}

/**
 * Jensen–Shannon divergence in bits between the distributions proportional to `p` and `q` (counts
 * keyed alike): ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q) / 2. 0 for equal distributions, 1 for disjoint
 * ones. Null when either side is empty.
 */
export function jsDivergence(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number | null {
  let tp = 0;
  let tq = 0;
  for (const v of p.values()) tp += v;
  for (const v of q.values()) tq += v;
  if (!(tp > 0) || !(tq > 0)) return null;
  let sum = 0;
  const term = (a: number, m: number): number => (a > 0 ? a * Math.log2(a / m) : 0);
  for (const [k, cp] of p) {
    const a = cp / tp;
    const b = (q.get(k) ?? 0) / tq;
    const m = (a + b) / 2;
    sum += term(a, m) + term(b, m);
  }
  // Keys only in q: there a = 0, so the term is b·log2(b / (b/2)) = b.
  for (const [k, cq] of q) if (!p.has(k)) sum += cq / tq;
  return Math.min(1, Math.max(0, sum / 2));
}

/** The k ids with the most rows, ties broken by id (code-unit order) so the result is deterministic. */
export function topIds(counts: ReadonlyMap<string, number>, k: number): string[] {
  const all = [...counts.entries()];
  all.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return all.slice(0, k).map(([id]) => id);
}

function unseen(oldIds: ReadonlyMap<string, number>, newIds: ReadonlyMap<string, number>): { rows: number; ids: number } {
  let rows = 0;
  let ids = 0;
  for (const [id, n] of newIds) {
    if (oldIds.has(id)) continue;
    rows += n;
    ids++;
  }
  return { rows, ids };
}

/** Rows per day: rows / days spanned, at least one day (a single day's log is one day). */
export function perDay(p: Profile): number | null {
  if (p.minTs === null || p.maxTs === null) return null;
  return p.rows / Math.max(1, (p.maxTs - p.minTs) / DAY_MS);
}

export function compareProfiles(oldP: Profile, newP: Profile, k = 100): { metrics: DriftMetrics; volume_basis: 'rows_per_day' | 'rows' } {
  const u = unseen(oldP.users, newP.users);
  const i = unseen(oldP.items, newP.items);
  const share = (x: number): number | null => (newP.rows > 0 ? x / newP.rows : null);
  let overlap: number | null = null;
  const denom = Math.min(k, oldP.items.size, newP.items.size);
  if (denom > 0) {
    const a = new Set(topIds(oldP.items, k));
    let common = 0;
    for (const id of topIds(newP.items, k)) if (a.has(id)) common++;
    overlap = common / denom;
  }
  const oldRate = perDay(oldP);
  const newRate = perDay(newP);
  const byDay = oldRate !== null && newRate !== null;
  const volume = byDay ? (oldRate > 0 ? newRate / oldRate : null) : oldP.rows > 0 ? newP.rows / oldP.rows : null;
  return {
    metrics: {
      new_users: share(u.rows),
      new_items: share(i.rows),
      new_user_ids: u.ids,
      new_item_ids: i.ids,
      top100_overlap: overlap,
      js_items: jsDivergence(oldP.items, newP.items),
      js_events: oldP.events !== null && newP.events !== null ? jsDivergence(oldP.events, newP.events) : null,
      volume_ratio: volume,
    },
    volume_basis: byDay ? 'rows_per_day' : 'rows',
  };
}
