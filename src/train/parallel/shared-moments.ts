/**
 * The optimizer side of an update split between replicas (pool.ts, replica.ts SplitUpdateReplica):
 * only a table's owner moves its moments, so every replica reads and writes the same moment arrays
 * in shared memory; the owner exports the new values of the rows it updated, and every other
 * replica imports them and counts the step, so the next update's bias correction is the owner's.
 * The row optimizer (engine/sparse-optimizer.ts) only exposes its state (rowSparseState).
 */
import type * as TF from '@tensorflow/tfjs';
import { rowSparseState, type OptimizerState, type RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import { shareArray } from '../../util/shared-memory.js';

/**
 * Moves the optimizer's moment arrays into SharedArrayBuffers (once) and returns them, live, not
 * copied, with the step counters: replicas that adopt them read and write the same moments.
 */
export function shareMoments(optimizer: RowSparseOptimizer): OptimizerState {
  const access = rowSparseState(optimizer);
  const state = access.liveState();
  for (const [key, value] of Object.entries(state)) {
    if (typeof value === 'number' || value.buffer instanceof SharedArrayBuffer) continue;
    const shared = shareArray(value);
    access.replaceMoment(key, shared);
    state[key] = shared;
  }
  return state;
}

/** Takes `state`'s arrays themselves (shareMoments', posted to this thread) as the optimizer's moments. */
export function adoptMoments(optimizer: RowSparseOptimizer, state: OptimizerState): void {
  // setState checks every key and length; the adopted arrays then replace the copies it made.
  optimizer.setState(state);
  const access = rowSparseState(optimizer);
  for (const [key, value] of Object.entries(access.liveState())) {
    if (typeof value !== 'number') access.replaceMoment(key, state[key] as Float32Array);
  }
}

/**
 * After applyRows on a table this replica owns: the new values of that call's distinct rows, in
 * first-occurrence order, into `dst` ([count, dim] row-major). Returns count.
 */
export function exportRows(optimizer: RowSparseOptimizer, table: TF.Variable, dst: Float32Array): number {
  const access = rowSparseState(optimizer);
  const ids = access.updatedRows(table);
  access.readRows(table, ids, dst);
  return ids.length;
}

/**
 * On a replica that does not own `table`: the effect of the owner's applyRows of the same `rows`,
 * from the values its exportRows wrote to `src`. The step counter advances as applyRows would;
 * the moments are the owner's to change (they are shared).
 */
export function importRows(optimizer: RowSparseOptimizer, table: TF.Variable, rows: Int32Array, src: Float32Array): void {
  const access = rowSparseState(optimizer);
  const ids = access.distinctRows(table, rows);
  access.countStep(table);
  access.writeRows(table, ids, src);
}
