/**
 * Messages between the training pool (main thread) and its worker threads, and the worker-side
 * registry of model families. Buffers travel as SharedArrayBuffer-backed typed arrays: posting one
 * shares it, so the per-step messages carry only indices and a loss.
 */
import type { EngineName } from '../../engine/backend.js';
import type { TestHooks } from '../../util/test-hooks.js';
import type { PairReplicaInit } from './pair-replica.js';
import type { WorkerErrorMessage } from '../../util/worker-thread.js';
import type { GradientBuffers, ReplicaEpoch, ReplicaTask, Shard, UpdateOwners } from './replica.js';
import type { SequenceReplicaInit } from './sequence-replica.js';

/** One init payload per family; a new family adds its own to this union and to createReplica. */
export type ReplicaInit = PairReplicaInit | SequenceReplicaInit;

export interface InitMessage {
  type: 'init';
  engine: EngineName;
  init: ReplicaInit;
  /** Every replica's shard buffers, one per step parity (a split update reads its peers' dense gradients). */
  shards: [GradientBuffers, GradientBuffers][];
  /** The reduced gradients the main thread writes, one per step parity. */
  reduced: [GradientBuffers, GradientBuffers];
  /** This worker's replica index (1 … W − 1). */
  index: number;
  /** The split update's plan (null: every replica applies the whole step) and its counters. */
  owners: UpdateOwners | null;
  /** applied[k]: how many steps replica k has done its share of the update for. */
  applied: Int32Array;
  /** Test-only (TestHooks.trainWorkerFailAt): throw in the n-th step this worker computes, or in its share of that step's update. */
  failAt: TestHooks['trainWorkerFailAt'];
  /** Test-only (TestHooks.workerHoldStartMs): wait this long before starting the engine. */
  holdStartMs: number;
}

export type ToWorker =
  | InitMessage
  | { type: 'epoch'; epoch: ReplicaEpoch }
  | { type: 'lr'; lr: number }
  /** The step's reduced gradients are written: apply them now, beside the main thread. */
  | { type: 'apply' }
  | { type: 'step'; shards: Shard[]; index: number; parity: 0 | 1 };

export type FromWorker = { type: 'ready' } | { type: 'done'; loss: number } | WorkerErrorMessage;

export async function createReplica(init: ReplicaInit): Promise<ReplicaTask> {
  switch (init.family) {
    case 'pair': {
      const { pairReplicaFromInit } = await import('./pair-replica.js');
      return pairReplicaFromInit(init);
    }
    case 'sequence': {
      const { sequenceReplicaFromInit } = await import('./sequence-replica.js');
      return sequenceReplicaFromInit(init);
    }
  }
}

/** Allocates SharedArrayBuffer-backed buffers of the given sizes. */
export function sharedBuffers(sizes: { rows: number[]; dense: number[] }): GradientBuffers {
  const make = (n: number) => new Float32Array(new SharedArrayBuffer(Math.max(1, n) * Float32Array.BYTES_PER_ELEMENT), 0, n);
  return { rows: sizes.rows.map(make), dense: sizes.dense.map(make) };
}

/** A copy of an array into shared memory (kept here for the pool's imports). */
export { shareArray } from '../../util/shared-memory.js';
