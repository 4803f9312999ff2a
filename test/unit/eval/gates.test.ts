import { describe, expect, it } from 'vitest';
import { checkFailUnder, checkMaxDrop, describeFailure, parseGates } from '../../../src/eval/gates.js';
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

describe('describeFailure', () => {
  const drop = (mine: number, base: number, gate: string, metric = 'ndcg@20') =>
    describeFailure(checkMaxDrop({ [metric]: mine }, { [metric]: base }, parseGates([gate], '--max-drop', true))[0]);

  it('states a drop in the unit of its limit: a share of the baseline for %, else absolute', () => {
    // The Tmall night of docs/nightly.md: production 0.0591, candidate 0.0522 (−11.7 %).
    expect(drop(0.05218328365676134, 0.05911304720992199, 'ndcg@20=10%')).toBe('ndcg@20 0.0522 vs baseline 0.0591: dropped 11.7% (allowed 10%) (--max-drop)');
    expect(drop(0.05218328365676134, 0.05911304720992199, 'ndcg@20=0.005')).toBe('ndcg@20 0.0522 vs baseline 0.0591: dropped 0.0069 (allowed 0.005) (--max-drop)');
    expect(drop(0.931, 0.925, 'rmse=0.005', 'rmse')).toBe('rmse 0.9310 vs baseline 0.9250: rose 0.0060 (allowed 0.005) (--max-drop)');
    expect(drop(1.02, 0.925, 'rmse=10%', 'rmse')).toBe('rmse 1.0200 vs baseline 0.9250: rose 10.3% (allowed 10%) (--max-drop)');
  });

  it('never rounds a failing drop onto its limit', () => {
    expect(drop(0.35984, 0.4, 'ndcg@20=10%')).toBe('ndcg@20 0.3598 vs baseline 0.4000: dropped 10.04% (allowed 10%) (--max-drop)');
    expect(drop(0.39498, 0.4, 'ndcg@20=0.005')).toBe('ndcg@20 0.3950 vs baseline 0.4000: dropped 0.00502 (allowed 0.005) (--max-drop)');
    const under = checkFailUnder({ 'ndcg@20': 0.29996 }, parseGates(['ndcg@20=0.3'], '--fail-under', false))[0];
    expect(describeFailure(under)).toBe('ndcg@20 0.29996 is below the floor 0.3 (--fail-under)');
  });

  it('says when a share cannot be taken or nothing can be compared', () => {
    expect(drop(0.1, 0, 'rmse=10%', 'rmse')).toBe('rmse 0.1000 vs baseline 0.0000: rose 0.1000 (allowed 10% of 0, i.e. none) (--max-drop)');
    expect(drop(Number.NaN, 0.05, 'ndcg@20=10%')).toBe('ndcg@20 NaN vs baseline 0.0500: cannot be compared (allowed 10%) (--max-drop)');
    const nan = checkFailUnder({ 'ndcg@20': Number.NaN }, parseGates(['ndcg@20=0.3'], '--fail-under', false))[0];
    expect(describeFailure(nan)).toBe('ndcg@20 NaN is not a number, so not within the limit 0.3 (--fail-under)');
  });
});
