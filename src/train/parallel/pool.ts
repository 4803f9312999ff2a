/**
 * Synchronous data-parallel training (PRODUCT §7, `--workers N`): the main thread is replica 0 and
 * W − 1 worker threads hold the other replicas. Each step's batch is split into W fixed contiguous
 * shards; every replica computes its shard's gradients (row gradients straight into the step's
 * reduced buffers, replica.ts computeShardInPlace), the main thread sums the rest in shard order
 * (reduceShards) into shared memory, tells the workers to apply it, and applies it itself meanwhile.
 * When the family can split the update, each replica instead sums and applies its share of the
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
import { Worker } from 'node:worker_threads';
import type { EngineName } from '../../engine/backend.js';
import { RuntimeFailure } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import type { Prng } from '../../util/prng.js';
import type { TrainTask } from '../loop.js';
import { shareArray, sharedBuffers, type FromWorker, type ReplicaInit, type ToWorker } from './protocol.js';
import { assignUpdates, computeShardInPlace, layoutSizes, reduceShards, splitShards, stepLoss, sumDense, type EpochArrays, type GradientBuffers, type ReplicaTask } from './replica.js';
import { waitForAll } from '../../util/shared-memory.js';
import { compiledWorkerEntry, readyOrAborted, throwIfStartUpAborted } from '../../util/worker-thread.js';

/**
 * Test-only: the worker-computed step (1-based, counted from the pool's start) at which worker 1
 * throws: `N` while computing its shard, `N:update` in its share of that step's update.
 */
export const TEST_FAIL_ENV = 'REC_TEST_WORKER_FAIL_AT_STEP';

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
  buildEpoch(rng: Prng): { arrays: EpochArrays; size: number; steps?: Int32Array };
  log: Logger;
  /** SIGINT/SIGTERM: ends the start-up (the threads started so far are terminated) with an InterruptedError. */
  signal?: AbortSignal;
}

export interface ParallelTask {
  task: TrainTask;
  close(): Promise<void>;
}

/** The compiled training worker (see compiledWorkerEntry). */
export function workerEntry(): string {
  return compiledWorkerEntry(import.meta.url, 'src/train/parallel', 'training worker');
}

interface Waiter {
  left: number;
  losses: number[];
  resolve(losses: number[]): void;
  reject(error: Error): void;
}

export async function startParallelTask(opts: ParallelTaskOptions): Promise<ParallelTask> {
  const W = opts.workers;
  const { replica, batchSize } = opts;
  const layout = replica.layout;
  // Without a family reduction, a shard's row gradients go straight into the reduced buffers.
  const shardSizes = replica.sizes ? replica.sizes(Math.ceil(batchSize / W), 1) : { rows: layout.rows.map(() => 0), dense: layoutSizes(layout, 0).dense };
  const stepSizes = replica.sizes ? replica.sizes(batchSize, W) : layoutSizes(layout, batchSize);
  const reduce = replica.reduce ?? ((shards, losses, parts, out) => reduceShards(layout, shards, losses, parts, out));
  const shardBufs: [GradientBuffers, GradientBuffers][] = Array.from({ length: W }, () => [sharedBuffers(shardSizes), sharedBuffers(shardSizes)]);
  const reduced: [GradientBuffers, GradientBuffers] = [sharedBuffers(stepSizes), sharedBuffers(stepSizes)];
  // The update split between replicas (a family with applyShared): each applies its share of
  // tables and variables, then copies in the others' once every replica has counted its share
  // done in `applied`. Without it every replica repeats the whole update.
  const applyShared = replica.applyShared?.bind(replica);
  const owners = applyShared === undefined || replica.reduce !== undefined ? null : assignUpdates(layout, W, batchSize);
  const applied = new Int32Array(new SharedArrayBuffer(W * Int32Array.BYTES_PER_ELEMENT));
  let applies = 0;
  const rawFail = /^(\d+)(:update)?$/.exec(process.env[TEST_FAIL_ENV] ?? '');
  const failAt = rawFail === null ? null : { step: Number(rawFail[1]), phase: rawFail[2] === undefined ? ('compute' as const) : ('update' as const) };

  const entry = workerEntry();
  const workers: Worker[] = [];
  let closing = false;
  let failure: Error | null = null;
  let waiter: Waiter | null = null;
  let where = 'start-up';
  const fail = (error: Error) => {
    failure ??= error;
    // Wakes the main thread if it waits for the failed worker's share of an update.
    for (let k = 0; k < W; k++) Atomics.notify(applied, k);
    const w = waiter;
    waiter = null;
    w?.reject(failure);
  };
  const workerFailure = (k: number, what: string) =>
    new RuntimeFailure(
      `training worker ${k} of ${W - 1} (--workers ${W}) failed during ${where}: ${what}. The run stops; the state saved last in last/ (at an epoch end or --save-every) is kept, and --resume continues from it.`,
    );
  const expect = (count: number): Promise<number[]> => {
    const answers = new Promise<number[]>((resolve, reject) => {
      if (failure) return reject(failure);
      waiter = { left: count, losses: new Array<number>(count).fill(0), resolve, reject };
    });
    // When the main thread's own shard throws, nobody awaits this: its rejection is not news.
    answers.catch(() => undefined);
    return answers;
  };

  const close = async () => {
    closing = true;
    const w = waiter;
    waiter = null;
    w?.reject(new RuntimeFailure('training workers closed'));
    await Promise.all(workers.map((worker) => worker.terminate()));
  };

  const what = `${W - 1} training worker thread${W === 2 ? '' : 's'}`;
  opts.log.debug(`starting ${what}`);
  try {
    for (let k = 1; k < W; k++) {
      // A signal is handled between two threads' starts, not only once all have started.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfStartUpAborted(opts.signal, what);
      // The worker's stdout goes to stderr: `--json` output on stdout stays the main thread's alone.
      const worker = new Worker(entry, { stdout: true });
      worker.stdout.pipe(process.stderr);
      workers.push(worker);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'error') {
          opts.log.debug(`training worker ${k}: ${m.stack ?? m.message}`);
          fail(workerFailure(k, m.message));
          return;
        }
        const w = waiter;
        if (w === null) return;
        if (m.type === 'done') w.losses[k - 1] = m.loss;
        w.left -= 1;
        if (w.left === 0) {
          waiter = null;
          w.resolve(w.losses);
        }
      });
      worker.on('error', (error) => fail(workerFailure(k, error.message)));
      worker.on('exit', (code) => {
        if (!closing) fail(workerFailure(k, `the thread exited with code ${code}`));
      });
    }
    const ready = expect(W - 1);
    workers.forEach((worker, j) => {
      const k = j + 1;
      const message: ToWorker = {
        type: 'init',
        engine: opts.engine,
        init: opts.init(k),
        shards: shardBufs,
        reduced,
        index: k,
        owners,
        applied,
        failAt: k === 1 ? failAt : null,
      };
      worker.postMessage(message);
    });
    await readyOrAborted(ready, opts.signal, what);
  } catch (error) {
    await close();
    throw error;
  }
  opts.log.info(`training on ${W} threads: the main thread and ${W - 1} worker${W === 2 ? '' : 's'}, each with its own engine and replica of the model`);

  const post = (m: ToWorker) => {
    for (const worker of workers) worker.postMessage(m);
  };
  let size = 0;
  let count = 0;
  let steps: Int32Array | null = null;
  const task: TrainTask = {
    beginEpoch(rng) {
      if (failure) throw failure;
      const built = opts.buildEpoch(rng);
      const arrays: Record<string, Int32Array | Float32Array> = {};
      for (const [name, a] of Object.entries(built.arrays)) arrays[name] = shareArray(a);
      size = built.size;
      steps = built.steps ?? null;
      post({ type: 'epoch', arrays, size });
      replica.setEpoch(arrays, size);
      return steps === null ? Math.ceil(size / batchSize) : steps.length - 1;
    },
    epochExamples: () => size,
    async step(index) {
      if (failure) throw failure;
      const lo = steps === null ? index * batchSize : steps[index];
      const hi = steps === null ? Math.min(size, lo + batchSize) : steps[index + 1];
      const shards = splitShards(lo, hi, W);
      const parity: 0 | 1 = (count & 1) === 0 ? 0 : 1;
      count += 1;
      where = `step ${index + 1} of the epoch`;
      const answers = expect(W - 1);
      workers.forEach((worker, j) => {
        const m: ToWorker = { type: 'step', shards, index: j + 1, parity };
        worker.postMessage(m);
      });
      const own = computeShardInPlace(replica, shards, 0, shardBufs[0][parity], reduced[parity]);
      const losses = await answers;
      const parts = shardBufs.map((b) => b[parity]);
      // A split update sums each dense gradient on its owner, in the update's first phase.
      const loss = owners === null ? reduce(shards, [own, ...losses], parts, reduced[parity]) : stepLoss(shards, [own, ...losses]);
      if (Number.isFinite(loss)) {
        // Workers apply while the main thread does.
        post({ type: 'apply' });
        if (applyShared === undefined || owners === null) replica.applyStep(shards, reduced[parity]);
        else {
          sumDense(layout, shards, parts, reduced[parity], (t) => owners.dense[t] === 0);
          applyShared(shards, reduced[parity], owners, 0, 'update');
          applies += 1;
          Atomics.store(applied, 0, applies);
          Atomics.notify(applied, 0);
          await waitForAll(applied, applies, 0, () => {
            if (failure) throw failure;
          });
          applyShared(shards, reduced[parity], owners, 0, 'import');
        }
      }
      return loss;
    },
    setLearningRate(lr) {
      replica.setLearningRate(lr);
      post({ type: 'lr', lr });
    },
  };
  return { task, close };
}
