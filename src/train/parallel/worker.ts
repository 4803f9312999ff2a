/**
 * Entry of a training worker thread (pool.ts starts it from the compiled dist/ file). It holds one
 * replica: its own engine (the main thread's engine name) and model, rebuilt from the main
 * thread's weights and optimizer state. Per step it computes its shard, then applies the step's
 * reduced update when the main thread says it is written (`apply`; any later message also
 * applies a pending update first, so an update always lands before the next shard).
 */
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../../engine/backend.js';
import { silentLogger } from '../../util/log.js';
import { serveInOrder } from '../../util/worker-thread.js';
import { createReplica, type FromWorker, type ToWorker } from './protocol.js';
import { computeShardInPlace, type GradientBuffers, type ReplicaTask, type Shard } from './replica.js';

const port = parentPort;
if (port === null) throw new Error('src/train/parallel/worker.js runs as a worker thread (started by the training pool), not as a script.');

let replica: ReplicaTask | null = null;
let shardBufs: [GradientBuffers, GradientBuffers] | null = null;
let reducedBufs: [GradientBuffers, GradientBuffers] | null = null;
let pending: { shards: Shard[]; parity: 0 | 1 } | null = null;
let failAtStep: number | null = null;
let steps = 0;

const send = (m: FromWorker) => port.postMessage(m);

function flush(r: ReplicaTask): void {
  if (pending === null) return;
  const { shards, parity } = pending;
  pending = null;
  r.applyStep(shards, (reducedBufs as [GradientBuffers, GradientBuffers])[parity]);
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') {
    await initEngine({ backend: m.engine, log: silentLogger });
    replica = await createReplica(m.init);
    shardBufs = m.shard;
    reducedBufs = m.reduced;
    failAtStep = m.failAtStep;
    send({ type: 'ready' });
    return;
  }
  const r = replica;
  if (r === null) throw new Error(`message ${m.type} before init`);
  flush(r);
  if (m.type === 'apply') return;
  if (m.type === 'epoch') r.setEpoch(m.arrays, m.size);
  else if (m.type === 'lr') r.setLearningRate(m.lr);
  else {
    steps += 1;
    if (failAtStep !== null && steps === failAtStep) throw new Error(`test-only failure injected by REC_TEST_WORKER_FAIL_AT_STEP=${failAtStep}`);
    // An empty shard (a last step smaller than the worker count) weighs 0 in the reduction.
    const loss = computeShardInPlace(r, m.shards, m.index, (shardBufs as [GradientBuffers, GradientBuffers])[m.parity], (reducedBufs as [GradientBuffers, GradientBuffers])[m.parity]);
    pending = { shards: m.shards, parity: m.parity };
    send({ type: 'done', loss });
  }
}

serveInOrder<ToWorker>(port, handle);
