/**
 * `--workers` for sequence models (run.ts): the pool over sequence replicas. Steps are the
 * epoch's batches of sequences (sorted by length, so of varying sizes); shards split a batch by rows.
 */
import type { Config } from '../../config/schema.js';
import type { EngineName } from '../../engine/backend.js';
import type { OptimizerConfig } from '../../engine/sparse-optimizer.js';
import type { SequenceModel } from '../../models/model.js';
import { isSequenceModelName } from '../../models/registry.js';
import type { Logger } from '../../util/log.js';
import { createSequenceTask, type SequenceTaskOptions } from '../tasks/sequence.js';
import { startParallelTask, type ParallelTask } from './pool.js';
import { createSequenceReplica, sequenceEpoch, sequenceReplicaInit, shardTaskOptions } from './sequence-replica.js';

export interface SequenceParallelOptions {
  workers: number;
  config: Config;
  engine: EngineName;
  model: SequenceModel;
  /** The single-thread task's options (its l2 is charged by the reduction). */
  task: SequenceTaskOptions;
  optimizer: OptimizerConfig;
  log: Logger;
  /** SIGINT/SIGTERM during the threads' start-up (see startParallelTask). */
  signal?: AbortSignal;
}

export function startSequenceParallel(o: SequenceParallelOptions): Promise<ParallelTask> {
  const name = o.config.train.model;
  if (!isSequenceModelName(name)) throw new Error(`startSequenceParallel: ${name} is not a sequence model`);
  const task = createSequenceTask(shardTaskOptions(o.task));
  const parts = { task, model: o.model, frozen: o.task.frozen, loss: o.task.loss, negatives: o.task.negatives, sparse: o.task.sparse, l2: o.task.l2 };
  return startParallelTask({
    workers: o.workers,
    engine: o.engine,
    batchSize: o.task.batchSize,
    replica: createSequenceReplica(parts),
    init: (k) =>
      sequenceReplicaInit(
        {
          ...parts,
          name,
          seed: o.config.seed,
          optimizer: o.optimizer,
          freeze: o.config.train.freeze,
          batchSize: o.task.batchSize,
          train: o.task.train,
          others: o.task.others,
          sparseOptimizer: o.task.sparseOptimizer,
          params: o.task.params,
        },
        k,
      ),
    buildEpoch(rng) {
      task.beginEpoch(rng);
      return sequenceEpoch(task);
    },
    log: o.log,
    signal: o.signal,
  });
}
