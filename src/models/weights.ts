/**
 * A model's weights as plain Float32Arrays by stable key (namedWeights), and back: how a worker
 * thread gets a copy of the main thread's model (training replicas, src/train/parallel/replica.ts;
 * ranking workers, src/eval/parallel/). Keys, not tfjs variable names, because those differ
 * between the two threads' engines.
 */
import * as tf from '@tensorflow/tfjs';
import { namedWeights } from './model.js';

/**
 * Every weight's values by key. `into`: write into these arrays (e.g. shared memory a worker reads)
 * instead of fresh ones; each must have the weight's size.
 */
export function weightValues(model: tf.LayersModel, into?: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const w of namedWeights(model)) {
    const values = w.variable.dataSync() as Float32Array;
    const dest = into?.[w.key];
    if (into === undefined) out[w.key] = Float32Array.from(values);
    else if (dest === undefined || dest.length !== values.length) throw new Error(`weightValues: no buffer of ${values.length} floats for ${w.key}`);
    else {
      dest.set(values);
      out[w.key] = dest;
    }
  }
  return out;
}

/** Sets every weight of `model` from `values` (weightValues' keys); `who` names the copy in the error. */
export function assignWeightValues(model: tf.LayersModel, values: Readonly<Record<string, Float32Array>>, who: string): void {
  for (const w of namedWeights(model)) {
    const v = values[w.key];
    if (v === undefined || v.length !== w.variable.size) throw new Error(`${who}: no weights for ${w.key} (or a different size)`);
    tf.tidy(() => w.variable.assign(tf.tensor(v, w.variable.shape, 'float32')));
  }
}
