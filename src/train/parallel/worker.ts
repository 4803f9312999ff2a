/**
 * Entry of a training worker thread (pool.ts starts it from the compiled dist/ file). It holds one
 * replica: its own engine (the main thread's engine name) and model, rebuilt from the main
 * thread's weights and optimizer state. Per step it computes its shard, then applies the step's
 * reduced update when the main thread says it is written (`apply`; any later message also
 * applies a pending update first, so an update always lands before the next shard). With the
 * update split (pool.ts), it sums and applies its share, waits for every other replica's, and
 * copies in theirs.
 */
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../../engine/backend.js';
import { silentLogger } from '../../util/log.js';
import { holdStart, serveInOrder } from '../../util/worker-thread.js';
import { createReplica, type FromWorker, type InitMessage, type ToWorker } from './protocol.js';
import { computeShardInPlace, sumDense, type GradientBuffers, type ReplicaTask, type Shard, type SplitUpdateReplica, type UpdateOwners } from './replica.js';
import { waitForAllSync } from '../../util/shared-memory.js';

const port = parentPort;
if (port === null) throw new Error('src/train/parallel/worker.js runs as a worker thread (started by the training pool), not as a script.');

let replica: ReplicaTask | null = null;
let shardBufs: [GradientBuffers, GradientBuffers][] | null = null;
let reducedBufs: [GradientBuffers, GradientBuffers] | null = null;
let pending: { shards: Shard[]; parity: 0 | 1 } | null = null;
let split: { owners: UpdateOwners; applied: Int32Array; index: number; replica: SplitUpdateReplica; steps: number } | null = null;
let failAt: InitMessage['failAt'] = null;
const injected = () => new Error(`test-only failure injected by REC_TEST_WORKER_FAIL_AT_STEP (step ${failAt?.step}, ${failAt?.phase})`);
let steps = 0;

const send = (m: FromWorker) => port.postMessage(m);

function flush(r: ReplicaTask): void {
  if (pending === null) return;
  const { shards, parity } = pending;
  pending = null;
  const grads = (reducedBufs as [GradientBuffers, GradientBuffers])[parity];
  if (split === null) {
    r.applyStep(shards, grads);
    return;
  }
  const { owners, applied, index, replica: sharer } = split;
  if (failAt !== null && failAt.phase === 'update' && steps === failAt.step) throw injected();
  const parts = (shardBufs as [GradientBuffers, GradientBuffers][]).map((b) => b[parity]);
  sumDense(r.layout, shards, parts, grads, (t) => owners.dense[t] === index);
  sharer.applyShared(shards, grads, owners, index, 'update');
  split.steps += 1;
  Atomics.store(applied, index, split.steps);
  Atomics.notify(applied, index);
  waitForAllSync(applied, split.steps, index);
  sharer.applyShared(shards, grads, owners, index, 'import');
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') {
    await holdStart(m.holdStartMs);
    await initEngine({ backend: m.engine, log: silentLogger });
    replica = await createReplica(m.init);
    shardBufs = m.shards;
    reducedBufs = m.reduced;
    if (m.owners !== null && replica.strategy !== 'split-update') throw new Error('the pool split the update, but this replica cannot apply a share of it');
    split = m.owners === null || replica.strategy !== 'split-update' ? null : { owners: m.owners, applied: m.applied, index: m.index, replica, steps: 0 };
    failAt = m.failAt;
    send({ type: 'ready' });
    return;
  }
  const r = replica;
  if (r === null) throw new Error(`message ${m.type} before init`);
  flush(r);
  if (m.type === 'apply') return;
  if (m.type === 'epoch') r.setEpoch(m.epoch);
  else if (m.type === 'lr') r.setLearningRate(m.lr);
  else {
    steps += 1;
    if (failAt !== null && failAt.phase === 'compute' && steps === failAt.step) throw injected();
    // An empty shard (a last step smaller than the worker count) weighs 0 in the reduction.
    const loss = computeShardInPlace(r, m.shards, m.index, (shardBufs as [GradientBuffers, GradientBuffers][])[m.index][m.parity], (reducedBufs as [GradientBuffers, GradientBuffers])[m.parity]);
    pending = { shards: m.shards, parity: m.parity };
    send({ type: 'done', loss });
  }
}

serveInOrder<ToWorker>(port, handle);
