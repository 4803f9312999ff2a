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
 * (logs usually are); ties keep input order. Every later pass (dedupe, k-core, split, writing)
 * then reads the columns sequentially, and each split file is this order filtered.
 * `assign` is permuted alike and returned. Costs one random read per row and column.
 */
export function arrangeRows(store: RowStore, assign: Uint8Array, nUsers: number): Uint8Array {
  const n = store.length;
  const users = store.users;
  const offsets = new Int32Array(nUsers + 1);
  for (let i = 0; i < n; i++) offsets[users[i] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const perm = new Int32Array(n);
  const next = offsets.slice(0, nUsers);
  for (let i = 0; i < n; i++) perm[next[users[i]]++] = i;
  const ts = store.ts;
  let tsNew: Float64Array | null = null;
  if (ts !== null) {
    tsNew = new Float64Array(n);
    for (let i = 0; i < n; i++) tsNew[i] = ts[perm[i]];
    for (let u = 0; u < nUsers; u++) {
      const s = offsets[u];
      const e = offsets[u + 1];
      let sorted = true;
      for (let k = s + 1; k < e; k++) {
        if (tsNew[k] < tsNew[k - 1]) {
          sorted = false;
          break;
        }
      }
      if (!sorted) sortSegment(perm, tsNew, s, e);
    }
  }
  const newUsers = new Int32Array(n);
  for (let u = 0; u < nUsers; u++) newUsers.fill(u, offsets[u], offsets[u + 1]);
  const items = new Int32Array(n);
  const values = new Float32Array(n);
  const seq = new Uint32Array(n);
  const oi = store.items;
  const ov = store.values;
  const os = store.seq;
  for (let i = 0; i < n; i++) {
    const r = perm[i];
    items[i] = oi[r];
    values[i] = ov[r];
    seq[i] = os[r];
  }
  store.users = newUsers;
  store.items = items;
  store.values = values;
  store.seq = seq;
  store.ts = tsNew;
  if (store.events) store.events = gather(store.events, perm);
  let uniform = true;
  for (let i = 1; i < n && uniform; i++) uniform = assign[i] === assign[0];
  return uniform ? assign.slice(0, n) : gather(assign, perm);
}

/** Sorts perm[s..e) and ts[s..e) together by (ts, original row index = input order). */
function sortSegment(perm: Int32Array, ts: Float64Array, s: number, e: number): void {
  const m = e - s;
  const pos = new Int32Array(m);
  for (let k = 0; k < m; k++) pos[k] = k;
  const before = (a: number, b: number): boolean => ts[s + a] < ts[s + b] || (ts[s + a] === ts[s + b] && perm[s + a] < perm[s + b]);
  if (m <= 16) {
    for (let i = 1; i < m; i++) {
      const p = pos[i];
      let j = i - 1;
      while (j >= 0 && before(p, pos[j])) {
        pos[j + 1] = pos[j];
        j--;
      }
      pos[j + 1] = p;
    }
  } else {
    pos.sort((a, b) => ts[s + a] - ts[s + b] || perm[s + a] - perm[s + b]);
  }
  const p2 = new Int32Array(m);
  const t2 = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    p2[k] = perm[s + pos[k]];
    t2[k] = ts[s + pos[k]];
  }
  perm.set(p2, s);
  ts.set(t2, s);
}

function gather<T extends Int32Array | Float32Array | Float64Array | Uint32Array | Uint16Array | Uint8Array>(src: T, perm: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(perm.length);
  for (let i = 0; i < perm.length; i++) out[i] = src[perm[i]];
  return out;
}
