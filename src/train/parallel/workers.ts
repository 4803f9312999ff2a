/**
 * How many replicas `--workers N|auto` means for a run (docs/engines.md#training-on-every-core---workers-nauto). `auto` takes what
 * engine/workers.ts autoWorkers gives the engine, capped so that every shard keeps enough examples
 * to amortise a step's fixed engine costs; the tfjs-node engines thread themselves and get 1.
 */
import { availableParallelism } from 'node:os';
import { autoWorkers, capAtCores, selfThreadedChoice } from '../../engine/workers.js';

/**
 * `auto` keeps at least this many examples in each shard of a full batch. Measured on 2 idle cores
 * with the update split between replicas (docs/benchmarks.md, "Training threads"): at batch 256
 * (128 a shard) two threads ran NeuMF-8's epoch in 1.07× one thread's and NeuMF-64's in
 * 0.89–0.92×; at batch 2048 (1024 a shard) 0.82–0.87× and 0.65×. Below ~1024 examples a step's
 * fixed engine costs, which every replica pays, eat most of the gain or more.
 */
export const AUTO_MIN_SHARD = 1024;

/**
 * The same floor for sequence models, in sequences a shard: a sequence is up to max_len
 * transformer positions, so far fewer pay for a step's fixed costs. SASRec on Amazon Games,
 * default batch 128 (64 sequences a shard), `rec train --model sasrec --epochs 2 --workers 1|2`
 * back to back on our 2 cores under load from parallel work (load average 2–5): epoch 1 / epoch 2
 * took 14.4 / 13.3 s on one thread and 10.8 / 9.4 s on two (0.71× in epoch 2); a second pair,
 * 16.7 / 14.9 s and 12.5 / 8.9 s. With a heavier load (5–7) two threads lost (21.4 / 20.1 s
 * against 18.5 / 15.4 s): the worker then shares a core with other processes. To be rerun idle.
 */
export const AUTO_MIN_SHARD_SEQUENCES = 64;

export type WorkersSetting = number | 'auto';

export interface WorkersChoice {
  workers: number;
  /** Why fewer replicas than asked or than cores, for the log; null when nothing was capped. */
  reason: string | null;
  /** The reason is a warning: an explicit --workers N was more than the cores this process may use. */
  warn?: boolean;
}

export function resolveWorkers(
  setting: WorkersSetting,
  ctx: { engine: string; batchSize: number; cores?: number; parallelizable: boolean; why?: string; minShard?: number },
): WorkersChoice {
  const cores = ctx.cores ?? availableParallelism();
  const selfThreaded = selfThreadedChoice(setting, ctx.engine);
  if (selfThreaded !== null) return selfThreaded;
  if (!ctx.parallelizable) {
    return { workers: 1, reason: setting === 'auto' || setting > 1 ? `one thread: ${ctx.why ?? 'this training step has no data-parallel form'}` : null };
  }
  if (setting !== 'auto') {
    if (setting > ctx.batchSize && ctx.batchSize <= cores) return { workers: ctx.batchSize, reason: `--workers ${setting} lowered to the batch size ${ctx.batchSize} (one example per shard at least)` };
    return capAtCores(setting, cores) ?? { workers: setting, reason: null };
  }
  const byCores = autoWorkers(ctx.engine, cores);
  const minShard = ctx.minShard ?? AUTO_MIN_SHARD;
  const byBatch = Math.max(1, Math.floor(ctx.batchSize / minShard));
  if (byBatch < byCores) return { workers: byBatch, reason: `workers auto: ${byBatch} of ${cores} cores (batch ${ctx.batchSize}: at least ${minShard} examples a shard)` };
  return { workers: byCores, reason: null };
}
