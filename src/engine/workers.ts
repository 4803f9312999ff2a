/**
 * How many training threads `--workers auto` uses on an engine here (PRODUCT §7): the cores this
 * process may use (os.availableParallelism: cgroup and affinity limits included), at most
 * AUTO_MAX_WORKERS; the tfjs-node engines thread each op themselves (TensorFlow's own pool) and
 * get 1. The trainer may use fewer for a small batch (src/train/parallel/workers.ts).
 */
import { availableParallelism } from 'node:os';

/** `auto` never goes above this many replicas: each holds a whole model and engine heap. */
export const AUTO_MAX_WORKERS = 16;

export function autoWorkers(engine: string, cores = availableParallelism()): number {
  if (engine === 'node' || engine === 'node-gpu') return 1;
  return Math.max(1, Math.min(cores, AUTO_MAX_WORKERS));
}
