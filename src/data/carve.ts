/**
 * `--valid-from-train FRACTION` (docs/evaluation.md#during-training): when a dataset has no valid split, carve one out of
 * train so early stopping and best-epoch selection have something to look at. One seeded uniform
 * draw per train row, in row order (the `random` split's rule), so a run and its resume carve
 * the same rows. The test split is never touched.
 */
import { Prng } from '../util/prng.js';
import type { Dataset, SplitData } from './dataset.js';

function take(split: SplitData, keep: Uint8Array, want: number): SplitData {
  let n = 0;
  for (let r = 0; r < split.length; r++) if (keep[r] === want) n++;
  const out: SplitData = {
    length: n,
    users: new Int32Array(n),
    items: new Int32Array(n),
    values: new Float32Array(n),
    ts: split.ts ? new Float64Array(n) : null,
    seq: new Float64Array(n),
    events: split.events ? new Int32Array(n) : null,
    queries: split.queries ? new Int32Array(n) : null,
  };
  let w = 0;
  for (let r = 0; r < split.length; r++) {
    if (keep[r] !== want) continue;
    out.users[w] = split.users[r];
    out.items[w] = split.items[r];
    out.values[w] = split.values[r];
    if (out.ts && split.ts) out.ts[w] = split.ts[r];
    out.seq[w] = split.seq[r];
    if (out.events && split.events) out.events[w] = split.events[r];
    if (out.queries && split.queries) out.queries[w] = split.queries[r];
    w++;
  }
  return out;
}

/** A view of `ds` whose train rows are divided into train and valid (ds.valid must be empty). */
export function carveValidFromTrain(ds: Dataset, fraction: number, seed: number): Dataset {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`carveValidFromTrain: fraction must be in (0, 1); got ${fraction}`);
  if (ds.valid.length > 0) throw new RangeError('carveValidFromTrain: the dataset already has a valid split');
  const rng = Prng.fromSeed(seed, 'train/valid-from-train');
  const toValid = new Uint8Array(ds.train.length);
  for (let r = 0; r < ds.train.length; r++) toValid[r] = rng.next() < fraction ? 1 : 0;
  return { ...ds, train: take(ds.train, toValid, 0), valid: take(ds.train, toValid, 1) };
}
