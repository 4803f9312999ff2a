import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepSchema } from '../../../src/config/schema.js';
import { loadDataset, manifestSha256 } from '../../../src/data/dataset.js';
import { runPrep } from '../../../src/data/prep/run.js';
import { itemsOf, userItemSets, type UserItems } from '../../../src/data/user-items.js';
import { initEngine } from '../../../src/engine/backend.js';
import { recommend, type RecommendSource, type UserQueries } from '../../../src/recommend/recommend.js';
import { readItemVectors } from '../../../src/recommend/similar.js';
import { readDatasetFacts } from '../../../src/recommend/source.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger, silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';
import { equivalentMf, fakeSequenceModel } from '../eval/fake-sequence.js';
import { tempRoot } from '../train/helpers.js';
import { vocabOf } from './helpers.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

const E = [
  [1, 0],
  [0, 1],
  [1, 1],
  [2, -1],
  [-1, 2],
  [1, -2],
  [3, 1],
];
const ITEM_IDS = E.map((_, i) => `i${i}`);
// u0 and u1 touched items in every split; u2 only has items outside train (a pair model's cold
// user); u3 has no history at all.
const HISTORY = [[0, 1, 2, 3], [4, 5, 6], [3], []];
const POPULARITY = [5, 1, 9, 2, 7, 3, 8];

function csr(lists: readonly number[][]): UserItems {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, u) => (offsets[u + 1] = offsets[u] + l.length));
  return { offsets, items: Int32Array.from(lists.flat()) };
}

const seen = userItemSets(HISTORY.length, [{ users: Int32Array.from(HISTORY.flatMap((l, u) => l.map(() => u))), items: Int32Array.from(HISTORY.flat()) }]);
const source = (overrides: Partial<RecommendSource> = {}): RecommendSource => ({
  model: fakeSequenceModel(E),
  itemIds: ITEM_IDS,
  popularity: POPULARITY,
  seen,
  // Only u0 has training rows: a pair model would serve u1 and u2 popular items.
  trained: Uint8Array.from([1, 0, 0, 0]),
  histories: csr(HISTORY),
  ...overrides,
});
const queries: UserQueries = { labels: ['u0', 'u1', 'u2', 'u3', 'stranger'], indices: Int32Array.from([0, 1, 2, 3, -1]) };

describe('recommend with a sequence model', () => {
  it('scores each user from their whole history and excludes it; an empty history gets popular items, cold', () => {
    const got = recommend(source(), queries, { k: 3, excludeSeen: true });
    const pair = recommend({ ...source(), model: equivalentMf(E, HISTORY), trained: null, histories: null }, queries, { k: 3, excludeSeen: true });
    expect(got.slice(0, 3)).toEqual(pair.slice(0, 3));
    expect(got.map((r) => r.cold)).toEqual([false, false, false, true, true]);
    // u0: history sum (4, 1); unseen items 4, 5, 6 score -2, 2, 13.
    expect(got[0].items).toEqual([
      { item: 'i6', score: 13 },
      { item: 'i5', score: 2 },
      { item: 'i4', score: -2 },
    ]);
    for (const [u, r] of got.entries()) for (const s of r.items) expect(HISTORY[u] ?? []).not.toContain(ITEM_IDS.indexOf(s.item));
    // Cold users: the most popular items (i2, i6, i4), scored by their counts.
    expect(got[3].items).toEqual([
      { item: 'i2', score: 9 },
      { item: 'i6', score: 8 },
      { item: 'i4', score: 7 },
    ]);
    expect(got[4]).toEqual({ ...got[3], user: 'stranger' });
  });

  it('--include-seen keeps the history items', () => {
    const got = recommend(source(), queries, { k: E.length, excludeSeen: false });
    const u0 = got[0].items.map((s) => s.item);
    expect(u0).toHaveLength(E.length);
    expect(u0.slice(0, 2)).toEqual(['i6', 'i3']);
  });

  it('gives the same lists whatever the block size or memory budget', () => {
    const model = fakeSequenceModel(E, { bytesPerUser: 64 });
    const roomy = recommend(source({ model }), queries, { k: 4, excludeSeen: true });
    expect(recommend(source({ model }), queries, { k: 4, excludeSeen: true, blockSize: 1 })).toEqual(roomy);
    expect(recommend(source({ model }), queries, { k: 4, excludeSeen: true, budgetBytes: 100 })).toEqual(roomy);
  });

  it('needs the histories', () => {
    expect(() => recommend(source({ histories: null }), queries, { k: 3, excludeSeen: true })).toThrow(/from their histories/);
  });

  it('--similar-to reads the item embeddings', () => {
    const v = readItemVectors(fakeSequenceModel(E), "sasrec");
    expect({ count: v.count, dim: v.dim, data: [...v.data] }).toEqual({ count: E.length, dim: 2, data: E.flat() });
  });
});

describe('readDatasetFacts for a sequence model', () => {
  const temp = tempRoot('rec-recommend-seq-');

  async function prepTimed(out: string): Promise<string> {
    // Leave-last: each user's last row → test, the one before → valid. The log lists rows out of
    // time order, so only the timestamps give the order of a history.
    const rows = [
      ['a', 'x1', 30], ['b', 'x2', 5], ['a', 'x2', 10], ['a', 'x3', 20], ['b', 'x3', 6], ['a', 'x4', 40], ['b', 'x1', 7], ['c', 'x4', 1],
    ] as const;
    const log = `${out}.csv`;
    writeFileSync(log, `user,item,ts\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    await runPrep(
      { inputs: [log], out, config: prepSchema.parse({ split: 'leave-last', feedback: 'implicit' }), seed: 1, recVersion: 'test' },
      { log: silentLogger, progress: noProgress },
    );
    return out;
  }

  it('reads every split of the dataset in time order as each user\'s history', async () => {
    const dir = await prepTimed(temp('data'));
    const ds = await loadDataset(dir);
    const run = { dataset: { path: dir, manifest_sha256: await manifestSha256(dir) }, parents: [] };
    const facts = await readDatasetFacts('/ckpt', run, null, ds.users, ds.items.ids.length, 'sasrec', silentLogger);
    const h = facts!.histories!;
    const items = (user: string) => [...itemsOf(h, ds.users.lookup(user))].map((i) => ds.items.ids[i]);
    expect(items('a')).toEqual(['x2', 'x3', 'x1', 'x4']);
    expect(items('b')).toEqual(['x2', 'x3', 'x1']);
    expect(items('c')).toEqual(['x4']);
    // Pair models do not pay for histories.
    expect((await readDatasetFacts('/ckpt', run, null, ds.users, ds.items.ids.length, null, silentLogger))!.histories).toBeUndefined();
  });

  it('a gone or changed dataset is a usage error pointing at --data, where a pair model only warns', async () => {
    const users = vocabOf(['a', 'b', 'c']);
    const gone = { dataset: { path: temp('nowhere'), manifest_sha256: 'x' }, parents: [] };
    const call = readDatasetFacts('/ckpt', gone, null, users, 4, 'sasrec', silentLogger);
    await expect(call).rejects.toThrow(UsageError);
    await expect(readDatasetFacts('/ckpt', gone, null, users, 4, 'sasrec', silentLogger)).rejects.toThrow(/sasrec model.*is gone.*--data DIR/);
    const log = memoryLogger('warn');
    expect(await readDatasetFacts('/ckpt', gone, null, users, 4, null, log)).toBeNull();
    expect(log.lines.join('\n')).toMatch(/is gone: seen items are not excluded/);

    const dir = await prepTimed(temp('data2'));
    const changed = { dataset: { path: dir, manifest_sha256: 'not-its-hash' }, parents: [] };
    await expect(readDatasetFacts('/ckpt', changed, null, users, 4, 'sasrec', silentLogger)).rejects.toThrow(/changed since training.*--data DIR/);
  });
});
