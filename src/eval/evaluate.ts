/**
 * Scores a model on a prepared split under one protocol of docs/evaluation.md#protocols and averages the metrics in
 * float64. Users are scored in blocks sized from a memory budget (score-blocks.ts), so a full
 * ranking's memory is bounded whatever the number of users and items; the loop yields between
 * blocks, each a fraction of a second, so SIGINT/SIGTERM stay responsive.
 *
 * Any model is ranked through a Scorer built once here: a PairModel is one as it is; a
 * HistoryModel scores each user from the history prepareEval gathered (`input: 'history'`, see
 * scoreInputOf), so the ranking code below never asks which kind of model it has.
 */
import { tf } from '../engine/tf.js';
import { itemsOf } from '../data/user-items.js';
import { type AnyModel, gatherRows, historyScorer, isHistoryModel, type PairModel, type Scorer } from '../models/model.js';
import { UsageError } from '../util/errors.js';
import type { Progress } from '../util/progress.js';
import { aucFromRank } from './metrics/auc.js';
import { createMetricAccumulator, type EvalUsers, type UserRanking } from './metrics/accumulator.js';
import type { RatingRange } from './metrics/rating-range.js';
import { cutoffsOf, type MetricSpec } from './metrics/registry.js';
import { isRankable, type PreparedEval, type ScoreInput } from './prepare.js';
import { type CandidateList, drawSampledNegatives, resolveCandidates, type SampledNegatives } from './protocols.js';
import type { RankPool } from './parallel/pool.js';
import { createFullRanker, type FullRankData, type FullRankSettings, yieldToEvents } from './rank-full.js';
import { hitsFromRank, rankAmong } from './ranking.js';
import { scoreUserLists } from './score-blocks.js';

export const SKIP_NO_CANDIDATES = 'no_candidates';

export type EvalProtocol =
  | { name: 'full' }
  | { name: 'sampled'; n: number; seed: number }
  | { name: 'candidates'; file: string; lists: readonly CandidateList[] };

export interface EvalOptions {
  protocol: EvalProtocol;
  metrics: readonly MetricSpec[];
  /** Train rating range for rmse/mae clipping; null when the model does not predict ratings. */
  ratingRange: RatingRange | null;
  /** Most users scored per block; the memory budget may make blocks smaller (score-blocks.ts). */
  userBlock: number;
  /** Engine bytes a block may use (default SCORE_BLOCK_BUDGET_BYTES). */
  budgetBytes?: number;
  signal?: AbortSignal;
  progress?: Progress;
  /** The progress bar's label (default `eval <protocol>`). */
  label?: string;
  /**
   * Worker threads that share the `full` protocol's ranking (parallel/pool.ts), started for this
   * `prep` and holding this model's current weights; the other protocols ignore it.
   */
  pool?: RankPool;
}

export interface EvalOutcome {
  protocol: { name: EvalProtocol['name']; n?: number; seed?: number; file?: string };
  split: 'test' | 'valid';
  k: number[];
  metrics: Record<string, number>;
  users: EvalUsers;
  /** Relevant (user, item) pairs not ranked because the model does not know the item. */
  relevant_unknown_items: number;
  /**
   * Relevant (user, item) pairs not ranked because the item is cold (no training row: see
   * PreparedEval.coldItems) and the model cannot score it from item features.
   */
  relevant_cold_items: number;
  /** Relevant (user, item) pairs ranked, of the users ranked: warm ones, and cold ones scored from item features. */
  relevant_ranked: { warm: number; cold: number };
  /** Rating rows scored for rmse/mae, and rows left out because the model does not know their user or item. */
  ratings?: { rows: number; unknown: number };
  candidates?: { dropped_unknown: number; dropped_positive: number; unused_lines: number; dropped_cold: number };
  /** sampled: the draw, in the dataset's index space, for saving beside the eval file. */
  negatives?: SampledNegatives;
}

const PAIR_CHUNK = 1 << 16;

/** Scores aligned (user, item) pairs of model indices, in chunks. */
export function scorePairs(model: PairModel, users: Int32Array, items: Int32Array): Float32Array {
  const out = new Float32Array(users.length);
  for (let lo = 0; lo < users.length; lo += PAIR_CHUNK) {
    const hi = Math.min(users.length, lo + PAIR_CHUNK);
    const t = tf.tidy(() => {
      const u = tf.tensor1d(users.subarray(lo, hi), 'int32');
      const i = tf.tensor1d(items.subarray(lo, hi), 'int32');
      return model.scoreRows(gatherRows(model.tables, u, i), false);
    });
    out.set(t.dataSync() as Float32Array, lo);
    t.dispose();
  }
  return out;
}

/** How prepareEval must line users up for `model`: by user row, or by history. */
export function scoreInputOf(model: AnyModel): ScoreInput {
  return isHistoryModel(model) ? 'history' : 'user';
}

/** What the ranking code needs from a model, built once per evaluation. */
interface RankingScorer {
  scorer: Scorer;
  /** out[j][t] = score of (users[j], lists[j][t]). */
  lists(users: Int32Array, lists: readonly Int32Array[]): Float32Array[];
  /** Aligned (user, item) predictions for rmse/mae; null when the model's scores are not ratings. */
  pairs: ((users: Int32Array, items: Int32Array) => Float32Array) | null;
}

function rankingScorer(model: AnyModel, prep: PreparedEval, budgetBytes: number | undefined): RankingScorer {
  if (isHistoryModel(model)) {
    const histories = prep.histories;
    if (histories === null) throw new Error(`evaluate: ${model.name} scores from histories; prepare the split with input '${scoreInputOf(model)}'`);
    const scorer = historyScorer(model, (u) => itemsOf(histories, u));
    return { scorer, lists: (users, lists) => scoreUserLists(scorer, users, lists, budgetBytes), pairs: null };
  }
  if (prep.histories !== null) throw new Error(`evaluate: ${model.name} scores from user rows; prepare the split with input 'user'`);
  return {
    scorer: model,
    // Aligned pairs through the model's own rows: one row gather per pair, no wasted scores.
    lists(users, lists) {
      let total = 0;
      for (const l of lists) total += l.length;
      const u = new Int32Array(total);
      const i = new Int32Array(total);
      let w = 0;
      lists.forEach((l, j) => {
        u.fill(users[j], w, w + l.length);
        i.set(l, w);
        w += l.length;
      });
      const scores = scorePairs(model, u, i);
      let r = 0;
      return lists.map((l) => scores.subarray(r, (r += l.length)));
    },
    pairs: (u, i) => scorePairs(model, u, i),
  };
}

/** The top-k items of one user's small candidate list, ties broken against the relevant item. */
function candidateTopK(trueItem: number, trueScore: number, items: Int32Array, scores: Float32Array, k: number): Int32Array {
  const order = Array.from({ length: items.length + 1 }, (_, j) => j);
  const score = (j: number) => {
    const s = j === 0 ? trueScore : scores[j - 1];
    return s !== s ? -Infinity : s;
  };
  order.sort((a, b) => score(b) - score(a) || (a === 0 ? 1 : b === 0 ? -1 : a - b));
  const n = Math.min(k, order.length);
  const out = new Int32Array(n);
  for (let j = 0; j < n; j++) out[j] = order[j] === 0 ? trueItem : items[order[j] - 1];
  return out;
}

export async function evaluate(model: AnyModel, prep: PreparedEval, opts: EvalOptions): Promise<EvalOutcome> {
  const { metrics, protocol } = opts;
  const scoring = rankingScorer(model, prep, opts.budgetBytes);
  const error = metrics.find((s) => s.kind === 'error');
  if (error && scoring.pairs === null) {
    throw new UsageError(
      `${error.key}: ${model.name} is a sequence model; its scores rank the next item and are not rating predictions. rmse and mae need a pair model (mf) trained with --loss mse on explicit ratings; use ranking metrics (e.g. ndcg@10, hr@10).`,
    );
  }
  const ks = cutoffsOf(metrics);
  const maxK = ks.length ? ks[ks.length - 1] : 0;
  const wantRanking = metrics.some((s) => s.kind !== 'error');
  const wantAuc = metrics.some((s) => s.kind === 'auc');
  const wantCoverage = metrics.some((s) => s.kind === 'coverage');
  const acc = createMetricAccumulator(metrics, { vocabularyItems: prep.modelItems, ratingRange: opts.ratingRange ?? undefined });
  for (const [reason, n] of Object.entries(prep.skipped)) acc.skipUser(reason, n);
  const outcome: EvalOutcome = {
    protocol: { name: protocol.name },
    split: prep.split,
    k: ks,
    metrics: {},
    users: { evaluated: 0, skipped: 0, skipped_by_reason: {} },
    relevant_unknown_items: prep.unknownRelevantItems,
    relevant_cold_items: prep.coldRelevantItems,
    relevant_ranked: { warm: 0, cold: 0 },
  };

  if (error && scoring.pairs !== null) {
    const { users, items } = prep.ratings;
    const predictions = new Float32Array(users.length);
    for (let lo = 0; lo < users.length; lo += PAIR_CHUNK) {
      const hi = Math.min(users.length, lo + PAIR_CHUNK);
      predictions.set(scoring.pairs(users.subarray(lo, hi), items.subarray(lo, hi)), lo);
      await yieldToEvents(opts.signal);
    }
    acc.addRatings(predictions, prep.ratings.values);
    outcome.ratings = { rows: prep.ratings.users.length, unknown: prep.ratings.unknown };
  }

  const numUsers = prep.users.model.length;
  const bar = opts.progress?.start(opts.label ?? `eval ${protocol.name}`, numUsers, 'users', { rate: { unit: 'users', scale: 1 } });
  let done = 0;
  const tick = (n: number) => bar?.update((done += n));
  try {
    if (wantRanking) {
      if (protocol.name === 'full') {
        await rankFull(scoring.scorer, prep, opts, { maxK, wantAuc, wantCoverage, userBlock: opts.userBlock, budgetBytes: opts.budgetBytes }, acc.addUser, tick);
        outcome.relevant_ranked = relevantRanked(prep, () => true);
      } else {
        const lists = protocol.name === 'sampled' ? sampledLists(prep, protocol, outcome) : candidateLists(prep, protocol, outcome, acc.skipUser);
        await rankLists(scoring, prep, lists, opts, maxK, wantAuc, wantCoverage, acc.addUser, tick);
        outcome.relevant_ranked = relevantRanked(prep, (j) => lists.of(j) !== null);
      }
    }
  } finally {
    bar?.stop();
  }

  const result = acc.result();
  outcome.metrics = result.metrics;
  outcome.users = wantRanking ? result.users : { evaluated: numUsers, skipped: result.users.skipped, skipped_by_reason: result.users.skipped_by_reason };
  return outcome;
}

/** Warm and cold relevant items of the prepared users that were `ranked`. */
function relevantRanked(prep: PreparedEval, ranked: (j: number) => boolean): EvalOutcome['relevant_ranked'] {
  const out = { warm: 0, cold: 0 };
  for (let j = 0; j < prep.users.model.length; j++) {
    if (!ranked(j)) continue;
    const n = prep.relevant.offsets[j + 1] - prep.relevant.offsets[j];
    out.cold += prep.relevantCold[j];
    out.warm += n - prep.relevantCold[j];
  }
  return out;
}

async function rankFull(
  model: Scorer,
  prep: PreparedEval,
  opts: EvalOptions,
  settings: FullRankSettings,
  addUser: (r: UserRanking) => void,
  tick: (n: number) => void,
): Promise<void> {
  if (opts.pool) {
    if (opts.pool.prep !== prep) throw new Error('evaluate: the ranking pool was started for another preparation of the split');
    await opts.pool.rank({ scorer: model, settings, addUser, tick, signal: opts.signal });
    return;
  }
  const ranker = createFullRanker(model, fullRankData(prep), settings);
  const n = prep.users.model.length;
  try {
    for (let lo = 0; lo < n; ) {
      const hi = ranker.block(lo, n, addUser);
      tick(hi - lo);
      lo = hi;
      await yieldToEvents(opts.signal);
    }
  } finally {
    ranker.dispose();
  }
}

/** What a full ranking reads of `prep`. */
export function fullRankData(prep: PreparedEval): FullRankData {
  return {
    modelItems: prep.modelItems,
    users: prep.users.model,
    relevant: prep.relevant,
    exclude: prep.exclude,
    unrankable: prep.unrankable,
    unrankableRelevant: prep.unrankableRelevant ?? null,
  };
}

/** Per evaluated user (by position): the items each relevant item is ranked against. */
interface CandidateLists {
  /** Model item indices per evaluated user; null for a user that is not ranked (already skipped). */
  of: (j: number) => Int32Array | null;
}

function sampledLists(prep: PreparedEval, protocol: { n: number; seed: number }, outcome: EvalOutcome): CandidateLists {
  const ds = prep.dataset;
  const position = new Int32Array(ds.users.ids.length).fill(-1);
  prep.users.dataset.forEach((u, j) => (position[u] = j));
  // Negatives come from the dataset's training catalogue (items with a train row), decided by the
  // dataset alone so that a baseline evaluated on the same data draws the very same ones.
  const eligible = new Uint8Array(ds.items.ids.length);
  for (let r = 0; r < ds.train.length; r++) eligible[ds.train.items[r]] = 1;
  const draw = drawSampledNegatives({
    users: prep.users.dataset,
    interacted: (u) => itemsOf(prep.interacted, position[u]),
    numItems: ds.items.ids.length,
    n: protocol.n,
    seed: protocol.seed,
    eligible,
  });
  let droppedUnknown = 0;
  let droppedCold = 0;
  const mapped = draw.negatives.map((negs) => {
    const out: number[] = [];
    for (const i of negs) {
      const m = prep.itemToModel[i];
      if (m < 0) droppedUnknown++;
      else if (!isRankable(prep, i)) droppedCold++;
      else out.push(m);
    }
    return Int32Array.from(out);
  });
  outcome.protocol = { name: 'sampled', n: protocol.n, seed: protocol.seed };
  outcome.negatives = draw;
  if (droppedUnknown + droppedCold > 0) outcome.candidates = { dropped_unknown: droppedUnknown, dropped_positive: 0, unused_lines: 0, dropped_cold: droppedCold };
  return { of: (j) => mapped[j] };
}

function candidateLists(
  prep: PreparedEval,
  protocol: { file: string; lists: readonly CandidateList[] },
  outcome: EvalOutcome,
  skipUser: (reason: string, n?: number) => void,
): CandidateLists {
  const ds = prep.dataset;
  const position = new Map<number, number>();
  prep.users.dataset.forEach((u, j) => position.set(u, j));
  const lists: (Int32Array | null)[] = new Array<Int32Array | null>(prep.users.model.length).fill(null);
  const counts = { dropped_unknown: 0, dropped_positive: 0, unused_lines: 0, dropped_cold: 0 };
  // Known to the model but cold without features: a random vector, so the candidate is dropped.
  const isCold = (raw: string): boolean => {
    const i = ds.items.lookup(raw);
    return i >= 0 && prep.itemToModel[i] >= 0 && !isRankable(prep, i);
  };
  const modelItem = (raw: string): number | undefined => {
    const i = ds.items.lookup(raw);
    const m = i < 0 ? -1 : prep.itemToModel[i];
    return m < 0 ? undefined : m;
  };
  for (const list of protocol.lists) {
    const u = ds.users.lookup(list.user);
    const j = u < 0 ? undefined : position.get(u);
    if (j === undefined) {
      counts.unused_lines++;
      continue;
    }
    const relevantRaw = Array.from(itemsOf(prep.relevantDataset, j), (i) => ds.items.ids[i]);
    const warm = list.items.filter((raw) => !isCold(raw));
    counts.dropped_cold += list.items.length - warm.length;
    const resolved = resolveCandidates({ relevant: relevantRaw, candidates: warm }, modelItem);
    counts.dropped_unknown += resolved.droppedUnknown;
    counts.dropped_positive += resolved.droppedPositive;
    lists[j] = resolved.candidates;
  }
  let missing = 0;
  for (const l of lists) if (l === null) missing++;
  if (missing > 0) skipUser(SKIP_NO_CANDIDATES, missing);
  outcome.protocol = { name: 'candidates', file: protocol.file };
  outcome.candidates = counts;
  return { of: (j) => lists[j] };
}

async function rankLists(
  scoring: RankingScorer,
  prep: PreparedEval,
  lists: CandidateLists,
  opts: EvalOptions,
  maxK: number,
  wantAuc: boolean,
  wantCoverage: boolean,
  addUser: (r: UserRanking[]) => void,
  tick: (n: number) => void,
): Promise<void> {
  const block = Math.max(1, opts.userBlock);
  for (let lo = 0; lo < prep.users.model.length; lo += block) {
    const hi = Math.min(prep.users.model.length, lo + block);
    const ranked: number[] = [];
    const asked: Int32Array[] = [];
    for (let j = lo; j < hi; j++) {
      const c = lists.of(j);
      if (!c) continue;
      const rel = itemsOf(prep.relevant, j);
      const both = new Int32Array(rel.length + c.length);
      both.set(rel);
      both.set(c, rel.length);
      ranked.push(prep.users.model[j]);
      asked.push(both);
    }
    const scored = asked.length > 0 ? scoring.lists(Int32Array.from(ranked), asked) : [];
    let n = 0;
    for (let j = lo; j < hi; j++) {
      const c = lists.of(j);
      if (!c) continue;
      const rel = itemsOf(prep.relevant, j);
      const scores = scored[n++];
      const relScores = scores.subarray(0, rel.length);
      const candScores = scores.subarray(rel.length);
      const rankings: UserRanking[] = [];
      rel.forEach((item, t) => {
        const rank = rankAmong(relScores[t], candScores);
        const ranking: UserRanking = { hits: hitsFromRank(rank, Math.max(1, maxK)), relevant: 1 };
        if (wantAuc) ranking.auc = aucFromRank(rank, c.length);
        if (wantCoverage) ranking.items = candidateTopK(item, relScores[t], c, candScores, maxK);
        rankings.push(ranking);
      });
      addUser(rankings);
    }
    tick(hi - lo);
    await yieldToEvents(opts.signal);
  }
}
