import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, trainSchema, type ModelConfig } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { writeModel } from '../../../src/io/checkpoint.js';
import { drawSlot, storeDraw } from '../../../src/models/bpmf.js';
import { checkFittedOptions, monitoredMetric, type FitData } from '../../../src/models/family.js';
import type { PairModel } from '../../../src/models/model.js';
import { buildModel, family } from '../../../src/models/registry.js';
import { loadModel } from '../../../src/models/saved.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';
import { tempRoot } from '../train/helpers.js';

const dir = tempRoot('rec-bpmf-test-');

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

describe('the averaged draws as one dot product', () => {
  it('holds (1/k) Σ of the last k draws\' products through burn-in and the moving window', () => {
    // One row per side, dim 1, samples 2, burn-in 1: sweeps draw 2, 3, 5, 7 (users) and 1, 1, 2, 3 (items).
    const [users, items] = [new Float32Array(2), new Float32Array(2)];
    const draws = [
      [2, 1],
      [3, 1],
      [5, 2],
      [7, 3],
    ];
    const expected = [2, 3, (3 + 10) / 2, (10 + 21) / 2];
    draws.forEach(([u, v], sweep) => {
      storeDraw(users, Float64Array.from([u]), 1, 1, 2, sweep, 1);
      storeDraw(items, Float64Array.from([v]), 1, 1, 2, sweep, 1);
      expect(users[0] * items[0] + users[1] * items[1]).toBeCloseTo(expected[sweep], 5);
      // The chain's state is read back from the draw's block.
      const { block, kept } = drawSlot(sweep, 1, 2);
      expect(users[block] * Math.sqrt(kept)).toBeCloseTo(u, 5);
    });
    expect(drawSlot(0, 1, 2)).toEqual({ block: 0, kept: 1 });
    expect(drawSlot(4, 1, 2)).toEqual({ block: 1, kept: 2 });
  });
});

/** A rank-2 rating matrix, 40 users × 30 items, 1–5 with noise; 70% of the cells rated, the rest held out. */
function lowRank(): { train: FitData; held: { users: number[]; items: number[]; values: number[] }; mean: number } {
  const rng = Prng.fromSeed(9, 'bpmf/low-rank');
  const [nu, ni] = [40, 30];
  const p = Array.from({ length: nu }, () => [rng.normal(), rng.normal()]);
  const q = Array.from({ length: ni }, () => [rng.normal(), rng.normal()]);
  const train = { users: [] as number[], items: [] as number[], values: [] as number[] };
  const held = { users: [] as number[], items: [] as number[], values: [] as number[] };
  for (let u = 0; u < nu; u++) {
    for (let i = 0; i < ni; i++) {
      const r = Math.min(5, Math.max(1, Math.round(3 + 0.8 * (p[u][0] * q[i][0] + p[u][1] * q[i][1]) + 0.3 * rng.normal())));
      const into = rng.next() < 0.7 ? train : held;
      into.users.push(u);
      into.items.push(i);
      into.values.push(r);
    }
  }
  const mean = train.values.reduce((a, b) => a + b, 0) / train.values.length;
  const data: FitData = { users: Int32Array.from(train.users), items: Int32Array.from(train.items), values: Float32Array.from(train.values), ts: null, numUsers: nu, numItems: ni, epochsDone: 0 };
  return { train: data, held, mean };
}

const config = (extra: Partial<ModelConfig> = {}): ModelConfig => modelSchema.parse({ dim: 3, samples: 10, burn_in: 5, noise_precision: 2, init_std: 0.1, ...extra });

function bpmfFamily() {
  const f = family('bpmf');
  if (f.kind !== 'fitted') throw new Error('bpmf is a fitted family');
  return f;
}

/** Builds a model and runs sweeps [from, to) of a fit that starts at `from` (as a resumed run does); epoch e draws from seed e. */
function sweeps(model: PairModel, data: FitData, cfg: ModelConfig, from: number, to: number): number[] {
  const task = bpmfFamily().fit(model, { ...data, epochsDone: from }, cfg, trainSchema.parse({}));
  const losses: number[] = [];
  for (let e = from; e < to; e++) {
    expect(task.beginEpoch(Prng.fromSeed(e, 'epochs'))).toBe(1);
    losses.push(task.step(0));
  }
  return losses;
}

function build(data: FitData, mean: number, cfg: ModelConfig): PairModel {
  return buildModel('bpmf', { config: cfg, shape: { users: data.numUsers, items: data.numItems, globalMean: mean }, nextSeed: () => 1 }) as PairModel;
}

function rmse(model: PairModel, held: { users: number[]; items: number[]; values: number[] }): number {
  const scores = tf.tidy(() => model.scoreMatrix(tf.tensor1d(held.users, 'int32'), tf.tensor1d(held.items, 'int32')).arraySync());
  const se = held.values.map((r, k) => (Math.min(5, Math.max(1, scores[k][k])) - r) ** 2);
  return Math.sqrt(se.reduce((a, b) => a + b, 0) / se.length);
}

describe('bpmf', () => {
  it('fits a low-rank rating matrix: held-out RMSE well below the mean\'s, training error falling', () => {
    const { train, held, mean } = lowRank();
    const cfg = config();
    const model = build(train, mean, cfg);
    const losses = sweeps(model, train, cfg, 0, 25);
    const baseline = Math.sqrt(held.values.reduce((a, r) => a + (r - mean) ** 2, 0) / held.values.length);
    expect(rmse(model, held)).toBeLessThan(0.6 * baseline);
    expect(losses[24]).toBeLessThan(0.5 * losses[0]);
    expect(model.tables[0].variable.shape).toEqual([40, 30]);
  });

  it('resumes from its tables alone: 8 sweeps in one go equal 4 and then 4 more in a new task', () => {
    const { train, mean } = lowRank();
    const cfg = config({ burn_in: 2, samples: 3 });
    const whole = build(train, mean, cfg);
    const split = build(train, mean, cfg);
    const a = sweeps(whole, train, cfg, 0, 8);
    const b = [...sweeps(split, train, cfg, 0, 4), ...sweeps(split, train, cfg, 4, 8)];
    // Every sweep reads the chain's state from the float32 tables, so the resumed chain is the same to the bit.
    expect(b).toEqual(a);
    expect(split.tables[0].variable.dataSync()).toEqual(whole.tables[0].variable.dataSync());
    expect(split.tables[1].variable.dataSync()).toEqual(whole.tables[1].variable.dataSync());
  });

  it('saves and loads with the same scores, the mean included', async () => {
    const { train, held, mean } = lowRank();
    const cfg = config();
    const model = build(train, mean, cfg);
    sweeps(model, train, cfg, 0, 6);
    await writeModel(dir('m'), model);
    const loaded = (await loadModel(dir('m'))) as PairModel;
    expect(loaded.name).toBe('bpmf');
    expect(rmse(loaded, held)).toBeCloseTo(rmse(model, held), 6);
  });

  it('is validated by rmse on ratings, and refuses implicit feedback, ranking losses, --init-from and --l2', () => {
    const f = bpmfFamily();
    const train = trainSchema.parse({ model: 'bpmf' });
    expect(monitoredMetric(f, train, 'explicit')).toEqual({ metric: 'rmse', ratings: true });
    expect(f.resolveLoss('auto', 'explicit')).toBe('mse');
    expect(() => f.resolveLoss('auto', 'implicit')).toThrow(/fits explicit ratings .* Train --model ials/);
    expect(() => f.resolveLoss('bpr', 'explicit')).toThrow(/--loss bpr does not apply to --model bpmf/);
    expect(() => f.checkParents(['bpmf'], ['ck'], 'ck')).toThrow(/--init-from does not apply to --model bpmf/);
    expect(() => checkFittedOptions(f, { 'train.l2': '--l2' }, 75)).toThrow(/train.l2 \(from --l2\) does not apply to --model bpmf: it is regularised by its priors/);
    expect(() => checkFittedOptions(f, { 'train.l2': 'default', 'model.noise_precision': '--noise-precision' }, 75)).not.toThrow();
  });
});
