/**
 * Top-k recommendations for users of a trained model (`rec recommend`, README.md#commands).
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
 * An item without a training row (cold: a new product) has a random id vector, so it is never
 * served, unless the model was trained with item features and scores it from them (vocab/
 * trained.json `featured`) and the caller asks for such items (`newItems`, `rec recommend
 * --new-items`): then it is ranked like any other, marked `from_features` in the output.
 *
 * Users are scored in blocks sized from a memory budget (src/eval/score-blocks.ts), so `--all`
 * over a large catalogue keeps one bounded block in memory at a time; each block takes a fraction
 * of a second, and results come out block by block for streaming writers, which yield between
 * blocks so SIGINT stays responsive.
 */
import type { RankPool } from '../eval/parallel/pool.js';
import { createTopKScorer, packTopLists, type TopKScorer, type TopLists } from '../eval/rank-full.js';
import { createRanker, type TopK } from '../eval/ranking.js';
import { createBlockPacer, planForScorer } from '../eval/score-blocks.js';
import { itemsOf, rowCount, type UserItems } from '../data/user-items.js';
import { type AnyModel, historyScorer, isHistoryModel, type Scorer } from '../models/model.js';

export interface ItemScore {
  /** Raw item id. */
  item: string;
  score: number;
  /** Present (true) only on an item without a training row that the model scored from its features. */
  from_features?: true;
  /** The catalogue's display title, when the checkpoint kept titles (src/recommend/titles.ts); null: none for this item. */
  title?: string | null;
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
  seen: UserItems | null;
  /**
   * Pair models: 1 for users with at least one training row; null when unknown (every vocabulary
   * user counts as trained). Sequence models ignore it: `histories` decides.
   */
  trained: Uint8Array | null;
  /**
   * Sequence models (required for them): each user's whole history by user index, oldest first,
   * the input their scores come from; a user with an empty one is cold.
   */
  histories?: UserItems | null;
  /**
   * 1 for items whose row the model learned; null when unknown. Warm users are never served an
   * item without one: its score comes from a random vector (cold users' popular lists may hold it).
   */
  trainedItems?: Uint8Array | null;
  /**
   * 1 for items the model scores from catalogue features (vocab/trained.json `featured`); null or
   * absent for a model trained without features.
   */
  featuredItems?: Uint8Array | null;
  /** Serve featured items without a training row too (`--new-items`), each marked `from_features`. */
  newItems?: boolean;
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

/**
 * Whether item `i` is served only because it is scored from its features: no learned row, featured,
 * and new items asked for. Every other untrained item is never served (newItemMarks).
 */
export function newItemMarks(src: Pick<RecommendSource, 'trainedItems' | 'featuredItems' | 'newItems'>): ((i: number) => boolean) | null {
  const { trainedItems, featuredItems } = src;
  if (src.newItems !== true || !trainedItems || !featuredItems) return null;
  return (i) => trainedItems[i] !== 1 && featuredItems[i] === 1;
}

function toItemScores(top: TopK, itemIds: readonly string[]): ItemScore[] {
  const out: ItemScore[] = new Array<ItemScore>(top.items.length);
  for (let r = 0; r < top.items.length; r++) out[r] = { item: itemIds[top.items[r]], score: shortestFloat32(top.scores[r]) };
  return out;
}

/** The Scorer for `src.model`, and which user indices it can score (the others are cold). */
function userScoring(src: RecommendSource): { scorer: Scorer; isWarm: (u: number) => boolean } {
  const { model, trained } = src;
  if (isHistoryModel(model)) {
    const histories = src.histories;
    if (!histories) throw new Error(`recommend: ${model.name} scores users from their histories, and none were given`);
    return {
      scorer: historyScorer(model, (u) => itemsOf(histories, u)),
      isWarm: (u) => u >= 0 && u < rowCount(histories) && histories.offsets[u + 1] > histories.offsets[u],
    };
  }
  return { scorer: model, isWarm: (u) => u >= 0 && (trained === null || trained[u] === 1) };
}

/** What both the one-thread and the threaded paths share: checks, the rankers, cold users' lists. */
function recommender(src: RecommendSource, queries: UserQueries, opts: RecommendOptions) {
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
  const ranker = createRanker(numItems);
  const untrained = untrainedItems(src);
  const popularity = Float64Array.from(src.popularity);
  const seenOf = (u: number): Int32Array | undefined =>
    opts.excludeSeen && seen !== null && u >= 0 ? itemsOf(seen, u) : undefined;
  // Every cold user with nothing to exclude gets the same list: rank the catalogue once for them.
  let popular: ItemScore[] | null = null;
  const coldItems = (exclude: Int32Array | undefined): ItemScore[] => {
    if (k < 1) return [];
    if (exclude && exclude.length > 0) return toItemScores(ranker.topK(popularity, k, { exclude }), itemIds);
    popular ??= toItemScores(ranker.topK(popularity, k), itemIds);
    return popular.map((x) => ({ ...x }));
  };
  const settings = { k, userBlock: opts.blockSize ?? 256, budgetBytes: opts.budgetBytes };
  const fromFeatures = newItemMarks(src);
  return {
    k,
    numItems,
    scorer,
    settings,
    /** The warm users of queries[lo, hi), as the model's user indices. */
    warmOf(lo: number, hi: number): Int32Array {
      const warm: number[] = [];
      for (let j = lo; j < hi; j++) if (isWarm(queries.indices[j])) warm.push(queries.indices[j]);
      return Int32Array.from(warm);
    },
    localScorer: () => createTopKScorer(scorer, numItems, untrained, seenOf, settings),
    /** Lists of `warm` users through `local` (none scored for an empty catalogue). */
    rank(local: TopKScorer, warm: Int32Array, lo: number, lists: { items: Int32Array; scores: Float32Array }[]): number {
      if (k < 1) {
        for (let w = lo; w < warm.length; w++) lists.push({ items: new Int32Array(0), scores: new Float32Array(0) });
        return warm.length;
      }
      return local.block(warm, lo, warm.length, (items, scores) => lists.push({ items, scores }));
    },
    /** The records of queries[lo, hi), `top` holding the lists of its warm users in order. */
    assemble(lo: number, hi: number, top: TopLists): UserRecommendations[] {
      const out: UserRecommendations[] = [];
      let w = 0;
      let at = 0;
      for (let j = lo; j < hi; j++) {
        const u = queries.indices[j];
        if (isWarm(u)) {
          const n = top.counts[w++];
          const items: ItemScore[] = new Array<ItemScore>(n);
          for (let r = 0; r < n; r++) {
            const i = top.items[at + r];
            items[r] = { item: itemIds[i], score: shortestFloat32(top.scores[at + r]) };
            if (fromFeatures?.(i) === true) items[r].from_features = true;
          }
          at += n;
          out.push({ user: queries.labels[j], items, cold: false });
        } else {
          out.push({ user: queries.labels[j], items: coldItems(seenOf(u)), cold: true });
        }
      }
      return out;
    },
  };
}

/** Recommendations for `queries`, one block of users at a time, in query order. */
export function* recommendBlocks(src: RecommendSource, queries: UserQueries, opts: RecommendOptions): Generator<UserRecommendations[]> {
  const rec = recommender(src, queries, opts);
  const plan = planForScorer(rec.scorer, { numItems: rec.numItems, maxUsers: rec.settings.userBlock, budgetBytes: opts.budgetBytes });
  const pacer = createBlockPacer(plan);
  const local = rec.localScorer();
  try {
    for (let lo = 0; lo < queries.indices.length; ) {
      const hi = Math.min(queries.indices.length, lo + pacer.next());
      const started = performance.now();
      const warm = rec.warmOf(lo, hi);
      const lists: { items: Int32Array; scores: Float32Array }[] = [];
      for (let w = 0; w < warm.length; ) w = rec.rank(local, warm, w, lists);
      pacer.took(hi - lo, performance.now() - started);
      yield rec.assemble(lo, hi, packTopLists(lists));
      lo = hi;
    }
  } finally {
    local.dispose();
  }
}

/** What a pool for recommendBlocksParallel shares with its workers (RankPoolOptions.topK). */
export function recommendPoolInputs(src: RecommendSource): { seen: UserItems | null; never: Int32Array; histories: UserItems | null } {
  return { seen: src.seen, never: untrainedItems(src), histories: src.histories ?? null };
}

/**
 * Items no training row touched (the model never learnt them): never served by the model, except,
 * with `newItems`, those it scores from their features.
 */
export function untrainedItems(src: Pick<RecommendSource, 'model' | 'trainedItems' | 'featuredItems' | 'newItems'>): Int32Array {
  const out: number[] = [];
  const served = newItemMarks(src);
  if (src.trainedItems) for (let i = 0; i < src.model.shape.items; i++) if (src.trainedItems[i] !== 1 && served?.(i) !== true) out.push(i);
  return Int32Array.from(out);
}

/** Users a threaded job holds at most: a block the writer gets at once, and the progress step. */
const MAX_JOB_USERS = 256;

/**
 * recommendBlocks on the threads of `pool` (started with this source's model, seen items and
 * untrained items; `rec recommend --workers`): the queries are cut into jobs, every W-th ranked
 * by the main thread between yields and the others by the pool's workers, and the blocks come out
 * in query order with the very lists of the one-thread path (each user's list depends on their
 * scores alone). `signal` is checked between the main thread's blocks.
 */
export async function* recommendBlocksParallel(
  src: RecommendSource,
  queries: UserQueries,
  opts: RecommendOptions,
  pool: RankPool,
  signal?: AbortSignal,
): AsyncGenerator<UserRecommendations[]> {
  const rec = recommender(src, queries, opts);
  if (rec.k < 1) {
    yield* recommendBlocks(src, queries, opts);
    return;
  }
  const n = queries.indices.length;
  const W = pool.workers;
  const chunk = Math.max(1, Math.min(MAX_JOB_USERS, Math.ceil(n / (W * 8))));
  const jobs = Math.ceil(n / chunk);
  const asked = new Map<number, Promise<TopLists>>();
  // Answers of jobs not yet yielded must not reject unobserved when an earlier one fails.
  const ask = (job: number) => {
    const p = pool.topLists(rec.warmOf(job * chunk, Math.min(n, (job + 1) * chunk)), opts.excludeSeen, rec.settings);
    p.catch(() => undefined);
    asked.set(job, p);
  };
  let posted = 0;
  // A worker's job can take seconds: SIGINT must not wait for it.
  const stopped = new Promise<null>((resolve) => {
    if (signal?.aborted) resolve(null);
    signal?.addEventListener('abort', () => resolve(null), { once: true });
  });
  const local = rec.localScorer();
  try {
    for (let job = 0; job < jobs; job++) {
      // Keep every worker a round ahead of the main thread.
      for (; posted < Math.min(jobs, job + 2 * W); posted++) if (posted % W !== 0) ask(posted);
      const lo = job * chunk;
      const hi = Math.min(n, lo + chunk);
      let top: TopLists;
      if (job % W === 0) {
        const warm = rec.warmOf(lo, hi);
        const lists: { items: Int32Array; scores: Float32Array }[] = [];
        for (let w = 0; w < warm.length; ) {
          w = rec.rank(local, warm, w, lists);
          // Lets SIGINT reach its handler; the consumer (cli emit) reports the interruption.
          await new Promise((r) => setImmediate(r));
          if (signal?.aborted) return;
        }
        top = packTopLists(lists);
      } else {
        const answer = await Promise.race([asked.get(job) as Promise<TopLists>, stopped]);
        asked.delete(job);
        if (answer === null) return;
        top = answer;
      }
      yield rec.assemble(lo, hi, top);
    }
  } finally {
    local.dispose();
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
