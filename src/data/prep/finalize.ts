/**
 * After the split: the vocabularies of ids that still have rows (dense, in order of first
 * appearance), per-id counts and first/last timestamps, and per-split statistics with cold ids.
 * Plain functions over the typed columns, so their loops stay register-allocated.
 */
import type { ManifestSplitStats } from '../manifest.js';
import { POOL, TEST, TRAIN, VALID, isAlive } from './order.js';
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

export type SplitStatsAll = { train: ManifestSplitStats; valid: ManifestSplitStats; test: ManifestSplitStats };

/** Per-id marks of one pass: rows per id, raw first/last ts, and seen-in-split bits (1 train, 2 valid, 4 test). */
interface IdMarks {
  counts: Int32Array;
  first: Float64Array;
  last: Float64Array;
  seen: Uint8Array;
}

function idMarks(n: number): IdMarks {
  return { counts: new Int32Array(n), first: new Float64Array(n).fill(Number.NaN), last: new Float64Array(n).fill(Number.NaN), seen: new Uint8Array(n) };
}

/**
 * One pass over the rows that survived dedupe and k-core: counts, value and time ranges (the
 * summary), and rows, distinct and cold (no train row) users/items per split. The first
 * `keepUsers` / `keepItems` ids stay in the vocabularies at their index even with no rows left.
 * Times are compared in the column's own units (whole seconds after the store's base, or ms; the
 * mapping is increasing) and turned into ms per id afterwards. Split counts are taken on the raw
 * indices (before compaction, a one-to-one renaming of the ids that keep rows).
 */
export function summarizeSplits(store: RowStore, assign: Uint8Array, nUsers: number, nItems: number, keepUsers = 0, keepItems = 0): { sum: RowSummary; splitStats: SplitStatsAll } {
  const u = idMarks(nUsers);
  const it = idMarks(nItems);
  const rows = [0, 0, 0];
  const values = store.valueStorage();
  const codes = values instanceof Uint8Array ? new Uint8Array(256) : null;
  const range = markRows(store, assign, u, it, rows, codes);
  const toMs = (x: number): number => (Number.isNaN(x) ? x : store.msOfStored(x));
  for (const m of [u, it]) {
    for (let k = 0; k < m.first.length; k++) {
      m.first[k] = toMs(m.first[k]);
      m.last[k] = toMs(m.last[k]);
    }
  }
  let { vmin, vmax } = range;
  if (codes !== null) {
    for (let c = 0; c < 256; c++) {
      if (codes[c] === 0) continue;
      const v = store.valueOfCode(c);
      if (v < vmin) vmin = v;
      if (v > vmax) vmax = v;
    }
  }
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const sum: RowSummary = {
    users: compaction(u.counts, u.first, u.last, keepUsers),
    items: compaction(it.counts, it.first, it.last, keepItems),
    valueMin: finite(vmin),
    valueMax: finite(vmax),
    tsMin: finite(toMs(range.tmin)),
    tsMax: finite(toMs(range.tmax)),
  };
  return { sum, splitStats: splitCounts(rows, u.seen, it.seen) };
}

/**
 * The pass of summarizeSplits: fills the marks, `rows` per split, the value codes seen (or the
 * float value range), and the time range in the column's units.
 */
function markRows(store: RowStore, assign: Uint8Array, u: IdMarks, it: IdMarks, rows: number[], codes: Uint8Array | null): { vmin: number; vmax: number; tmin: number; tmax: number } {
  const items = store.items;
  const runs = store.runs;
  const ts = store.tsStorage();
  const values = store.valueStorage();
  const code8 = codes !== null ? (values as Uint8Array) : null;
  const wide = codes === null ? (values as Float32Array) : null;
  const { counts: ic, first: iFirst, last: iLast, seen: seenI } = it;
  let vmin = Number.POSITIVE_INFINITY;
  let vmax = Number.NEGATIVE_INFINITY;
  let tmin = Number.POSITIVE_INFINITY;
  let tmax = Number.NEGATIVE_INFINITY;
  const nUsers = u.counts.length;
  for (let user = 0; user < nUsers; user++) {
    const end = runs[user + 1];
    let count = 0;
    let bits = 0;
    let first = Number.NaN;
    let last = Number.NaN;
    for (let i = runs[user]; i < end; i++) {
      const c = assign[i];
      if (!isAlive(c)) continue;
      const item = items[i];
      count++;
      ic[item]++;
      if (c !== POOL) {
        rows[c]++;
        bits |= 1 << c;
        seenI[item] |= 1 << c;
      }
      if (code8 !== null && codes !== null) codes[code8[i]] = 1;
      else if (wide !== null) {
        const v = wide[i];
        if (v < vmin) vmin = v;
        if (v > vmax) vmax = v;
      }
      if (ts !== null) {
        const t = ts[i];
        if (t < tmin) tmin = t;
        if (t > tmax) tmax = t;
        if (!(first <= t)) first = t;
        if (!(last >= t)) last = t;
        if (!(iFirst[item] <= t)) iFirst[item] = t;
        if (!(iLast[item] >= t)) iLast[item] = t;
      }
    }
    u.counts[user] = count;
    u.first[user] = first;
    u.last[user] = last;
    u.seen[user] = bits;
  }
  return { vmin, vmax, tmin, tmax };
}

/** Per split: rows, the ids with a row in it, and those among them without a train row. */
function splitCounts(rows: number[], seenU: Uint8Array, seenI: Uint8Array): SplitStatsAll {
  const out: SplitStatsAll = {
    train: { rows: rows[TRAIN], users: 0, items: 0, cold_users: 0, cold_items: 0 },
    valid: { rows: rows[VALID], users: 0, items: 0, cold_users: 0, cold_items: 0 },
    test: { rows: rows[TEST], users: 0, items: 0, cold_users: 0, cold_items: 0 },
  };
  const byCode = [out.train, out.valid, out.test];
  for (let c = TRAIN; c <= TEST; c++) {
    const bit = 1 << c;
    const st = byCode[c];
    for (let k = 0; k < seenU.length; k++) {
      if ((seenU[k] & bit) === 0) continue;
      st.users++;
      if ((seenU[k] & 1) === 0) st.cold_users++;
    }
    for (let k = 0; k < seenI.length; k++) {
      if ((seenI[k] & bit) === 0) continue;
      st.items++;
      if ((seenI[k] & 1) === 0) st.cold_items++;
    }
  }
  return out;
}
