/**
 * Top-k recommendations for users of a trained model (PRODUCT §2 `rec recommend`).
 *
 * A known user gets the model's scores over the whole catalogue (PairModel.scoreMatrix: logits for
 * bce/bpr, predicted ratings for mse), minus the items they interacted with unless asked otherwise,
 * cut to the best k. Ties go to the lower item index: the ranker's pessimistic rule only concerns
 * relevant items, and there are none here, so the order is (score descending, index ascending) and
 * the same inputs always give the same lists.
 *
 * A cold user gets the most popular items instead, `cold: true`, with `score` = the item's
 * popularity (its interaction count), not a model score. Cold means the model never trained on the
 * user: not in the vocabulary, or in it without a single training row (a user whose rows all fell
 * into valid/test still has the random initial embedding, whose scores are noise).
 *
 * A sequence model scores a user from their whole history (every split of the checkpoint's
 * dataset, oldest first), so "cold" there means an empty history: a user without training rows is
 * still served from the items they touched. Items follow the same rule for both kinds of model.
 *
 * Users are scored in blocks sized from a memory budget (src/eval/score-blocks.ts), so `--all`
 * over a large catalogue keeps one bounded block in memory at a time; each block takes a fraction
 * of a second, and results come out block by block for streaming writers, which yield between
 * blocks so SIGINT stays responsive.
 */
import * as tf from '@tensorflow/tfjs';
import { createRanker, type TopK } from '../eval/ranking.js';
import { createBlockPacer, planForScorer, scoreUserBlock } from '../eval/score-blocks.js';
import { sequenceOf, type UserSequences } from '../data/sequences.js';
import { type AnyModel, historyScorer, isSequenceModel, type Scorer } from '../models/model.js';
import type { UserItemSets } from '../train/pair-data.js';

export interface ItemScore {
  /** Raw item id. */
  item: string;
  score: number;
}

export interface UserRecommendations {
  /** The user as the caller named them (the id as typed, even when it was hashed for lookup). */
  user: string;
  /** Best first; fewer than k when the user has seen nearly the whole catalogue. */
  items: ItemScore[];
  cold: boolean;
}

export interface RecommendSource {
  model: AnyModel;
  /** Raw item id per item index. */
  itemIds: readonly string[];
  /** Interactions per item index: the order cold users get. */
  popularity: ArrayLike<number>;
  /** Items each user interacted with (CSR by user index); null when unknown (nothing is excluded). */
  seen: UserItemSets | null;
  /**
   * Pair models: 1 for users with at least one training row; null when unknown (every vocabulary
   * user counts as trained). Sequence models ignore it: `histories` decides.
   */
  trained: Uint8Array | null;
  /**
   * Sequence models (required for them): each user's whole history by user index, oldest first,
   * the input their scores come from; a user with an empty one is cold.
   */
  histories?: UserSequences | null;
  /**
   * 1 for items whose row the model learned; null when unknown. Warm users are never served an
   * item without one: its score comes from a random vector (cold users' popular lists may hold it).
   */
  trainedItems?: Uint8Array | null;
}

export interface UserQueries {
  /** What each output row calls its user. */
  labels: readonly string[];
  /** Vocabulary index per label; -1 for a user the vocabulary does not hold. */
  indices: Int32Array;
}

export interface RecommendOptions {
  k: number;
  /** Drop the items each user already interacted with (the default of `rec recommend`). */
  excludeSeen: boolean;
  /** Most users per scoreMatrix call (default 256); the memory budget may make blocks smaller. */
  blockSize?: number;
  /** Engine bytes a block may use (default SCORE_BLOCK_BUDGET_BYTES). */
  budgetBytes?: number;
}

/**
 * The shortest decimal that is still the same float32: scores are float32 on every engine, and
 * printing their float64 widening (0.10000000149011612) would suggest precision they do not have.
 * Math.fround of the result gives back the exact score, so Arrow's float32 column loses nothing.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  const target = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const y = Number(target.toPrecision(p));
    if (Math.fround(y) === target) return y;
  }
  return target;
}

function toItemScores(top: TopK, itemIds: readonly string[]): ItemScore[] {
  const out: ItemScore[] = new Array<ItemScore>(top.items.length);
  for (let r = 0; r < top.items.length; r++) out[r] = { item: itemIds[top.items[r]], score: shortestFloat32(top.scores[r]) };
  return out;
}

/** The Scorer for `src.model`, and which user indices it can score (the others are cold). */
function userScoring(src: RecommendSource): { scorer: Scorer; isWarm: (u: number) => boolean } {
  const { model, trained } = src;
  if (isSequenceModel(model)) {
    const histories = src.histories;
    if (!histories) throw new Error(`recommend: ${model.name} scores users from their histories, and none were given`);
    return {
      scorer: historyScorer(model, (u) => sequenceOf(histories, u)),
      isWarm: (u) => u >= 0 && u < histories.numUsers && histories.offsets[u + 1] > histories.offsets[u],
    };
  }
  return { scorer: model, isWarm: (u) => u >= 0 && (trained === null || trained[u] === 1) };
}

/** Recommendations for `queries`, one block of users at a time, in query order. */
export function* recommendBlocks(src: RecommendSource, queries: UserQueries, opts: RecommendOptions): Generator<UserRecommendations[]> {
  const { model, itemIds, seen } = src;
  const { scorer, isWarm } = userScoring(src);
  const numItems = model.shape.items;
  if (itemIds.length !== numItems || src.popularity.length !== numItems) {
    throw new RangeError(`recommend: the model has ${numItems} items, the vocabulary ${itemIds.length} and the popularity ${src.popularity.length}`);
  }
  if (queries.labels.length !== queries.indices.length) throw new RangeError('recommend: labels and indices differ in length');
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`recommend: k must be a positive integer; got ${opts.k}`);
  // Never ask the ranker for more than the catalogue: its heap is sized by k.
  const k = Math.min(opts.k, numItems);
  const plan = planForScorer(scorer, { numItems, maxUsers: opts.blockSize ?? 256, budgetBytes: opts.budgetBytes });
  const pacer = createBlockPacer(plan);
  const ranker = createRanker(numItems);
  const untrained: number[] = [];
  if (src.trainedItems) for (let i = 0; i < numItems; i++) if (src.trainedItems[i] !== 1) untrained.push(i);
  const modelRanker = untrained.length > 0 ? createRanker(numItems, untrained) : ranker;
  const popularity = Float64Array.from(src.popularity);
  const seenOf = (u: number): Int32Array | undefined =>
    opts.excludeSeen && seen !== null && u >= 0 ? seen.items.subarray(seen.offsets[u], seen.offsets[u + 1]) : undefined;
  // Every cold user with nothing to exclude gets the same list: rank the catalogue once for them.
  let popular: ItemScore[] | null = null;
  const coldItems = (exclude: Int32Array | undefined): ItemScore[] => {
    if (k < 1) return [];
    if (exclude && exclude.length > 0) return toItemScores(ranker.topK(popularity, k, { exclude }), itemIds);
    popular ??= toItemScores(ranker.topK(popularity, k), itemIds);
    return popular.map((s) => ({ ...s }));
  };

  const allItems = tf.range(0, numItems, 1, 'int32') as tf.Tensor1D;
  try {
    for (let lo = 0; lo < queries.indices.length; ) {
      const hi = Math.min(queries.indices.length, lo + pacer.next());
      const started = performance.now();
      const warm: number[] = [];
      for (let j = lo; j < hi; j++) if (isWarm(queries.indices[j])) warm.push(queries.indices[j]);
      const scores = warm.length > 0 && k > 0 ? scoreUserBlock(scorer, Int32Array.from(warm), plan, allItems) : null;
      const out: UserRecommendations[] = [];
      let w = 0;
      for (let j = lo; j < hi; j++) {
        const u = queries.indices[j];
        const exclude = seenOf(u);
        if (isWarm(u)) {
          const items = scores === null ? [] : toItemScores(modelRanker.topK(scores.subarray(w * numItems, (w + 1) * numItems), k, { exclude }), itemIds);
          w++;
          out.push({ user: queries.labels[j], items, cold: false });
        } else {
          out.push({ user: queries.labels[j], items: coldItems(exclude), cold: true });
        }
      }
      pacer.took(hi - lo, performance.now() - started);
      lo = hi;
      yield out;
    }
  } finally {
    allItems.dispose();
  }
}

/** All recommendations at once (for --json and tests; writers should stream recommendBlocks). */
export function recommend(src: RecommendSource, queries: UserQueries, opts: RecommendOptions): UserRecommendations[] {
  const out: UserRecommendations[] = [];
  for (const block of recommendBlocks(src, queries, opts)) out.push(...block);
  return out;
}

/** Per-user 1/0: has at least one row in `train` (users of the vocabulary's index space). */
export function trainedUsers(numUsers: number, trainUsers: Int32Array): Uint8Array {
  const out = new Uint8Array(numUsers);
  for (let j = 0; j < trainUsers.length; j++) out[trainUsers[j]] = 1;
  return out;
}
