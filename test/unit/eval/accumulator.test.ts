import { describe, expect, it } from 'vitest';
import { createMetricAccumulator } from '../../../src/eval/metrics/accumulator.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { hitsFromRank } from '../../../src/eval/ranking.js';

describe('createMetricAccumulator', () => {
  it('averages over users with relevant items and counts the skipped ones by reason', () => {
    const specs = parseMetrics('ndcg@5,recall@5,hr@5,coverage@2', []);
    const acc = createMetricAccumulator(specs, { vocabularyItems: 10 });
    // User 1: hits at ranks 1 and 3, R = 3 → ndcg 1.5/(1 + 1/log2(3) + 0.5), recall 2/3, hr 1
    acc.addUser({ hits: Uint8Array.from([1, 0, 1, 0, 0]), relevant: 3, items: Int32Array.from([0, 1, 2, 3, 4]) });
    // User 2: no hit, R = 2 → all 0
    acc.addUser({ hits: new Uint8Array(5), relevant: 2, items: Int32Array.from([2, 5, 6, 7, 8]) });
    // User 3: R = 0 → skipped (no_relevant); user 4: skipped by the caller as cold
    acc.addUser({ hits: new Uint8Array(5), relevant: 0, items: Int32Array.from([9, 8, 7, 6, 5]) });
    acc.skipUser('cold_user');
    const { metrics, users } = acc.result();
    expect(metrics['ndcg@5']).toBeCloseTo((1.5 / (1 + 1 / Math.log2(3) + 0.5) + 0) / 2, 15);
    expect(metrics['recall@5']).toBeCloseTo((2 / 3 + 0) / 2, 15);
    expect(metrics['hr@5']).toBe(0.5);
    // top-2 lists of the evaluated users: {0,1} ∪ {2,5} = 4 of 10 items (the skipped user adds none)
    expect(metrics['coverage@2']).toBe(0.4);
    expect(users).toEqual({ evaluated: 2, skipped: 2, skipped_by_reason: { cold_user: 1, no_relevant: 1 } });
  });

  it('averages several single-item rankings within a user first (sampled / candidates protocols)', () => {
    const acc = createMetricAccumulator(parseMetrics('hr@10,mrr@10,auc', []), { vocabularyItems: 100 });
    // User 1 has two test items ranked 0 and 12 among 99 negatives: hr (1 + 0)/2 = 0.5, mrr (1 + 0)/2
    // auc: (99 - 0)/99 and (99 - 12)/99 → mean (1 + 87/99)/2
    acc.addUser([
      { hits: hitsFromRank(0, 10), relevant: 1, auc: 1 },
      { hits: hitsFromRank(12, 10), relevant: 1, auc: 87 / 99 },
    ]);
    // User 2: one test item at rank 3 → hr 1, mrr 1/4, auc 96/99
    acc.addUser({ hits: hitsFromRank(3, 10), relevant: 1, auc: 96 / 99 });
    const { metrics } = acc.result();
    expect(metrics['hr@10']).toBe((0.5 + 1) / 2);
    expect(metrics['mrr@10']).toBe((0.5 + 0.25) / 2);
    expect(metrics.auc).toBeCloseTo(((1 + 87 / 99) / 2 + 96 / 99) / 2, 15);
  });

  it('rmse/mae over all rating rows, clipped to the train range', () => {
    const acc = createMetricAccumulator(parseMetrics('rmse,mae', []), { vocabularyItems: 1, ratingRange: { min: 1, max: 5 } });
    acc.addRatings([0.5, 3.5], [1, 3]); // clipped [1, 3.5] → errors [0, 0.5]
    acc.addRatings([6], [4]); // clipped 5 → error 1
    const { metrics } = acc.result();
    expect(metrics.rmse).toBeCloseTo(Math.sqrt((0 + 0.25 + 1) / 3), 15);
    expect(metrics.mae).toBeCloseTo((0 + 0.5 + 1) / 3, 15);
  });

  it('reports NaN when nobody was evaluated, never 0', () => {
    const acc = createMetricAccumulator(parseMetrics('ndcg@10', []), { vocabularyItems: 5 });
    acc.skipUser('no_relevant', 3);
    const { metrics, users } = acc.result();
    expect(Number.isNaN(metrics['ndcg@10'])).toBe(true);
    expect(users).toEqual({ evaluated: 0, skipped: 3, skipped_by_reason: { no_relevant: 3 } });
  });
});
