/**
 * recommendBlocksParallel: on a ranking pool's threads, the lists (seen items excluded, untrained
 * items never served, cold users on popular items) are the one-thread path's, for a pair model
 * and a sequence model. The workers run the compiled dist/ entry: `npm run build` first.
 */
import { tf } from '../../../src/engine/tf.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { userItemSets, userSequences } from '../../../src/data/user-items.js';
import { startRankPool, type RankPool } from '../../../src/eval/parallel/pool.js';
import type { AnyModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { recommend, recommendBlocksParallel, recommendPoolInputs, type RecommendSource, type UserQueries } from '../../../src/recommend/recommend.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const USERS = 70;
const ITEMS = 40;
const rng = Prng.fromSeed(5, 'test/recommend-parallel');
const rowUsers: number[] = [];
const rowItems: number[] = [];
// Users 0 … 64 have 6 items each; 65 … 69 none (cold).
for (let u = 0; u < 65; u++) for (const i of rng.permutation(ITEMS).subarray(0, 6)) {
  rowUsers.push(u);
  rowItems.push(i);
}
const rows = { users: Int32Array.from(rowUsers), items: Int32Array.from(rowItems), ts: null, seq: Float64Array.from(rowUsers, (_, r) => r) };
const trained = new Uint8Array(USERS);
for (const u of rowUsers) trained[u] = 1;
const trainedItems = new Uint8Array(ITEMS).fill(1);
trainedItems[3] = 0;
trainedItems[17] = 0;
const base = configSchema.parse({}).model;
const shape = { users: USERS, items: ITEMS, globalMean: 0 };
const queries: UserQueries = { labels: Array.from({ length: USERS + 1 }, (_, u) => `u${u}`), indices: Int32Array.from({ length: USERS + 1 }, (_, u) => (u === USERS ? -1 : u)) };
const sourceOf = (model: AnyModel): RecommendSource => ({
  model,
  itemIds: Array.from({ length: ITEMS }, (_, i) => `i${i}`),
  popularity: Int32Array.from({ length: ITEMS }, (_, i) => (i * 7) % 13),
  seen: userItemSets(USERS, [rows]),
  trained,
  trainedItems,
  histories: model.name === 'sasrec' ? userSequences(USERS, [rows]) : null,
});

let pool: RankPool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

async function compare(model: AnyModel, excludeSeen: boolean): Promise<void> {
  const src = sourceOf(model);
  const opts = { k: 5, excludeSeen, blockSize: 4 };
  const single = recommend(src, queries, opts);
  pool = await startRankPool({ workers: 3, engine: 'cpu', model, prep: null, topK: recommendPoolInputs(src), log: silentLogger });
  const parallel = [];
  for await (const block of recommendBlocksParallel(src, queries, opts, pool)) parallel.push(...block);
  expect(parallel).toEqual(single);
  // Users 65 … 69 have no rows, and the last query is not in the vocabulary.
  expect(single.filter((r) => r.cold)).toHaveLength(6);
  for (const r of single) if (!r.cold) expect(r.items.map((x) => x.item)).not.toContain('i3');
}

describe('recommendBlocksParallel', () => {
  it('neumf on 3 threads: the one-thread lists, seen items excluded or not', async () => {
    const model = buildModel('neumf', { config: { ...base, dim: 8, layers: [16, 8] }, shape, nextSeed: () => 3 });
    await compare(model, true);
    await pool?.close();
    await compare(model, false);
  }, 30_000);

  it('sasrec on 3 threads: the one-thread lists', async () => {
    const model = buildModel('sasrec', { config: { ...base, dim: 8, max_len: 6, blocks: 1, heads: 1 }, shape, nextSeed: () => 3 });
    await compare(model, true);
  }, 30_000);
});
