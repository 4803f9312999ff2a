import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { itemsOf } from '../../../src/data/user-items.js';
import { prepareEval, subsampleUsers } from '../../../src/eval/prepare.js';
import { createValidator, defaultValidUsers } from '../../../src/eval/validate.js';
import { memoryLogger } from '../../../src/util/log.js';
import { makeDataset, scoredMf } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const NUM_USERS = 40;
const NUM_ITEMS = 12;
const users = Array.from({ length: NUM_USERS }, (_, u) => `u${u}`);
const items = Array.from({ length: NUM_ITEMS }, (_, i) => `i${i}`);
const ds = makeDataset({
  users,
  items,
  train: users.map((u, k) => [u, `i${k % NUM_ITEMS}`] as const),
  valid: users.flatMap((u, k) => [[u, `i${(k + 1) % NUM_ITEMS}`] as const, [u, `i${(k * 7 + 3) % NUM_ITEMS}`] as const]),
});
const model = () => scoredMf({ users: NUM_USERS, itemScores: items.map((_, i) => (i * 37) % 11) });
const prepared = () => prepareEval({ dataset: ds, split: 'valid', model: { users: ds.users, items: ds.items }, relevanceThreshold: null });

describe('validation user sample', () => {
  it('is the same users for the same seed, other users for another seed, ascending', () => {
    const a = subsampleUsers(prepared(), 10, 2020);
    const b = subsampleUsers(prepared(), 10, 2020);
    const c = subsampleUsers(prepared(), 10, 7);
    expect(a.users.model.length).toBe(10);
    expect([...b.users.model]).toEqual([...a.users.model]);
    expect([...c.users.model]).not.toEqual([...a.users.model]);
    expect([...a.users.model]).toEqual([...a.users.model].sort((x, y) => x - y));
    // Each kept user keeps its own rows.
    const full = prepared();
    a.users.dataset.forEach((u, n) => {
      const j = full.users.dataset.indexOf(u);
      expect([...itemsOf(a.relevant, n)]).toEqual([...itemsOf(full.relevant, j)]);
      expect([...itemsOf(a.exclude, n)]).toEqual([...itemsOf(full.exclude, j)]);
    });
  });

  it('keeps every user when the split is small enough or the cap is 0', () => {
    const full = prepared();
    expect(subsampleUsers(full, NUM_USERS, 1)).toBe(full);
    expect(subsampleUsers(full, 0, 1)).toBe(full);
  });

  it('is stated in the log and on the validator, and its metrics are those of the sampled users', async () => {
    const log = memoryLogger('info');
    const validate = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: 10, seed: 2020, log });
    expect(validate.sample).toEqual({ users: 10, of: NUM_USERS, seed: 2020 });
    expect(log.lines.join('\n')).toMatch(/ranking 10 of 40 valid users \(seeded sample, seed 2020, --valid-users 10;/);
    const got = await validate(model());
    const expected = await evaluate(model(), subsampleUsers(prepared(), 10, 2020), {
      protocol: { name: 'full' },
      metrics: parseMetrics(['ndcg@10', 'recall@10'], []),
      ratingRange: null,
      userBlock: 256,
    });
    expect(got).toEqual(expected.metrics);
    const all = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: 0, seed: 2020, log: memoryLogger('info') });
    expect(all.sample).toEqual({ users: NUM_USERS, of: NUM_USERS, seed: null });
  });

  it('--valid-protocol sampled:N ranks each valid item against N seeded negatives, the same ones every epoch', async () => {
    const log = memoryLogger('info');
    const validate = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: 0, seed: 2020, protocol: { name: 'sampled', n: 5 }, log });
    expect(log.lines.join('\n')).toMatch(/each valid item ranked against 5 seeded negatives/);
    const got = await validate(model());
    const expected = await evaluate(model(), prepared(), {
      protocol: { name: 'sampled', n: 5, seed: 2020 },
      metrics: parseMetrics(['ndcg@10', 'recall@10'], []),
      ratingRange: null,
      userBlock: 256,
    });
    expect(got).toEqual(expected.metrics);
    expect(await validate(model())).toEqual(got);
    // Against 5 negatives, not all 12 items: another figure than the full ranking's.
    const full = await createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: 0, seed: 2020 })(model());
    expect(got['recall@10']).toBeGreaterThan(full['recall@10']);
    expect(() => createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: 0, seed: 2020, protocol: { name: 'candidates', file: 'c.tsv' } })).toThrow(/--valid-protocol: candidates/);
  });

  it('by default ranks up to 10,000 users, fewer for a large catalogue, never fewer than 1,000', () => {
    expect(defaultValidUsers(3_706)).toBe(10_000);
    // The Taobao excerpt: 100M scores an epoch over 84,793 items.
    expect(defaultValidUsers(84_793)).toBe(1_179);
    expect(defaultValidUsers(50_000_000)).toBe(1_000);
    const auto = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 4, maxUsers: null, seed: 2020 });
    expect(auto.sample).toEqual({ users: NUM_USERS, of: NUM_USERS, seed: null });
  });

  it('stops at the abort signal between blocks', async () => {
    const controller = new AbortController();
    controller.abort('SIGINT');
    const validate = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 1, maxUsers: 0, seed: 1, signal: controller.signal });
    await expect(validate(model())).rejects.toMatchObject({ name: 'InterruptedError' });
  });
});
