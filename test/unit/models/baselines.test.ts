import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, trainSchema, type ModelConfig, type ModelName } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { writeModel } from '../../../src/io/checkpoint.js';
import { fileLoadHandler } from '../../../src/io/tfjs-files.js';
import type { FitData, FittedFamily } from '../../../src/models/family.js';
import { isHistoryModel, type AnyModel, type HistoryModel, type PairModel } from '../../../src/models/model.js';
import { popularity } from '../../../src/models/pop.js';
import { modelSimilarity, similarItems } from '../../../src/recommend/similar.js';
import { buildModel, family } from '../../../src/models/registry.js';
import { loadModel } from '../../../src/models/saved.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';
import { tempRoot } from '../train/helpers.js';

const dir = tempRoot('rec-baselines-test-');

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

/**
 * Two communities: users 0..11 touch items 0..9, users 12..23 items 10..19, each user a seeded
 * random 5 of their community's items. Item 20 is touched by nobody.
 */
function communities(seed = 5): FitData {
  const rng = Prng.fromSeed(seed, 'baselines/communities');
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < 24; u++) {
    const base = u < 12 ? 0 : 10;
    const picked = new Set<number>();
    while (picked.size < 5) picked.add(base + Math.floor(rng.next() * 10));
    for (const i of [...picked].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  const n = users.length;
  return { users: Int32Array.from(users), items: Int32Array.from(items), values: new Float32Array(n).fill(1), ts: null, numUsers: 24, numItems: 21, epochsDone: 0 };
}

function fitted(name: ModelName): FittedFamily {
  const f = family(name);
  if (f.kind !== 'fitted') throw new Error(`${name} is not a fitted family`);
  return f;
}

const modelConfig = (name: ModelName, extra: Partial<ModelConfig> = {}): ModelConfig => modelSchema.parse({ ...(name === 'ials' ? { dim: 8, init_std: 0.1 } : {}), ...extra });
const trainConfig = (l2: number) => trainSchema.parse({ l2 });

/** Builds `name` for `data` and runs `epochs` epochs of its fit; returns the model and each epoch's step losses. */
function fit(name: ModelName, data: FitData, opts: { config?: Partial<ModelConfig>; l2?: number; epochs?: number } = {}): { model: AnyModel; losses: number[][] } {
  let seed = 11;
  const config = modelConfig(name, opts.config);
  const model = buildModel(name, { config, shape: { users: data.numUsers, items: data.numItems, globalMean: 0 }, nextSeed: () => seed++ });
  const task = fitted(name).fit(model as PairModel | HistoryModel, data, config, trainConfig(opts.l2 ?? (name === 'ease' ? 1 : 0.01)));
  const losses: number[][] = [];
  for (let e = 0; e < (opts.epochs ?? 1); e++) {
    const steps = task.beginEpoch(Prng.fromSeed(1, 'epochs'));
    losses.push(Array.from({ length: steps }, (_, k) => task.step(k)));
  }
  return { model, losses };
}

/** Every item's score for `users` (their training items as histories, for history models). */
function scoreAll(model: AnyModel, data: FitData, users: number[]): Float32Array[] {
  return tf.tidy(() => {
    const items = tf.range(0, data.numItems, 1, 'int32') as TF.Tensor1D;
    const t = isHistoryModel(model) ? model.scoreHistories(users.map((u) => historyOf(data, u)), items) : model.scoreMatrix(tf.tensor1d(users, 'int32'), items);
    const flat = t.dataSync() as Float32Array;
    return users.map((_, r) => flat.slice(r * data.numItems, (r + 1) * data.numItems));
  });
}

const historyOf = (data: FitData, u: number) => Int32Array.from(data.items.filter((_, r) => data.users[r] === u));

describe('pop', () => {
  it('counts each item’s rows, and with a half-life weighs a row 2^(-age/half-life)', () => {
    const data = { items: Int32Array.from([0, 1, 1, 2, 2, 2]), numItems: 4, ts: Float64Array.from([0, 0, 0, 0, 0, 0]) };
    expect(Array.from(popularity(data, null))).toEqual([1, 2, 3, 0]);
    const day = 86_400_000;
    const aged = { ...data, ts: Float64Array.from([10 * day, 9 * day, 10 * day, 8 * day, 8 * day, 8 * day]) };
    const p = popularity(aged, 1);
    expect(p[0]).toBeCloseTo(1, 6);
    expect(p[1]).toBeCloseTo(0.5 + 1, 6);
    expect(p[2]).toBeCloseTo(3 * 0.25, 6);
  });

  it('ranks every user by the counts, whoever they are', () => {
    const data = communities();
    const { model } = fit('pop', data);
    const [a, b] = scoreAll(model, data, [0, 23]);
    const counts = popularity(data, null);
    expect(Array.from(a)).toEqual(Array.from(counts));
    expect(Array.from(b)).toEqual(Array.from(counts));
  });
});

describe('item-to-item models (ease, itemknn)', () => {
  for (const name of ['ease', 'itemknn'] as const) {
    it(`${name}: a user's unseen items of their own community outscore the other community's on average`, () => {
      const data = communities();
      // EASE's weights within a community may be negative with a small λ; 10 smooths them.
      const { model } = fit(name, data, { l2: 10 });
      for (const u of [0, 5, 12, 20]) {
        const s = scoreAll(model, data, [u])[0];
        const seen = new Set(historyOf(data, u));
        const own = u < 12 ? [0, 10] : [10, 20];
        const ownUnseen = [...Array(10).keys()].map((k) => own[0] + k).filter((i) => !seen.has(i));
        const other = [...Array(10).keys()].map((k) => (own[0] === 0 ? 10 : 0) + k);
        const meanOwn = ownUnseen.reduce((sum, i) => sum + s[i], 0) / ownUnseen.length;
        const bestOther = Math.max(...other.map((i) => s[i]));
        expect(meanOwn, `user ${u}`).toBeGreaterThan(bestOther);
      }
    });

    it(`${name}: the saved graph, loaded by plain TF.js, gives the scores rec computes`, async () => {
      const data = communities(7);
      const { model } = fit(name, data);
      await writeModel(dir(`${name}-m`), model);
      const loaded = await loadModel(dir(`${name}-m`));
      const users = [0, 3, 14, 22];
      const ours = scoreAll(loaded, data, users);
      expect(ours).toEqual(scoreAll(model, data, users));
      const keras = await tf.loadLayersModel(fileLoadHandler(dir(`${name}-m`)));
      // Padded histories with a repeated item: the graph counts an item once, as rec does.
      const width = 8;
      const ids = new Int32Array(users.length * width).fill(-1);
      users.forEach((u, r) => {
        const h = historyOf(data, u);
        ids.set(h, r * width);
        ids[r * width + h.length] = h[0];
      });
      const out = keras.predict(tf.tensor2d(ids, [users.length, width], 'int32')) as TF.Tensor2D;
      const graph = out.arraySync();
      users.forEach((_, r) => graph[r].forEach((v, i) => expect(v).toBeCloseTo(ours[r][i], 4)));
      out.dispose();
    });
  }

  it('ease: B has a zero diagonal, and the scores are the history rows of B summed', () => {
    const data = communities(3);
    const { model } = fit('ease', data);
    const B = (model as HistoryModel).itemVectors?.().arraySync() ?? [];
    const n = data.numItems;
    for (let i = 0; i < n; i++) expect(B[i][i]).toBe(0);
    const s = scoreAll(model, data, [4])[0];
    const h = historyOf(data, 4);
    for (let i = 0; i < n; i++) expect(s[i]).toBeCloseTo(h.reduce((sum, j) => sum + B[j][i], 0), 5);
  });

  it('itemknn: keeps at most model.neighbours items per item', () => {
    const data = communities(3);
    const { model } = fit('itemknn', data, { config: { neighbours: 2 } });
    // A one-item history scores at most its 2 neighbours above 0.
    const s = tf.tidy(() => (model as HistoryModel).scoreHistories([Int32Array.of(0)], tf.range(0, data.numItems, 1, 'int32') as TF.Tensor1D).dataSync());
    expect(Array.from(s).filter((v) => v > 0).length).toBeLessThanOrEqual(2);
    expect(Array.from(s).filter((v) => v > 0).length).toBeGreaterThan(0);
  });
});

describe('--similar-to of the baselines', () => {
  it('itemknn answers with its own neighbour lists, most similar first; pop has nothing to compare', () => {
    const data = communities(3);
    const { model } = fit('itemknn', data, { config: { neighbours: 3 } });
    const ids = Array.from({ length: data.numItems }, (_, i) => `i${i}`);
    const [list] = similarItems(modelSimilarity(model, 'itemknn'), ids, [0], 5);
    const own = (model as HistoryModel).similarTo?.(0) ?? new Float64Array(0);
    const expected = [...own.keys()].filter((j) => own[j] > 0 && j !== 0).sort((a, b) => own[b] - own[a] || a - b).map((j) => `i${j}`);
    expect(list.items.slice(0, expected.length).map((x) => x.item)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThanOrEqual(3);
    expect(() => modelSimilarity(fit('pop', data).model, 'pop')).toThrow(/--model pop has neither/);
  });
});

describe('ials', () => {
  it('each epoch lowers the objective, and the fitted model separates the communities', () => {
    const data = communities();
    const { model, losses } = fit('ials', data, { epochs: 6, config: { dim: 4 } });
    const means = losses.map((l) => l.reduce((a, b) => a + b, 0) / l.length);
    for (let e = 1; e < means.length; e++) expect(means[e]).toBeLessThanOrEqual(means[e - 1] + 1e-9);
    const s = scoreAll(model, data, [0, 20]);
    const mean = (xs: Float32Array, lo: number) => xs.slice(lo, lo + 10).reduce((a, b) => a + b, 0) / 10;
    expect(mean(s[0], 0)).toBeGreaterThan(mean(s[0], 10));
    expect(mean(s[1], 10)).toBeGreaterThan(mean(s[1], 0));
  });

  it('leaves the rows of users and items without training pairs as they were (a parent’s, when fine-tuning)', () => {
    const data = communities();
    const { model } = fit('ials', { ...data, numUsers: 25 }, { epochs: 2 });
    const [users, items] = (model as PairModel).tables.map((t) => t.variable.arraySync() as number[][]);
    let seed = 11;
    const fresh = buildModel('ials', { config: modelConfig('ials'), shape: { users: 25, items: 21, globalMean: 0 }, nextSeed: () => seed++ }) as PairModel;
    const [u0, i0] = fresh.tables.map((t) => t.variable.arraySync() as number[][]);
    expect(users[24]).toEqual(u0[24]);
    expect(items[20]).toEqual(i0[20]);
    expect(users[0]).not.toEqual(u0[0]);
  });

  it('an epoch resumed mid-way from the saved tables ends where the uninterrupted one does', () => {
    const data = { ...communities(), numUsers: 2500, numItems: 1500 };
    const config = modelConfig('ials', { dim: 4 });
    const train = trainConfig(0.01);
    const make = () => {
      let seed = 11;
      return buildModel('ials', { config, shape: { users: data.numUsers, items: data.numItems, globalMean: 0 }, nextSeed: () => seed++ }) as PairModel;
    };
    const whole = make();
    const task = fitted('ials').fit(whole, data, config, train);
    const steps = task.beginEpoch(Prng.fromSeed(1, 'e'));
    expect(steps).toBeGreaterThan(3);
    for (let k = 0; k < steps; k++) task.step(k);

    const first = make();
    const t1 = fitted('ials').fit(first, data, config, train);
    t1.beginEpoch(Prng.fromSeed(1, 'e'));
    for (let k = 0; k < 3; k++) t1.step(k);
    // A new process: the model restored from the saved weights, the epoch begun again, steps from 3.
    const resumed = make();
    resumed.tables.forEach((t, k) => t.variable.assign(first.tables[k].variable));
    const t2 = fitted('ials').fit(resumed, data, config, train);
    t2.beginEpoch(Prng.fromSeed(1, 'e'));
    for (let k = 3; k < steps; k++) t2.step(k);
    resumed.tables.forEach((t, k) => expect(Array.from(t.variable.dataSync())).toEqual(Array.from(whole.tables[k].variable.dataSync())));
  });
});
