/**
 * Search metrics against hand-computed values (src/eval/metrics/search.ts): each expected value is written as the
 * arithmetic that produces it. Relevance on Home Depot's 1–3 scale, gain = relevance − 1, relevant = ≥ 2.5.
 */
import { describe, expect, it } from 'vitest';
import {
  createSearchAccumulator,
  gradedNdcgAtK,
  pessimisticOrder,
  relevanceErrors,
  searchMrrAtK,
  searchRecallAtK,
} from '../../../../src/eval/metrics/search.js';

const log2 = Math.log2;

describe('graded search metrics, distinct scores', () => {
  // Ranked by score: c0 (0.9, rel 3, gain 2), c2 (0.7, rel 2, gain 1), c1 (0.5, rel 1, gain 0), c3 (0.1, rel 2.5, gain 1.5)
  const scores = [0.9, 0.5, 0.7, 0.1];
  const rel = [3, 1, 2, 2.5];

  it('orders by score, highest first', () => {
    expect(Array.from(pessimisticOrder(scores, rel))).toEqual([0, 2, 1, 3]);
  });

  it('ndcg@k with linear gains relevance − minimum', () => {
    // DCG@4 = 2/log2(2) + 1/log2(3) + 0/log2(4) + 1.5/log2(5) = 2 + 0.630930 + 0 + 0.646015 = 3.276945;
    // ideal gains 2, 1.5, 1, 0: IDCG@4 = 2 + 0.946395 + 0.5 = 3.446395; NDCG = 0.950833
    const dcg4 = 2 + 1 / log2(3) + 0 + 1.5 / log2(5);
    const idcg4 = 2 + 1.5 / log2(3) + 1 / 2 + 0;
    expect(gradedNdcgAtK(scores, rel, 4, 1)).toBeCloseTo(dcg4 / idcg4, 15);
    expect(gradedNdcgAtK(scores, rel, 4, 1)).toBeCloseTo(0.950833, 6);
    // k = 2: DCG = 2 + 1/log2 3, IDCG = 2 + 1.5/log2 3
    expect(gradedNdcgAtK(scores, rel, 2, 1)).toBeCloseTo((2 + 1 / log2(3)) / (2 + 1.5 / log2(3)), 15);
    // k past the list: the same as k = 4
    expect(gradedNdcgAtK(scores, rel, 10, 1)).toBeCloseTo(dcg4 / idcg4, 15);
    // The ideal order scores 1.
    expect(gradedNdcgAtK([4, 1, 2, 3], rel, 3, 1)).toBe(1);
  });

  it('the minimum sets the gains: with minimum 0, rel 1 gains 1', () => {
    // gains 3, 1, 2, 2.5; DCG@4 = 3 + 2/log2 3 + 1/2 + 2.5/log2 5; ideal 3, 2.5, 2, 1
    const dcg = 3 + 2 / log2(3) + 1 / 2 + 2.5 / log2(5);
    const idcg = 3 + 2.5 / log2(3) + 2 / 2 + 1 / log2(5);
    expect(gradedNdcgAtK(scores, rel, 4, 0)).toBeCloseTo(dcg / idcg, 15);
  });

  it('mrr@k and recall@k with relevance ≥ threshold', () => {
    // ≥ 2.5: c0 (rank 1) and c3 (rank 4)
    expect(searchMrrAtK(scores, rel, 10, 2.5)).toBe(1);
    expect(searchRecallAtK(scores, rel, 2, 2.5)).toBe(1 / 2);
    expect(searchRecallAtK(scores, rel, 4, 2.5)).toBe(1);
    // Two more relevant products outside the list (full retrieval): 1 of 4 within k = 2
    expect(searchRecallAtK(scores, rel, 2, 2.5, 4)).toBe(1 / 4);
    // ≥ 3: only c0; reversed scores put c0 last, at rank 4
    const reversed = scores.map((s) => -s);
    expect(searchMrrAtK(reversed, rel, 10, 3)).toBe(1 / 4);
    expect(searchMrrAtK(reversed, rel, 3, 3)).toBe(0);
  });
});

describe('ties are pessimistic', () => {
  it('puts the lower relevance first among equal scores', () => {
    // All tied: order c1 (rel 1), c2 (rel 2), c0 (rel 3)
    const scores = [1, 1, 1];
    const rel = [3, 1, 2];
    expect(Array.from(pessimisticOrder(scores, rel))).toEqual([1, 2, 0]);
    // DCG@3 = 0/1 + 1/log2 3 + 2/log2 4 = 1.630930; IDCG@3 = 2 + 1/log2 3 + 0 = 2.630930; NDCG = 0.619906
    expect(gradedNdcgAtK(scores, rel, 3, 1)).toBeCloseTo((1 / log2(3) + 1) / (2 + 1 / log2(3)), 15);
    expect(gradedNdcgAtK(scores, rel, 3, 1)).toBeCloseTo(0.619906, 6);
    expect(searchMrrAtK(scores, rel, 3, 2.5)).toBe(1 / 3);
    expect(searchMrrAtK(scores, rel, 2, 2.5)).toBe(0);
  });

  it('breaks ties only within the tied group', () => {
    // c0 first (score 2); c1 (rel 3) and c2 (rel 1) tie at 1: c2, then c1; c3 last. Relevant (≥ 2.5) at ranks 3, 4.
    const scores = [2, 1, 1, 0];
    const rel = [1, 3, 1, 3];
    expect(Array.from(pessimisticOrder(scores, rel))).toEqual([0, 2, 1, 3]);
    expect(searchMrrAtK(scores, rel, 10, 2.5)).toBe(1 / 3);
    expect(searchRecallAtK(scores, rel, 3, 2.5)).toBe(1 / 2);
    // DCG@4 = 0 + 0 + 2/log2 4 + 2/log2 5; IDCG = 2 + 2/log2 3
    expect(gradedNdcgAtK(scores, rel, 4, 1)).toBeCloseTo((1 + 2 / log2(5)) / (2 + 2 / log2(3)), 15);
  });

  it('ranks NaN scores below every number, -Infinity included', () => {
    const scores = [Number.NaN, -Infinity, 0.5];
    const rel = [3, 1, 1];
    expect(Array.from(pessimisticOrder(scores, rel))).toEqual([2, 1, 0]);
    expect(searchMrrAtK(scores, rel, 3, 2.5)).toBe(1 / 3);
  });
});

describe('undefined cases and bad input', () => {
  it('is NaN when nothing gains or nothing is relevant', () => {
    expect(gradedNdcgAtK([0.3, 0.2], [1, 1], 10, 1)).toBeNaN();
    expect(gradedNdcgAtK([], [], 10, 1)).toBeNaN();
    expect(searchMrrAtK([0.3, 0.2], [2, 1], 10, 2.5)).toBeNaN();
    expect(searchRecallAtK([0.3, 0.2], [2, 1], 10, 2.5)).toBeNaN();
  });

  it('refuses mismatched lengths, relevance below the minimum, bad k and a too-small relevantTotal', () => {
    expect(() => gradedNdcgAtK([1, 2], [1], 10, 1)).toThrow(/2 scores for 1 relevance labels/);
    expect(() => gradedNdcgAtK([1], [0.5], 10, 1)).toThrow(/relevance\[0\] = 0.5 is below the minimum 1/);
    expect(() => gradedNdcgAtK([1], [Number.NaN], 10, 1)).toThrow(/not a finite number/);
    expect(() => searchMrrAtK([1], [3], 0, 2.5)).toThrow(/k must be a positive integer/);
    expect(() => searchRecallAtK([1, 2], [3, 3], 5, 2.5, 1)).toThrow(/relevantTotal must be an integer ≥ the 2 relevant/);
  });
});

describe('relevanceErrors', () => {
  it('clips predictions to the scale, then RMSE and MAE in one pass', () => {
    // clipped to [1, 3]: 1.5, 3, 1 → errors 0.5, 0, −1
    const e = relevanceErrors([1.5, 4, 0], [1, 3, 2], { min: 1, max: 3 });
    expect(e.rmse).toBeCloseTo(Math.sqrt((0.25 + 0 + 1) / 3), 15);
    expect(e.mae).toBeCloseTo((0.5 + 0 + 1) / 3, 15);
    expect(relevanceErrors([], [], { min: 1, max: 3 }).rmse).toBeNaN();
    expect(() => relevanceErrors([1], [1, 2], { min: 1, max: 3 })).toThrow(/1 predictions for 2 targets/);
  });
});

describe('createSearchAccumulator', () => {
  it('averages each metric over the queries where it is defined', () => {
    const acc = createSearchAccumulator({ ks: [2], minRelevance: 1, threshold: 2.5 });
    // q1: gains 2, 0 in score order → ndcg 1; relevant c0 at rank 1 → mrr 1, recall 1
    acc.addQuery([0.9, 0.1], [3, 1]);
    // q2: c0 (gain 1) above c1 (gain 1.4): ndcg = (1 + 1.4/log2 3)/(1.4 + 1/log2 3); no relevance ≥ 2.5 → mrr, recall skipped
    acc.addQuery([0.9, 0.1], [2, 2.4]);
    // q3: nothing gains: every metric skipped
    acc.addQuery([0.5, 0.5], [1, 1]);
    const r = acc.result();
    const ndcg2 = (1 + 1.4 / log2(3)) / (1.4 + 1 / log2(3));
    expect(r.metrics['ndcg@2']).toBeCloseTo((1 + ndcg2) / 2, 15);
    expect(r.metrics['mrr@2']).toBe(1);
    expect(r.metrics['recall@2']).toBe(1);
    expect(r.queries).toEqual({ 'ndcg@2': 2, 'mrr@2': 1, 'recall@2': 1 });
    expect(r.added).toBe(3);
  });

  it('reports NaN when no query defines a metric', () => {
    const r = createSearchAccumulator({ ks: [5], minRelevance: 1, threshold: 2.5 }).result();
    expect(r.metrics['ndcg@5']).toBeNaN();
    expect(r.added).toBe(0);
  });
});
