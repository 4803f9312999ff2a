import type { RowStore } from './store.js';

/**
 * Row orderings without a JS object per row: stable counting sorts on dense integer keys (O(n + K))
 * and the per-user (ts, seq) order every split file is written in.
 */

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

/** Row indices whose state passes `keep`, ascending (i.e. in seq order). */
export function rowsWhere(assign: Uint8Array, keep: (state: number) => boolean): Int32Array {
  let n = 0;
  for (let i = 0; i < assign.length; i++) if (keep(assign[i])) n++;
  const out = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < assign.length; i++) if (keep(assign[i])) out[j++] = i;
  return out;
}

/**
 * Puts the stored rows in (user, ts, seq) order, in place: a stable counting sort by user of the
 * rows (stored in seq order), then each user's run sorted by ts where it is not already in order
 * (logs usually are); comparing seq breaks ts ties in input order. Every later pass (dedupe,
 * k-core, split, writing) then reads the columns sequentially, and each split file is this order
 * filtered. Returns `assign` permuted alike.
 */
export function arrangeRows(store: RowStore, assign: Uint8Array, nUsers: number): Uint8Array {
  const n = store.length;
  const users = store.users;
  const offsets = new Int32Array(nUsers + 1);
  for (let i = 0; i < n; i++) offsets[users[i] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[offsets[users[i]]++] = i;
  const ts = store.ts;
  if (ts !== null) {
    let s = 0;
    while (s < n) {
      const u = users[perm[s]];
      let e = s + 1;
      let sorted = true;
      while (e < n && users[perm[e]] === u) {
        if (ts[perm[e]] < ts[perm[e - 1]]) sorted = false;
        e++;
      }
      if (!sorted) {
        const seg = perm.subarray(s, e);
        if (e - s <= 16) insertionSortByTs(seg, ts);
        else seg.sort((a, b) => ts[a] - ts[b] || a - b);
      }
      s = e;
    }
  }
  store.users = gather(store.users, perm);
  store.items = gather(store.items, perm);
  store.values = gather(store.values, perm);
  if (store.ts) store.ts = gather(store.ts, perm);
  store.seq = gather(store.seq, perm);
  if (store.events) store.events = gather(store.events, perm);
  return gather(assign, perm);
}

function gather<T extends Int32Array | Float32Array | Float64Array | Uint32Array | Uint16Array | Uint8Array>(src: T, perm: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(perm.length);
  for (let i = 0; i < perm.length; i++) out[i] = src[perm[i]];
  return out;
}

function insertionSortByTs(seg: Int32Array, ts: Float64Array): void {
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
}
