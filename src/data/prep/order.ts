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
 * Rows up to this many are arranged through a 4-byte-a-row scratch (128 MiB at most): each column
 * moves a whole element at a time, and the destinations are inverted by a plain scatter. Larger
 * logs use a 1-byte scratch and invert in place, which keeps the arrangement's extra memory at one
 * byte a row (docs/warehouse.md#memory); both give the same arrangement, byte for byte.
 */
export const WIDE_SCRATCH_ROWS = 1 << 25;

/**
 * Puts the stored rows in (user, ts, seq) order, in place: a stable counting sort by user of the
 * rows (stored in seq order), then each user's run sorted by ts where it is not already in order
 * (logs usually are); ties keep input order. Every later pass (dedupe, k-core, split, writing)
 * then reads the columns sequentially, and each split file is this order filtered.
 * The user column is overwritten with each row's destination (its user's next free slot), every
 * other column is scattered to its destination through a scratch (raw bytes, so float bits are
 * copied exactly), and the destinations are then inverted into each position's source row, which
 * RowStore.finishArrange turns into seq: the user column becomes seq (the users are now runs).
 * `assign` is permuted alike. Rows already grouped by user in order move nowhere.
 */
export function arrangeRows(store: RowStore, assign: Uint8Array, nUsers: number, wideLimit = WIDE_SCRATCH_ROWS, userCounts: Int32Array | null = null): void {
  const n = store.length;
  const dest = store.users.subarray(0, n);
  const offsets = new Int32Array(nUsers + 1);
  // Rows per user, unless the caller counted them already (diagnose.ts idCounts).
  if (userCounts !== null) offsets.set(userCounts.subarray(0, nUsers), 1);
  else for (let i = 0; i < n; i++) offsets[dest[i] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const next = offsets.slice(0, nUsers);
  let moved = false;
  for (let i = 0; i < n; i++) {
    const d = next[dest[i]]++;
    dest[i] = d;
    if (d !== i) moved = true;
  }
  const ts = store.tsStorage();
  let uniform = true;
  for (let i = 1; i < n && uniform; i++) uniform = assign[i] === assign[0];
  if (moved) {
    const cols: Column[] = [store.items];
    // One distinct value: the code column is all 0 and stays as it is.
    if (store.valueCodes !== 1) cols.push(store.valueStorage());
    if (ts !== null) cols.push(ts);
    if (store.queries !== null) cols.push(store.queries);
    if (store.events !== null) cols.push(store.events);
    if (!uniform) cols.push(assign);
    if (n <= wideLimit) moveWide(cols, n, dest);
    else moveNarrow(cols, n, dest);
  }
  store.finishArrange(dest, offsets);
  if (ts !== null) sortRunsByTime(store, assign, !uniform, offsets, nUsers);
}

type Column = Float64Array | Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/**
 * Through a 4-byte scratch: each column one element (a float64 two words) at a time, then dest becomes its inverse.
 * The 1-byte columns (value codes, events, row states) move together, packed into one word a row, so their rows cost
 * one random write, not one each; the first of them rides in the item column's top byte while the items fit 24 bits.
 * scatter8/16/32 are one loop written per element type on purpose: each loop then sees one typed-array kind and
 * stays monomorphic in V8, where one generic loop over the three would not.
 */
function moveWide(cols: readonly Column[], n: number, dest: Int32Array): void {
  const scratch = new ArrayBuffer(n * 4);
  const bytes: Uint8Array[] = [];
  for (const col of cols) if (col.BYTES_PER_ELEMENT === 1) bytes.push(new Uint8Array(col.buffer, col.byteOffset, n));
  // cols[0] is the item column: below 2^24 items its top byte is free for one 1-byte column.
  const items = cols[0] as Int32Array;
  if (bytes.length > 0 && maxOf(items, n) < ITEM_PACK_LIMIT) scatterItemsWithByte(items, bytes.shift() as Uint8Array, n, dest, new Int32Array(scratch, 0, n));
  else scatter32(items, 1, n, dest, new Int32Array(scratch, 0, n));
  for (const col of cols.slice(1)) {
    const width = col.BYTES_PER_ELEMENT;
    if (width === 2) scatter16(new Uint16Array(col.buffer, col.byteOffset, n), n, dest, new Uint16Array(scratch, 0, n));
    else if (width > 2) scatter32(new Int32Array(col.buffer, col.byteOffset, n * (width / 4)), width / 4, n, dest, new Int32Array(scratch, 0, n));
  }
  if (bytes.length === 1) scatter8(bytes[0], n, dest, new Uint8Array(scratch, 0, n));
  else if (bytes.length === 2) scatter8x2(bytes[0], bytes[1], n, dest, new Int32Array(scratch, 0, n));
  else if (bytes.length === 3) scatter8x3(bytes[0], bytes[1], bytes[2], n, dest, new Int32Array(scratch, 0, n));
  const src = new Int32Array(scratch, 0, n);
  for (let i = 0; i < n; i++) src[dest[i]] = i;
  dest.set(src);
}

const ITEM_PACK_LIMIT = 1 << 24;

function maxOf(col: Int32Array, n: number): number {
  let max = 0;
  for (let i = 0; i < n; i++) if (col[i] > max) max = col[i];
  return max;
}

/** The item column and a 1-byte column in one random write a row: the byte in the item's top 8 bits. */
function scatterItemsWithByte(items: Int32Array, b: Uint8Array, n: number, dest: Int32Array, tmp: Int32Array): void {
  for (let i = 0; i < n; i++) tmp[dest[i]] = items[i] | (b[i] << 24);
  for (let i = 0; i < n; i++) {
    const w = tmp[i];
    items[i] = w & 0xffffff;
    b[i] = w >>> 24;
  }
}

function scatter8(col: Uint8Array, n: number, dest: Int32Array, tmp: Uint8Array): void {
  for (let i = 0; i < n; i++) tmp[dest[i]] = col[i];
  col.set(tmp);
}

function scatter8x2(a: Uint8Array, b: Uint8Array, n: number, dest: Int32Array, tmp: Int32Array): void {
  for (let i = 0; i < n; i++) tmp[dest[i]] = a[i] | (b[i] << 8);
  for (let i = 0; i < n; i++) {
    const w = tmp[i];
    a[i] = w;
    b[i] = w >>> 8;
  }
}

function scatter8x3(a: Uint8Array, b: Uint8Array, c: Uint8Array, n: number, dest: Int32Array, tmp: Int32Array): void {
  for (let i = 0; i < n; i++) tmp[dest[i]] = a[i] | (b[i] << 8) | (c[i] << 16);
  for (let i = 0; i < n; i++) {
    const w = tmp[i];
    a[i] = w;
    b[i] = w >>> 8;
    c[i] = w >>> 16;
  }
}

function scatter16(col: Uint16Array, n: number, dest: Int32Array, tmp: Uint16Array): void {
  for (let i = 0; i < n; i++) tmp[dest[i]] = col[i];
  col.set(tmp);
}

/** A column of `lanes` 32-bit words an element, one lane at a time. */
function scatter32(words: Int32Array, lanes: number, n: number, dest: Int32Array, tmp: Int32Array): void {
  if (lanes === 1) {
    for (let i = 0; i < n; i++) tmp[dest[i]] = words[i];
    words.set(tmp);
    return;
  }
  for (let lane = 0; lane < lanes; lane++) {
    for (let i = 0, k = lane; i < n; i++, k += lanes) tmp[dest[i]] = words[k];
    for (let i = 0, k = lane; i < n; i++, k += lanes) words[k] = tmp[i];
  }
}

/** Through a 1-byte scratch, one byte plane at a time, then dest inverted in place. */
function moveNarrow(cols: readonly Column[], n: number, dest: Int32Array): void {
  const tmp = new Uint8Array(n);
  for (const col of cols) scatterBytes(col, n, dest, tmp);
  invertInPlace(dest);
}

/** Moves the first n elements of col to their destinations, one byte plane at a time through tmp. */
function scatterBytes(col: Column, n: number, dest: Int32Array, tmp: Uint8Array): void {
  const width = col.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(col.buffer, col.byteOffset, n * width);
  for (let b = 0; b < width; b++) {
    for (let i = 0, k = b; i < n; i++, k += width) tmp[dest[i]] = bytes[k];
    for (let i = 0, k = b; i < n; i++, k += width) bytes[k] = tmp[i];
  }
}

/**
 * p (a permutation of 0..n-1) becomes its inverse, in place: each cycle is walked once, the
 * visited entries marked by storing their new value bitwise-negated (negative), then unmarked.
 */
function invertInPlace(p: Int32Array): void {
  const n = p.length;
  for (let i = 0; i < n; i++) {
    if (p[i] < 0) continue;
    let prev = i;
    let cur = p[i];
    while (cur !== i) {
      const nx = p[cur];
      p[cur] = ~prev;
      prev = cur;
      cur = nx;
    }
    p[i] = ~prev;
  }
  for (let i = 0; i < n; i++) p[i] = ~p[i];
}

/**
 * Sorts every user's run [offsets[u], offsets[u+1]) by (ts, position) where its ts are not
 * already non-decreasing. Within a run, positions are in seq order (the counting sort is stable
 * and rows were stored in seq order), so this is (ts, seq) order.
 */
function sortRunsByTime(store: RowStore, assign: Uint8Array, withAssign: boolean, offsets: Int32Array, nUsers: number): void {
  const ts = store.tsStorage();
  if (ts === null) return;
  const cols: Column[] = [store.items, store.seq];
  if (store.valueCodes !== 1) cols.push(store.valueStorage());
  if (store.queries !== null) cols.push(store.queries);
  if (store.events !== null) cols.push(store.events);
  if (withAssign) cols.push(assign);
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
    permuteRun(ts, order, s, buf);
    for (const col of cols) permuteRun(col, order, s, buf);
  }
}

/** Sorts run-relative indices by (ts[s + k], k): by time, ties in input order. */
function sortByTime(order: Int32Array, ts: Float64Array | Int32Array, s: number): void {
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

/** col[s + k] ← col[s + order[k]] for k < order.length, through a scratch buffer of at least 8 bytes a row. */
function permuteRun(col: Column, order: Int32Array, s: number, buf: ArrayBuffer): void {
  const len = order.length;
  const tmp = new (col.constructor as new (b: ArrayBuffer, o: number, n: number) => Column)(buf, 0, len);
  for (let k = 0; k < len; k++) tmp[k] = col[s + order[k]];
  col.set(tmp, s);
}
