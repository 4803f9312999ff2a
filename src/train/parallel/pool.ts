/**
 * Synchronous data-parallel training (`--workers N`, docs/engines.md#training-on-every-core---workers-nauto): the main thread is replica 0 and
 * W − 1 worker threads hold the other replicas. Each step's batch is split into W fixed contiguous
 * shards; every replica computes its shard's gradients (row gradients straight into the step's
 * reduced buffers, replica.ts computeShardInPlace), the main thread sums the rest in shard order
 * (reduceShards) into shared memory, tells the workers to apply it, and applies it itself meanwhile.
 * For a split-update family (replica.ts SplitUpdateReplica), each replica instead sums and applies its share of the
 * tables and variables (see below); a worker handles its messages in order, so it has applied step s before it
 * computes anything of step s + 1, and all replicas hold the same weights whenever they compute. Results depend on the seed and W.
 *
 * Memory: the epoch's arrays, the shards' dense gradients, the reduced gradients (overwritten by
 * their new values in a split update) and, for a split update, the optimizer moments live in
 * SharedArrayBuffers; the only copies are a gradient tensor's values out of the engine (wasm keeps
 * them in its own heap), the other replicas' new values into it, and the weights sent at start.
 *
 * Reduced gradients are double-buffered by step parity: a replica may read step s's while others
 * already write step s + 1's rows (or the main thread its sums); step s + 2 is posted only after
 * every worker's step s + 1 answer, which it sends only after applying step s.
 *
 * Failures: a worker that throws answers with an error, one that dies emits `exit`; either ends
 * the pending step with a RuntimeFailure (exit 1). `close()` terminates every worker and is
 * called in a `finally` by the trainer, so no thread outlives the run.
 */
import type { EngineName } from '../../engine/backend.js';
import { RuntimeFailure } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Prng } from '../../util/prng.js';
import { waitForAll } from '../../util/shared-memory.js';
import { testHooks, type TestHooks } from '../../util/test-hooks.js';
import { compiledWorkerEntry, startWorkerThreads, type WorkerThreads } from '../../util/worker-thread.js';
import type { TrainTask } from '../loop.js';
import { shareArray, sharedBuffers, type FromWorker, type ReplicaInit, type ToWorker } from './protocol.js';
import {
  assignUpdates,
  computeShardInPlace,
  layoutSizes,
  reduceShards,
  splitShards,
  stepLoss,
  sumDense,
  type EpochArrays,
  type GradientBuffers,
  type ReplicaEpoch,
  type ReplicaTask,
  type Shard,
  type UpdateOwners,
} from './replica.js';

export interface ParallelTaskOptions {
  /** Replicas including the main thread's (≥ 2). */
  workers: number;
  engine: EngineName;
  batchSize: number;
  /** The main thread's replica (replica 0). */
  replica: ReplicaTask;
  /** The init payload of replica `k` (1 … workers − 1), built from the main thread's current state. */
  init(k: number): ReplicaInit;
  /**
   * Builds the epoch's examples on the main thread, from the epoch's PRNG. `steps`: where each
   * step's examples start (steps + 1 offsets), when steps are not `batchSize` examples each.
   */
  buildEpoch(rng: Prng): ReplicaEpoch & { steps?: Int32Array };
  log: Logger;
  /** SIGINT/SIGTERM: ends the start-up (the threads started so far are terminated) with an InterruptedError. */
  signal?: AbortSignal;
  /** Faults the tests inject (default: this process's, src/util/test-hooks.ts). */
  testHooks?: TestHooks;
}

export interface ParallelTask {
  task: TrainTask;
  close(): Promise<void>;
}

/** The compiled training worker (see compiledWorkerEntry). */
export function workerEntry(): string {
  return compiledWorkerEntry(import.meta.url, 'src/train/parallel', 'training worker');
}

/** The step's buffers and reduction, by the replica's strategy. */
interface StepPlan {
  /** Every replica's shard buffers, one per step parity. */
  shards: [GradientBuffers, GradientBuffers][];
  /** The reduced gradients, one per step parity. */
  reduced: [GradientBuffers, GradientBuffers];
  reduce(shards: readonly Shard[], losses: readonly number[], parts: readonly GradientBuffers[], out: GradientBuffers): number;
  /** split-update: who updates what; null: every replica applies the whole step. */
  owners: UpdateOwners | null;
  /** applied[k]: how many steps replica k has done its share of the update for. */
  applied: Int32Array;
}

function planSteps(replica: ReplicaTask, W: number, batchSize: number): StepPlan {
  const { layout } = replica;
  const applied = new Int32Array(new SharedArrayBuffer(W * Int32Array.BYTES_PER_ELEMENT));
  const buffers = (shardSizes: { rows: number[]; dense: number[] }, stepSizes: { rows: number[]; dense: number[] }) => ({
    shards: Array.from({ length: W }, (): [GradientBuffers, GradientBuffers] => [sharedBuffers(shardSizes), sharedBuffers(shardSizes)]),
    reduced: [sharedBuffers(stepSizes), sharedBuffers(stepSizes)] as [GradientBuffers, GradientBuffers],
  });
  if (replica.strategy === 'own-reduction') {
    return { ...buffers(replica.sizes(Math.ceil(batchSize / W), 1), replica.sizes(batchSize, W)), reduce: replica.reduce.bind(replica), owners: null, applied };
  }
  // A shard's row gradients go straight into the reduced buffers (computeShardInPlace).
  return {
    ...buffers({ rows: layout.rows.map(() => 0), dense: layoutSizes(layout, 0).dense }, layoutSizes(layout, batchSize)),
    reduce: (shards, losses, parts, out) => reduceShards(layout, shards, losses, parts, out),
    owners: assignUpdates(layout, W, batchSize),
    applied,
  };
}

/** The workers' answers to the message the main thread is waiting on. */
interface Answers {
  /** A promise of the next `count` answers' losses (by worker), rejected by the pool's failure. */
  expect(count: number): Promise<number[]>;
  answer(k: number, m: FromWorker): void;
  /** Ends the wait, if any, with `error`. */
  reject(error: Error): void;
}

function createAnswers(failure: () => Error | null): Answers {
  let waiter: { left: number; losses: number[]; resolve(losses: number[]): void; reject(error: Error): void } | null = null;
  return {
    expect(count) {
      const answers = new Promise<number[]>((resolve, reject) => {
        const failed = failure();
        if (failed) return reject(failed);
        waiter = { left: count, losses: new Array<number>(count).fill(0), resolve, reject };
      });
      // When the main thread's own shard throws, nobody awaits this: its rejection is not news.
      answers.catch(() => undefined);
      return answers;
    },
    answer(k, m) {
      const w = waiter;
      if (w === null || m.type === 'ready') return;
      if (m.type === 'done') w.losses[k - 1] = m.loss;
      w.left -= 1;
      if (w.left === 0) {
        waiter = null;
        w.resolve(w.losses);
      }
    },
    reject(error) {
      const w = waiter;
      waiter = null;
      w?.reject(error);
    },
  };
}

export async function startParallelTask(opts: ParallelTaskOptions): Promise<ParallelTask> {
  const W = opts.workers;
  const plan = planSteps(opts.replica, W, opts.batchSize);
  const hooks = opts.testHooks ?? testHooks();
  const state: PoolState = { failure: null, where: 'start-up', answers: createAnswers(() => state.failure) };
  const threads = await startWorkerThreads<FromWorker>({
    count: W - 1,
    entry: workerEntry(),
    name: 'training worker',
    failure: (k, cause) =>
      new RuntimeFailure(
        `training worker ${k} of ${W - 1} (--workers ${W}) failed during ${state.where}: ${cause}. The run stops; the state saved last in last/ (at an epoch end or --save-every) is kept, and --resume continues from it.`,
      ),
    onMessage: (k, m) => state.answers.answer(k, m),
    onFailure(error) {
      state.failure = error;
      // Wakes the main thread if it waits for the failed worker's share of an update.
      for (let k = 0; k < W; k++) Atomics.notify(plan.applied, k);
      state.answers.reject(error);
    },
    init: (k): ToWorker => ({
      type: 'init',
      engine: opts.engine,
      init: opts.init(k),
      shards: plan.shards,
      reduced: plan.reduced,
      index: k,
      owners: plan.owners,
      applied: plan.applied,
      failAt: k === 1 ? hooks.trainWorkerFailAt : null,
      holdStartMs: hooks.workerHoldStartMs,
    }),
    log: opts.log,
    signal: opts.signal,
  });
  opts.log.info(`training on ${W} threads: the main thread and ${W - 1} worker${W === 2 ? '' : 's'}, each with its own engine and replica of the model`);
  const close = async () => {
    state.answers.reject(new RuntimeFailure('training workers closed'));
    await threads.close();
  };
  return { task: parallelTrainTask(opts, plan, threads, state), close };
}

interface PoolState {
  failure: Error | null;
  /** Where the run is, for a worker's failure message. */
  where: string;
  answers: Answers;
}

function parallelTrainTask(opts: ParallelTaskOptions, plan: StepPlan, threads: WorkerThreads, state: PoolState): TrainTask {
  const W = opts.workers;
  const { replica, batchSize } = opts;
  const throwIfFailed = () => {
    if (state.failure) throw state.failure;
  };
  let size = 0;
  let count = 0;
  let steps: Int32Array | null = null;
  const applyUpdate = splitUpdate(replica, plan, throwIfFailed);
  return {
    beginEpoch(rng) {
      throwIfFailed();
      const { steps: built, ...epoch } = opts.buildEpoch(rng);
      const arrays: Record<string, Int32Array | Float32Array> = {};
      for (const [name, a] of Object.entries(epoch.arrays)) arrays[name] = shareArray(a);
      const shared: ReplicaEpoch = { ...epoch, arrays: arrays as EpochArrays };
      size = shared.size;
      steps = built ?? null;
      threads.post({ type: 'epoch', epoch: shared } satisfies ToWorker);
      replica.setEpoch(shared);
      return steps === null ? Math.ceil(size / batchSize) : steps.length - 1;
    },
    epochExamples: () => size,
    async step(index) {
      throwIfFailed();
      const lo = steps === null ? index * batchSize : steps[index];
      const hi = steps === null ? Math.min(size, lo + batchSize) : steps[index + 1];
      const shards = splitShards(lo, hi, W);
      const parity: 0 | 1 = (count & 1) === 0 ? 0 : 1;
      count += 1;
      state.where = `step ${index + 1} of the epoch`;
      const answers = state.answers.expect(W - 1);
      threads.threads.forEach((thread, j) => thread.postMessage({ type: 'step', shards, index: j + 1, parity } satisfies ToWorker));
      const own = computeShardInPlace(replica, shards, 0, plan.shards[0][parity], plan.reduced[parity]);
      const losses = await answers;
      const parts = plan.shards.map((b) => b[parity]);
      // A split update sums each dense gradient on its owner, in the update's first phase.
      const loss = plan.owners === null ? plan.reduce(shards, [own, ...losses], parts, plan.reduced[parity]) : stepLoss(shards, [own, ...losses]);
      if (Number.isFinite(loss)) {
        // Workers apply while the main thread does.
        threads.post({ type: 'apply' } satisfies ToWorker);
        await applyUpdate(shards, parts, plan.reduced[parity]);
      }
      return loss;
    },
    setLearningRate(lr) {
      replica.setLearningRate(lr);
      threads.post({ type: 'lr', lr } satisfies ToWorker);
    },
  };
}

/**
 * The main thread's part of a step's update: the whole step, or (split-update) its share, then,
 * once every replica has counted its share done in `applied`, the others'.
 */
function splitUpdate(replica: ReplicaTask, plan: StepPlan, throwIfFailed: () => void): (shards: readonly Shard[], parts: readonly GradientBuffers[], grads: GradientBuffers) => Promise<void> {
  const owners = plan.owners;
  if (replica.strategy === 'own-reduction' || owners === null) {
    return (shards, _parts, grads) => {
      replica.applyStep(shards, grads);
      return Promise.resolve();
    };
  }
  let applies = 0;
  return async (shards, parts, grads) => {
    sumDense(replica.layout, shards, parts, grads, (t) => owners.dense[t] === 0);
    replica.applyShared(shards, grads, owners, 0, 'update');
    applies += 1;
    Atomics.store(plan.applied, 0, applies);
    Atomics.notify(plan.applied, 0);
    await waitForAll(plan.applied, applies, 0, throwIfFailed);
    replica.applyShared(shards, grads, owners, 0, 'import');
  };
}
