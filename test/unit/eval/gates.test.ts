import { describe, expect, it } from 'vitest';
import { checkFailUnder, checkMaxDrop, parseGates } from '../../../src/eval/gates.js';
import { UsageError } from '../../../src/util/errors.js';

describe('parseGates', () => {
  it('reads repeated and comma-separated METRIC=VALUE entries', () => {
    expect(parseGates(['ndcg@10=0.3,recall@10=0.2', 'RMSE=0.95'], '--fail-under', false)).toEqual([
      { metric: 'ndcg@10', value: 0.3, percent: false, flag: '--fail-under' },
      { metric: 'recall@10', value: 0.2, percent: false, flag: '--fail-under' },
      { metric: 'rmse', value: 0.95, percent: false, flag: '--fail-under' },
    ]);
    expect(parseGates(['ndcg@10=2%'], '--max-drop', true)[0]).toMatchObject({ value: 2, percent: true });
  });

  it('rejects malformed entries, naming the flag', () => {
    expect(() => parseGates(['ndcg@10'], '--fail-under', false)).toThrow(/--fail-under: cannot read "ndcg@10"/);
    expect(() => parseGates(['ndcg@10=2%'], '--fail-under', false)).toThrow(UsageError);
    expect(() => parseGates(['ndcg@10=-1'], '--max-drop', true)).toThrow(/must not be negative/);
    // Number() would read these as 16, Infinity, Infinity or 0: a gate that never fails, or always does.
    for (const bad of ['ndcg@10=0x10', 'ndcg@10=1e999', 'ndcg@10=Infinity', 'ndcg@10=', 'ndcg@10=0.3abc', 'ndcg@10=0b1', 'ndcg@10=1e999%']) {
      expect(() => parseGates([bad], '--max-drop', true)).toThrow(UsageError);
      expect(() => parseGates([bad], '--max-drop', true)).toThrow(`--max-drop: cannot read "${bad}". Expected METRIC=VALUE[%] with VALUE a finite decimal`);
    }
    expect(parseGates(['ndcg@10 = .25', 'rmse=5e-3', 'hr@10=+1'], '--fail-under', false).map((g) => g.value)).toEqual([0.25, 0.005, 1]);
  });
});

describe('checkFailUnder', () => {
  it('holds ranking metrics to a floor and error metrics to a ceiling', () => {
    const gates = parseGates(['ndcg@10=0.3', 'rmse=0.95'], '--fail-under', false);
    expect(checkFailUnder({ 'ndcg@10': 0.3, rmse: 0.95 }, gates).map((c) => c.passed)).toEqual([true, true]);
    expect(checkFailUnder({ 'ndcg@10': 0.2999, rmse: 0.9501 }, gates).map((c) => c.passed)).toEqual([false, false]);
    expect(checkFailUnder({ 'ndcg@10': NaN, rmse: 0.9 }, gates)[0].passed).toBe(false);
  });

  it('is a usage error when the metric was not computed', () => {
    expect(() => checkFailUnder({ 'ndcg@10': 0.3 }, parseGates(['hr@10=0.5'], '--fail-under', false))).toThrow(/hr@10.*not computed.*ndcg@10/);
  });
});

describe('checkMaxDrop', () => {
  it('compares with the baseline, absolute or relative, inverting for error metrics', () => {
    const abs = parseGates(['ndcg@10=0.01', 'rmse=0.005'], '--max-drop', true);
    const ok = checkMaxDrop({ 'ndcg@10': 0.39, rmse: 0.93 }, { 'ndcg@10': 0.4, rmse: 0.925 }, abs);
    expect(ok.map((c) => c.passed)).toEqual([true, true]);
    const bad = checkMaxDrop({ 'ndcg@10': 0.385, rmse: 0.931 }, { 'ndcg@10': 0.4, rmse: 0.925 }, abs);
    expect(bad.map((c) => c.passed)).toEqual([false, false]);
    expect(bad[1].drop).toBeCloseTo(0.006, 12);
    const rel = parseGates(['ndcg@10=5%'], '--max-drop', true);
    expect(checkMaxDrop({ 'ndcg@10': 0.381 }, { 'ndcg@10': 0.4 }, rel)[0].passed).toBe(true);
    expect(checkMaxDrop({ 'ndcg@10': 0.379 }, { 'ndcg@10': 0.4 }, rel)[0].passed).toBe(false);
    // An improvement always passes.
    expect(checkMaxDrop({ 'ndcg@10': 0.5 }, { 'ndcg@10': 0.4 }, parseGates(['ndcg@10=0'], '--max-drop', true))[0].passed).toBe(true);
  });
});
