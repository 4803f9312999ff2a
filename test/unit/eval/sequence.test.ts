import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../../src/data/dataset.js';
import { evaluate, type EvalOptions, type EvalProtocol } from '../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { prepareEval, SKIP_NO_HISTORY, subsampleUsers } from '../../../src/eval/prepare.js';
import { createValidator } from '../../../src/eval/validate.js';
import type { AnyModel } from '../../../src/models/model.js';
import { UsageError } from '../../../src/util/errors.js';
import { equivalentMf, fakeSequenceModel, type FakeSequenceModel } from './fake-sequence.js';
import { makeDataset, vocab } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Integer embeddings: every score is exact, so the fake sequence model and an MF holding the same
// history sums rank identically, ties included.
const E = [
  [1, 0],
  [0, 1],
  [1, 1],
  [2, -1],
  [-1, 2],
  [1, -2],
  [3, 1],
  [-2, -1],
];
const ITEMS = E.map((_, i) => `i${i}`);
type TimedRow = readonly [user: string, item: string, ts: number];

/**
 * Rows with times, listed per split in (user, ts) order as prep writes them; `seq` restarts in
 * each split, so only the times order a user's rows across splits.
 */
function timedDataset(users: readonly string[], rows: { train: TimedRow[]; valid: TimedRow[]; test: TimedRow[] }): Dataset {
  const strip = (r: TimedRow[]) => r.map(([u, i]) => [u, i] as const);
  const ds = makeDataset({ users, items: ITEMS, train: strip(rows.train), valid: strip(rows.valid), test: strip(rows.test) });
  ds.train.ts = Float64Array.from(rows.train, (r) => r[2]);
  ds.valid.ts = Float64Array.from(rows.valid, (r) => r[2]);
  ds.test.ts = Float64Array.from(rows.test, (r) => r[2]);
  return ds;
}

// Leave-last over each user's time-ordered items. u2 has no train row: a pair model cannot score
// it, a sequence model can once it has a history (test: its valid item).
const TRAIN: TimedRow[] = [
  ['u0', 'i0', 10], ['u0', 'i1', 11],
  ['u1', 'i4', 10],
  ['u3', 'i2', 5], ['u3', 'i5', 7], ['u3', 'i7', 9],
  ['u4', 'i6', 1], ['u4', 'i3', 2],
];
const VALID: TimedRow[] = [['u0', 'i2', 12], ['u1', 'i5', 11], ['u2', 'i1', 3], ['u3', 'i0', 10], ['u4', 'i7', 3]];
const TEST: TimedRow[] = [['u0', 'i3', 13], ['u1', 'i6', 12], ['u2', 'i7', 4], ['u3', 'i4', 11], ['u4', 'i1', 4]];
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const ds = timedDataset(USERS, { train: TRAIN, valid: VALID, test: TEST });
// The same without u2, for comparisons with a pair model (which must skip u2 in test).
const dsNoU2 = timedDataset(
  USERS.filter((u) => u !== 'u2'),
  { train: TRAIN, valid: VALID.filter((r) => r[0] !== 'u2'), test: TEST.filter((r) => r[0] !== 'u2') },
);

/** The leave-last inputs by hand, by user (u0..u4): train for valid, train + valid for test. */
const VALID_HISTORY = [[0, 1], [4], [], [2, 5, 7], [6, 3]];
const TEST_HISTORY = [[0, 1, 2], [4, 5], [1], [2, 5, 7, 0], [6, 3, 7]];
const withoutU2 = (h: number[][]) => h.filter((_, u) => u !== 2);

const model = { users: ds.users, items: ds.items };
const options = (metrics: string, extra: Partial<EvalOptions> = {}): EvalOptions => ({
  protocol: { name: 'full' },
  metrics: parseMetrics(metrics, [1, 3]),
  ratingRange: null,
  userBlock: 256,
  ...extra,
});
const flatCalls = (m: FakeSequenceModel) => m.calls.flat().map((h) => [...h]);
const RANKING = 'ndcg,hr,recall,mrr,map,auc,coverage';

describe('prepareEval with history input', () => {
  it('valid reads train items, test train + valid, oldest first; an empty history is skipped as no_history', () => {
    const valid = prepareEval({ dataset: ds, split: 'valid', model, relevanceThreshold: null, input: 'history' });
    expect([...valid.users.dataset]).toEqual([0, 1, 3, 4]);
    expect(valid.skipped).toEqual({ [SKIP_NO_HISTORY]: 1 });
    const h = valid.histories!;
    expect(USERS.map((_, u) => [...h.items.subarray(h.offsets[u], h.offsets[u + 1])])).toEqual(VALID_HISTORY);

    const test = prepareEval({ dataset: ds, split: 'test', model, relevanceThreshold: null, input: 'history' });
    // u2 has no training row, yet is evaluated from its valid item; a pair model skips it.
    expect([...test.users.dataset]).toEqual([0, 1, 2, 3, 4]);
    expect(test.skipped).toEqual({});
    const t = test.histories!;
    expect(USERS.map((_, u) => [...t.items.subarray(t.offsets[u], t.offsets[u + 1])])).toEqual(TEST_HISTORY);
    expect(prepareEval({ dataset: ds, split: 'test', model, relevanceThreshold: null }).skipped).toEqual({ cold_user: 1 });
  });

  it('evaluates users outside the model vocabulary from their history, and maps items by raw id', () => {
    // The model knows items in another order and lacks user u1 entirely.
    const other = { users: vocab(['u0', 'u3']), items: vocab([...ITEMS].reverse()) };
    const p = prepareEval({ dataset: ds, split: 'test', model: other, relevanceThreshold: null, input: 'history' });
    expect([...p.users.dataset]).toEqual([0, 1, 2, 3, 4]);
    const h = p.histories!;
    const u0 = [...h.items.subarray(h.offsets[0], h.offsets[1])];
    expect(u0).toEqual([0, 1, 2].map((i) => 7 - i));
  });
});

describe('evaluate a sequence model', () => {
  const seqPrep = (data: Dataset, split: 'valid' | 'test') => prepareEval({ dataset: data, split, model: { users: data.users, items: data.items }, relevanceThreshold: null, input: 'history' });
  const pairPrep = (data: Dataset, split: 'valid' | 'test') => prepareEval({ dataset: data, split, model: { users: data.users, items: data.items }, relevanceThreshold: null });

  it('full ranking scores valid from train items and test from train + valid', async () => {
    const valid = fakeSequenceModel(E);
    const v = await evaluate(valid, seqPrep(ds, 'valid'), options(RANKING));
    expect(flatCalls(valid)).toEqual(withoutU2(VALID_HISTORY));
    expect(v.users).toEqual({ evaluated: 4, skipped: 1, skipped_by_reason: { no_history: 1 } });

    const test = fakeSequenceModel(E);
    const t = await evaluate(test, seqPrep(ds, 'test'), options(RANKING));
    expect(flatCalls(test)).toEqual(TEST_HISTORY);
    expect(t.users.evaluated).toBe(5);
  });

  const protocols: [string, EvalProtocol][] = [
    ['full', { name: 'full' }],
    ['sampled', { name: 'sampled', n: 4, seed: 3 }],
    [
      'candidates',
      {
        name: 'candidates',
        file: 'c.tsv',
        lists: [
          { user: 'u0', items: ['i5', 'i6', 'i7', 'i4', 'i2'], line: 1 },
          { user: 'u1', items: ['i0', 'i1', 'i2', 'i3', 'i7'], line: 2 },
          { user: 'u3', items: ['i6', 'i3', 'i1', 'i5', 'i2'], line: 3 },
          { user: 'u4', items: ['i0', 'i2', 'i4', 'i5', 'i6'], line: 4 },
        ],
      },
    ],
  ];
  for (const [name, protocol] of protocols) {
    it(`${name}: the same metrics as an MF holding each user's history sum, on valid and on test`, async () => {
      for (const [split, histories] of [['valid', withoutU2(VALID_HISTORY)], ['test', withoutU2(TEST_HISTORY)]] as const) {
        const seq = await evaluate(fakeSequenceModel(E), seqPrep(dsNoU2, split), options(RANKING, { protocol }));
        const pair = await evaluate(equivalentMf(E, histories), pairPrep(dsNoU2, split), options(RANKING, { protocol }));
        expect(seq.users).toEqual(pair.users);
        expect(seq.metrics).toEqual(pair.metrics);
        expect(seq.candidates).toEqual(pair.candidates);
        // Not a vacuous match: the relevant items are neither all first nor all last.
        expect(seq.metrics.auc).toBeGreaterThan(0);
        expect(seq.metrics.auc).toBeLessThan(1);
      }
    });
  }

  it('reads only the last maxLen items of a history', async () => {
    const short = fakeSequenceModel(E, { maxLen: 2 });
    const seq = await evaluate(short, seqPrep(dsNoU2, 'test'), options(RANKING));
    const pair = await evaluate(equivalentMf(E, withoutU2(TEST_HISTORY), 2), pairPrep(dsNoU2, 'test'), options(RANKING));
    expect(seq.metrics).toEqual(pair.metrics);
    const long = await evaluate(fakeSequenceModel(E), seqPrep(dsNoU2, 'test'), options(RANKING));
    expect(long.metrics).not.toEqual(seq.metrics);
  });

  it('gives the same results whatever the block size or memory budget, under every protocol', async () => {
    // 64 bytes of encoder per user and 8 per score: a 100-byte budget holds one user and a few
    // items, so full ranking chunks the catalogue and list protocols score one small group at a time.
    const m = (): AnyModel => fakeSequenceModel(E, { bytesPerUser: 64 });
    for (const [, protocol] of protocols) {
      const roomy = await evaluate(m(), seqPrep(ds, 'test'), options(RANKING, { protocol }));
      const oneUser = await evaluate(m(), seqPrep(ds, 'test'), options(RANKING, { protocol, userBlock: 1 }));
      const tiny = await evaluate(m(), seqPrep(ds, 'test'), options(RANKING, { protocol, budgetBytes: 100 }));
      expect(oneUser.metrics).toEqual(roomy.metrics);
      expect(tiny.metrics).toEqual(roomy.metrics);
    }
    const chunked = fakeSequenceModel(E, { bytesPerUser: 64 });
    await evaluate(chunked, seqPrep(ds, 'test'), options(RANKING, { budgetBytes: 100 }));
    // (100 - 64) / 8 = 4 items a call: every user is encoded twice for the 8-item catalogue.
    expect(chunked.calls.length).toBe(2 * 5);
  });

  it('refuses rmse and mae, naming the metric', async () => {
    const call = evaluate(fakeSequenceModel(E), seqPrep(ds, 'test'), options('rmse'));
    await expect(call).rejects.toThrow(UsageError);
    await expect(evaluate(fakeSequenceModel(E), seqPrep(ds, 'test'), options('mae,ndcg@3'))).rejects.toThrow(/^mae: sasrec is a sequence model/);
  });

  it('is refused with a prep for the other kind of model', async () => {
    await expect(evaluate(fakeSequenceModel(E), pairPrep(ds, 'test'), options('ndcg@3'))).rejects.toThrow(/input 'history'/);
    await expect(evaluate(equivalentMf(E, TEST_HISTORY), seqPrep(ds, 'test'), options('ndcg@3'))).rejects.toThrow(/input 'user'/);
  });
});

describe('per-epoch validation of a sequence model', () => {
  it('ranks valid from train items, with the metrics of the equivalent pair model', async () => {
    const validate = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 2, maxUsers: 0, seed: 1 });
    const seq = fakeSequenceModel(E);
    const got = await validate(seq);
    expect(flatCalls(seq)).toEqual(withoutU2(VALID_HISTORY));
    expect(got).toEqual(await validate(equivalentMf(E, VALID_HISTORY)));
    expect(Object.keys(got).sort()).toEqual(['ndcg@10', 'recall@10']);
    // Later epochs reuse the prepared split.
    await validate(seq);
    expect(flatCalls(seq)).toEqual([...withoutU2(VALID_HISTORY), ...withoutU2(VALID_HISTORY)]);
  });

  it('ranks the same user sample as for a pair model', async () => {
    const validate = createValidator(ds, { ratings: false, monitor: 'ndcg@10', userBlock: 8, maxUsers: 2, seed: 5 });
    expect(validate.sample).toEqual({ users: 2, of: 4, seed: 5 });
    const seq = fakeSequenceModel(E);
    await validate(seq);
    const sampled = subsampleUsers(prepareEval({ dataset: ds, split: 'valid', model, relevanceThreshold: null }), 2, 5);
    expect(flatCalls(seq)).toEqual([...sampled.users.dataset].map((u) => VALID_HISTORY[u]));
  });

  it('refuses rating metrics for a sequence model, naming --early-stop', async () => {
    const validate = createValidator(ds, { ratings: true, monitor: 'rmse', userBlock: 8, maxUsers: 0, seed: 5 });
    await expect(validate(fakeSequenceModel(E))).rejects.toThrow(/--early-stop rmse: sasrec is a sequence model/);
  });
});
