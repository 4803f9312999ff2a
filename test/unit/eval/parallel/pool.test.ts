/**
 * The ranking pool (src/eval/parallel/pool.ts): with worker threads the full protocol's metrics are
 * the single-thread path's exactly, for a pair model and a sequence model; refreshed weights are
 * the ones ranked; a worker that throws ends the ranking with a RuntimeFailure and leaves no thread.
 * The workers run the compiled dist/ entry: `npm run build` first.
 */
import { tf } from '../../../../src/engine/tf.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/config/schema.js';
import { evaluate, type EvalOptions } from '../../../../src/eval/evaluate.js';
import { parseMetrics } from '../../../../src/eval/metrics/registry.js';
import { startRankPool, type RankPool } from '../../../../src/eval/parallel/pool.js';
import { NO_TEST_HOOKS } from '../../../../src/util/test-hooks.js';
import { resolveRankWorkers } from '../../../../src/eval/parallel/workers.js';
import { prepareEval, type PreparedEval } from '../../../../src/eval/prepare.js';
import type { AnyModel } from '../../../../src/models/model.js';
import { buildModel } from '../../../../src/models/registry.js';
import { RuntimeFailure } from '../../../../src/util/errors.js';
import { silentLogger } from '../../../../src/util/log.js';
import { Prng } from '../../../../src/util/prng.js';
import { makeDataset } from '../helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 90 users × 50 items, 8 train rows and 2 test rows each, drawn from a seeded stream.
const USERS = Array.from({ length: 90 }, (_, u) => `u${u}`);
const ITEMS = Array.from({ length: 50 }, (_, i) => `i${i}`);
const rng = Prng.fromSeed(3, 'test/pool');
const rows = USERS.map((u) => Array.from(rng.permutation(ITEMS.length).subarray(0, 10), (i) => [u, ITEMS[i]] as const));
const ds = makeDataset({ users: USERS, items: ITEMS, train: rows.flatMap((r) => r.slice(0, 8)), test: rows.flatMap((r) => r.slice(8)) });
const base = configSchema.parse({}).model;
const shape = { users: USERS.length, items: ITEMS.length, globalMean: 0 };
const seeds = () => {
  let s = 11;
  return () => (s += 7);
};
const METRICS = parseMetrics('ndcg,hr,recall,precision,mrr,map,auc,coverage', [1, 5, 10]);
// Small blocks: each thread ranks its jobs in several blocks.
const options = (pool?: RankPool): EvalOptions => ({ protocol: { name: 'full' }, metrics: METRICS, ratingRange: null, userBlock: 4, pool });
const prepFor = (model: AnyModel): PreparedEval =>
  prepareEval({ dataset: ds, split: 'test', model: { users: ds.users, items: ds.items }, relevanceThreshold: null, input: model.name === 'sasrec' ? 'history' : 'user' });

let pool: RankPool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

async function compare(model: AnyModel, workers: number): Promise<void> {
  const prep = prepFor(model);
  const single = await evaluate(model, prep, options());
  pool = await startRankPool({ workers, engine: 'cpu', model, prep, log: silentLogger });
  const parallel = await evaluate(model, prep, options(pool));
  expect(parallel.users).toEqual(single.users);
  expect(parallel.metrics).toEqual(single.metrics);
  expect(single.users.evaluated).toBe(USERS.length);
}

describe('ranking pool', () => {
  it('neumf: 2 and 3 threads give the single-thread metrics exactly', async () => {
    const model = buildModel('neumf', { config: { ...base, dim: 8, layers: [16, 8] }, shape, nextSeed: seeds() });
    await compare(model, 2);
    await pool?.close();
    await compare(model, 3);
  }, 30_000);

  it('sasrec: 2 threads give the single-thread metrics exactly', async () => {
    const model = buildModel('sasrec', { config: { ...base, dim: 8, max_len: 6, blocks: 1, heads: 1 }, shape, nextSeed: seeds() });
    await compare(model, 2);
  }, 30_000);

  it('refresh: the workers rank the weights shared last', async () => {
    const model = buildModel('mf', { config: { ...base, dim: 4 }, shape, nextSeed: seeds() });
    const prep = prepFor(model);
    pool = await startRankPool({ workers: 2, engine: 'cpu', model, prep, log: silentLogger });
    const before = await evaluate(model, prep, options(pool));
    const other = buildModel('mf', { config: { ...base, dim: 4 }, shape, nextSeed: () => 99 });
    tf.tidy(() => model.tables.forEach((t, k) => t.variable.assign(other.tables[k].variable)));
    pool.refresh(model);
    const after = await evaluate(model, prep, options(pool));
    expect(after.metrics).toEqual((await evaluate(model, prep, options())).metrics);
    expect(after.metrics).not.toEqual(before.metrics);
  }, 30_000);

  it('a worker that throws ends the ranking with a RuntimeFailure and no thread is left once closed', async () => {
    const model = buildModel('mf', { config: { ...base, dim: 4 }, shape, nextSeed: seeds() });
    const prep = prepFor(model);
    pool = await startRankPool({ workers: 3, engine: 'cpu', model, prep, log: silentLogger, testHooks: { ...NO_TEST_HOOKS, rankWorkerFailAtJob: 1 } });
    expect(pool.liveThreads()).toBe(2);
    const failed = evaluate(model, prep, options(pool));
    await expect(failed).rejects.toBeInstanceOf(RuntimeFailure);
    // Every worker fails at its first job; whichever answers first is the one named.
    await expect(failed).rejects.toThrow(/ranking worker [12] of 2 \(--workers 3\) failed during ranking: test-only failure/);
    await pool.close();
    expect(pool.liveThreads()).toBe(0);
  }, 30_000);

  it('SIGINT during a parallel ranking stops it as an interruption', async () => {
    const model = buildModel('mf', { config: { ...base, dim: 4 }, shape, nextSeed: seeds() });
    const prep = prepFor(model);
    pool = await startRankPool({ workers: 2, engine: 'cpu', model, prep, log: silentLogger });
    const controller = new AbortController();
    controller.abort('SIGINT');
    await expect(evaluate(model, prep, { ...options(pool), signal: controller.signal })).rejects.toMatchObject({ name: 'InterruptedError' });
  }, 30_000);

  it('SIGINT mid-ranking stops it before every user is ranked, and the pool can be closed', async () => {
    const model = buildModel('neumf', { config: { ...base, dim: 8, layers: [16, 8] }, shape, nextSeed: seeds() });
    const prep = prepFor(model);
    pool = await startRankPool({ workers: 2, engine: 'cpu', model, prep, log: silentLogger });
    const controller = new AbortController();
    let last = 0;
    // The first progress update (a block or a job done) is the signal's moment.
    const progress = { start: () => ({ update: (n: number) => ((last = n), controller.abort('SIGINT')), stop: () => undefined }) };
    await expect(evaluate(model, prep, { ...options(pool), signal: controller.signal, progress })).rejects.toMatchObject({ name: 'InterruptedError', signal: 'SIGINT' });
    expect(last).toBeLessThan(USERS.length);
    await pool.close();
    expect(pool.liveThreads()).toBe(0);
  }, 30_000);
});

describe('resolveRankWorkers', () => {
  it('node engines rank on one thread; N is kept; auto needs enough scores a thread', () => {
    expect(resolveRankWorkers(4, { engine: 'node', users: 10_000, items: 10_000, cores: 8 }).workers).toBe(1);
    expect(resolveRankWorkers(3, { engine: 'wasm', users: 10, items: 5, cores: 8 }).workers).toBe(3);
    expect(resolveRankWorkers(3, { engine: 'wasm', users: 2, items: 5, cores: 8 }).workers).toBe(2);
    expect(resolveRankWorkers('auto', { engine: 'wasm', users: 100, items: 100, cores: 8 }).workers).toBe(1);
    expect(resolveRankWorkers('auto', { engine: 'wasm', users: 100_000, items: 100_000, cores: 8 }).workers).toBe(8);
    expect(resolveRankWorkers('auto', { engine: null, users: 100_000, items: 100_000, cores: 8 }).workers).toBe(1);
    // 100M scores: one thread's worth for one ranking, but a validation pool serves every epoch.
    expect(resolveRankWorkers('auto', { engine: 'wasm', users: 1000, items: 100_000, cores: 8 }).workers).toBe(1);
    expect(resolveRankWorkers('auto', { engine: 'wasm', users: 1000, items: 100_000, cores: 8, rankings: 20 }).workers).toBe(8);
  });

  it('a model too large to copy twice into a worker’s 4 GiB wasm heap ranks on the main thread (EASE on 23,715 items)', () => {
    const ease = 4 * 23_715 * 23_715;
    expect(resolveRankWorkers(2, { engine: 'wasm', users: 30_000, items: 23_715, cores: 2, modelBytes: ease })).toMatchObject({ workers: 1, reason: expect.stringMatching(/2\.10 GiB\) do not fit twice/) });
    expect(resolveRankWorkers('auto', { engine: 'wasm', users: 30_000, items: 23_715, cores: 2, modelBytes: ease }).workers).toBe(1);
    // The cpu engine's copies live in this process's memory, without wasm's cap; a small model keeps its workers.
    expect(resolveRankWorkers(2, { engine: 'cpu', users: 30_000, items: 23_715, cores: 2, modelBytes: ease }).workers).toBe(2);
    expect(resolveRankWorkers(2, { engine: 'wasm', users: 30_000, items: 3_706, cores: 2, modelBytes: 4 * 3_706 * 3_706 }).workers).toBe(2);
  });

  it('an explicit N above the cores this process may use is lowered to the cores, with a warning that says so', () => {
    expect(resolveRankWorkers(64, { engine: 'wasm', users: 10_000, items: 100, cores: 2 })).toEqual({ workers: 2, reason: expect.stringMatching(/^--workers 64 lowered to 2: this process may use 2 cores/), warn: true });
    expect(resolveRankWorkers(999_999, { engine: 'cpu', users: 10_000_000, items: 100, cores: 16 })).toMatchObject({ workers: 16, warn: true });
    expect(resolveRankWorkers(2, { engine: 'wasm', users: 10_000, items: 100, cores: 2 })).toEqual({ workers: 2, reason: null });
    expect(resolveRankWorkers(64, { engine: 'wasm', users: 3, items: 100, cores: 4 })).toMatchObject({ workers: 3, reason: expect.stringContaining('3 users ranked') });
  });
});
