/**
 * How many threads `--workers N|auto` ranks with (rec eval, per-epoch validation): the semantics of
 * training's resolveWorkers (src/train/parallel/workers.ts). The tfjs-node engines thread each op
 * themselves and get 1; `auto` takes the cores autoWorkers gives the engine, but only as many as
 * there is ranking work to pay for a thread's start-up (its own engine and copy of the model).
 */
import { availableParallelism } from 'node:os';
import { autoWorkers } from '../../engine/workers.js';

/**
 * `auto` gives each thread at least this many user × item scores. A ranking worker's start-up
 * (engine, model, shared arrays; docs/benchmarks.md, "Parallel evaluation") costs about as much as
 * ranking this many scores of a small model on one thread; below it a second thread cannot win.
 */
export const AUTO_MIN_SCORES_PER_THREAD = 50_000_000;

export type RankWorkersSetting = number | 'auto';

export interface RankWorkersChoice {
  workers: number;
  /** Why fewer threads than asked or than cores, for the log; null when nothing was capped. */
  reason: string | null;
}

export function resolveRankWorkers(setting: RankWorkersSetting, ctx: { engine: string | null; users: number; items: number; cores?: number }): RankWorkersChoice {
  const cores = ctx.cores ?? availableParallelism();
  if (ctx.engine === null) return { workers: 1, reason: null };
  if (ctx.engine === 'node' || ctx.engine === 'node-gpu') {
    return { workers: 1, reason: setting !== 'auto' && setting > 1 ? `--workers ${setting} ignored: the ${ctx.engine} engine threads each op itself (TensorFlow's pool)` : null };
  }
  const users = Math.max(1, ctx.users);
  if (setting !== 'auto') {
    if (setting > users) return { workers: users, reason: `--workers ${setting} lowered to the ${users} users ranked (one user a thread at least)` };
    return { workers: setting, reason: null };
  }
  const byCores = autoWorkers(ctx.engine, cores);
  const byWork = Math.max(1, Math.min(users, Math.floor((users * Math.max(1, ctx.items)) / AUTO_MIN_SCORES_PER_THREAD)));
  if (byWork < byCores) {
    return { workers: byWork, reason: `workers auto: ranking on ${byWork} of ${cores} cores (${users} users × ${ctx.items} items: at least ${AUTO_MIN_SCORES_PER_THREAD.toLocaleString('en-US')} scores a thread)` };
  }
  return { workers: byCores, reason: null };
}
