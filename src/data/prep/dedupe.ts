/**
 * De-duplication of repeated (user, item) rows, within each source group (the logs, a --valid file,
 * a --test file). "first"/"last" are chronological: by (ts, seq), i.e. input order when the log has
 * no time. "max" keeps the row with the largest value (ties: the latest). "sum" keeps the latest row
 * with the sum of the group's values.
 *
 * Runs on rows arranged in (user, ts, seq) order (order.ts arrangeRows), so one sequential pass
 * with a per-item stamp finds every repeat, and a later position is a later row.
 */
import { DataError } from '../../util/errors.js';
import { FLOAT32_MAX } from './numbers.js';
import type { RowStore } from './store.js';
import { REMOVED_DEDUPE, isAlive } from './order.js';

export const DEDUPE_RULES = ['first', 'last', 'max', 'sum', 'none'] as const;
export type DedupeRule = (typeof DEDUPE_RULES)[number];

/** Marks duplicates REMOVED_DEDUPE in `assign`; returns how many rows were removed. */
export function dedupeRows(store: RowStore, assign: Uint8Array, nItems: number, rule: DedupeRule, multiGroup: boolean): number {
  if (rule === 'none' || store.length === 0) return 0;
  const items = store.items;
  const runs = store.runs;
  const nUsers = runs.length - 1;
  const slots = multiGroup ? 4 : 1;
  /** Per (item, group): the user whose rows last touched it, and the row kept so far. */
  const owner = new Int32Array(nItems * slots).fill(-1);
  const kept = new Int32Array(nItems * slots);
  let removed = 0;
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      const g = assign[i];
      if (!isAlive(g)) continue;
      const slot = multiGroup ? items[i] * 4 + g : items[i];
      if (owner[slot] !== u) {
        owner[slot] = u;
        kept[slot] = i;
        continue;
      }
      const k = kept[slot];
      const drop = dropOf(store, rule, i, k, '(user, item) pair');
      assign[drop] = REMOVED_DEDUPE;
      removed++;
      if (drop === k) kept[slot] = i;
    }
  }
  return removed;
}

/** Which of rows k (kept so far) and i (a later repeat of the same `what`) goes; under "sum" i takes both values. */
export function dropOf(store: RowStore, rule: Exclude<DedupeRule, 'none'>, i: number, k: number, what: string): number {
  switch (rule) {
    case 'first':
      return i;
    case 'last':
      return k;
    case 'max':
      return store.valueAt(i) >= store.valueAt(k) ? k : i;
    case 'sum':
      store.setValue(i, store.valueAt(i) + store.valueAt(k));
      if (!Number.isFinite(store.valueAt(i))) {
        throw new DataError(
          `--dedupe sum (config prep.dedupe): the values of one ${what} sum beyond the float32 range (±${FLOAT32_MAX}) in which values are stored. Expected sums that fit; use --dedupe max, first or last.`,
        );
      }
      return k;
  }
}
