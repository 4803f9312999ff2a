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
 * A sequence model also holds activations per user (its encoder over the history), whatever the
 * number of items scored: Scorer.scoreBytesPerUser, added to each user's cost.
 *
 * Within that bound a pacer picks the block actually scored from how long the last one took, so a
 * synchronous block never holds the event loop (and with it SIGINT/SIGTERM) much past a fraction
 * of a second. Scores do not depend on the blocking: every kernel computes a (user, item) score
 * from that pair's rows alone (a sequence model: from that user's history and the item's rows).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { Scorer } from '../models/model.js';

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
  bytesPerUser: number;
  budgetBytes: number;
}

export function bytesPerScore(model: Pick<Scorer, 'scoreBytesPerPair'>): number {
  return model.scoreBytesPerPair ?? DEFAULT_BYTES_PER_SCORE;
}

/** A pair model holds nothing per user beyond its scores; a sequence model declares its encoder's share. */
export function bytesPerUser(model: Pick<Scorer, 'scoreBytesPerUser'>): number {
  return model.scoreBytesPerUser ?? 0;
}

/**
 * The largest blocks that keep users × (items × bytesPerScore + bytesPerUser) within the budget,
 * with at most `maxUsers` users (`--user-block`, eval.user_block) and at least one user and one item.
 */
export function planScoreBlocks(args: { numItems: number; bytesPerScore: number; bytesPerUser?: number; maxUsers: number; budgetBytes?: number }): ScoreBlockPlan {
  const budgetBytes = args.budgetBytes ?? SCORE_BLOCK_BUDGET_BYTES;
  const numItems = Math.max(1, args.numItems);
  const userBytes = args.bytesPerUser ?? 0;
  const perUser = numItems * args.bytesPerScore + userBytes;
  const maxUsers = Math.max(1, Math.min(args.maxUsers, Math.floor(budgetBytes / perUser)));
  // Each item chunk encodes the user again, so the chunk gets what the user's own share leaves.
  const itemChunk = perUser <= budgetBytes ? numItems : Math.max(1, Math.floor((budgetBytes - userBytes) / args.bytesPerScore));
  return { maxUsers, itemChunk, numItems, bytesPerScore: args.bytesPerScore, bytesPerUser: userBytes, budgetBytes };
}

/** planScoreBlocks for `scorer`'s declared costs. */
export function planForScorer(scorer: Scorer, args: { numItems: number; maxUsers: number; budgetBytes?: number }): ScoreBlockPlan {
  return planScoreBlocks({ ...args, bytesPerScore: bytesPerScore(scorer), bytesPerUser: bytesPerUser(scorer) });
}

/**
 * Scores of `users` over the whole catalogue, row-major [users.length, numItems], asking the model
 * for at most plan.itemChunk items at a time. `allItems` (0..numItems-1) is reused when given.
 */
export function scoreUserBlock(model: Scorer, users: Int32Array, plan: ScoreBlockPlan, allItems?: TF.Tensor1D): Float32Array {
  const { numItems, itemChunk } = plan;
  if (itemChunk >= numItems) {
    const t = tf.tidy(() => model.scoreMatrix(tf.tensor1d(users, 'int32'), allItems ?? (tf.range(0, numItems, 1, 'int32') as TF.Tensor1D)));
    try {
      return t.dataSync() as Float32Array;
    } finally {
      t.dispose();
    }
  }
  const out = new Float32Array(users.length * numItems);
  for (let lo = 0; lo < numItems; lo += itemChunk) {
    const hi = Math.min(numItems, lo + itemChunk);
    const t = tf.tidy(() => model.scoreMatrix(tf.tensor1d(users, 'int32'), tf.range(lo, hi, 1, 'int32') as TF.Tensor1D));
    const part = t.dataSync() as Float32Array;
    t.dispose();
    const width = hi - lo;
    for (let u = 0; u < users.length; u++) out.set(part.subarray(u * width, (u + 1) * width), u * numItems + lo);
  }
  return out;
}

/**
 * Scores of each user over their own short list of items (sampled negatives, candidates):
 * out[j][t] = score of (users[j], lists[j][t]). A Scorer only scores users × a shared item set, so
 * consecutive users are grouped and each group is scored over the union of its lists, the group
 * growing while users × (union × bytesPerScore + bytesPerUser) stays within the budget. For a
 * sequence model the encoder runs once per user and the extra scores are one matmul's worth, far
 * cheaper than one scoreMatrix call per user; pair models have an aligned-pair path instead
 * (evaluate.ts scorePairs).
 */
export function scoreUserLists(scorer: Scorer, users: Int32Array, lists: readonly Int32Array[], budgetBytes = SCORE_BLOCK_BUDGET_BYTES): Float32Array[] {
  if (users.length !== lists.length) throw new RangeError(`scoreUserLists: ${users.length} users but ${lists.length} lists`);
  const perScore = bytesPerScore(scorer);
  const perUser = bytesPerUser(scorer);
  const column = new Int32Array(scorer.shape.items).fill(-1);
  const out: Float32Array[] = new Array<Float32Array>(users.length);
  let union: number[] = [];
  let lo = 0;
  const flush = (hi: number) => {
    if (hi > lo) scoreGroup(scorer, users.subarray(lo, hi), lists.slice(lo, hi), union, column, perScore, perUser, budgetBytes, out, lo);
    for (const i of union) column[i] = -1;
    union = [];
    lo = hi;
  };
  for (let j = 0; j < users.length; j++) {
    let added = 0;
    for (const i of lists[j]) if (column[i] < 0) added++;
    const n = j - lo + 1;
    if (j > lo && n * ((union.length + added) * perScore + perUser) > budgetBytes) flush(j);
    for (const i of lists[j]) {
      if (column[i] < 0) {
        column[i] = union.length;
        union.push(i);
      }
    }
  }
  flush(users.length);
  return out;
}

function scoreGroup(
  scorer: Scorer,
  users: Int32Array,
  lists: readonly Int32Array[],
  union: readonly number[],
  column: Int32Array,
  perScore: number,
  perUser: number,
  budgetBytes: number,
  out: Float32Array[],
  at: number,
): void {
  for (let j = 0; j < lists.length; j++) out[at + j] = new Float32Array(lists[j].length);
  if (union.length === 0) return;
  // Only a single user whose list alone is over the budget needs more than one chunk.
  const chunk = Math.max(1, Math.floor((budgetBytes - users.length * perUser) / (users.length * perScore)));
  for (let c = 0; c < union.length; c += chunk) {
    const width = Math.min(union.length, c + chunk) - c;
    const t = tf.tidy(() => scorer.scoreMatrix(tf.tensor1d(users, 'int32'), tf.tensor1d(union.slice(c, c + width), 'int32')));
    const part = t.dataSync() as Float32Array;
    t.dispose();
    lists.forEach((list, j) => {
      const dest = out[at + j];
      for (let t2 = 0; t2 < list.length; t2++) {
        const col = column[list[t2]] - c;
        if (col >= 0 && col < width) dest[t2] = part[j * width + col];
      }
    });
  }
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
