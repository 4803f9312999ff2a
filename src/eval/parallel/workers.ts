/**
 * How many threads `--workers N|auto` ranks with (rec eval, per-epoch validation): the semantics of
 * training's resolveWorkers (src/train/parallel/workers.ts). The tfjs-node engines thread each op
 * themselves and get 1; `auto` takes the cores autoWorkers gives the engine, but only as many as
 * there is ranking work to pay for a thread's start-up (its own engine and copy of the model).
 */
import { availableParallelism } from 'node:os';
import { autoWorkers, capAtCores, selfThreadedChoice } from '../../engine/workers.js';

/**
 * `auto` gives each thread at least this many user × item scores. Measured on our 2 cores under
 * load from parallel work (docs/benchmarks.md, "Parallel evaluation"): a ranking worker's start-up
 * (its engine, the model, the shared arrays) took 0.6–1.0 s, 3.5–4 s while a training run shared
 * the cores; one thread ranked MF at ~20M scores/s and NeuMF-8 at ~5M/s. Two threads beat one when
 * the single-thread ranking takes over twice the start-up: from ~40M scores for MF (the cheapest
 * model per score) at a 1 s start-up. 100M a thread leaves room for a busy machine, where a second
 * thread gets no core of its own.
 */
export const AUTO_MIN_SCORES_PER_THREAD = 100_000_000;

/**
 * A ranking worker builds its own copy of the model on its own engine: on wasm, in a heap of at
 * most 4 GiB, where the copy briefly exists twice (the built weights and the shared ones assigned
 * over them). EASE's dense matrix on Amazon Games (23,715 items, 2.25 GB) does not fit; such a
 * model ranks on the main thread, whatever --workers says.
 */
const WORKER_HEAP_BYTES = 4 * 1024 ** 3;
const COPIES_AT_LOAD = 2;

export type RankWorkersSetting = number | 'auto';

export interface RankWorkersChoice {
  workers: number;
  /** Why fewer threads than asked or than cores, for the log; null when nothing was capped. */
  reason: string | null;
  /** The reason is a warning: an explicit --workers N was more than the cores this process may use. */
  warn?: boolean;
}

/**
 * `rankings`: how many rankings one pool serves (per-epoch validation: the epochs), over which a
 * worker's start-up is spread.
 */
export function resolveRankWorkers(
  setting: RankWorkersSetting,
  ctx: { engine: string | null; users: number; items: number; cores?: number; rankings?: number; modelBytes?: number },
): RankWorkersChoice {
  const cores = ctx.cores ?? availableParallelism();
  if (ctx.engine === null) return { workers: 1, reason: null };
  const modelBytes = ctx.modelBytes ?? 0;
  if (ctx.engine === 'wasm' && COPIES_AT_LOAD * modelBytes > WORKER_HEAP_BYTES && setting !== 1) {
    return { workers: 1, reason: `ranking on the main thread: the model's weights (${(modelBytes / 1024 ** 3).toFixed(2)} GiB) do not fit twice in a worker's 4 GiB wasm heap` };
  }
  const selfThreaded = selfThreadedChoice(setting, ctx.engine);
  if (selfThreaded !== null) return selfThreaded;
  const users = Math.max(1, ctx.users);
  if (setting !== 'auto') {
    if (setting > users && users <= cores) return { workers: users, reason: `--workers ${setting} lowered to the ${users} users ranked (one user a thread at least)` };
    return capAtCores(setting, cores) ?? { workers: setting, reason: null };
  }
  const byCores = autoWorkers(ctx.engine, cores);
  const minScores = Math.ceil(AUTO_MIN_SCORES_PER_THREAD / Math.max(1, ctx.rankings ?? 1));
  const byWork = Math.max(1, Math.min(users, Math.floor((users * Math.max(1, ctx.items)) / minScores)));
  if (byWork < byCores) {
    return { workers: byWork, reason: `workers auto: ranking on ${byWork} of ${cores} cores (${users} users × ${ctx.items} items: at least ${minScores.toLocaleString('en-US')} scores a thread)` };
  }
  return { workers: byCores, reason: null };
}
