/**
 * Items per user, the one structure train, eval and recommend share: CSR form, one offsets array
 * and one items array (a JS array per user would cost ~100 bytes of overhead each on a
 * million-user log, and typed arrays can be shared with worker threads as they are). Row j's
 * items are items[offsets[j] .. offsets[j + 1]); a row is a user index, or for eval's per-user
 * tables the j-th evaluated user. The builders differ only in the order they leave a row in:
 * - `groupByUser`: rows in input order (eval's relevant, excluded and interacted items);
 * - `userItemSets`: sorted and distinct, for `hasItem` (negative sampling, seen items);
 * - `userSequences`: time order, for sequence models' histories.
 */
import type { SplitData } from './dataset.js';

export interface UserItems {
  offsets: Int32Array;
  items: Int32Array;
}

type UserItemRows = Pick<SplitData, 'users' | 'items'>;
type TimedRows = Pick<SplitData, 'users' | 'items' | 'ts' | 'seq'>;

/** Row j's items (a view). */
export function itemsOf(c: UserItems, j: number): Int32Array {
  return c.items.subarray(c.offsets[j], c.offsets[j + 1]);
}

/** How many rows (users) the structure holds. */
export function rowCount(c: UserItems): number {
  return c.offsets.length - 1;
}

/** Each user's items over `parts`, in input order, keeping the rows `keep` accepts (all when absent). */
export function groupByUser(numUsers: number, parts: readonly UserItemRows[], keep?: (part: number, row: number) => boolean): UserItems {
  const offsets = new Int32Array(numUsers + 1);
  parts.forEach((p, k) => {
    for (let r = 0; r < p.users.length; r++) if (keep === undefined || keep(k, r)) offsets[p.users[r] + 1]++;
  });
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const items = new Int32Array(offsets[numUsers]);
  parts.forEach((p, k) => {
    for (let r = 0; r < p.users.length; r++) if (keep === undefined || keep(k, r)) items[cursor[p.users[r]]++] = p.items[r];
  });
  return { offsets, items };
}

/** Each user's interacted items over `parts`, sorted ascending and distinct (what `hasItem` searches). */
export function userItemSets(numUsers: number, parts: readonly UserItemRows[]): UserItems {
  const { offsets, items } = groupByUser(numUsers, parts);
  let write = 0;
  const dedupOffsets = new Int32Array(numUsers + 1);
  for (let u = 0; u < numUsers; u++) {
    const slice = items.subarray(offsets[u], offsets[u + 1]).sort();
    dedupOffsets[u] = write;
    for (let j = 0; j < slice.length; j++) if (j === 0 || slice[j] !== slice[j - 1]) items[write++] = slice[j];
  }
  dedupOffsets[numUsers] = write;
  return { offsets: dedupOffsets, items: items.slice(0, write) };
}

/** Whether `item` is in the user's row of a structure built by `userItemSets` (binary search). */
export function hasItem(sets: UserItems, user: number, item: number): boolean {
  let lo = sets.offsets[user];
  let hi = sets.offsets[user + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sets.items[mid];
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Each user's item history in time order, for sequence models (SASRec): the rows of the given
 * splits merged per user by (ts, seq), so that train + valid is the input that predicts a
 * leave-last test item.
 */
export function userSequences(numUsers: number, splits: readonly TimedRows[]): UserItems {
  const offsets = new Int32Array(numUsers + 1);
  for (const s of splits) for (let r = 0; r < s.users.length; r++) offsets[s.users[r] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const total = offsets[numUsers];
  const items = new Int32Array(total);
  const ts = new Float64Array(total);
  const seq = new Float64Array(total);
  const fill = offsets.slice(0, numUsers);
  for (const s of splits) {
    for (let r = 0; r < s.users.length; r++) {
      const at = fill[s.users[r]]++;
      items[at] = s.items[r];
      // A log without time orders by input position alone.
      ts[at] = s.ts === null ? 0 : s.ts[r];
      seq[at] = s.seq[r];
    }
  }
  // Each split is already sorted by (user, ts, seq); rows of several splits interleave in time
  // (random splits), so each user's segment is sorted again, stably, when more than one split is merged.
  if (splits.length > 1) sortSegmentsByTime(offsets, items, ts, seq);
  return { offsets, items };
}

function sortSegmentsByTime(offsets: Int32Array, items: Int32Array, ts: Float64Array, seq: Float64Array): void {
  for (let u = 0; u + 1 < offsets.length; u++) {
    const lo = offsets[u];
    const hi = offsets[u + 1];
    if (hi - lo < 2 || isSorted(ts, seq, lo, hi)) continue;
    const order = Array.from({ length: hi - lo }, (_, j) => lo + j);
    order.sort((a, b) => ts[a] - ts[b] || seq[a] - seq[b] || a - b);
    const segment = order.map((j) => items[j]);
    items.set(segment, lo);
  }
}

function isSorted(ts: Float64Array, seq: Float64Array, lo: number, hi: number): boolean {
  for (let j = lo + 1; j < hi; j++) {
    if (ts[j] < ts[j - 1] || (ts[j] === ts[j - 1] && seq[j] < seq[j - 1])) return false;
  }
  return true;
}

/** The rows at `positions`, in that order. */
export function pickRows(c: UserItems, positions: Int32Array): UserItems {
  const offsets = new Int32Array(positions.length + 1);
  positions.forEach((j, n) => (offsets[n + 1] = offsets[n] + c.offsets[j + 1] - c.offsets[j]));
  const items = new Int32Array(offsets[positions.length]);
  positions.forEach((j, n) => items.set(itemsOf(c, j), offsets[n]));
  return { offsets, items };
}
