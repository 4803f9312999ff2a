/**
 * How many training threads `--workers auto` uses on an engine here (docs/engines.md#training-on-every-core---workers-nauto): the cores this
 * process may use (os.availableParallelism: cgroup and affinity limits included), at most
 * AUTO_MAX_WORKERS; the tfjs-node engines thread each op themselves (TensorFlow's own pool) and
 * get 1. The trainer may use fewer for a small batch (src/train/parallel/workers.ts). An explicit
 * `--workers N` is capped at the same cores (capAtCores), for training and ranking alike.
 */
import { availableParallelism } from 'node:os';

/** `auto` never goes above this many replicas: each holds a whole model and engine heap. */
export const AUTO_MAX_WORKERS = 16;

/** The tfjs-node engines thread each op themselves (TensorFlow's own pool): one thread uses every core. */
export function threadsItself(engine: string): boolean {
  return engine === 'node' || engine === 'node-gpu';
}

/**
 * The one thread training and ranking use on an engine that threads itself (threadsItself), with
 * why an explicit `--workers N` is ignored; null on any other engine.
 */
export function selfThreadedChoice(setting: number | 'auto', engine: string): { workers: 1; reason: string | null } | null {
  if (!threadsItself(engine)) return null;
  return { workers: 1, reason: setting !== 'auto' && setting > 1 ? `--workers ${setting} ignored: the ${engine} engine threads each op itself (TensorFlow's pool)` : null };
}

export function autoWorkers(engine: string, cores = availableParallelism()): number {
  if (threadsItself(engine)) return 1;
  return Math.max(1, Math.min(cores, AUTO_MAX_WORKERS));
}

/**
 * An explicit `--workers N` above the cores this process may use: each thread holds a whole engine
 * and model, and threads beyond the cores only take turns on them (63 threads on 2 cores held
 * 2.2 GB and finished no epoch of 3,000 rows in 2 minutes), so N is lowered to the cores.
 */
export function capAtCores(setting: number, cores: number): { workers: number; reason: string; warn: true } | null {
  const available = Math.max(1, cores);
  if (setting <= available) return null;
  return {
    workers: available,
    reason: `--workers ${setting} lowered to ${available}: this process may use ${available} core${available === 1 ? '' : 's'} (os.availableParallelism), and more threads than cores only take turns on them`,
    warn: true,
  };
}
