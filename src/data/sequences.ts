/**
 * History rules shared by every reader of a sequence model's input (training, validation,
 * `rec eval`, `rec recommend`); the histories themselves are `userSequences` (./user-items.ts).
 */
import type { SplitData } from './dataset.js';

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
    queries: split.queries === null ? null : pick(split.queries, (n) => new Int32Array(n)),
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
