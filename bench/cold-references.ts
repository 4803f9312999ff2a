/**
 * What a model without item features can do for new products (issue #21's cold-start comparison), computed with
 * `rec eval --protocol candidates:FILE --items cold` semantics so that the figures sit beside a model's: each test
 * user's new items (no training row), each ranked against every other new item (the user's own new test items
 * removed from the candidates), hit@k and NDCG@k of that single item, averaged per user, then over users
 * (recall@k equals hit@k when every ranking holds one relevant item). Ties are broken at random, as a deployed
 * system ordering by a count would, so the figures are expectations over the tie order.
 *
 * The references, by what they know:
 *  - random: nothing. Also what popularity counted at training time gives: every new item has a count of zero.
 *  - valid_popularity: the new items ordered by their rows in the validation split. Under a temporal split that is
 *    the period between training and test, so a deployed system retrained at the end of training and serving
 *    through the test period could have these counts (items launched after training, seen before the test).
 *  - oracle_test_popularity: ordered by their rows in the test split itself, the future; an upper reference only.
 *
 * Each is also given per kind of new test item (`rec eval --items new|recent`, same candidates): `new`, no row before
 * the test split (launched within it: valid popularity knows nothing of it and ranks it after every item it has
 * counts for), and `recent`, rows in valid but none in train (what valid popularity can count).
 */

/** The cut-offs and metrics every cold figure is reported at: HR/NDCG@10 and recall/NDCG@20. */
export interface ColdFigures {
  'hr@10': number;
  'ndcg@10': number;
  'recall@20': number;
  'ndcg@20': number;
}

export interface ColdInput {
  /** Items in the dataset (catalogue-only items included): indices 0..items-1. */
  items: number;
  trainItems: ArrayLike<number>;
  validItems: ArrayLike<number>;
  testUsers: ArrayLike<number>;
  testItems: ArrayLike<number>;
  /**
   * By user index, 1 for users `rec eval` evaluates (those with a training row: a user without one is skipped as
   * cold_user); the references are computed over them only. Absent: every test user.
   */
  evaluable?: Uint8Array;
}

/** Which new test items a figure covers: all of them, or one kind (`rec eval --items new|recent`). */
export type ColdKind = 'cold' | 'new' | 'recent';

/** One kind's share of the new test items, and the references on it. */
export interface KindReferences {
  users: number;
  pairs: number;
  items: number;
  random: ColdFigures;
  valid_popularity: ColdFigures;
  oracle_test_popularity: ColdFigures;
}

export interface ColdReferences {
  /** Item indices without a training row, ascending: the candidates. */
  cold: number[];
  /** Per test user with a new test item: those items. */
  relevant: Map<number, Set<number>>;
  /** (user, new item) pairs in test. */
  pairs: number;
  /** Distinct new items with a test row (of an evaluable user). */
  test_new_items: number;
  /** Of those, how many have a validation row (what valid_popularity can see). */
  test_new_items_in_valid: number;
  random: ColdFigures;
  valid_popularity: ColdFigures;
  oracle_test_popularity: ColdFigures;
  /** By dataset item index: the item's rows in valid (new test items with a row there are `recent`). */
  validCount: Float64Array;
  by_kind: { new: KindReferences; recent: KindReferences };
}

/** Expected hit@k and NDCG@k of an item with `ahead` candidates surely above it and `ties` tied with it (uniform tie order). */
export function expectedAt(ahead: number, ties: number, k: number): { hit: number; ndcg: number } {
  let hit = 0;
  let ndcg = 0;
  for (let pos = ahead; pos <= Math.min(ahead + ties, k - 1); pos++) {
    hit += 1;
    ndcg += 1 / Math.log2(pos + 2);
  }
  return { hit: hit / (ties + 1), ndcg: ndcg / (ties + 1) };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * The figures of ordering the candidates by `score` (higher first), per coldReferences' semantics. With `only`, just
 * the relevant items it accepts are ranked, over the users with one (the user's other new items still leave the
 * candidates, as `rec eval --items` filters the relevant items, not the candidate lists).
 */
export function figuresByScore(relevant: Map<number, Set<number>>, cold: readonly number[], score: ArrayLike<number>, only: (i: number) => boolean = () => true): ColdFigures {
  const sums = [0, 0, 0, 0];
  let users = 0;
  for (const items of relevant.values()) {
    const ranked = [...items].filter(only);
    if (ranked.length === 0) continue;
    users++;
    const per = [0, 0, 0, 0];
    for (const i of ranked) {
      let ahead = 0;
      let ties = 0;
      for (const j of cold) {
        if (items.has(j)) continue;
        if (score[j] > score[i]) ahead++;
        else if (score[j] === score[i]) ties++;
      }
      const a = expectedAt(ahead, ties, 10);
      const b = expectedAt(ahead, ties, 20);
      per[0] += a.hit;
      per[1] += a.ndcg;
      per[2] += b.hit;
      per[3] += b.ndcg;
    }
    for (let m = 0; m < 4; m++) sums[m] += per[m] / ranked.length;
  }
  const n = Math.max(1, users);
  return { 'hr@10': round(sums[0] / n), 'ndcg@10': round(sums[1] / n), 'recall@20': round(sums[2] / n), 'ndcg@20': round(sums[3] / n) };
}

/** The new items of a split dataset, each test user's new items, and the three references. */
export function coldReferences(input: ColdInput): ColdReferences {
  const inTrain = new Uint8Array(input.items);
  for (let r = 0; r < input.trainItems.length; r++) inTrain[input.trainItems[r]] = 1;
  const cold: number[] = [];
  for (let i = 0; i < input.items; i++) if (inTrain[i] === 0) cold.push(i);
  const validCount = new Float64Array(input.items);
  for (let r = 0; r < input.validItems.length; r++) validCount[input.validItems[r]]++;
  const testCount = new Float64Array(input.items);
  const relevant = new Map<number, Set<number>>();
  let pairs = 0;
  for (let r = 0; r < input.testItems.length; r++) {
    const i = input.testItems[r];
    if (inTrain[i] === 1) continue;
    // The oracle counts every test row; only evaluable users' items are ranked.
    testCount[i]++;
    const u = input.testUsers[r];
    if (input.evaluable !== undefined && input.evaluable[u] !== 1) continue;
    const set = relevant.get(u) ?? new Set<number>();
    if (!set.has(i)) pairs++;
    set.add(i);
    relevant.set(u, set);
  }
  const ranked = new Uint8Array(input.items);
  for (const items of relevant.values()) for (const i of items) ranked[i] = 1;
  const testNew = cold.filter((i) => ranked[i] === 1);
  const kind = (only: (i: number) => boolean): KindReferences => {
    let users = 0;
    let kindPairs = 0;
    for (const items of relevant.values()) {
      const n = [...items].filter(only).length;
      kindPairs += n;
      if (n > 0) users++;
    }
    return {
      users,
      pairs: kindPairs,
      items: testNew.filter(only).length,
      random: figuresByScore(relevant, cold, new Float64Array(input.items), only),
      valid_popularity: figuresByScore(relevant, cold, validCount, only),
      oracle_test_popularity: figuresByScore(relevant, cold, testCount, only),
    };
  };
  return {
    cold,
    relevant,
    pairs,
    test_new_items: testNew.length,
    test_new_items_in_valid: testNew.filter((i) => validCount[i] > 0).length,
    random: figuresByScore(relevant, cold, new Float64Array(input.items)),
    valid_popularity: figuresByScore(relevant, cold, validCount),
    oracle_test_popularity: figuresByScore(relevant, cold, testCount),
    validCount,
    by_kind: { new: kind((i) => validCount[i] === 0), recent: kind((i) => validCount[i] > 0) },
  };
}
