/**
 * Each user's item history in time order, for sequence models (SASRec): the rows of the given
 * splits merged per user by (ts, seq), so that train + valid is the input that predicts a
 * leave-last test item. Stored as CSR (one offsets array, one items array): a JS array per user
 * would cost ~100 bytes of overhead each on a million-user log.
 */
import type { SplitData } from './dataset.js';

export interface UserSequences {
  numUsers: number;
  /** User u's items are items[offsets[u] .. offsets[u + 1]), oldest first. */
  offsets: Int32Array;
  items: Int32Array;
}

type Rows = Pick<SplitData, 'users' | 'items' | 'ts' | 'seq'>;

export function buildSequences(numUsers: number, splits: readonly Rows[]): UserSequences {
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
  if (splits.length > 1) {
    for (let u = 0; u < numUsers; u++) {
      const lo = offsets[u];
      const hi = offsets[u + 1];
      if (hi - lo < 2 || isSorted(ts, seq, lo, hi)) continue;
      const order = Array.from({ length: hi - lo }, (_, j) => lo + j);
      order.sort((a, b) => ts[a] - ts[b] || seq[a] - seq[b] || a - b);
      const segment = order.map((j) => items[j]);
      items.set(segment, lo);
    }
  }
  return { numUsers, offsets, items };
}

function isSorted(ts: Float64Array, seq: Float64Array, lo: number, hi: number): boolean {
  for (let j = lo + 1; j < hi; j++) {
    if (ts[j] < ts[j - 1] || (ts[j] === ts[j - 1] && seq[j] < seq[j - 1])) return false;
  }
  return true;
}

/** User u's history (a view, oldest first). */
export function sequenceOf(s: UserSequences, user: number): Int32Array {
  return s.items.subarray(s.offsets[user], s.offsets[user + 1]);
}

/**
 * The rows of `split` whose value is at least `threshold` (all of them for null): a sequence
 * model trained with `train.positive_threshold R` reads only ratings >= R as its history, so
 * training, validation, `rec eval` and `rec recommend` must all build histories through this, or
 * the model would be scored on inputs unlike the ones it learned from (README.md, "Models").
 */
export function rowsAtLeast(split: SplitData, threshold: number | null): SplitData {
  if (threshold === null) return split;
  const keep: number[] = [];
  for (let r = 0; r < split.length; r++) if (split.values[r] >= threshold) keep.push(r);
  if (keep.length === split.length) return split;
  const pick = <T extends Int32Array | Float32Array | Float64Array>(a: T, make: (n: number) => T): T => {
    const out = make(keep.length);
    keep.forEach((r, j) => (out[j] = a[r]));
    return out;
  };
  return {
    length: keep.length,
    users: pick(split.users, (n) => new Int32Array(n)),
    items: pick(split.items, (n) => new Int32Array(n)),
    values: pick(split.values, (n) => new Float32Array(n)),
    ts: split.ts === null ? null : pick(split.ts, (n) => new Float64Array(n)),
    seq: pick(split.seq, (n) => new Float64Array(n)),
    events: split.events === null ? null : pick(split.events, (n) => new Int32Array(n)),
  };
}

/**
 * `train.positive_threshold` of a checkpoint's recorded config (run.json `config`), which is the
 * history threshold of a sequence model; null when unset or when the checkpoint predates the key.
 */
export function historyThresholdOf(config: unknown): number | null {
  if (typeof config !== 'object' || config === null || !('train' in config)) return null;
  const train = config.train;
  if (typeof train !== 'object' || train === null || !('positive_threshold' in train)) return null;
  return typeof train.positive_threshold === 'number' ? train.positive_threshold : null;
}
