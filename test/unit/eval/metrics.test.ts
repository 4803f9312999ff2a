/**
 * Golden values computed by hand (RecBole tests/metrics style): each expected value is written as
 * the arithmetic that produces it, with the reasoning in a comment.
 */
import { describe, expect, it } from 'vitest';
import { auc, aucFromRank } from '../../../src/eval/metrics/auc.js';
import { coverage, createCoverageSet } from '../../../src/eval/metrics/coverage.js';
import { f1AtK } from '../../../src/eval/metrics/f1.js';
import { hrAtK } from '../../../src/eval/metrics/hr.js';
import { mae } from '../../../src/eval/metrics/mae.js';
import { mapAtK } from '../../../src/eval/metrics/map.js';
import { mrrAtK } from '../../../src/eval/metrics/mrr.js';
import { ndcgAtK } from '../../../src/eval/metrics/ndcg.js';
import { precisionAtK } from '../../../src/eval/metrics/precision.js';
import { recallAtK } from '../../../src/eval/metrics/recall.js';
import { rmse } from '../../../src/eval/metrics/rmse.js';

const h = (...bits: number[]) => Uint8Array.from(bits);

describe('ranking metrics, hand-computed', () => {
  // Case A: hits at ranks 1 and 3 of 5, R = 3 (one relevant item missed).
  const A = h(1, 0, 1, 0, 0);
  it('case A: k = 5, R = 3', () => {
    expect(precisionAtK(A, 5)).toBe(2 / 5);
    expect(recallAtK(A, 5, 3)).toBe(2 / 3);
    // F1 = 2PR/(P+R) = 2·0.4·(2/3)/(0.4 + 2/3) = 0.5333…/1.0666… = 0.5
    expect(f1AtK(A, 5, 3)).toBeCloseTo(0.5, 15);
    expect(hrAtK(A, 5)).toBe(1);
    expect(mrrAtK(A, 5)).toBe(1);
    // DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5; IDCG over min(R,k) = 3 ranks = 1 + 1/log2(3) + 0.5
    expect(ndcgAtK(A, 5, 3)).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3) + 0.5), 15);
    expect(ndcgAtK(A, 5, 3)).toBeCloseTo(0.703918, 6);
    // AP = (P@1·1 + P@3·1) / min(3,5) = (1 + 2/3) / 3 = 5/9
    expect(mapAtK(A, 5, 3)).toBeCloseTo(5 / 9, 15);
  });

  it('case A cut at k = 2: only the rank-1 hit counts', () => {
    expect(precisionAtK(A, 2)).toBe(1 / 2);
    expect(recallAtK(A, 2, 3)).toBe(1 / 3);
    // DCG = 1; IDCG over min(3,2) = 2 ranks = 1 + 1/log2(3)
    expect(ndcgAtK(A, 2, 3)).toBeCloseTo(1 / (1 + 1 / Math.log2(3)), 15);
    // AP = P@1 / min(3,2) = 1/2
    expect(mapAtK(A, 2, 3)).toBe(1 / 2);
  });

  // Case B: R > k. One hit at rank 2 of k = 2, R = 5.
  it('case B: R = 5 > k = 2', () => {
    const B = h(0, 1);
    expect(precisionAtK(B, 2)).toBe(1 / 2);
    expect(recallAtK(B, 2, 5)).toBe(1 / 5); // recall divides by R, not min(R,k)
    // F1 = 2·(1/2)·(1/5)/((1/2)+(1/5)) = 0.2/0.7 = 2/7
    expect(f1AtK(B, 2, 5)).toBeCloseTo(2 / 7, 15);
    expect(hrAtK(B, 2)).toBe(1);
    expect(mrrAtK(B, 2)).toBe(1 / 2);
    // DCG = 1/log2(3); IDCG over min(5,2) = 2 ranks = 1 + 1/log2(3) → 0.6309/1.6309 = 0.386853
    expect(ndcgAtK(B, 2, 5)).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 15);
    expect(ndcgAtK(B, 2, 5)).toBeCloseTo(0.386853, 6);
    // AP = P@2·1 / min(5,2) = (1/2)/2 = 1/4
    expect(mapAtK(B, 2, 5)).toBe(1 / 4);
  });

  // Case C: the only relevant item sits exactly at rank k = 4; at k = 3 it is just outside.
  it('case C: hit at rank k counts, at rank k+1 it does not', () => {
    const C = h(0, 0, 0, 1);
    expect(precisionAtK(C, 4)).toBe(1 / 4);
    expect(recallAtK(C, 4, 1)).toBe(1);
    expect(hrAtK(C, 4)).toBe(1);
    expect(mrrAtK(C, 4)).toBe(1 / 4);
    // DCG = 1/log2(5) = 0.430677; IDCG = 1
    expect(ndcgAtK(C, 4, 1)).toBeCloseTo(1 / Math.log2(5), 15);
    expect(mapAtK(C, 4, 1)).toBe(1 / 4); // P@4 · 1 / min(1,4)
    for (const v of [precisionAtK(C, 3), recallAtK(C, 3, 1), hrAtK(C, 3), mrrAtK(C, 3), ndcgAtK(C, 3, 1), mapAtK(C, 3, 1)]) {
      expect(v).toBe(0);
    }
  });

  it('case D: a list shorter than k (small catalogue) still divides precision by k', () => {
    const D = h(1);
    expect(precisionAtK(D, 3)).toBe(1 / 3);
    expect(recallAtK(D, 3, 1)).toBe(1);
    expect(ndcgAtK(D, 3, 1)).toBe(1);
    expect(mapAtK(D, 3, 1)).toBe(1);
  });

  it('all hits: ideal ranking scores 1', () => {
    const E = h(1, 1, 1);
    expect(ndcgAtK(E, 3, 3)).toBeCloseTo(1, 15);
    expect(mapAtK(E, 3, 3)).toBe(1); // (1/1 + 2/2 + 3/3) / 3
    expect(f1AtK(E, 3, 3)).toBe(1);
  });

  it('R = 0 is undefined: the per-user functions refuse it (callers skip the user)', () => {
    expect(() => recallAtK(h(0), 1, 0)).toThrow(/R ≥ 1/);
    expect(() => ndcgAtK(h(0), 1, 0)).toThrow(/R ≥ 1/);
    expect(() => mapAtK(h(0), 1, 0)).toThrow(/R ≥ 1/);
    expect(() => f1AtK(h(0), 1, 0)).toThrow(/R ≥ 1/);
    expect(() => precisionAtK(h(0), 0)).toThrow(/k must be a positive integer/);
  });
});

describe('auc', () => {
  it('counts correctly ordered (relevant, non-relevant) pairs; ties count against the relevant item', () => {
    // P = {0.9, 0.5}, N = {0.8, 0.5, 0.1}. Pairs: 0.9>0.8 ✓ 0.9>0.5 ✓ 0.9>0.1 ✓ 0.5<0.8 ✗ 0.5=0.5 ✗ (tie) 0.5>0.1 ✓
    expect(auc([0.9, 0.5], [0.8, 0.5, 0.1])).toBe(4 / 6);
    expect(auc([1], [0, 0])).toBe(1);
    expect(auc([0], [0, 0])).toBe(0); // all ties: pessimistic
    expect(auc([NaN], [-5])).toBe(0); // NaN ranks as -∞
    expect(Number.isNaN(auc([], [1]))).toBe(true);
    expect(Number.isNaN(auc([1], []))).toBe(true);
  });

  it('from a pessimistic rank among N candidates', () => {
    // rank 2 among 99 candidates: 2 score ≥ the true item, 97 below it → 97/99
    expect(aucFromRank(2, 99)).toBe(97 / 99);
    expect(aucFromRank(0, 99)).toBe(1);
    // equals the pairwise definition: true 0.5 against [0.6, 0.5, 0.4] → rank 2 → 1/3
    expect(aucFromRank(2, 3)).toBe(auc([0.5], [0.6, 0.5, 0.4]));
  });
});

describe('coverage', () => {
  it('is distinct items across all top-k lists over the vocabulary size', () => {
    // top-2 of [0,1,2] and [2,3,4] → {0,1} ∪ {2,3} = 4 items of 10
    const set = createCoverageSet(10);
    set.add(Int32Array.from([0, 1, 2]), 2);
    set.add(Int32Array.from([2, 3, 4]), 2);
    expect(set.distinct).toBe(4);
    expect(coverage(set.distinct, 10)).toBe(0.4);
    expect(() => coverage(1, 0)).toThrow(/vocabulary/);
  });
});

describe('rmse and mae', () => {
  // Train ratings span [1, 5]. Predictions 0.5 → 1 and 6.0 → 5 after clipping.
  // clipped = [1, 3.2, 5, 4]; targets = [1, 3, 4, 5]; errors = [0, 0.2, 1, -1]
  const range = { min: 1, max: 5 };
  const pred = Float32Array.from([0.5, 3.2, 6.0, 4.0]);
  const target = Float32Array.from([1, 3, 4, 5]);
  // Float32 3.2 is 3.2000000476837158; the hand value below uses it exactly.
  const e2 = Math.fround(3.2) - 3;
  it('clip predictions to the train rating range', () => {
    // RMSE = sqrt((0² + 0.2² + 1² + 1²) / 4) = sqrt(2.04 / 4) = sqrt(0.51) ≈ 0.714143
    expect(rmse(pred, target, range)).toBeCloseTo(Math.sqrt((0 + e2 * e2 + 1 + 1) / 4), 15);
    expect(rmse(pred, target, range)).toBeCloseTo(0.714143, 6);
    // MAE = (0 + 0.2 + 1 + 1) / 4 = 0.55
    expect(mae(pred, target, range)).toBeCloseTo((0 + e2 + 1 + 1) / 4, 15);
    expect(mae(pred, target, range)).toBeCloseTo(0.55, 6);
  });

  it('without clipping the same predictions would be worse', () => {
    const open = { min: -Infinity, max: Infinity };
    // errors = [-0.5, 0.2, 2, -1] → MAE = 3.7 / 4 = 0.925
    expect(mae(pred, target, open)).toBeCloseTo(0.925, 6);
  });

  it('an empty set is NaN and mismatched lengths throw', () => {
    expect(Number.isNaN(rmse([], [], range))).toBe(true);
    expect(() => mae([1], [1, 2], range)).toThrow(/1 predictions for 2 targets/);
  });
});
