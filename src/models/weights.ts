/**
 * A model's weights as plain typed arrays (Float32Array, or Int32Array for an int32 weight such as
 * ItemKNN's neighbour ids, exact beyond 2^24) by stable key (namedWeights), and back: how a worker
 * thread gets a copy of the main thread's model (training replicas, src/train/parallel/replica.ts;
 * ranking workers, src/eval/parallel/). Keys, not tfjs variable names, because those differ
 * between the two threads' engines.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { namedWeights } from './model.js';

/**
 * Every weight's values by key. `into`: write into these arrays (e.g. shared memory a worker reads)
 * instead of fresh ones; each must have the weight's size.
 */
export type WeightArray = Float32Array | Int32Array;

export function weightValues(model: TF.LayersModel, into?: Readonly<Record<string, WeightArray>>): Record<string, WeightArray> {
  const out: Record<string, WeightArray> = {};
  for (const w of namedWeights(model)) {
    const values = w.variable.dataSync() as WeightArray;
    const dest = into?.[w.key];
    if (into === undefined) out[w.key] = values instanceof Int32Array ? Int32Array.from(values) : Float32Array.from(values);
    else if (dest === undefined || dest.length !== values.length || dest.constructor !== values.constructor) throw new Error(`weightValues: no ${values.constructor.name} of ${values.length} values for ${w.key}`);
    else {
      dest.set(values);
      out[w.key] = dest;
    }
  }
  return out;
}

/** Bytes of every weight of `model` (what a worker thread's copy of it takes). */
export function weightBytes(model: TF.LayersModel): number {
  let bytes = 0;
  for (const w of namedWeights(model)) bytes += 4 * w.variable.size;
  return bytes;
}

/** Sets every weight of `model` from `values` (weightValues' keys); `who` names the copy in the error. */
export function assignWeightValues(model: TF.LayersModel, values: Readonly<Record<string, WeightArray>>, who: string): void {
  for (const w of namedWeights(model)) {
    const v = values[w.key];
    if (v === undefined || v.length !== w.variable.size) throw new Error(`${who}: no weights for ${w.key} (or a different size)`);
    tf.tidy(() => w.variable.assign(tf.tensor(v, w.variable.shape, w.variable.dtype)));
  }
}
