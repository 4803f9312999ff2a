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

export function isAlive(state: number): boolean {
  return state <= POOL;
}

/**
 * Puts the stored rows in (user, ts, seq) order, in place: a stable counting sort by user of the
 * rows (stored in seq order), then each user's run sorted by ts where it is not already in order
 * (logs usually are); ties keep input order. Every later pass (dedupe, k-core, split, writing)
 * then reads the columns sequentially, and each split file is this order filtered.
 * Each column is gathered into one shared 8-byte-a-row scratch buffer and copied back, so the
 * extra memory is 12 bytes a row (permutation + scratch) instead of a second copy of the table.
 * `assign` is permuted alike.
 */
export function arrangeRows(store: RowStore, assign: Uint8Array, nUsers: number): void {
  const n = store.length;
  const users = store.users;
  const offsets = new Int32Array(nUsers + 1);
  for (let i = 0; i < n; i++) offsets[users[i] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const perm = new Int32Array(n);
  const next = offsets.slice(0, nUsers);
  for (let i = 0; i < n; i++) perm[next[users[i]]++] = i;
  const scratch = new ArrayBuffer(n * 8);
  const ts = store.ts;
  if (ts !== null) {
    const t = new Float64Array(scratch, 0, n);
    for (let i = 0; i < n; i++) t[i] = ts[perm[i]];
    for (let u = 0; u < nUsers; u++) {
      const s = offsets[u];
      const e = offsets[u + 1];
      for (let k = s + 1; k < e; k++) {
        if (t[k] < t[k - 1]) {
          sortSegment(perm, ts, s, e);
          for (let q = s; q < e; q++) t[q] = ts[perm[q]];
          break;
        }
      }
    }
    ts.set(t);
  }
  gatherInPlace(store.items, perm, new Int32Array(scratch, 0, n));
  gatherInPlace(store.values, perm, new Float32Array(scratch, 0, n));
  gatherInPlace(store.seq, perm, new Uint32Array(scratch, 0, n));
  if (store.events !== null) gatherInPlace(store.events, perm, new Uint16Array(scratch, 0, n));
  let uniform = true;
  for (let i = 1; i < n && uniform; i++) uniform = assign[i] === assign[0];
  if (!uniform) gatherInPlace(assign, perm, new Uint8Array(scratch, 0, n));
  for (let u = 0; u < nUsers; u++) users.fill(u, offsets[u], offsets[u + 1]);
}

type Column = Int32Array | Float32Array | Uint32Array | Uint16Array | Uint8Array;

/** col[0..n) ← col[perm[0..n)] through `tmp` (a view of the shared scratch of the same type). */
function gatherInPlace<T extends Column>(col: T, perm: Int32Array, tmp: T): void {
  const n = perm.length;
  for (let i = 0; i < n; i++) tmp[i] = col[perm[i]];
  col.set(tmp);
}

/** Sorts perm[s..e) by (ts[perm], perm), i.e. by time, ties in input order. */
function sortSegment(perm: Int32Array, ts: Float64Array, s: number, e: number): void {
  const seg = perm.subarray(s, e);
  if (e - s <= 16) {
    for (let i = 1; i < seg.length; i++) {
      const r = seg[i];
      const t = ts[r];
      let j = i - 1;
      while (j >= 0 && (ts[seg[j]] > t || (ts[seg[j]] === t && seg[j] > r))) {
        seg[j + 1] = seg[j];
        j--;
      }
      seg[j + 1] = r;
    }
  } else {
    seg.sort((a, b) => ts[a] - ts[b] || a - b);
  }
}
