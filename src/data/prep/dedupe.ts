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
  const { users, items, values } = store;
  const n = store.length;
  const slots = multiGroup ? 4 : 1;
  /** Per (item, group): the user whose rows last touched it, and the row kept so far. */
  const owner = new Int32Array(nItems * slots).fill(-1);
  const kept = new Int32Array(nItems * slots);
  let removed = 0;
  for (let i = 0; i < n; i++) {
    const g = assign[i];
    if (!isAlive(g)) continue;
    const slot = multiGroup ? items[i] * 4 + g : items[i];
    const u = users[i];
    if (owner[slot] !== u) {
      owner[slot] = u;
      kept[slot] = i;
      continue;
    }
    const k = kept[slot];
    let drop: number;
    switch (rule) {
      case 'first':
        drop = i;
        break;
      case 'last':
        drop = k;
        break;
      case 'max':
        drop = values[i] >= values[k] ? k : i;
        break;
      case 'sum':
        values[i] += values[k];
        if (!Number.isFinite(values[i])) {
          throw new DataError(
            `--dedupe sum (config prep.dedupe): the values of one (user, item) pair sum beyond the float32 range (±${FLOAT32_MAX}) in which values are stored. Expected per-pair sums that fit; use --dedupe max, first or last.`,
          );
        }
        drop = k;
        break;
    }
    assign[drop] = REMOVED_DEDUPE;
    removed++;
    if (drop === k) kept[slot] = i;
  }
  return removed;
}
