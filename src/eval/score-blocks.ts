/**
 * Full-catalogue scoring in blocks sized from a memory budget, shared by per-epoch validation,
 * `rec eval --protocol full` and `rec recommend`.
 *
 * A block of U users over a catalogue of I items costs U × I × (bytes per score) at once, where the
 * bytes per score count the model's intermediate activations (an NCF MLP tower holds several
 * layer-wide activations per pair, not one float) and the float32 copy handed back to JS. A fixed
 * user count cannot be right for every catalogue: 256 users × 85k items through NeuMF's tower is
 * ~8 GB, past the wasm heap. So the user count comes from the budget, and when even one user ×
 * catalogue is over it, the catalogue is scored in item chunks and stitched back together.
 *
 * Within that bound a pacer picks the block actually scored from how long the last one took, so a
 * synchronous block never holds the event loop (and with it SIGINT/SIGTERM) much past a fraction
 * of a second. Scores do not depend on the blocking: every kernel computes a (user, item) score
 * from that pair's rows alone.
 */
import * as tf from '@tensorflow/tfjs';
import type { PairModel } from '../models/model.js';

/** Engine memory one block may use: well inside the 4 GB wasm heap, with room for the tables. */
export const SCORE_BLOCK_BUDGET_BYTES = 256 * 1024 * 1024;

/** For a model that does not declare its own: the output, a few elementwise temporaries, the JS copy. */
const DEFAULT_BYTES_PER_SCORE = 20;

/** How long one synchronous block should hold the event loop. */
export const BLOCK_TARGET_MS = 200;

export interface ScoreBlockPlan {
  /** Most users per block (the budget's and the caller's cap). */
  maxUsers: number;
  /** Items scored per scoreMatrix call: the whole catalogue unless one user's row is over budget. */
  itemChunk: number;
  numItems: number;
  bytesPerScore: number;
  budgetBytes: number;
}

export function bytesPerScore(model: PairModel): number {
  return model.scoreBytesPerPair ?? DEFAULT_BYTES_PER_SCORE;
}

/**
 * The largest blocks that keep users × items × bytesPerScore within the budget, with at most
 * `maxUsers` users (`--user-block`, eval.user_block) and at least one user and one item.
 */
export function planScoreBlocks(args: { numItems: number; bytesPerScore: number; maxUsers: number; budgetBytes?: number }): ScoreBlockPlan {
  const budgetBytes = args.budgetBytes ?? SCORE_BLOCK_BUDGET_BYTES;
  const numItems = Math.max(1, args.numItems);
  const perUser = numItems * args.bytesPerScore;
  const maxUsers = Math.max(1, Math.min(args.maxUsers, Math.floor(budgetBytes / perUser)));
  const itemChunk = perUser <= budgetBytes ? numItems : Math.max(1, Math.floor(budgetBytes / args.bytesPerScore));
  return { maxUsers, itemChunk, numItems, bytesPerScore: args.bytesPerScore, budgetBytes };
}

/**
 * Scores of `users` over the whole catalogue, row-major [users.length, numItems], asking the model
 * for at most plan.itemChunk items at a time. `allItems` (0..numItems-1) is reused when given.
 */
export function scoreUserBlock(model: PairModel, users: Int32Array, plan: ScoreBlockPlan, allItems?: tf.Tensor1D): Float32Array {
  const { numItems, itemChunk } = plan;
  if (itemChunk >= numItems) {
    const t = tf.tidy(() => model.scoreMatrix(tf.tensor1d(users, 'int32'), allItems ?? (tf.range(0, numItems, 1, 'int32') as tf.Tensor1D)));
    try {
      return t.dataSync() as Float32Array;
    } finally {
      t.dispose();
    }
  }
  const out = new Float32Array(users.length * numItems);
  for (let lo = 0; lo < numItems; lo += itemChunk) {
    const hi = Math.min(numItems, lo + itemChunk);
    const t = tf.tidy(() => model.scoreMatrix(tf.tensor1d(users, 'int32'), tf.range(lo, hi, 1, 'int32') as tf.Tensor1D));
    const part = t.dataSync() as Float32Array;
    t.dispose();
    const width = hi - lo;
    for (let u = 0; u < users.length; u++) out.set(part.subarray(u * width, (u + 1) * width), u * numItems + lo);
  }
  return out;
}

export interface BlockPacer {
  /** Users to put in the next block (1 … plan.maxUsers). */
  next(): number;
  /** Reports how long a block of `users` users took. */
  took(users: number, ms: number): void;
}

/**
 * Starts small and moves the block size towards `targetMs` per block (at most ×4 per step, never
 * past the plan), so the first block on a slow engine is short and later ones amortise overhead.
 */
export function createBlockPacer(plan: ScoreBlockPlan, targetMs = BLOCK_TARGET_MS): BlockPacer {
  // Two users: on the pure-JS engine one NeuMF user × 85k items is already ~0.2 s.
  let size = Math.min(plan.maxUsers, 2);
  return {
    next: () => size,
    took(users, ms) {
      if (users < size && ms < targetMs) return;
      const perUser = Math.max(ms, 0.01) / Math.max(1, users);
      const ideal = Math.floor(targetMs / perUser);
      size = Math.max(1, Math.min(plan.maxUsers, users * 4, ideal));
    },
  };
}

/** Lets pending signal handlers run; `true` when the run should stop. */
export async function yieldTurn(signal: AbortSignal | undefined): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return signal?.aborted === true;
}
