/**
 * The `full` protocol's ranking of one range of users, shared by the main thread (evaluate.ts) and
 * the ranking worker threads (parallel/worker.ts): score a paced block of users over the whole
 * catalogue (score-blocks.ts), then a JS top-k per user. A user's ranking depends on that user's
 * scores alone, so any split of the users into blocks or threads ranks every user the same way.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { itemsOf, type UserItems } from '../data/user-items.js';
import type { Scorer } from '../models/model.js';
import { InterruptedError } from '../util/errors.js';
import { auc } from './metrics/auc.js';
import type { UserRanking } from './metrics/accumulator.js';
import { createRanker } from './ranking.js';
import { createBlockPacer, planForScorer, scoreUserBlock } from './score-blocks.js';

/** The part of a PreparedEval a full ranking reads (all typed arrays: they can live in shared memory). */
export interface FullRankData {
  modelItems: number;
  /** The evaluated users as the Scorer's indices (PreparedEval.users.model). */
  users: Int32Array;
  relevant: UserItems;
  exclude: UserItems;
  unrankable: Int32Array;
  unrankableRelevant: Int32Array | null;
}

export interface FullRankSettings {
  /** Longest top-k list (the largest cut-off, at least 1). */
  maxK: number;
  wantAuc: boolean;
  wantCoverage: boolean;
  /** Most users per block (--user-block); the memory budget may lower it. */
  userBlock: number;
  budgetBytes?: number;
}

export interface FullRanker {
  /**
   * Ranks one block of the users at positions lo, lo + 1, … (at most up to `limit`, its size chosen
   * by the pacer), hands each user's ranking to `emit` in order, and returns where the block ended.
   */
  block(lo: number, limit: number, emit: (r: UserRanking) => void): number;
  dispose(): void;
}

export function createFullRanker(scorer: Scorer, data: FullRankData, settings: FullRankSettings): FullRanker {
  const numItems = data.modelItems;
  const ranker = createRanker(numItems, data.unrankable);
  const plan = planForScorer(scorer, { numItems, maxUsers: settings.userBlock, budgetBytes: settings.budgetBytes });
  const pacer = createBlockPacer(plan);
  const allItems = tf.range(0, numItems, 1, 'int32') as TF.Tensor1D;
  const inList = settings.wantAuc ? new Uint8Array(numItems) : null;
  if (inList) for (const i of data.unrankable) inList[i] = NEVER_RANKED;
  const k = Math.max(1, settings.maxK);
  return {
    block(lo, limit, emit) {
      const hi = Math.min(limit, lo + pacer.next());
      const started = performance.now();
      const scores = scoreUserBlock(scorer, data.users.subarray(lo, hi), plan, allItems);
      for (let j = lo; j < hi; j++) {
        const userScores = scores.subarray((j - lo) * numItems, (j - lo + 1) * numItems);
        const relevant = itemsOf(data.relevant, j);
        const exclude = itemsOf(data.exclude, j);
        const top = ranker.topK(userScores, k, { exclude, relevant });
        const ranking: UserRanking = { hits: top.hits, relevant: relevant.length + (data.unrankableRelevant?.[j] ?? 0) };
        if (settings.wantCoverage) ranking.items = top.items;
        if (inList) ranking.auc = fullAuc(userScores, relevant, exclude, inList);
        emit(ranking);
      }
      pacer.took(hi - lo, performance.now() - started);
      return hi;
    },
    dispose: () => allItems.dispose(),
  };
}

const NEVER_RANKED = 4;

/**
 * AUC of one user over the whole rankable catalogue (relevant vs every other item that is neither
 * excluded for the user nor marked NEVER_RANKED in `mark`, which the caller keeps between users).
 */
function fullAuc(scores: Float32Array, relevant: Int32Array, exclude: Int32Array, mark: Uint8Array): number {
  for (const i of relevant) mark[i] |= 1;
  for (const i of exclude) mark[i] |= 2;
  const pos = new Float32Array(relevant.length);
  relevant.forEach((i, j) => (pos[j] = scores[i]));
  let count = 0;
  for (let i = 0; i < scores.length; i++) if (mark[i] === 0) count++;
  const neg = new Float32Array(count);
  let w = 0;
  for (let i = 0; i < scores.length; i++) if (mark[i] === 0) neg[w++] = scores[i];
  for (const i of relevant) mark[i] &= NEVER_RANKED;
  for (const i of exclude) mark[i] &= NEVER_RANKED;
  return auc(pos, neg);
}

/** Lets pending events (signals, worker answers) run, then stops the evaluation if the run was interrupted. */
export async function yieldToEvents(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfAborted(signal);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const name = signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    throw new InterruptedError(name, `${name} received: evaluation stopped; no eval file was written.`);
  }
}

/** The best `k` items of each of a block's users (rec recommend): lengths, then items and scores back to back. */
export interface TopLists {
  counts: Int32Array;
  items: Int32Array;
  scores: Float32Array;
}

export interface TopKSettings {
  k: number;
  /** Most users per block (--user-block); the memory budget may lower it. */
  userBlock: number;
  budgetBytes?: number;
}

export interface TopKScorer {
  /**
   * Top-k lists of users[lo …] (one paced block, at most up to `limit`), each without the items
   * `exclude(user)` lists and never an item of `never` (createTopKScorer's); returns where it ended.
   */
  block(users: Int32Array, lo: number, limit: number, emit: (items: Int32Array, scores: Float32Array) => void): number;
  dispose(): void;
}

/** Scores users over the catalogue and cuts each to its top k, ties to the lower item index (recommend.ts). */
export function createTopKScorer(
  scorer: Scorer,
  numItems: number,
  never: ArrayLike<number>,
  exclude: (user: number) => Int32Array | undefined,
  settings: TopKSettings,
): TopKScorer {
  const ranker = createRanker(numItems, never);
  const plan = planForScorer(scorer, { numItems, maxUsers: settings.userBlock, budgetBytes: settings.budgetBytes });
  const pacer = createBlockPacer(plan);
  const allItems = tf.range(0, numItems, 1, 'int32') as TF.Tensor1D;
  return {
    block(users, lo, limit, emit) {
      const hi = Math.min(limit, lo + pacer.next());
      const started = performance.now();
      const scores = scoreUserBlock(scorer, users.subarray(lo, hi), plan, allItems);
      for (let j = lo; j < hi; j++) {
        const top = ranker.topK(scores.subarray((j - lo) * numItems, (j - lo + 1) * numItems), settings.k, { exclude: exclude(users[j]) });
        emit(top.items, top.scores);
      }
      pacer.took(hi - lo, performance.now() - started);
      return hi;
    },
    dispose: () => allItems.dispose(),
  };
}

/** Packs top-k lists (TopLists) in order. */
export function packTopLists(lists: readonly { items: Int32Array; scores: Float32Array }[]): TopLists {
  const counts = Int32Array.from(lists, (l) => l.items.length);
  let total = 0;
  for (const c of counts) total += c;
  const items = new Int32Array(total);
  const scores = new Float32Array(total);
  let at = 0;
  for (const l of lists) {
    items.set(l.items, at);
    scores.set(l.scores, at);
    at += l.items.length;
  }
  return { counts, items, scores };
}
