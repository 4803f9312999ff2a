/**
 * prepareEval with a model that scores items from catalogue features (vocab/trained.json
 * `featured`), and `--items all|warm|cold|new|recent` (docs/evaluation.md#new-items).
 */
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { isRankable, prepareEval, restrictToUsers, sharedRelevance, type ItemsMode } from '../../../src/eval/prepare.js';
import { evalFileName, evalTag } from '../../../src/eval/protocols.js';
import { coldSkipLine, relevantItemsRecord } from '../../../src/eval/run.js';
import { makeDataset, scoredMf } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// x, y and z have no training row (new products); the model has features for x and z, not for y.
const ds = makeDataset({
  users: ['u', 'v', 'w'],
  items: ['a', 'b', 'c', 'x', 'y', 'z'],
  train: [['u', 'a'], ['v', 'b'], ['v', 'c'], ['w', 'a']],
  test: [['u', 'b'], ['u', 'x'], ['v', 'x'], ['v', 'a'], ['w', 'y']],
});
const model = { users: ds.users, items: ds.items };
const users = Uint8Array.from([1, 1, 1]);
const items = Uint8Array.from([1, 1, 1, 0, 0, 0]);
const featured = { users, items, featured: Uint8Array.from([1, 1, 1, 1, 0, 1]) };
const idOnly = { users, items };
const prep = (trained: typeof idOnly | typeof featured, mode: ItemsMode = 'all') =>
  prepareEval({ dataset: ds, split: 'test', model, relevanceThreshold: null, trained, items: mode });
const ids = (m: Int32Array) => Array.from(m, (i) => ds.items.ids[i]);

describe('cold items a model scores from its features', () => {
  it('are ranked like warm ones; only cold items without features are left out and counted', () => {
    const p = prep(featured);
    expect(ids(p.unrankable)).toEqual(['y']);
    expect(Array.from(p.users.dataset)).toEqual([0, 1]);
    expect(ids(p.relevant.items)).toEqual(['b', 'x', 'a', 'x']);
    expect(p.skipped).toEqual({ cold_item: 1 });
    expect(p.relevantItems).toEqual({ warm_ranked: 2, cold_ranked: 2, cold_skipped: 1, unknown: 0, not_selected: 0 });
    expect(isRankable(p, ds.items.lookup('x'))).toBe(true);
    expect(isRankable(p, ds.items.lookup('y'))).toBe(false);
    const record = relevantItemsRecord(p);
    expect(record.cold_skip_reason).toBe('items_without_features');
    expect(coldSkipLine(record)).toMatch(/1 relevant cold item \(no training row\) skipped: the model has item features, but none for this item/);
  });

  it('a model without features skips every cold item, and says that is why', () => {
    const p = prep(idOnly);
    expect(ids(p.unrankable)).toEqual(['x', 'y', 'z']);
    expect(ids(p.relevant.items)).toEqual(['b', 'a']);
    expect(p.relevantItems).toEqual({ warm_ranked: 2, cold_ranked: 0, cold_skipped: 3, unknown: 0, not_selected: 0 });
    const record = relevantItemsRecord(p);
    expect(record.cold_skip_reason).toBe('model_without_features');
    expect(coldSkipLine(record)).toMatch(/^the model has no item features: 3 relevant cold items \(no training row\) skipped/);
    expect(relevantItemsRecord(prep(featured, 'warm')).cold_skip_reason).toBeNull();
  });

  it('--items warm keeps relevant items with a training row, --items cold those without; users left with none are skipped by reason', () => {
    const warm = prep(featured, 'warm');
    expect(ids(warm.relevant.items)).toEqual(['b', 'a']);
    expect(warm.skipped).toEqual({ no_warm_item: 1 });
    expect(warm.relevantItems).toEqual({ warm_ranked: 2, cold_ranked: 0, cold_skipped: 0, unknown: 0, not_selected: 3 });
    // Featured cold items still compete in a warm evaluation: only the relevant set is filtered.
    expect(ids(warm.unrankable)).toEqual(['y']);

    const cold = prep(featured, 'cold');
    expect(Array.from(cold.users.dataset)).toEqual([0, 1]);
    expect(ids(cold.relevant.items)).toEqual(['x', 'x']);
    expect(cold.skipped).toEqual({ cold_item: 1 });
    expect(cold.relevantItems).toEqual({ warm_ranked: 0, cold_ranked: 2, cold_skipped: 1, unknown: 0, not_selected: 2 });

    // Without features nothing cold can be ranked: every user is skipped (rec eval refuses this up front).
    const none = prep(idOnly, 'cold');
    expect(none.users.dataset.length).toBe(0);
    expect(none.skipped).toEqual({ cold_item: 3 });
  });

  it('full ranking places a featured new product by its score; candidates keep it, drop cold items without features', async () => {
    // Scores: a .5, b .2, c .1, x 9, y 8, z 7. u (a excluded) ranks x 9, z 7, b .2, c .1; y never.
    const m = scoredMf({ users: 3, itemScores: [0.5, 0.2, 0.1, 9, 8, 7] });
    const metrics = parseMetrics('hr@1,recall@2', []);
    const p = restrictToUsers(prep(featured), Uint8Array.from([1, 0, 0]));
    const full = await evaluate(m, p, { protocol: { name: 'full' }, metrics, ratingRange: null, userBlock: 4 });
    // u's relevant b and x: x is first; z (a featured new product) takes rank 2, pushing b out of the top 2.
    expect(full.metrics['hr@1']).toBe(1);
    expect(full.metrics['recall@2']).toBeCloseTo(0.5, 12);
    const lists = [{ user: 'u', items: ['c', 'y', 'z'], line: 1 }];
    const cands = await evaluate(m, p, { protocol: { name: 'candidates', file: 'c.tsv', lists }, metrics, ratingRange: null, userBlock: 4 });
    expect(cands.candidates).toEqual({ dropped_unknown: 0, dropped_positive: 0, unused_lines: 0, dropped_cold: 1 });
    expect(cands.relevant_ranked).toEqual({ warm: 1, cold: 1 });
    // A user without a candidate line is not ranked, so their relevant items are not counted as ranked.
    const none = await evaluate(m, prep(featured), { protocol: { name: 'candidates', file: 'c.tsv', lists }, metrics, ratingRange: null, userBlock: 4 });
    expect(none.users.skipped_by_reason.no_candidates).toBe(1);
    expect(none.relevant_ranked).toEqual({ warm: 1, cold: 1 });
    expect(full.relevant_ranked).toEqual({ warm: 1, cold: 1 });
    const plain = await evaluate(m, restrictToUsers(prep(idOnly), Uint8Array.from([1, 0, 0])), { protocol: { name: 'candidates', file: 'c.tsv', lists }, metrics, ratingRange: null, userBlock: 4 });
    expect(plain.candidates?.dropped_cold).toBe(2);
    m.keras.dispose();
  });

  it('a gate compares like with like: the same --items, a cold item only the featured model ranks a miss for the other', () => {
    const both = Uint8Array.from([1, 1, 0]);
    const [a, b] = sharedRelevance(restrictToUsers(prep(featured, 'all'), both), restrictToUsers(prep(idOnly, 'all'), both));
    expect(Array.from(a.unrankableRelevant ?? [])).toEqual([0, 0]);
    expect(Array.from(b.unrankableRelevant ?? [])).toEqual([1, 1]);
    // Under --items warm neither ranks x: no miss is counted for it.
    const [, bw] = sharedRelevance(restrictToUsers(prep(featured, 'warm'), both), restrictToUsers(prep(idOnly, 'warm'), both));
    expect(Array.from(bw.unrankableRelevant ?? [])).toEqual([0, 0]);
    expect(() => sharedRelevance(prep(featured, 'all'), prep(featured, 'warm'))).toThrow(RangeError);
  });

  it('names the eval file and TensorBoard tag of --items warm|cold apart from the all-items one', () => {
    expect(evalFileName('test', { name: 'full' })).toBe('eval-test-full.json');
    expect(evalFileName('test', { name: 'full' }, 'cold')).toBe('eval-test-full.cold.json');
    expect(evalFileName('valid', { name: 'sampled', n: 100 }, 'warm')).toBe('eval-valid-sampled100.warm.json');
    expect(evalTag({ name: 'candidates', file: 'f' }, 'all')).toBe('candidates');
  });
});

describe('--items new|recent: the cold items split by whether they had a row before the evaluated split', () => {
  // x sold in valid (between training and test), z and y only in test; y has no features.
  const later = makeDataset({
    users: ['u', 'v', 'w'],
    items: ['a', 'b', 'c', 'x', 'y', 'z'],
    train: [['u', 'a'], ['v', 'b'], ['v', 'c'], ['w', 'a']],
    valid: [['w', 'x'], ['u', 'c']],
    test: [['u', 'b'], ['u', 'x'], ['v', 'z'], ['v', 'a'], ['w', 'y'], ['w', 'x']],
  });
  const at = (mode: ItemsMode, split: 'test' | 'valid' = 'test') =>
    prepareEval({ dataset: later, split, model: { users: later.users, items: later.items }, relevanceThreshold: null, trained: featured, items: mode });
  const names = (m: Int32Array) => Array.from(m, (i) => later.items.ids[i]);

  it('new keeps cold items with no earlier row, recent those with one; together they are cold', () => {
    const fresh = at('new');
    expect(Array.from(fresh.users.dataset)).toEqual([1]);
    expect(names(fresh.relevant.items)).toEqual(['z']);
    expect(fresh.skipped).toEqual({ no_new_item: 1, cold_item: 1 });
    expect(fresh.relevantItems).toEqual({ warm_ranked: 0, cold_ranked: 1, cold_skipped: 1, unknown: 0, not_selected: 4 });

    const recent = at('recent');
    expect(Array.from(recent.users.dataset)).toEqual([0, 2]);
    expect(names(recent.relevant.items)).toEqual(['x', 'x']);
    expect(recent.skipped).toEqual({ no_recent_item: 1 });
    expect(recent.relevantItems).toEqual({ warm_ranked: 0, cold_ranked: 2, cold_skipped: 0, unknown: 0, not_selected: 4 });

    const cold = at('cold');
    expect(cold.relevantItems.cold_ranked).toBe(fresh.relevantItems.cold_ranked + recent.relevantItems.cold_ranked);
    expect(cold.relevantItems.cold_skipped).toBe(fresh.relevantItems.cold_skipped + recent.relevantItems.cold_skipped);
    // Only the relevant set is filtered: the new items still compete with the recent ones.
    expect(names(recent.unrankable)).toEqual(['y']);
  });

  it('evaluating valid, nothing comes before it but training: every cold item is new', () => {
    expect(names(at('new', 'valid').relevant.items)).toEqual(['x']);
    expect(at('recent', 'valid').users.dataset.length).toBe(0);
    expect(at('recent', 'valid').skipped).toEqual({ no_recent_item: 2 });
  });

  it('names their eval files apart', () => {
    expect(evalFileName('test', { name: 'full' }, 'new')).toBe('eval-test-full.new.json');
    expect(evalTag({ name: 'candidates', file: 'f' }, 'recent')).toBe('candidates.recent');
  });
});
