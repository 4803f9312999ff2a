import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { OptimizerState } from '../engine/sparse-optimizer.js';

/**
 * Optimizer state ↔ named tensors, so it is saved with the same encoder as the weights (exact
 * float32). Scalars (step counters, β powers) are stored under `prefix#key`, arrays under `prefix/key`.
 */
export function stateToTensors(prefix: string, state: OptimizerState): TF.NamedTensorMap {
  const out: TF.NamedTensorMap = {};
  for (const [key, value] of Object.entries(state)) {
    if (typeof value === 'number') out[`${prefix}#${key}`] = tf.tensor1d([value], 'float32');
    else out[`${prefix}/${key}`] = tf.tensor1d(value, 'float32');
  }
  return out;
}

export function tensorsToState(prefix: string, tensors: TF.NamedTensorMap): OptimizerState {
  const out: OptimizerState = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    const values = tensor.dataSync() as Float32Array;
    if (name.startsWith(`${prefix}#`)) out[name.slice(prefix.length + 1)] = values[0];
    else if (name.startsWith(`${prefix}/`)) out[name.slice(prefix.length + 1)] = Float32Array.from(values);
  }
  return out;
}

/**
 * Renames the `slot:<variable>/<slot>` keys of a tfjs optimizer's state (createDenseOptimizer)
 * through `names`: tfjs variable names → stable weight keys when saving, and back when resuming,
 * because a new process may number the same variables differently. Unmapped keys pass through.
 */
export function renameSlots(state: OptimizerState, names: ReadonlyMap<string, string>): OptimizerState {
  const out: OptimizerState = {};
  for (const [key, value] of Object.entries(state)) {
    const cut = key.lastIndexOf('/');
    const variable = key.startsWith('slot:') && cut > 0 ? key.slice('slot:'.length, cut) : null;
    const renamed = variable === null ? undefined : names.get(variable);
    out[renamed === undefined ? key : `slot:${renamed}${key.slice(cut)}`] = value;
  }
  return out;
}
