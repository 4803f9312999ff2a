/**
 * Engine benchmark (docs/benchmarks.md#targets): `node dist/bench/engine.js [--quick] [--out FILE] [--engines wasm,cpu]`.
 *
 * (a) step cost: one embedding training step (gather user + item rows, dot, MSE, gradients w.r.t.
 *     the gathered rows, row-sparse Adam) at batch 1024, dim 32, as both tables grow 10^4 → 10^6
 *     rows. Row-sparse updates cost O(batch · dim), so the median must stay flat. Dense Adam
 *     (gradient w.r.t. the whole tables, every row updated) at 10^4 / 10^5 rows for contrast.
 * (b) MF throughput: biased MF on ML-1M-sized synthetic ratings (6040 × 3706, 1,000,209 ratings),
 *     B = 4096, d = 32, row-sparse Adam, one full epoch per engine (--quick: the first 60 steps).
 *
 * Timings include building the batch tensors and reading the loss back each step, as a training
 * loop must. Medians, because per-step spread on a shared 2-core VM is ±20–50 % (docs/engines.md#tfjs-behaviour-the-code-relies-on).
 */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../src/engine/tf.js';
import { initEngine, packageResolves, NODE_PACKAGES, type EngineInfo, type EngineName } from '../src/engine/backend.js';
import { createDenseOptimizer, createRowSparseOptimizer } from '../src/engine/sparse-optimizer.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { Prng } from '../src/util/prng.js';

export interface EngineBenchOptions {
  quick?: boolean;
  /** JSON output path; default bench/results/engine.json. Pass null to skip writing. */
  out?: string | null;
  /** Engines to measure; default: every one that can load here (node engines only if installed). */
  engines?: EngineName[];
  seed?: number;
  log?: Logger;
}

export interface StepCost {
  engine: EngineName;
  update: 'row-sparse-adam' | 'dense-adam';
  rows: number;
  batch: number;
  dim: number;
  steps: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  meanMs: number;
}

export interface MfThroughput {
  engine: EngineName;
  ratings: number;
  users: number;
  items: number;
  batch: number;
  dim: number;
  steps: number;
  fullEpoch: boolean;
  seconds: number;
  examplesPerS: number;
  medianStepMs: number;
  /** Projected seconds for a whole epoch at the measured rate. */
  epochSeconds: number;
  firstLoss: number;
  lastLoss: number;
}

export interface EngineBenchResult {
  bench: 'engine';
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; tfjs: string };
  engines: EngineInfo[];
  stepCost: StepCost[];
  mf: MfThroughput[];
}

const ML1M = { users: 6040, items: 3706, ratings: 1_000_209 };

export async function runEngineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const quick = opts.quick ?? false;
  const log = opts.log ?? createLogger('info', process.stderr);
  const seed = opts.seed ?? 2020;
  const engines = opts.engines ?? defaultEngines();
  const result: EngineBenchResult = {
    bench: 'engine',
    date: new Date().toISOString(),
    quick,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      tfjs: tf.version.tfjs,
    },
    engines: [],
    stepCost: [],
    mf: [],
  };
  const data = synthRatings(seed);
  for (const engine of engines) {
    const info = await initEngine({ backend: engine, log });
    result.engines.push(info);
    const timed = quick ? 50 : 200;
    for (const rows of [1e4, 1e5, 1e6]) {
      const r = stepCost(engine, 'row-sparse-adam', rows, timed, seed);
      log.info(formatStep(r));
      result.stepCost.push(r);
    }
    for (const rows of [1e4, 1e5]) {
      const r = stepCost(engine, 'dense-adam', rows, quick ? 20 : 50, seed);
      log.info(formatStep(r));
      result.stepCost.push(r);
    }
    const mf = mfEpoch(engine, data, quick ? 60 : Number.POSITIVE_INFINITY, seed);
    log.info(
      `mf ${engine}: ${mf.steps} steps${mf.fullEpoch ? ' (full epoch)' : ''}, ${Math.round(mf.examplesPerS)} ex/s, ` +
        `median ${mf.medianStepMs.toFixed(1)} ms/step, epoch ≈ ${mf.epochSeconds.toFixed(1)} s, loss ${mf.firstLoss.toFixed(3)} → ${mf.lastLoss.toFixed(3)}`,
    );
    result.mf.push(mf);
  }
  const out = opts.out === undefined ? 'bench/results/engine.json' : opts.out;
  if (out !== null) {
    await writeJsonAtomic(resolve(out), result);
    log.info(`wrote ${out}`);
  }
  return result;
}

function defaultEngines(): EngineName[] {
  const list: EngineName[] = [];
  if (packageResolves(NODE_PACKAGES['node-gpu'])) list.push('node-gpu');
  else if (packageResolves(NODE_PACKAGES.node)) list.push('node');
  list.push('wasm', 'cpu');
  return list;
}

function formatStep(r: StepCost): string {
  return `step ${r.engine} ${r.update} rows=${r.rows.toExponential(0)}: median ${r.medianMs.toFixed(2)} ms (p10 ${r.p10Ms.toFixed(2)}, p90 ${r.p90Ms.toFixed(2)}, ${r.steps} steps)`;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

function summarize(times: number[]): { medianMs: number; p10Ms: number; p90Ms: number; meanMs: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    medianMs: quantile(sorted, 0.5),
    p10Ms: quantile(sorted, 0.1),
    p90Ms: quantile(sorted, 0.9),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

function mseOfDot(u: TF.Tensor, i: TF.Tensor, y: TF.Tensor): TF.Scalar {
  return tf.mean(tf.square(tf.sub(tf.sum(tf.mul(u, i), 1), y))) as TF.Scalar;
}

function stepCost(engine: EngineName, update: StepCost['update'], rows: number, timed: number, seed: number): StepCost {
  const batch = 1024;
  const dim = 32;
  const rng = Prng.fromSeed(seed, `bench-step-${rows}`);
  const users = tf.variable(tf.randomNormal([rows, dim], 0, 0.1, 'float32', rng.tfSeed()), true, `bench-u-${engine}-${update}-${rows}`);
  const items = tf.variable(tf.randomNormal([rows, dim], 0, 0.1, 'float32', rng.tfSeed()), true, `bench-i-${engine}-${update}-${rows}`);
  const nBatches = 16;
  const batches = Array.from({ length: nBatches }, () => ({
    u: Int32Array.from({ length: batch }, () => rng.int(rows)),
    i: Int32Array.from({ length: batch }, () => rng.int(rows)),
    y: Float32Array.from({ length: batch }, () => rng.normal()),
  }));
  const sparse = update === 'row-sparse-adam' ? createRowSparseOptimizer({ name: 'adam', lr: 0.01 }, { users, items }) : null;
  const dense = update === 'dense-adam' ? createDenseOptimizer({ name: 'adam', lr: 0.01 }) : null;
  const step = (k: number): number => {
    const b = batches[k % nBatches];
    return tf.tidy(() => {
      const uIdx = tf.tensor1d(b.u, 'int32');
      const iIdx = tf.tensor1d(b.i, 'int32');
      const y = tf.tensor1d(b.y);
      if (sparse !== null) {
        const { value, grads } = tf.valueAndGrads((u: TF.Tensor, i: TF.Tensor) => mseOfDot(u, i, y))([
          tf.gather(users, uIdx),
          tf.gather(items, iIdx),
        ]);
        sparse.applyRows(users, b.u, grads[0]);
        sparse.applyRows(items, b.i, grads[1]);
        return value.dataSync()[0];
      }
      const value = (dense as NonNullable<typeof dense>).minimize(() => mseOfDot(tf.gather(users, uIdx), tf.gather(items, iIdx), y), [users, items]);
      return value.dataSync()[0];
    });
  };
  const warmup = 10;
  for (let k = 0; k < warmup; k++) step(k);
  const times: number[] = [];
  for (let k = 0; k < timed; k++) {
    const t0 = performance.now();
    step(warmup + k);
    times.push(performance.now() - t0);
  }
  dense?.dispose();
  tf.dispose([users, items]);
  return { engine, update, rows, batch, dim, steps: timed, ...summarize(times) };
}

interface Ratings {
  user: Int32Array;
  item: Int32Array;
  value: Float32Array;
}

/**
 * ML-1M-shaped ratings: popularity-skewed items, ratings from a planted rank-4 model plus noise,
 * rounded and clipped to 1..5, so MF has something to learn.
 */
function synthRatings(seed: number): Ratings {
  const rng = Prng.fromSeed(seed, 'bench-mf-data');
  const rank = 4;
  const a = Float32Array.from({ length: ML1M.users * rank }, () => rng.normal() * 0.5);
  const b = Float32Array.from({ length: ML1M.items * rank }, () => rng.normal() * 0.5);
  const n = ML1M.ratings;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const value = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const u = rng.int(ML1M.users);
    // Squaring a uniform draw concentrates mass on low ids: a few popular items, a long tail.
    const x = rng.next();
    const i = Math.min(ML1M.items - 1, Math.floor(x * x * ML1M.items));
    let dot = 0;
    for (let r = 0; r < rank; r++) dot += a[u * rank + r] * b[i * rank + r];
    user[k] = u;
    item[k] = i;
    value[k] = Math.min(5, Math.max(1, Math.round(3.6 + dot + 0.5 * rng.normal())));
  }
  return { user, item, value };
}

function mfEpoch(engine: EngineName, data: Ratings, maxSteps: number, seed: number): MfThroughput {
  const batch = 4096;
  const dim = 32;
  const rng = Prng.fromSeed(seed, `bench-mf-${engine}`);
  const n = data.user.length;
  let mean = 0;
  for (let k = 0; k < n; k++) mean += data.value[k];
  mean /= n;
  const P = tf.variable(tf.randomNormal([ML1M.users, dim], 0, 0.05, 'float32', rng.tfSeed()), true, `bench-mf-P-${engine}`);
  const Q = tf.variable(tf.randomNormal([ML1M.items, dim], 0, 0.05, 'float32', rng.tfSeed()), true, `bench-mf-Q-${engine}`);
  const bu = tf.variable(tf.zeros([ML1M.users, 1]), true, `bench-mf-bu-${engine}`);
  const bi = tf.variable(tf.zeros([ML1M.items, 1]), true, `bench-mf-bi-${engine}`);
  const opt = createRowSparseOptimizer({ name: 'adam', lr: 0.01, l2: 1e-4 }, { P, Q, bu, bi });
  const order = rng.permutation(n);
  const totalSteps = Math.ceil(n / batch);
  const steps = Math.min(totalSteps, maxSteps);
  const uBuf = new Int32Array(batch);
  const iBuf = new Int32Array(batch);
  const yBuf = new Float32Array(batch);
  const times: number[] = [];
  let firstLoss = Number.NaN;
  let lastLoss = Number.NaN;
  let examples = 0;
  const warm = 3;
  // Warm-up steps on the first batches are not timed and do not count; the epoch then runs in full.
  for (let s = -warm; s < steps; s++) {
    const start = (s < 0 ? s + warm : s) * batch;
    const size = Math.min(batch, n - start);
    const t0 = performance.now();
    for (let k = 0; k < size; k++) {
      const row = order[start + k];
      uBuf[k] = data.user[row];
      iBuf[k] = data.item[row];
      yBuf[k] = data.value[row];
    }
    const u = uBuf.subarray(0, size);
    const it = iBuf.subarray(0, size);
    const loss = tf.tidy(() => {
      const uIdx = tf.tensor1d(u, 'int32');
      const iIdx = tf.tensor1d(it, 'int32');
      const y = tf.tensor1d(yBuf.subarray(0, size));
      const { value, grads } = tf.valueAndGrads((p: TF.Tensor, q: TF.Tensor, b1: TF.Tensor, b2: TF.Tensor) => {
        const pred = tf.add(tf.add(tf.sum(tf.mul(p, q), 1), tf.add(tf.reshape(b1, [-1]), tf.reshape(b2, [-1]))), mean);
        return tf.mean(tf.squaredDifference(pred, y)) as TF.Scalar;
      })([tf.gather(P, uIdx), tf.gather(Q, iIdx), tf.gather(bu, uIdx), tf.gather(bi, iIdx)]);
      opt.applyRows(P, u, grads[0]);
      opt.applyRows(Q, it, grads[1]);
      opt.applyRows(bu, u, grads[2]);
      opt.applyRows(bi, it, grads[3]);
      return value.dataSync()[0];
    });
    const dt = performance.now() - t0;
    if (s < 0) continue;
    times.push(dt);
    examples += size;
    if (s === 0) firstLoss = loss;
    lastLoss = loss;
  }
  tf.dispose([P, Q, bu, bi]);
  const seconds = times.reduce((x, y) => x + y, 0) / 1000;
  const examplesPerS = examples / seconds;
  return {
    engine,
    ratings: n,
    users: ML1M.users,
    items: ML1M.items,
    batch,
    dim,
    steps,
    fullEpoch: steps === totalSteps,
    seconds,
    examplesPerS,
    medianStepMs: summarize(times).medianMs,
    epochSeconds: n / examplesPerS,
    firstLoss,
    lastLoss,
  };
}

function parseArgs(argv: string[]): EngineBenchOptions {
  const opts: EngineBenchOptions = {};
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--out') opts.out = argv[++k];
    else if (arg === '--engines') opts.engines = (argv[++k] ?? '').split(',') as EngineName[];
    else throw new Error(`bench/engine: unknown argument ${arg}. Usage: node dist/bench/engine.js [--quick] [--out FILE] [--engines wasm,cpu]`);
  }
  return opts;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runEngineBench(parseArgs(process.argv.slice(2))).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
