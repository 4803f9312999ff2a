/**
 * Lines a dataset split up with a model's vocabulary for evaluation (docs/evaluation.md#data-and-vocabulary). The model and
 * the data meet by raw id, so a checkpoint can be evaluated on any dataset folder (new days of
 * logs, a baseline's data): users or items the model has never seen are dropped and counted, never
 * silently scored as row 0. Preparing once and evaluating many times is what per-epoch validation
 * does.
 */
import type { Dataset, SplitData, Vocab } from '../data/dataset.js';
import { rowsAtLeast } from '../data/sequences.js';
import { groupByUser, itemsOf, pickRows, userSequences, type UserItems } from '../data/user-items.js';
import { SKIP_NO_RELEVANT } from './metrics/accumulator.js';
import { type ItemsMode, SKIP_UNKNOWN_ITEM } from './protocols.js';
import { Prng } from '../util/prng.js';

export type { ItemsMode } from './protocols.js';

export const SKIP_UNKNOWN_USER = 'unknown_user';
/** A user with no training row (in the evaluated dataset's train split, or in the model). */
export const SKIP_COLD_USER = 'cold_user';
/** A user whose relevant items all lack training rows, and the model cannot score them from features. */
export const SKIP_COLD_ITEM = 'cold_item';
/** `--items warm`: a user whose relevant items all lack training rows. */
export const SKIP_NO_WARM_ITEM = 'no_warm_item';
/** `--items cold`: a user whose relevant items all have training rows. */
export const SKIP_NO_COLD_ITEM = 'no_cold_item';
/** `--items new`: a user with no relevant item that lacks a row before the evaluated split. */
export const SKIP_NO_NEW_ITEM = 'no_new_item';
/** `--items recent`: a user with no relevant item that lacks a training row but has an earlier one (in valid, for test). */
export const SKIP_NO_RECENT_ITEM = 'no_recent_item';
/** Sequence models: a user with no item before the evaluated split (none the model knows). */
export const SKIP_NO_HISTORY = 'no_history';

/** The modes that select some of the cold items only. */
export function selectsCold(mode: ItemsMode): boolean {
  return mode === 'cold' || mode === 'new' || mode === 'recent';
}

/**
 * Relevant (user, item) pairs of the users not skipped before their items were looked at, by what
 * became of them. Cold = PreparedEval.coldItems.
 */
export interface RelevantItemCounts {
  /** Warm items ranked. */
  warm_ranked: number;
  /** Cold items ranked from the model's item features. */
  cold_ranked: number;
  /** Cold items left out: the model cannot score them (no features, or none for that item). */
  cold_skipped: number;
  /** Items the model's vocabulary does not hold. */
  unknown: number;
  /** `--items warm|cold|new|recent`: relevant items of another kind, not evaluated by choice. */
  not_selected: number;
}

/**
 * What a model scores a user from: `user`, their row in the model's user tables (a PairModel);
 * `history`, the items they interacted with before the evaluated split (a HistoryModel).
 */
export type ScoreInput = 'user' | 'history';

export interface PreparedEval {
  split: 'test' | 'valid';
  /** The model's catalogue size (rows of its item tables). */
  modelItems: number;
  /**
   * Evaluated users, ascending by dataset index: the index the model's Scorer is asked for, and
   * their index in the dataset. For `history` input the two are the same: the Scorer reads the
   * dataset user's history in `histories`.
   */
  users: { model: Int32Array; dataset: Int32Array };
  /**
   * `history` input: each dataset user's items before the evaluated split (train; train + valid
   * for test), oldest first, as model item indices (items the model does not know left out).
   * Null for `user` input.
   */
  histories: UserItems | null;
  /** Relevant items of each evaluated user, as model item indices, distinct, ascending. */
  relevant: UserItems;
  /** The same users' relevant items as dataset item indices, including those the model does not know. */
  relevantDataset: UserItems;
  /** Items a full ranking leaves out (train, and valid when evaluating test), minus relevant ones. */
  exclude: UserItems;
  /**
   * Every item each evaluated user interacted with in any split, as dataset item indices (sampled
   * negatives are drawn in the dataset's index space, so a baseline evaluated on the same data gets
   * the very same negatives whatever its vocabulary).
   */
  interacted: UserItems;
  /** Dataset item index → model item index, -1 when the model does not know the item. */
  itemToModel: Int32Array;
  /** Dataset users of the split that were not evaluated, by reason. */
  skipped: Record<string, number>;
  /** Relevant (user, item) pairs left out because the model does not know the item. */
  unknownRelevantItems: number;
  /**
   * Cold items, by dataset index: no row in the dataset's train split, or a model row that was never
   * learned (vocab/trained.json). Their id vector is random, so unless the model scores them from
   * catalogue features (`featuredItems`) no protocol ranks them: relevant ones are dropped and
   * counted, full ranking leaves them out (`unrankable`, model indices), sampled negatives are drawn
   * from the other items, candidate lists drop them. A featured cold item is ranked like any other.
   */
  coldItems: Uint8Array;
  /** By dataset index, 1: the model scores the item from its features; null for a model without features. */
  featuredItems: Uint8Array | null;
  /** By dataset index, 1: the item has a row in a split before the evaluated one (train; train or valid for test). Tells `new` from `recent` cold items. */
  seenBefore: Uint8Array;
  unrankable: Int32Array;
  /** Relevant (user, item) pairs left out because the item is cold and has no features in the model. */
  coldRelevantItems: number;
  /** Which relevant items are evaluated. */
  itemsMode: ItemsMode;
  /** What became of the relevant items, counted when the split was prepared (before subsampling). */
  relevantItems: RelevantItemCounts;
  /** Per evaluated user: how many of their `relevant` items are cold ones ranked from features. */
  relevantCold: Int32Array;
  /**
   * Gate comparisons under `full` only (sharedRelevance): per evaluated user, relevant items another
   * model can rank and this one cannot; they count as misses (R includes them). Absent otherwise.
   */
  unrankableRelevant?: Int32Array;
  /** Rows for rmse/mae: the split's rows whose user and item the model knows. */
  ratings: { users: Int32Array; items: Int32Array; values: Float32Array; unknown: number };
  dataset: Dataset;
}

/** Maps each id of `from` to its index in `to` (-1 when absent); identity when they are equal. */
export function vocabMapping(from: Vocab, to: Vocab): Int32Array {
  const out = new Int32Array(from.ids.length);
  for (let i = 0; i < from.ids.length; i++) out[i] = to.lookup(from.ids[i]);
  return out;
}

export function prepareEval(args: {
  dataset: Dataset;
  split: 'test' | 'valid';
  model: { users: Vocab; items: Vocab };
  /** Explicit data: only values ≥ R are relevant (docs/evaluation.md#data-and-vocabulary). */
  relevanceThreshold: number | null;
  /**
   * The model's learned rows (model indices), and `featured`, the items it scores from catalogue
   * features (absent for a model without features); null for a checkpoint that predates the record.
   */
  trained?: { users: Uint8Array; items: Uint8Array; featured?: Uint8Array } | null;
  /** Default `all`; `warm` / `cold` keep only relevant items with / without a training row. */
  items?: ItemsMode;
  /**
   * Default `user`. With `history` a user is their history, not a learned row: users outside the
   * model's vocabulary or without training rows are evaluated from the items they touched, and
   * only a user with no history at all is skipped (`no_history`). Items follow the same cold
   * rules either way.
   */
  input?: ScoreInput;
  /**
   * `history` input: only rows with a value >= this enter the histories, as the model was trained
   * (run.json config train.positive_threshold); the excluded (seen) items still count every row.
   */
  historyThreshold?: number | null;
}): PreparedEval {
  const { dataset: ds, split, relevanceThreshold } = args;
  const numUsers = ds.users.ids.length;
  const userToModel = vocabMapping(ds.users, args.model.users);
  const itemToModel = vocabMapping(ds.items, args.model.items);
  const modelItems = args.model.items.ids.length;
  const evaluated = ds[split];
  const history = split === 'test' ? [ds.train, ds.valid] : [ds.train];
  const inSplit = groupByUser(numUsers, [evaluated]);
  const threshold = args.historyThreshold ?? null;
  const rows: UserRows = {
    inSplit,
    relevant: relevanceThreshold === null ? inSplit : groupByUser(numUsers, [evaluated], (_, r) => evaluated.values[r] >= relevanceThreshold),
    history: groupByUser(numUsers, history),
    all: groupByUser(numUsers, [ds.train, ds.valid, ds.test]),
    histories: args.input === 'history' ? modelHistories(numUsers, history.map((s) => rowsAtLeast(s, threshold)), itemToModel) : null,
  };
  const trained = args.trained ?? null;
  const cold = { ...coldMarks(ds, itemToModel, modelItems, trained), seenBefore: seenIn(ds.items.ids.length, history) };
  const itemsMode = args.items ?? 'all';
  const users = collectUsers(rows, { userToModel, itemToModel, modelItems, trained, itemsMode, ...cold });
  return {
    split,
    modelItems,
    users: users.users,
    histories: rows.histories,
    relevant: users.relevant,
    relevantDataset: users.relevantDataset,
    exclude: users.exclude,
    interacted: users.interacted,
    itemToModel,
    skipped: users.skipped,
    unknownRelevantItems: users.unknownRelevantItems,
    coldItems: cold.coldItems,
    featuredItems: cold.featuredItems,
    seenBefore: cold.seenBefore,
    unrankable: cold.unrankable,
    coldRelevantItems: users.coldRelevantItems,
    itemsMode,
    relevantItems: users.relevantItems,
    relevantCold: users.relevantCold,
    ratings: knownRatings(evaluated, userToModel, itemToModel),
    dataset: ds,
  };
}

/** The dataset's rows per dataset user that the evaluated users are chosen and described from. */
interface UserRows {
  /** The evaluated split. */
  inSplit: UserItems;
  /** The evaluated split's relevant rows. */
  relevant: UserItems;
  /** The splits before the evaluated one. */
  history: UserItems;
  /** Every split. */
  all: UserItems;
  /** `history` input: what the model scores each user from (model item indices); null otherwise. */
  histories: UserItems | null;
}

interface ColdMarks {
  /** Dataset users with a row in the dataset's train split. */
  trainUser: Uint8Array;
  /** PreparedEval.coldItems. */
  coldItems: Uint8Array;
  /** PreparedEval.featuredItems. */
  featuredItems: Uint8Array | null;
  /** PreparedEval.unrankable. */
  unrankable: Int32Array;
}

/** By item index, 1 where the item has a row in one of `splits`. */
function seenIn(items: number, splits: readonly SplitData[]): Uint8Array {
  const seen = new Uint8Array(items);
  for (const s of splits) for (let r = 0; r < s.length; r++) seen[s.items[r]] = 1;
  return seen;
}

/** Which users and items have something learned behind them (see PreparedEval.coldItems). */
function coldMarks(ds: Dataset, itemToModel: Int32Array, modelItems: number, trained: { items: Uint8Array; featured?: Uint8Array } | null): ColdMarks {
  const trainUser = new Uint8Array(ds.users.ids.length);
  const coldItems = new Uint8Array(ds.items.ids.length).fill(1);
  for (let r = 0; r < ds.train.length; r++) {
    trainUser[ds.train.users[r]] = 1;
    coldItems[ds.train.items[r]] = 0;
  }
  const modelCold = new Uint8Array(modelItems);
  if (trained !== null) for (let m = 0; m < modelItems; m++) modelCold[m] = trained.items[m] === 1 ? 0 : 1;
  for (let d = 0; d < coldItems.length; d++) {
    const m = itemToModel[d];
    if (m < 0) continue;
    if (modelCold[m] === 1) coldItems[d] = 1;
    else if (coldItems[d] === 1) modelCold[m] = 1;
  }
  const featured = trained?.featured ?? null;
  let featuredItems: Uint8Array | null = null;
  if (featured !== null) {
    featuredItems = new Uint8Array(coldItems.length);
    for (let d = 0; d < featuredItems.length; d++) if (itemToModel[d] >= 0 && featured[itemToModel[d]] === 1) featuredItems[d] = 1;
  }
  const unrankable: number[] = [];
  for (let m = 0; m < modelItems; m++) if (modelCold[m] === 1 && featured?.[m] !== 1) unrankable.push(m);
  return { trainUser, coldItems, featuredItems, unrankable: Int32Array.from(unrankable) };
}

/** What becomes of a relevant item (dataset index `d`) in a preparation: see RelevantItemCounts. */
type RelevantFate = 'warm' | 'cold' | 'cold_skipped' | 'unknown' | 'not_selected';
const FATES: readonly RelevantFate[] = ['warm', 'cold', 'cold_skipped', 'unknown', 'not_selected'];

/** Whether dataset item `d` is of the kind `mode` ranks. */
function ofKind(d: number, mode: ItemsMode, marks: Pick<PreparedEval, 'coldItems' | 'seenBefore'>): boolean {
  const cold = marks.coldItems[d] === 1;
  switch (mode) {
    case 'all':
      return true;
    case 'warm':
      return !cold;
    case 'cold':
      return cold;
    case 'new':
      return cold && marks.seenBefore[d] === 0;
    case 'recent':
      return cold && marks.seenBefore[d] === 1;
  }
}

function relevantFate(d: number, marks: Pick<PreparedEval, 'itemToModel' | 'coldItems' | 'featuredItems' | 'itemsMode' | 'seenBefore'>): RelevantFate {
  const cold = marks.coldItems[d] === 1;
  if (!ofKind(d, marks.itemsMode, marks)) return 'not_selected';
  if (marks.itemToModel[d] < 0) return 'unknown';
  if (!cold) return 'warm';
  return marks.featuredItems?.[d] === 1 ? 'cold' : 'cold_skipped';
}

/** Whether the model can rank dataset item `d` (as a relevant item or a competitor): known, and warm or scored from features. */
export function isRankable(prep: Pick<PreparedEval, 'itemToModel' | 'coldItems' | 'featuredItems'>, d: number): boolean {
  return prep.itemToModel[d] >= 0 && (prep.coldItems[d] === 0 || prep.featuredItems?.[d] === 1);
}

interface UserContext extends ColdMarks {
  seenBefore: Uint8Array;
  userToModel: Int32Array;
  itemToModel: Int32Array;
  modelItems: number;
  trained: { users: Uint8Array } | null;
  itemsMode: ItemsMode;
}

/** Why dataset user `u` of the split cannot be evaluated before looking at their items, or null. */
function userSkipReason(u: number, rows: UserRows, ctx: UserContext): string | null {
  if (rows.relevant.offsets[u + 1] === rows.relevant.offsets[u]) return SKIP_NO_RELEVANT;
  if (rows.histories !== null) return rows.histories.offsets[u + 1] === rows.histories.offsets[u] ? SKIP_NO_HISTORY : null;
  if (ctx.userToModel[u] < 0) return SKIP_UNKNOWN_USER;
  if (ctx.trainUser[u] === 0 || (ctx.trained !== null && ctx.trained.users[ctx.userToModel[u]] !== 1)) return SKIP_COLD_USER;
  return null;
}

/** A CSR table grown one row at a time. */
function growingRows(): { offsets: number[]; items: number[]; endRow(): void; build(): UserItems } {
  const t = {
    offsets: [0],
    items: [] as number[],
    endRow: () => t.offsets.push(t.items.length),
    build: (): UserItems => ({ offsets: Int32Array.from(t.offsets), items: Int32Array.from(t.items) }),
  };
  return t;
}

type EvaluatedUsers = Pick<PreparedEval, 'users' | 'relevant' | 'relevantDataset' | 'exclude' | 'interacted' | 'skipped' | 'unknownRelevantItems' | 'coldRelevantItems' | 'relevantItems' | 'relevantCold'>;

/** Why a user none of whose relevant items can be ranked is skipped: the first fate that applies, in this order. */
function noRankableReason(fates: Record<RelevantFate, number>, mode: ItemsMode): string {
  if (fates.cold_skipped > 0) return SKIP_COLD_ITEM;
  if (fates.unknown > 0) return SKIP_UNKNOWN_ITEM;
  return mode === 'warm' ? SKIP_NO_WARM_ITEM : mode === 'new' ? SKIP_NO_NEW_ITEM : mode === 'recent' ? SKIP_NO_RECENT_ITEM : SKIP_NO_COLD_ITEM;
}

/** The split's users that can be evaluated, ascending, with their per-user tables; the others counted by reason. */
function collectUsers(rows: UserRows, ctx: UserContext): EvaluatedUsers {
  const { relevant: relevantDs, history: historyDs, all, histories } = rows;
  const { userToModel, itemToModel } = ctx;
  const marks = { itemToModel, coldItems: ctx.coldItems, featuredItems: ctx.featuredItems, itemsMode: ctx.itemsMode, seenBefore: ctx.seenBefore };
  const counts: Record<RelevantFate, number> = { warm: 0, cold: 0, cold_skipped: 0, unknown: 0, not_selected: 0 };
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => (skipped[reason] = (skipped[reason] ?? 0) + 1);
  const modelUsers: number[] = [];
  const dsUsers: number[] = [];
  const relevant = growingRows();
  const relevantDataset = growingRows();
  const exclude = growingRows();
  const interacted = growingRows();
  const relevantCold: number[] = [];
  const mark = new Uint8Array(ctx.modelItems);
  for (let u = 0; u + 1 < rows.inSplit.offsets.length; u++) {
    if (rows.inSplit.offsets[u + 1] === rows.inSplit.offsets[u]) continue;
    const reason = userSkipReason(u, rows, ctx);
    if (reason !== null) {
      skip(reason);
      continue;
    }
    const rel: number[] = [];
    const fates: Record<RelevantFate, number> = { warm: 0, cold: 0, cold_skipped: 0, unknown: 0, not_selected: 0 };
    for (let j = relevantDs.offsets[u]; j < relevantDs.offsets[u + 1]; j++) {
      const fate = relevantFate(relevantDs.items[j], marks);
      const m = itemToModel[relevantDs.items[j]];
      if (fate !== 'warm' && fate !== 'cold') fates[fate]++;
      else if (mark[m] === 0) {
        mark[m] = 1;
        rel.push(m);
        fates[fate]++;
      }
    }
    for (const fate of FATES) if (fate !== 'warm' && fate !== 'cold') counts[fate] += fates[fate];
    if (rel.length === 0) {
      skip(noRankableReason(fates, ctx.itemsMode));
      continue;
    }
    counts.warm += fates.warm;
    counts.cold += fates.cold;
    relevantCold.push(fates.cold);
    rel.sort((a, b) => a - b);
    modelUsers.push(histories !== null ? u : userToModel[u]);
    dsUsers.push(u);
    relevant.items.push(...rel);
    relevant.endRow();
    for (let j = relevantDs.offsets[u]; j < relevantDs.offsets[u + 1]; j++) relevantDataset.items.push(relevantDs.items[j]);
    relevantDataset.endRow();
    // A relevant item that also sits in the history (a re-rated item) stays rankable: leaving it
    // out would make it an unreachable miss.
    const exStart = exclude.items.length;
    for (let j = historyDs.offsets[u]; j < historyDs.offsets[u + 1]; j++) {
      const m = itemToModel[historyDs.items[j]];
      if (m >= 0 && mark[m] === 0) {
        mark[m] = 2;
        exclude.items.push(m);
      }
    }
    exclude.endRow();
    for (const m of rel) mark[m] = 0;
    for (let j = exStart; j < exclude.items.length; j++) mark[exclude.items[j]] = 0;
    for (let j = all.offsets[u]; j < all.offsets[u + 1]; j++) interacted.items.push(all.items[j]);
    interacted.endRow();
  }
  return {
    users: { model: Int32Array.from(modelUsers), dataset: Int32Array.from(dsUsers) },
    relevant: relevant.build(),
    relevantDataset: relevantDataset.build(),
    exclude: exclude.build(),
    interacted: interacted.build(),
    skipped,
    unknownRelevantItems: counts.unknown,
    coldRelevantItems: counts.cold_skipped,
    relevantItems: { warm_ranked: counts.warm, cold_ranked: counts.cold, cold_skipped: counts.cold_skipped, unknown: counts.unknown, not_selected: counts.not_selected },
    relevantCold: Int32Array.from(relevantCold),
  };
}

/** Rows for rmse/mae: the split's rows whose user and item the model knows, as model indices. */
function knownRatings(evaluated: SplitData, userToModel: Int32Array, itemToModel: Int32Array): PreparedEval['ratings'] {
  let known = 0;
  for (let r = 0; r < evaluated.length; r++) if (userToModel[evaluated.users[r]] >= 0 && itemToModel[evaluated.items[r]] >= 0) known++;
  const ratings = { users: new Int32Array(known), items: new Int32Array(known), values: new Float32Array(known), unknown: evaluated.length - known };
  let w = 0;
  for (let r = 0; r < evaluated.length; r++) {
    const mu = userToModel[evaluated.users[r]];
    const mi = itemToModel[evaluated.items[r]];
    if (mu < 0 || mi < 0) continue;
    ratings.users[w] = mu;
    ratings.items[w] = mi;
    ratings.values[w++] = evaluated.values[r];
  }
  return ratings;
}

/** Each dataset user's history over `splits` in time order, as model item indices. */
function modelHistories(numUsers: number, splits: readonly SplitData[], itemToModel: Int32Array): UserItems {
  const seqs = userSequences(numUsers, splits);
  const offsets = new Int32Array(numUsers + 1);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) {
      const m = itemToModel[seqs.items[j]];
      if (m >= 0) seqs.items[w++] = m;
    }
    offsets[u + 1] = w;
  }
  return { offsets, items: seqs.items.slice(0, w) };
}

/**
 * At most `maxUsers` of the evaluated users, drawn uniformly without replacement from the seeded
 * stream `eval/valid-users` and kept in ascending order, so the same seed always picks the same
 * users. The rest are not counted as skipped: they are simply not in the sample (the caller
 * states the sample). Rating rows are left whole: rmse/mae are cheap.
 */
export function subsampleUsers(prep: PreparedEval, maxUsers: number, seed: number): PreparedEval {
  const n = prep.users.model.length;
  if (maxUsers <= 0 || n <= maxUsers) return prep;
  return pickUsers(prep, Prng.fromSeed(seed, 'eval/valid-users').permutation(n).subarray(0, maxUsers).sort());
}

/** The prepared users at `positions` (indices into prep.users), in that order. */
function pickUsers(prep: PreparedEval, positions: Int32Array): PreparedEval {
  return {
    ...prep,
    users: { model: positions.map((j) => prep.users.model[j]), dataset: positions.map((j) => prep.users.dataset[j]) },
    relevant: pickRows(prep.relevant, positions),
    relevantDataset: pickRows(prep.relevantDataset, positions),
    exclude: pickRows(prep.exclude, positions),
    interacted: pickRows(prep.interacted, positions),
    relevantCold: positions.map((j) => prep.relevantCold[j]),
  };
}

/**
 * The prepared users whose dataset index `keep` holds, in the same order: a gate compares a
 * checkpoint with its baseline on the users both can evaluate (a fine-tuned model knows users the
 * baseline never saw). Rating rows are left whole, as in subsampleUsers.
 */
export function restrictToUsers(prep: PreparedEval, keep: Uint8Array): PreparedEval {
  const picked: number[] = [];
  for (let j = 0; j < prep.users.dataset.length; j++) if (keep[prep.users.dataset[j]] === 1) picked.push(j);
  if (picked.length === prep.users.dataset.length) return prep;
  return pickUsers(prep, Int32Array.from(picked));
}

/** Dataset items this prep ranks as relevant: rankable, and of the kind its --items selects. */
function rankable(prep: PreparedEval, d: number): boolean {
  const fate = relevantFate(d, prep);
  return fate === 'warm' || fate === 'cold';
}

/** Whether `d` is of the kind `prep`'s --items selects (whether or not it can rank it). */
function selected(prep: PreparedEval, d: number): boolean {
  return relevantFate(d, prep) !== 'not_selected';
}

/**
 * Puts a checkpoint and its baseline on the same relevant items for a `full`-protocol gate: both
 * preps must hold the same users in the same order (restrictToUsers with one mask). A relevant
 * item only one model can rank (an item first seen in the rows the fine-tuned model trained on,
 * unknown to production) is otherwise dropped from the other's relevant set, which would make its
 * job easier; here it counts for both, as a miss for the model that cannot rank it. Returns the
 * two preps with `unrankableRelevant` set.
 */
export function sharedRelevance(a: PreparedEval, b: PreparedEval): [PreparedEval, PreparedEval] {
  const n = a.users.dataset.length;
  if (b.users.dataset.length !== n || a.users.dataset.some((u, j) => b.users.dataset[j] !== u)) {
    throw new RangeError('sharedRelevance: the two preparations hold different users');
  }
  if (a.itemsMode !== b.itemsMode) throw new RangeError(`sharedRelevance: one preparation ranks ${a.itemsMode} relevant items, the other ${b.itemsMode}`);
  const extraA = new Int32Array(n);
  const extraB = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const seen = new Set<number>();
    for (const d of itemsOf(a.relevantDataset, j)) {
      if (seen.has(d)) continue;
      seen.add(d);
      // Under --items warm|cold|new|recent an item counts when either model takes it for that kind (a row
      // one of them never learned makes it cold for that one only).
      if (!selected(a, d) && !selected(b, d)) continue;
      const ra = rankable(a, d);
      const rb = rankable(b, d);
      if (rb && !ra) extraA[j]++;
      if (ra && !rb) extraB[j]++;
    }
  }
  return [
    { ...a, unrankableRelevant: extraA },
    { ...b, unrankableRelevant: extraB },
  ];
}
