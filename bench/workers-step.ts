/**
 * The parts of one data-parallel NeuMF/MLP step on one thread (docs/benchmarks.md, "Training
 * threads"): the single-thread step (pairStep), a shard's gradients at half the batch and at the
 * whole batch (computeShard), and the update (applyStep). The ideal 2-thread step is a half shard
 * plus the update. Synthetic indices over ML-1M-sized tables; wasm; mean ms over 40 steps, twice.
 *
 *   node dist/bench/workers-step.js [--dim 64] [--layers 512,256,128,64] [--batch 256] [--model neumf]
 */
import type * as TF from '@tensorflow/tfjs';
import { configSchema } from '../src/config/schema.js';
import { initEngine } from '../src/engine/backend.js';
import { createRowSparseOptimizer } from '../src/engine/sparse-optimizer.js';
import { buildModel, type PairModelName } from '../src/models/registry.js';
import { pairStep } from '../src/train/pair-step.js';
import { createDenseParamUpdater } from '../src/train/params.js';
import { createPairReplica } from '../src/train/parallel/pair-replica.js';
import { layoutSizes } from '../src/train/parallel/replica.js';
import { silentLogger } from '../src/util/log.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  await initEngine({ backend: 'wasm', log: silentLogger });
  const dim = Number(arg('dim', '64'));
  const layers = arg('layers', '512,256,128,64').split(',').map(Number);
  const B = Number(arg('batch', '256'));
  const name = arg('model', 'neumf') as PairModelName;
  const steps = 40;
  let seed = 1;
  const config = { ...configSchema.parse({}).model, dim, layers, dropout: 0 };
  const model = buildModel(name, { config, shape: { users: 6040, items: 3706, globalMean: 0 }, nextSeed: () => seed++ });
  const cfg = { name: 'adam' as const, lr: 0.001 };
  const sparse = createRowSparseOptimizer(cfg, Object.fromEntries(model.tables.map((t) => [t.name, t.variable])));
  const params = createDenseParamUpdater(cfg, model);
  const N = B * steps;
  const users = Int32Array.from({ length: N }, (_, i) => (i * 7919) % 6040);
  const items = Int32Array.from({ length: N }, (_, i) => (i * 104729) % 3706);
  const labels = Float32Array.from({ length: N }, (_, i) => (i % 5 === 0 ? 1 : 0));
  const updaters = { applyRows: (t: TF.Variable, r: Int32Array, g: TF.Tensor2D) => sparse.applyRows(t, r, g), applyDense: (g: TF.NamedTensorMap) => void params.apply(g) };
  const replica = createPairReplica({ model, sparse, params, frozen: new Set(), loss: 'bce', l2: 0 });
  replica.setEpoch({ family: 'pair', arrays: { users, items, labels }, size: N });
  const sizes = layoutSizes(replica.layout, B);
  const buf = { rows: sizes.rows.map((n) => new Float32Array(n)), dense: sizes.dense.map((n) => new Float32Array(n)) };
  const time = (f: (s: number) => void): number => {
    const t = performance.now();
    for (let s = 0; s < steps; s++) f(s);
    return (performance.now() - t) / steps;
  };
  for (let round = 0; round < 2; round++) {
    const full = time((s) => pairStep(model, { users: users.subarray(s * B, s * B + B), items: items.subarray(s * B, s * B + B), labels: labels.subarray(s * B, s * B + B), negatives: null }, 'bce', 0, true, updaters, new Set()));
    const half = time((s) => replica.computeShard({ lo: s * B, hi: s * B + B / 2 }, buf));
    const whole = time((s) => replica.computeShard({ lo: s * B, hi: s * B + B }, buf));
    const apply = time((s) => replica.applyStep([{ lo: s * B, hi: s * B + B }], buf));
    process.stdout.write(
      `${JSON.stringify({ model: name, dim, layers, batch: B, round, step_ms: +full.toFixed(2), half_shard_ms: +half.toFixed(2), whole_batch_grads_ms: +whole.toFixed(2), update_ms: +apply.toFixed(2), ideal_two_thread_ratio: +((half + apply) / (whole + apply)).toFixed(3) })}\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
