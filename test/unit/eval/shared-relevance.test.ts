import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { prepareEval, restrictToUsers, sharedRelevance } from '../../../src/eval/prepare.js';
import { makeDataset, scoredMf, vocab } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// A fine-tuned candidate knows item n and user u2; the baseline (production) knows neither.
const ds = makeDataset({
  users: ['u0', 'u1', 'u2'],
  items: ['a', 'b', 'c', 'd', 'n'],
  train: [['u0', 'a'], ['u1', 'b'], ['u1', 'c'], ['u2', 'n'], ['u2', 'd']],
  test: [['u0', 'c'], ['u0', 'n'], ['u1', 'd'], ['u2', 'c']],
});
const candidate = { users: vocab(['u0', 'u1', 'u2']), items: vocab(['a', 'b', 'c', 'd', 'n']) };
const baseline = { users: vocab(['u0', 'u1']), items: vocab(['a', 'b', 'c', 'd']) };

describe('gate comparisons: the same users and the same relevant items', () => {
  it('restricts both to the users both evaluate, and counts an item only one can rank as a miss for the other', async () => {
    const a = prepareEval({ dataset: ds, split: 'test', model: candidate, relevanceThreshold: null });
    const b = prepareEval({ dataset: ds, split: 'test', model: baseline, relevanceThreshold: null });
    expect(Array.from(a.users.dataset)).toEqual([0, 1, 2]);
    expect(Array.from(b.users.dataset)).toEqual([0, 1]);
    const both = Uint8Array.from([1, 1, 0]);
    const [sa, sb] = sharedRelevance(restrictToUsers(a, both), restrictToUsers(b, both));
    // u0's relevant n: the candidate ranks it, the baseline does not know it.
    expect(Array.from(sa.unrankableRelevant ?? [])).toEqual([0, 0]);
    expect(Array.from(sb.unrankableRelevant ?? [])).toEqual([1, 0]);

    // Baseline scores a .4 b .3 c .2 d .1: u0 (a excluded) ranks b c d → c at 2; u1 (b, c excluded) a d → d at 2.
    const base = scoredMf({ users: 2, itemScores: [0.4, 0.3, 0.2, 0.1] });
    const opts = { protocol: { name: 'full' } as const, metrics: parseMetrics('recall@2', [2]), ratingRange: null, userBlock: 4 };
    const shared = await evaluate(base, sb, opts);
    const alone = await evaluate(base, restrictToUsers(b, both), opts);
    // u0: 1 hit of R = 2 (c, and n which it cannot rank) under the shared rule, 1 of 1 alone; u1: 1 of 1.
    expect(shared.metrics['recall@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(alone.metrics['recall@2']).toBeCloseTo((1 + 1) / 2, 12);
    base.keras.dispose();
  });

  it('refuses preparations of different users', () => {
    const a = prepareEval({ dataset: ds, split: 'test', model: candidate, relevanceThreshold: null });
    const b = prepareEval({ dataset: ds, split: 'test', model: baseline, relevanceThreshold: null });
    expect(() => sharedRelevance(a, b)).toThrow(RangeError);
  });
});
