import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type EvalProtocol } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { prepareEval } from '../../../src/eval/prepare.js';
import { makeDataset, scoredMf, vocab } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Dataset vocabulary a..e; the model's vocabulary lists the items in reverse and lacks user u3, so
// every lookup has to go through raw ids. Model scores: a .5, b .4, c .3, d .2, e .1. u2 (never
// evaluated: no test rows) gives every item a training row, so none is cold.
const ds = makeDataset({
  users: ['u0', 'u1', 'u2', 'u3'],
  items: ['a', 'b', 'c', 'd', 'e'],
  train: [['u0', 'a'], ['u1', 'b'], ['u2', 'd'], ['u2', 'c'], ['u2', 'e'], ['u3', 'a']],
  test: [['u0', 'c'], ['u0', 'e'], ['u1', 'a'], ['u3', 'b']],
});
const modelVocab = { users: vocab(['u1', 'u0', 'u2']), items: vocab(['e', 'd', 'c', 'b', 'a']) };
const model = () => scoredMf({ users: 3, itemScores: [0.1, 0.2, 0.3, 0.4, 0.5] });
const prep = () => prepareEval({ dataset: ds, split: 'test', model: modelVocab, relevanceThreshold: null });
const run = (protocol: EvalProtocol, metrics: string) =>
  evaluate(model(), prep(), { protocol, metrics: parseMetrics(metrics, [1, 2]), ratingRange: null, userBlock: 1 });
const ndcgAt2Rank2 = 1 / Math.log2(3);

describe('evaluate: full protocol', () => {
  it('matches hand-computed metrics (train items excluded, raw-id mapping, unknown users skipped)', async () => {
    // u0: train a excluded → ranking b c d e, relevant c, e → hits [0 1 0 1]; u1: a first → hit at 1.
    const out = await run({ name: 'full' }, 'precision@2,recall@2,ndcg@2,hr@2,mrr@2,map@2,auc,coverage@2');
    const m = out.metrics;
    expect(m['precision@2']).toBeCloseTo(0.5, 12);
    expect(m['recall@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(m['ndcg@2']).toBeCloseTo((ndcgAt2Rank2 / (1 + ndcgAt2Rank2) + 1) / 2, 12);
    expect(m['hr@2']).toBe(1);
    expect(m['mrr@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(m['map@2']).toBeCloseTo((0.25 + 1) / 2, 12);
    // u0: (c, e) vs (b, d): only c > d ordered right → 1/4; u1: a above c, d, e → 1.
    expect(m.auc).toBeCloseTo((0.25 + 1) / 2, 12);
    // Lists [b, c] and [a, c]: 3 of the model's 5 items.
    expect(m['coverage@2']).toBeCloseTo(3 / 5, 12);
    expect(out.users).toEqual({ evaluated: 2, skipped: 1, skipped_by_reason: { unknown_user: 1 } });
    expect(out.k).toEqual([2]);
  });

  it('breaks ties against the relevant item', async () => {
    const flat = scoredMf({ users: 3, itemScores: [0, 0, 0, 0, 0] });
    const out = await evaluate(flat, prep(), { protocol: { name: 'full' }, metrics: parseMetrics('hr@2', []), ratingRange: null, userBlock: 8 });
    // u0's non-relevant b and d take ranks 1-2 ahead of c and e; u1 has 3 non-relevant items.
    expect(out.metrics['hr@2']).toBe(0);
  });

  it('gives the same numbers whatever the user block size', async () => {
    const a = await evaluate(model(), prep(), { protocol: { name: 'full' }, metrics: parseMetrics('ndcg,auc', [1, 2]), ratingRange: null, userBlock: 1 });
    const b = await evaluate(model(), prep(), { protocol: { name: 'full' }, metrics: parseMetrics('ndcg,auc', [1, 2]), ratingRange: null, userBlock: 256 });
    expect(b.metrics).toEqual(a.metrics);
  });
});

describe('evaluate: sampled protocol', () => {
  it('ranks each relevant item against negatives the user never touched', async () => {
    // u0 touched a, c, e: its only 2 negatives are b (.4) and d (.2): c ranks 2nd, e 3rd.
    // u1 touched a, b: a outscores any negative.
    const out = await run({ name: 'sampled', n: 2, seed: 5 }, 'hr@1,hr@2,ndcg@2,auc');
    expect(out.metrics['hr@1']).toBeCloseTo(0.5, 12);
    expect(out.metrics['hr@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(out.metrics['ndcg@2']).toBeCloseTo((ndcgAt2Rank2 / 2 + 1) / 2, 12);
    expect(out.metrics.auc).toBeCloseTo(((0.5 + 0) / 2 + 1) / 2, 12);
    expect(out.protocol).toEqual({ name: 'sampled', n: 2, seed: 5 });
    const u0 = out.negatives!.users.indexOf(0);
    expect([...out.negatives!.negatives[u0]].sort()).toEqual([1, 3]);
  });

  it('draws the same negatives for the same seed and different ones for another', async () => {
    const big = makeDataset({
      items: Array.from({ length: 50 }, (_, i) => `i${i}`),
      // A second user gives every item a training row (none is cold).
      users: ['u', 'w'],
      train: [['u', 'i0'], ...Array.from({ length: 50 }, (_, i): [string, string] => ['w', `i${i}`])],
      test: [['u', 'i1']],
    });
    const p = prepareEval({ dataset: big, split: 'test', model: { users: big.users, items: big.items }, relevanceThreshold: null });
    const m = scoredMf({ users: 2, itemScores: Array.from({ length: 50 }, (_, i) => i / 50) });
    const opts = (seed: number) => ({ protocol: { name: 'sampled' as const, n: 10, seed }, metrics: parseMetrics('hr@5', []), ratingRange: null, userBlock: 4 });
    const a = await evaluate(m, p, opts(1));
    const b = await evaluate(m, p, opts(1));
    const c = await evaluate(m, p, opts(2));
    expect(b.negatives!.negatives).toEqual(a.negatives!.negatives);
    expect(c.negatives!.negatives).not.toEqual(a.negatives!.negatives);
    expect([...a.negatives!.negatives[0]].some((i) => i === 0 || i === 1)).toBe(false);
  });
});

describe('evaluate: candidates protocol', () => {
  it('drops positive and unknown candidates, counts them, and skips users without a line', async () => {
    const out = await run(
      {
        name: 'candidates',
        file: 'c.tsv',
        lists: [
          { user: 'u0', items: ['b', 'c', 'zzz'], line: 1 },
          { user: 'u9', items: ['a'], line: 2 },
        ],
      },
      'hr@1,hr@2',
    );
    // u0: c and e each against [b] alone: rank 2 both times.
    expect(out.metrics['hr@1']).toBe(0);
    expect(out.metrics['hr@2']).toBe(1);
    expect(out.candidates).toEqual({ dropped_unknown: 1, dropped_positive: 1, unused_lines: 1, dropped_cold: 0 });
    expect(out.users).toEqual({ evaluated: 1, skipped: 2, skipped_by_reason: { no_candidates: 1, unknown_user: 1 } });
    expect(out.protocol).toEqual({ name: 'candidates', file: 'c.tsv' });
  });
});

describe('evaluate: rating errors', () => {
  it('computes rmse and mae over the known rows with predictions clipped to the train range', async () => {
    const rated = makeDataset({
      users: ['u'],
      items: ['a', 'b', 'c', 'd', 'x'],
      train: [['u', 'a', 5], ['u', 'b', 1]],
      test: [['u', 'c', 4], ['u', 'd', 2], ['u', 'x', 3]],
      feedback: 'explicit',
    });
    // The model does not know item x: that row is left out and counted.
    const p = prepareEval({ dataset: rated, split: 'test', model: { users: vocab(['u']), items: vocab(['a', 'b', 'c', 'd']) }, relevanceThreshold: null });
    const m = scoredMf({ users: 1, itemScores: [0, 0, 3, -5] });
    const out = await evaluate(m, p, { protocol: { name: 'full' }, metrics: parseMetrics('rmse,mae', []), ratingRange: { min: 1, max: 5 }, userBlock: 4 });
    // c: 3 vs 4; d: -5 clipped to 1 vs 2.
    expect(out.metrics.rmse).toBeCloseTo(1, 6);
    expect(out.metrics.mae).toBeCloseTo(1, 6);
    expect(out.ratings).toEqual({ rows: 2, unknown: 1 });
  });
});

describe('prepareEval', () => {
  it('keeps only values at or above the relevance threshold as relevant', () => {
    const rated = makeDataset({
      users: ['u', 'v', 'w'],
      items: ['a', 'b', 'c'],
      train: [['u', 'a', 3], ['v', 'a', 4], ['w', 'b', 4], ['w', 'c', 4]],
      test: [['u', 'b', 5], ['u', 'c', 2], ['v', 'a', 1]],
      feedback: 'explicit',
    });
    const p = prepareEval({ dataset: rated, split: 'test', model: { users: rated.users, items: rated.items }, relevanceThreshold: 4 });
    expect([...p.relevant.items]).toEqual([1]);
    expect(p.skipped).toEqual({ no_relevant: 1 });
    // Evaluating test excludes train and valid items from the ranking.
    expect([...p.exclude.items]).toEqual([0]);
  });

  it('skips users without a training row and drops items without one: they are counted, never ranked', async () => {
    // x is new in test (no train row), so is user z; model rows of learned-nothing items count too.
    const ds2 = makeDataset({
      users: ['u', 'v', 'z'],
      items: ['a', 'b', 'c', 'x'],
      train: [['u', 'a'], ['v', 'b'], ['v', 'c']],
      test: [['u', 'b'], ['u', 'x'], ['v', 'x'], ['z', 'a']],
    });
    const p = prepareEval({ dataset: ds2, split: 'test', model: { users: ds2.users, items: ds2.items }, relevanceThreshold: null });
    expect(p.skipped).toEqual({ cold_user: 1, cold_item: 1 });
    expect(p.coldRelevantItems).toBe(2);
    expect([...p.unrankable]).toEqual([3]);
    // x scores highest of all, yet never takes a place in u's ranking: b (.2) is ranked against c only.
    const m = scoredMf({ users: 3, itemScores: [0.5, 0.2, 0.1, 9] });
    const full = await evaluate(m, p, { protocol: { name: 'full' }, metrics: parseMetrics('hr@1,auc', []), ratingRange: null, userBlock: 4 });
    expect(full.metrics['hr@1']).toBe(1);
    expect(full.metrics.auc).toBe(1);
    expect(full.relevant_cold_items).toBe(2);
    expect(full.users.skipped_by_reason).toEqual({ cold_user: 1, cold_item: 1 });
    // Sampled negatives come only from items with training rows: for u that leaves c.
    const sampled = await evaluate(m, p, { protocol: { name: 'sampled', n: 5, seed: 1 }, metrics: parseMetrics('hr@1', []), ratingRange: null, userBlock: 4 });
    expect([...sampled.negatives!.negatives[0]]).toEqual([2]);
    // A model row that was never learned is cold even when the dataset has a train row for it.
    const learned = { users: Uint8Array.from([1, 1, 0]), items: Uint8Array.from([1, 1, 0, 0]) };
    const q = prepareEval({ dataset: ds2, split: 'test', model: { users: ds2.users, items: ds2.items }, relevanceThreshold: null, trained: learned });
    expect([...q.unrankable]).toEqual([2, 3]);
    const cands = await evaluate(m, q, { protocol: { name: 'candidates', file: 'c.tsv', lists: [{ user: 'u', items: ['c', 'x'], line: 1 }] }, metrics: parseMetrics('hr@1', []), ratingRange: null, userBlock: 4 });
    expect(cands.candidates).toEqual({ dropped_unknown: 0, dropped_positive: 0, unused_lines: 0, dropped_cold: 2 });
  });
});
