import { describe, expect, it } from 'vitest';
import type { StudyJson, TrialRecord } from '../../../src/io/study.js';
import { bestOverTime, renderStudyReport, sortTrials } from '../../../src/report/study.js';

const trial = (n: number, status: TrialRecord['status'], value: number | null, minute: number, params: TrialRecord['params']): TrialRecord => ({
  trial: n,
  params,
  status,
  value,
  epochs: value === null ? 0 : 2,
  metric_by_epoch: value === null ? [] : [value + 0.1, value],
  best_epoch: value === null ? null : 2,
  seconds: 10,
  checkpoint: `trials/00${n}`,
  at: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
  ...(status === 'failed' ? { message: 'Training diverged' } : {}),
});

const trials = [
  trial(0, 'completed', 0.95, 1, { 'train.lr': 0.01, 'train.optimizer': 'adam' }),
  trial(1, 'pruned', 0.99, 2, { 'train.lr': 0.1, 'train.optimizer': 'sgd' }),
  trial(2, 'completed', 0.92, 3, { 'train.lr': 0.003, 'train.optimizer': 'adam' }),
  trial(3, 'failed', null, 4, { 'train.lr': 0.9, 'train.optimizer': 'sgd' }),
  trial(4, 'completed', 0.93, 5, { 'train.lr': 0.005, 'train.optimizer': 'sgd' }),
];

const study = {
  started: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  higher_is_better: false,
  metric: 'rmse',
  model: 'mf',
  data: '/data/<u1>',
  sampler: 'tpe',
  pruner: 'median',
  seed: 1,
  status: 'completed',
  counts: { completed: 3, pruned: 1, failed: 1, running: 0 },
  best: { trial: 2, value: 0.92, epoch: 2, params: trials[2].params, checkpoint: 'trials/002', config: 'best.yaml' },
  test: { trial: 2, checkpoint: 'trials/002', split: 'test', metrics: { rmse: 0.93 }, file: 'trials/002/eval-test-full.json', evaluations: 1, note: '' },
  honesty: 'Chosen on validation only.',
  space: {
    file: 'space.yaml',
    params: [
      { key: 'train.lr', line: 1, kind: 'log_uniform', low: 0.001, high: 1 },
      { key: 'train.optimizer', line: 2, kind: 'choice', values: ['adam', 'sgd'] },
    ],
  },
} as unknown as StudyJson;

describe('the study report', () => {
  it('sorts trials best first: completed by value, then pruned, then failed', () => {
    expect(sortTrials(trials, false).map((t) => t.trial)).toEqual([2, 4, 0, 1, 3]);
    expect(sortTrials(trials, true).map((t) => t.trial)).toEqual([0, 4, 2, 1, 3]);
  });

  it('draws the best completed value so far against minutes since the start', () => {
    expect(bestOverTime(study, trials)).toEqual([
      [1, 0.95],
      [3, 0.92],
      [5, 0.92],
    ]);
  });

  it('has the metric by trial, the best so far, one chart per parameter, the test result and escaped paths', () => {
    const html = renderStudyReport(study, trials, { generated: '2026-01-01T00:00:00Z', recVersion: '0.1.0', path: '/studies/<mf>' });
    for (const title of ['validation rmse by trial', 'best rmse so far', 'rmse against train.lr', 'rmse against train.optimizer']) expect(html).toContain(title);
    expect(html).toContain('log10 train.lr');
    expect(html).toContain('train.optimizer (0: adam, 1: sgd)');
    expect(html).toMatch(/Test<\/b> \(trial 2, evaluated once\): rmse 0\.93/);
    expect(html).toContain('/studies/&lt;mf&gt;');
    expect(html).not.toContain('<mf>');
    expect(html).toContain('Training diverged');
  });
});
