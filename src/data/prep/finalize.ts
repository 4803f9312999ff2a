/**
 * After the split: the vocabularies of ids that still have rows (dense, in order of first
 * appearance), per-id counts and first/last timestamps, and per-split statistics with cold ids.
 * Plain functions over the typed columns, so their loops stay register-allocated.
 */
import type { ManifestSplitStats } from '../manifest.js';
import { TEST, TRAIN, VALID, isAlive } from './order.js';
import type { RowStore } from './store.js';

export interface Compaction {
  /** Old index → new index, -1 for ids left without rows. */
  map: Int32Array;
  size: number;
  /** Rows per new index. */
  counts: Int32Array;
  /** First / last ts per new index (NaN without time). */
  firstTs: Float64Array;
  lastTs: Float64Array;
}

export interface RowSummary {
  users: Compaction;
  items: Compaction;
  valueMin: number | null;
  valueMax: number | null;
  tsMin: number | null;
  tsMax: number | null;
}

/** Ids below `keep` (a base dataset's, under --append-to) keep their index even without rows. */
function compaction(counts: Int32Array, first: Float64Array, last: Float64Array, keep: number): Compaction {
  const map = new Int32Array(counts.length).fill(-1);
  let size = 0;
  for (let k = 0; k < counts.length; k++) if (k < keep || counts[k] > 0) map[k] = size++;
  const kept = new Int32Array(size);
  const firstTs = new Float64Array(size);
  const lastTs = new Float64Array(size);
  for (let k = 0; k < counts.length; k++) {
    const j = map[k];
    if (j < 0) continue;
    kept[j] = counts[k];
    firstTs[j] = first[k];
    lastTs[j] = last[k];
  }
  return { map, size, counts: kept, firstTs, lastTs };
}

/**
 * One pass over the rows that survived dedupe and k-core: counts, value and time ranges. The first
 * `keepUsers` / `keepItems` ids stay in the vocabularies at their index even with no rows left.
 */
export function summarizeRows(store: RowStore, assign: Uint8Array, nUsers: number, nItems: number, keepUsers = 0, keepItems = 0): RowSummary {
  const items = store.items;
  const runs = store.runs;
  const hasTs = store.hasTs;
  const uc = new Int32Array(nUsers);
  const ic = new Int32Array(nItems);
  const uFirst = new Float64Array(nUsers).fill(Number.NaN);
  const uLast = new Float64Array(nUsers).fill(Number.NaN);
  const iFirst = new Float64Array(nItems).fill(Number.NaN);
  const iLast = new Float64Array(nItems).fill(Number.NaN);
  let vmin = Number.POSITIVE_INFINITY;
  let vmax = Number.NEGATIVE_INFINITY;
  let tmin = Number.POSITIVE_INFINITY;
  let tmax = Number.NEGATIVE_INFINITY;
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      if (!isAlive(assign[i])) continue;
      const it = items[i];
      uc[u]++;
      ic[it]++;
      const v = store.valueAt(i);
      if (v < vmin) vmin = v;
      if (v > vmax) vmax = v;
      if (hasTs) {
        const t = store.tsAt(i);
        if (t < tmin) tmin = t;
        if (t > tmax) tmax = t;
        if (!(uFirst[u] <= t)) uFirst[u] = t;
        if (!(uLast[u] >= t)) uLast[u] = t;
        if (!(iFirst[it] <= t)) iFirst[it] = t;
        if (!(iLast[it] >= t)) iLast[it] = t;
      }
    }
  }
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return {
    users: compaction(uc, uFirst, uLast, keepUsers),
    items: compaction(ic, iFirst, iLast, keepItems),
    valueMin: finite(vmin),
    valueMax: finite(vmax),
    tsMin: finite(tmin),
    tsMax: finite(tmax),
  };
}

export type SplitStatsAll = { train: ManifestSplitStats; valid: ManifestSplitStats; test: ManifestSplitStats };

/**
 * Rows, distinct users/items and cold users/items (no train row) per split. Counted on the raw
 * indices (before compaction, a one-to-one renaming of the ids that keep rows), which saves two
 * lookups a row.
 */
export function splitStatistics(store: RowStore, assign: Uint8Array, nUsers: number, nItems: number): SplitStatsAll {
  const runs = store.runs;
  const items = store.items;
  const inTrainU = new Uint8Array(nUsers);
  const inTrainI = new Uint8Array(nItems);
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      if (assign[i] !== TRAIN) continue;
      inTrainU[u] = 1;
      inTrainI[items[i]] = 1;
    }
  }
  const out: SplitStatsAll = {
    train: { rows: 0, users: 0, items: 0, cold_users: 0, cold_items: 0 },
    valid: { rows: 0, users: 0, items: 0, cold_users: 0, cold_items: 0 },
    test: { rows: 0, users: 0, items: 0, cold_users: 0, cold_items: 0 },
  };
  const byCode = [out.train, out.valid, out.test];
  // Seen-marks per split as bits: 1 train, 2 valid, 4 test.
  const seenU = new Uint8Array(nUsers);
  const seenI = new Uint8Array(nItems);
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) countRow(u, i);
  }
  return out;

  function countRow(u: number, i: number): void {
    const c = assign[i];
    if (c !== TRAIN && c !== VALID && c !== TEST) return;
    const st = byCode[c];
    st.rows++;
    const bit = 1 << c;
    const it = items[i];
    if (!(seenU[u] & bit)) {
      seenU[u] |= bit;
      st.users++;
      if (!inTrainU[u]) st.cold_users++;
    }
    if (!(seenI[it] & bit)) {
      seenI[it] |= bit;
      st.items++;
      if (!inTrainI[it]) st.cold_items++;
    }
  }
}
