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
  const { mode, byCode, codes, wide } = keepMode(store, rule);
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
      let drop: number;
      if (mode === KEEP_FIRST) drop = i;
      else if (mode === KEEP_LATER) drop = k;
      else if (mode === MAX_CODES) drop = byCode[codes[i]] >= byCode[codes[k]] ? k : i;
      else if (mode === MAX_WIDE) drop = wide[i] >= wide[k] ? k : i;
      else drop = dropOf(store, rule, i, k, '(user, item) pair');
      assign[drop] = REMOVED_DEDUPE;
      removed++;
      if (drop === k) kept[slot] = i;
    }
  }
  return removed;
}

const KEEP_FIRST = 0;
const KEEP_LATER = 1;
const MAX_CODES = 2;
const MAX_WIDE = 3;
const GENERIC = 4;

/**
 * How dedupeRows picks between a kept row and a later repeat without a call a repeat (a log of
 * repeated views has more repeats than pairs): "first" drops the repeat, "last" (and "max" over
 * one distinct value that is not NaN, where ties go to the later row) the kept row; "max" compares the stored
 * values directly (by code through the code's value, or the float32 column); "sum" goes through dropOf.
 */
function keepMode(store: RowStore, rule: Exclude<DedupeRule, 'none'>): { mode: number; byCode: Float64Array; codes: Uint8Array; wide: Float32Array } {
  const values = store.valueStorage();
  const codes = values instanceof Uint8Array ? values : new Uint8Array(0);
  const wide = values instanceof Float32Array ? values : new Float32Array(0);
  const byCode = new Float64Array(256);
  let mode = GENERIC;
  if (rule === 'first') mode = KEEP_FIRST;
  else if (rule === 'last' || (rule === 'max' && store.valueCodes === 1 && store.valueOfCode(0) >= store.valueOfCode(0))) mode = KEEP_LATER;
  else if (rule === 'max' && values instanceof Uint8Array) {
    mode = MAX_CODES;
    const n = store.valueCodes ?? 0;
    for (let c = 0; c < n; c++) byCode[c] = store.valueOfCode(c);
  } else if (rule === 'max') mode = MAX_WIDE;
  return { mode, byCode, codes, wide };
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
