import { describe, expect, it } from 'vitest';
import { cutoffsOf, lowerIsBetter, parseKList, parseMetrics } from '../../../src/eval/metrics/registry.js';
import { UsageError } from '../../../src/util/errors.js';

describe('parseMetrics', () => {
  it('expands names without @k over the --k list and keeps explicit cutoffs', () => {
    const specs = parseMetrics('ndcg@10, Recall ,rmse,auc,coverage', [5, 10]);
    expect(specs.map((s) => s.key)).toEqual(['ndcg@10', 'recall@5', 'recall@10', 'rmse', 'auc', 'coverage@5', 'coverage@10']);
    expect(cutoffsOf(specs)).toEqual([5, 10]);
    expect(parseMetrics(['hr@10', 'hr@10', 'hr'], [10]).map((s) => s.key)).toEqual(['hr@10']);
  });

  it('rejects unknown names with a usage error that lists the valid ones', () => {
    expect(() => parseMetrics('ndgc@10', [10])).toThrow(UsageError);
    expect(() => parseMetrics('ndgc@10', [10])).toThrow(
      /--metrics: unknown metric "ndgc@10"\. Expected one of: rmse, mae, precision@k, recall@k, f1@k, ndcg@k, hr@k, mrr@k, map@k, auc, coverage@k/,
    );
  });

  it('rejects bad cutoffs and cutoffs on metrics that take none', () => {
    expect(() => parseMetrics('rmse@10', [])).toThrow(/rmse takes no cutoff/);
    expect(() => parseMetrics('ndcg@0', [])).toThrow(/bad k in "ndcg@0"/);
    expect(() => parseMetrics('ndcg@x', [])).toThrow(/bad k/);
    expect(() => parseMetrics('ndcg', [])).toThrow(/needs a cutoff/);
    expect(() => parseMetrics('', [10])).toThrow(/--metrics is empty/);
  });

  it('knows which metrics are better lower', () => {
    expect(lowerIsBetter('rmse')).toBe(true);
    expect(lowerIsBetter('mae')).toBe(true);
    expect(lowerIsBetter('ndcg@10')).toBe(false);
  });
});

describe('parseKList', () => {
  it('parses, sorts and de-duplicates', () => {
    expect(parseKList('20,5, 10,5')).toEqual([5, 10, 20]);
    expect(parseKList([10, 1])).toEqual([1, 10]);
  });
  it('names --k and the bad entry', () => {
    expect(() => parseKList('5,ten')).toThrow(/--k must be a comma-separated list of positive integers.*bad entry "ten"/);
    expect(() => parseKList('0')).toThrow(UsageError);
    expect(() => parseKList('')).toThrow(UsageError);
  });
});
