import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema } from '../../../src/config/schema.js';
import { evaluate } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { prepareEval } from '../../../src/eval/prepare.js';
import { bytesPerScore, createBlockPacer, planScoreBlocks, SCORE_BLOCK_BUDGET_BYTES, scoreUserBlock, scoreUserLists } from '../../../src/eval/score-blocks.js';
import type { PairModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { recommend } from '../../../src/recommend/recommend.js';
import { makeDataset } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function neumf(users: number, items: number): PairModel {
  let seed = 11;
  return buildModel('neumf', { config: modelSchema.parse({ dim: 4 }), shape: { users, items, globalMean: 0 }, nextSeed: () => seed++ });
}

function fullMatrix(model: PairModel, users: Int32Array): Float32Array {
  return tf.tidy(() => Float32Array.from(model.scoreMatrix(tf.tensor1d(users, 'int32'), tf.range(0, model.shape.items, 1, 'int32') as TF.Tensor1D).dataSync()));
}

describe('planScoreBlocks', () => {
  it('keeps a NeuMF block over a large catalogue under the budget, chunking items when one user does not fit', () => {
    // The Taobao excerpt's catalogue, the default NeuMF tower ([64,32,16,8]), and a catalogue so
    // large that a single user's scores through the tower are over the budget.
    const bytes = bytesPerScore(neumf(2, 2));
    const fresh = buildModel('neumf', { config: modelSchema.parse({ dim: 8 }), shape: { users: 2, items: 2, globalMean: 0 }, nextSeed: () => 3 });
    // The tower's two 32-wide activations per pair are in the estimate, not just the output float.
    expect(bytesPerScore(fresh)).toBeGreaterThanOrEqual(4 * 2 * 32);
    for (const numItems of [84_793, 5_000_000, 50_000_000]) {
      for (const perScore of [bytes, bytesPerScore(fresh), 20]) {
        const plan = planScoreBlocks({ numItems, bytesPerScore: perScore, maxUsers: 256 });
        expect(plan.maxUsers).toBeGreaterThanOrEqual(1);
        expect(plan.maxUsers).toBeLessThanOrEqual(256);
        expect(plan.itemChunk).toBeGreaterThanOrEqual(1);
        expect(plan.itemChunk).toBeLessThanOrEqual(numItems);
        // What one scoreMatrix call holds: block users × item chunk × bytes per score.
        expect(plan.maxUsers * plan.itemChunk * perScore).toBeLessThanOrEqual(SCORE_BLOCK_BUDGET_BYTES);
        if (plan.itemChunk < numItems) expect(plan.maxUsers).toBe(1);
      }
    }
    // 256 users × 84,793 items × ≥256 bytes is over 5 GB: the old fixed block.
    expect(planScoreBlocks({ numItems: 84_793, bytesPerScore: bytesPerScore(fresh), maxUsers: 256 }).maxUsers).toBeLessThan(16);
    expect(planScoreBlocks({ numItems: 100, bytesPerScore: 20, maxUsers: 64 })).toMatchObject({ maxUsers: 64, itemChunk: 100 });
  });

  it("counts a sequence model's per-user activations in every user's cost", () => {
    // 1 MiB of encoder per user (e.g. attention over 200 positions) and 20 bytes per score.
    const plan = planScoreBlocks({ numItems: 10_000, bytesPerScore: 20, bytesPerUser: 1 << 20, maxUsers: 1000, budgetBytes: 64 << 20 });
    expect(plan.maxUsers).toBe(Math.floor((64 << 20) / (10_000 * 20 + (1 << 20))));
    expect(plan.maxUsers * (10_000 * 20 + (1 << 20))).toBeLessThanOrEqual(64 << 20);
    // One user over budget: the item chunk gets what the user's own share leaves.
    const tight = planScoreBlocks({ numItems: 10_000, bytesPerScore: 20, bytesPerUser: 1000, maxUsers: 8, budgetBytes: 21_000 });
    expect(tight).toMatchObject({ maxUsers: 1, itemChunk: 1000 });
  });

  it('scoreUserLists scores each user over their own list, whatever the budget', () => {
    const model = neumf(5, 30);
    const users = Int32Array.from([4, 0, 2, 2, 1]);
    const lists = [[3, 9, 29], [0], [], [7, 7, 12, 3], [28, 1]].map((l) => Int32Array.from(l));
    const full = fullMatrix(model, users);
    const expected = lists.map((l, j) => Float32Array.from(l, (i) => full[j * 30 + i]));
    const perScore = bytesPerScore(model);
    for (const budget of [undefined, 3 * perScore, 1]) expect(scoreUserLists(model, users, lists, budget)).toEqual(expected);
  });

  it('the pacer never exceeds the plan and shrinks after a slow block', () => {
    const plan = planScoreBlocks({ numItems: 1000, bytesPerScore: 20, maxUsers: 100 });
    const pacer = createBlockPacer(plan, 100);
    expect(pacer.next()).toBe(2);
    pacer.took(2, 1);
    expect(pacer.next()).toBe(8);
    pacer.took(8, 1);
    expect(pacer.next()).toBe(32);
    pacer.took(32, 1);
    expect(pacer.next()).toBe(100);
    pacer.took(100, 1000);
    expect(pacer.next()).toBe(10);
  });
});

describe('blocked and chunked scores equal unblocked ones', () => {
  const numUsers = 7;
  const numItems = 53;
  const model = neumf(numUsers, numItems);
  const users = Int32Array.from([6, 0, 3, 3, 1]);

  it('scoreUserBlock in item chunks stitches the same matrix as one scoreMatrix call', () => {
    const whole = fullMatrix(model, users);
    const perScore = bytesPerScore(model);
    // A budget of 10 scores: blocks of one user, items in chunks of 10 (the last one 3 wide).
    const plan = planScoreBlocks({ numItems, bytesPerScore: perScore, maxUsers: 256, budgetBytes: 10 * perScore });
    expect(plan).toMatchObject({ maxUsers: 1, itemChunk: 10 });
    const chunked = new Float32Array(users.length * numItems);
    for (let j = 0; j < users.length; j++) chunked.set(scoreUserBlock(model, users.subarray(j, j + 1), plan), j * numItems);
    expect(chunked).toEqual(whole);
    const roomy = planScoreBlocks({ numItems, bytesPerScore: perScore, maxUsers: 256 });
    expect(scoreUserBlock(model, users, roomy)).toEqual(whole);
  });

  it('evaluate and recommend give the same results under a tiny budget', async () => {
    const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const ds = makeDataset({
      users: ids('u', numUsers),
      items: ids('i', numItems),
      // Every item gets a training row (cold items would not be ranked at all).
      train: Array.from({ length: Math.max(numUsers, numItems) }, (_, r) => [`u${r % numUsers}`, `i${(r * 5) % numItems}`] as const),
      test: Array.from({ length: numUsers * 2 }, (_, r) => [`u${r % numUsers}`, `i${(r * 11 + 3) % numItems}`] as const),
    });
    const prep = prepareEval({ dataset: ds, split: 'test', model: { users: ds.users, items: ds.items }, relevanceThreshold: null });
    const metrics = parseMetrics('ndcg,recall,auc,coverage', [5, 10]);
    const base = { protocol: { name: 'full' } as const, metrics, ratingRange: null };
    const roomy = await evaluate(model, prep, { ...base, userBlock: 256 });
    const tiny = await evaluate(model, prep, { ...base, userBlock: 256, budgetBytes: 10 * bytesPerScore(model) });
    expect(tiny.metrics).toEqual(roomy.metrics);
    expect(tiny.users.evaluated).toBe(numUsers);

    const source = { model, itemIds: ds.items.ids, popularity: new Int32Array(numItems), seen: null, trained: null };
    const queries = { labels: ds.users.ids, indices: Int32Array.from({ length: numUsers }, (_, u) => u) };
    const a = recommend(source, queries, { k: 10, excludeSeen: false });
    const b = recommend(source, queries, { k: 10, excludeSeen: false, budgetBytes: 7 * bytesPerScore(model) });
    expect(b).toEqual(a);
  });
});
