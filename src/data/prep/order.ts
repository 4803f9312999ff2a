/**
 * Row states and the (user, ts, seq) arrangement of the stored rows, done with a counting sort on
 * the dense user index (O(n + users)), never a JS object per row.
 */
import type { RowStore } from './store.js';

/** Row states in `assign` (one byte a row). */
export const TRAIN = 0;
export const VALID = 1;
export const TEST = 2;
/** Not yet assigned to a split (rows of the logs, before the split). */
export const POOL = 3;
export const REMOVED_DEDUPE = 4;
export const REMOVED_KCORE = 5;
/** Older than --window DAYS before the newest row. */
export const REMOVED_WINDOW = 6;

export function isAlive(state: number): boolean {
  return state <= POOL;
}

/**
 * Puts the stored rows in (user, ts, seq) order, in place: a stable counting sort by user of the
 * rows (stored in seq order), then each user's run sorted by ts where it is not already in order
 * (logs usually are); ties keep input order. Every later pass (dedupe, k-core, split, writing)
 * then reads the columns sequentially, and each split file is this order filtered.
 * Each column is scattered straight to its sorted position (a sequential read; the destination of
 * row i is the next free slot of its user, recounted per column, so no permutation array is kept)
 * into one shared 4-byte-a-row scratch buffer and copied back (ts as two 32-bit halves), so the
 * extra memory is 4 bytes a row, not a second copy of the table. Columns move as raw 32-bit
 * words, so float bits are copied exactly. `assign` is permuted alike.
 */
export function arrangeRows(store: RowStore, assign: Uint8Array, nUsers: number): void {
  const n = store.length;
  const users = store.users;
  const offsets = new Int32Array(nUsers + 1);
  for (let i = 0; i < n; i++) offsets[users[i] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const next = new Int32Array(nUsers);
  const scratch = new ArrayBuffer(n * 4);
  const tmp32 = new Int32Array(scratch, 0, n);
  const ts = store.ts;
  if (ts !== null) {
    // Low words first, then high words: each half moves through the 4-byte scratch, and writing
    // one half back never overwrites the other half of a row not yet moved.
    const w = new Int32Array(ts.buffer, ts.byteOffset, 2 * n);
    scatterHalf(w, 0, users, offsets, next, tmp32);
    scatterHalf(w, 1, users, offsets, next, tmp32);
  }
  scatterWords(words(store.items, n), users, offsets, next, tmp32);
  scatterWords(words(store.values, n), users, offsets, next, tmp32);
  scatterWords(words(store.seq, n), users, offsets, next, tmp32);
  if (store.queries !== null) scatterWords(words(store.queries, n), users, offsets, next, tmp32);
  const events = store.events;
  if (events !== null) {
    const tmp = new Uint16Array(scratch, 0, n);
    next.set(offsets.subarray(0, nUsers));
    for (let i = 0; i < n; i++) tmp[next[users[i]]++] = events[i];
    events.set(tmp);
  }
  let uniform = true;
  for (let i = 1; i < n && uniform; i++) uniform = assign[i] === assign[0];
  if (!uniform) {
    const tmp = new Uint8Array(scratch, 0, n);
    next.set(offsets.subarray(0, nUsers));
    for (let i = 0; i < n; i++) tmp[next[users[i]]++] = assign[i];
    assign.set(tmp);
  }
  for (let u = 0; u < nUsers; u++) users.fill(u, offsets[u], offsets[u + 1]);
  if (ts !== null) sortRunsByTime(store, assign, !uniform, offsets, nUsers);
}

/** The first n elements of a 4-byte column as raw 32-bit words (a view, no copy). */
function words(col: Int32Array | Float32Array | Uint32Array, n: number): Int32Array {
  return new Int32Array(col.buffer, col.byteOffset, n);
}

/** Stable scatter of col by user into tmp, then copied back. */
function scatterWords(col: Int32Array, users: Int32Array, offsets: Int32Array, next: Int32Array, tmp: Int32Array): void {
  const n = col.length;
  next.set(offsets.subarray(0, next.length));
  for (let i = 0; i < n; i++) tmp[next[users[i]]++] = col[i];
  col.set(tmp);
}

/** Stable scatter by user of the words w[2i + half] (one half of each float64) through tmp. */
function scatterHalf(w: Int32Array, half: 0 | 1, users: Int32Array, offsets: Int32Array, next: Int32Array, tmp: Int32Array): void {
  const n = tmp.length;
  next.set(offsets.subarray(0, next.length));
  for (let i = 0; i < n; i++) tmp[next[users[i]]++] = w[2 * i + half];
  for (let i = 0; i < n; i++) w[2 * i + half] = tmp[i];
}

/**
 * Sorts every user's run [offsets[u], offsets[u+1]) by (ts, position) where its ts are not
 * already non-decreasing. Within a run, positions are in seq order (the counting sort is stable
 * and rows were stored in seq order), so this is (ts, seq) order.
 */
function sortRunsByTime(store: RowStore, assign: Uint8Array, withAssign: boolean, offsets: Int32Array, nUsers: number): void {
  const ts = store.ts;
  if (ts === null) return;
  const n = store.length;
  const items = words(store.items, n);
  const values = words(store.values, n);
  const seq = words(store.seq, n);
  const events = store.events;
  let idx: Int32Array | null = null;
  let scratch: ArrayBuffer | null = null;
  for (let u = 0; u < nUsers; u++) {
    const s = offsets[u];
    const e = offsets[u + 1];
    let sorted = true;
    for (let k = s + 1; k < e; k++) {
      if (ts[k] < ts[k - 1]) {
        sorted = false;
        break;
      }
    }
    if (sorted) continue;
    const len = e - s;
    if (idx === null || idx.length < len) {
      // Sized for the longest run, so a log with many unsorted runs allocates this once.
      let longest = len;
      for (let v = u; v < nUsers; v++) longest = Math.max(longest, offsets[v + 1] - offsets[v]);
      idx = new Int32Array(longest);
      scratch = new ArrayBuffer(longest * 8);
    }
    const order = idx.subarray(0, len);
    for (let k = 0; k < len; k++) order[k] = k;
    sortByTime(order, ts, s);
    const buf = scratch as ArrayBuffer;
    permuteRun(ts, order, s, new Float64Array(buf, 0, len));
    const w = new Int32Array(buf, 0, len);
    permuteRun(items, order, s, w);
    permuteRun(values, order, s, w);
    permuteRun(seq, order, s, w);
    if (store.queries !== null) permuteRun(store.queries, order, s, w);
    if (events !== null) permuteRun(events, order, s, new Uint16Array(buf, 0, len));
    if (withAssign) permuteRun(assign, order, s, new Uint8Array(buf, 0, len));
  }
}

/** Sorts run-relative indices by (ts[s + k], k): by time, ties in input order. */
function sortByTime(order: Int32Array, ts: Float64Array, s: number): void {
  if (order.length <= 16) {
    for (let i = 1; i < order.length; i++) {
      const r = order[i];
      const t = ts[s + r];
      let j = i - 1;
      while (j >= 0 && (ts[s + order[j]] > t || (ts[s + order[j]] === t && order[j] > r))) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = r;
    }
  } else {
    order.sort((a, b) => ts[s + a] - ts[s + b] || a - b);
  }
}

type Column = Float64Array | Int32Array | Uint16Array | Uint8Array;

/** col[s + k] ← col[s + order[k]] for k < order.length, through `tmp`. */
function permuteRun<T extends Column>(col: T, order: Int32Array, s: number, tmp: T): void {
  const len = order.length;
  for (let k = 0; k < len; k++) tmp[k] = col[s + order[k]];
  col.set(tmp, s);
}
