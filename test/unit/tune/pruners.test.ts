import { describe, expect, it } from 'vitest';
import { bestSoFar, createPruner, DEFAULT_PRUNER } from '../../../src/tune/pruners.js';

const lower = { ...DEFAULT_PRUNER, higherIsBetter: false };

describe('median pruner', () => {
  const prune = createPruner('median', lower);
  const peers = [
    [1.0, 0.95, 0.93],
    [1.1, 0.99, 0.97],
    [0.98, 0.94, 0.92],
    [1.2, 1.05, 1.0],
  ];

  it('prunes after the warm-up a trial whose best so far is worse than the median of its peers at that epoch', () => {
    expect(prune([1.3, 1.2], peers).prune).toBe(false); // warm-up: 2 epochs
    const v = prune([1.3, 1.2, 1.1], peers);
    expect(v.prune).toBe(true);
    expect(v.reason).toMatch(/median rule at epoch 3: best so far 1\.1 is worse than the median 0\.95 of 4 earlier trials/);
    expect(prune([1.0, 0.95, 0.94], peers).prune).toBe(false);
  });

  it('does not prune before enough peers reached the epoch', () => {
    expect(prune([1.3, 1.2, 1.1], peers.slice(0, 3)).prune).toBe(false);
    expect(prune([1.3, 1.2, 1.1], [...peers.slice(0, 3), [0.9]]).prune).toBe(false);
  });

  it('follows the direction: higher is better for ranking metrics', () => {
    const up = createPruner('median', { ...DEFAULT_PRUNER, higherIsBetter: true });
    expect(up([0.1, 0.1, 0.1], peers.map((c) => c.map((v) => v / 4))).prune).toBe(true);
    expect(up([0.3, 0.3, 0.3], peers.map((c) => c.map((v) => v / 4))).prune).toBe(false);
  });
});

describe('asha pruner', () => {
  const prune = createPruner('asha', lower);
  it('decides only at rung epochs 1, 3, 9 and keeps the top 1/eta there', () => {
    const peers = [[0.9, 0.8, 0.7], [1.0, 0.9, 0.8], [1.1, 1.0, 0.9], [1.2, 1.1, 1.0], [1.3, 1.2, 1.1]];
    // Six trials reached epoch 1: the top floor(6/3) = 2 go on.
    expect(prune([0.95], peers).prune).toBe(false);
    expect(prune([1.05], peers).prune).toBe(true);
    expect(prune([0.95, 0.9], peers).prune).toBe(false); // epoch 2 is no rung
    expect(prune([1.05, 0.9, 0.85], peers).reason).toMatch(/rung epoch 3: 2 of 5 earlier trials were better there; only the top 2 go on/);
  });
});

describe('bestSoFar', () => {
  it('skips epochs without a measure', () => {
    expect(bestSoFar([Number.NaN, 0.5, 0.4], 3, false)).toBe(0.4);
    expect(bestSoFar([Number.NaN], 1, false)).toBeNaN();
    expect(createPruner('none', lower)([9, 9, 9], [[1, 1, 1]]).prune).toBe(false);
  });
});
