/**
 * `--workers` for the (user, item) trainer (run.ts): how many replicas a run uses, and the pool
 * over pair replicas. Kept apart from run.ts so the trainer only chooses between its
 * single-thread task and this one.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../../config/schema.js';
import type { EngineName } from '../../engine/backend.js';
import type { OptimizerConfig, RowSparseOptimizer } from '../../engine/sparse-optimizer.js';
import type { RunJson } from '../../io/checkpoint.js';
import type { PairModel } from '../../models/model.js';
import { isPairModelName } from '../../models/registry.js';
import type { Logger } from '../../util/log.js';
import type { Prng } from '../../util/prng.js';
import type { EpochExamples, PairLoss } from '../pair-data.js';
import type { DenseParamUpdater } from '../params.js';
import { createPairReplica, pairEpoch, pairReplicaInit } from './pair-replica.js';
import { startParallelTask, type ParallelTask } from './pool.js';
import { AUTO_MIN_SHARD, AUTO_MIN_SHARD_SEQUENCES, resolveWorkers } from './workers.js';

/**
 * The replicas of this run. A resumed run keeps the count it started with when its setting is
 * `auto` (auto depends on the machine; the count decides the shards, hence the results); an
 * explicit `--workers N` on resume wins. Checkpoints from before `--workers` trained on one thread.
 */
export function workersFor(
  config: Config,
  previous: Pick<RunJson, 'workers'> | null,
  engine: EngineName,
  fusedStep: boolean,
  log: Logger,
  family: 'pair' | 'sequence' = 'pair',
): number {
  let setting = config.train.workers;
  // An auto run resumes on its recorded count even on fewer cores (it was at most 16, and the count
  // decides the results); only an explicit N is capped at this machine's cores.
  const resumedAuto = previous !== null && setting === 'auto';
  if (resumedAuto) setting = previous?.workers ?? 1;
  // Sequence replicas split whole tables too (--dense, the full softmax): their row lists are the batch's.
  const choice = resolveWorkers(setting, {
    engine,
    batchSize: config.train.batch_size,
    ...(resumedAuto && typeof setting === 'number' ? { cores: Math.max(availableParallelism(), setting) } : {}),
    parallelizable: family === 'sequence' || (config.train.sparse && !fusedStep),
    minShard: family === 'sequence' ? AUTO_MIN_SHARD_SEQUENCES : AUTO_MIN_SHARD,
    why: !config.train.sparse
      ? '--dense differentiates whole tables, whose gradients are not split across workers'
      : 'the fused MF/GMF step runs on one thread (it is faster than the autograd step on two: docs/benchmarks.md); --no-fused trains with the autograd step, which uses the workers',
  });
  if (choice.reason !== null) (choice.warn === true ? log.warn : setting === 'auto' ? log.debug : log.info)(choice.reason);
  return choice.workers;
}

export interface PairParallelOptions {
  workers: number;
  config: Config;
  engine: EngineName;
  model: PairModel;
  sparse: RowSparseOptimizer;
  params: DenseParamUpdater;
  frozen: ReadonlySet<string>;
  loss: PairLoss;
  optimizer: OptimizerConfig;
  makeEpoch(rng: Prng): EpochExamples;
  log: Logger;
  /** SIGINT/SIGTERM during the threads' start-up (see startParallelTask). */
  signal?: AbortSignal;
}

export function startPairParallel(o: PairParallelOptions): Promise<ParallelTask> {
  const name = o.config.train.model;
  if (!isPairModelName(name)) throw new Error(`startPairParallel: ${name} is not trained by (user, item) steps`);
  const parts = { model: o.model, sparse: o.sparse, params: o.params, frozen: o.frozen, loss: o.loss, l2: o.config.train.l2 };
  return startParallelTask({
    workers: o.workers,
    engine: o.engine,
    batchSize: o.config.train.batch_size,
    replica: createPairReplica(parts),
    init: (k) => pairReplicaInit({ ...parts, name, seed: o.config.seed, optimizer: o.optimizer, freeze: o.config.train.freeze }, k),
    buildEpoch: (rng) => pairEpoch(o.makeEpoch(rng)),
    log: o.log,
    signal: o.signal,
  });
}
