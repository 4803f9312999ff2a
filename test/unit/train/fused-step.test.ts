import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { createRowSparseOptimizer } from '../../../src/engine/sparse-optimizer.js';
import type { FusedPairKernel, PairModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { createFusedScratch, fusable, fusedPairStep, type FusedUpdaters } from '../../../src/train/fused-step.js';
import { createDenseParamUpdater } from '../../../src/train/params.js';
import type { PairLoss } from '../../../src/train/pair-data.js';
import { pairStep, type StepFeatures } from '../../../src/train/pair-step.js';
import type { ItemFeatures } from '../../../src/data/item-features.js';
import type { ManifestCatalogue } from '../../../src/data/manifest.js';
import { createItemEncoder, encoderSpec, type ItemEncoder } from '../../../src/models/item-encoder.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';
import { maxAbsDiff } from '../engine/helpers.js';

const USERS = 40;
const ITEMS = 30;

function model(name: 'mf' | 'gmf'): PairModel {
  const config = { ...configSchema.parse({}).model, dim: 8, init_std: 0.3 };
  let seed = 11;
  const m = buildModel(name, { config, shape: { users: USERS, items: ITEMS, globalMean: 3 }, nextSeed: () => seed++ });
  // Nonzero biases so their gradients and L2 show in the comparison.
  for (const t of m.tables.filter((x) => x.name.endsWith('bias'))) t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.2, 'float32', 5));
  return m;
}
const mf = () => model('mf');

/** The trainer's wiring (run.ts): tables through the row-sparse optimizer, dense weights through params. */
function trainer(m: PairModel, encoder: ItemEncoder | null = null) {
  const cfg = { name: 'adam' as const, lr: 0.05, weightDecay: 0 };
  const sparse = createRowSparseOptimizer(cfg, Object.fromEntries([...m.tables, ...(encoder?.tables ?? [])].map((t) => [t.name, t.variable])));
  const params = createDenseParamUpdater(cfg, m);
  const fused: FusedUpdaters = {
    view: (t) => sparse.view(t),
    prepareRows: (t, rows) => sparse.prepareRows(t, rows),
    applyPrepared: (t, c) => sparse.applyPrepared(t, c),
    applyDense: (v, g) => params.applyArray(v, g),
  };
  const autograd = { applyRows: (t: TF.Variable, r: Int32Array, g: TF.Tensor2D) => sparse.applyRows(t, r, g), applyDense: (g: TF.NamedTensorMap) => void params.apply(g) };
  return { sparse, fused, autograd };
}

function batches(loss: PairLoss, steps: number, n: number) {
  const rng = Prng.fromSeed(3, 'test/fused');
  return Array.from({ length: steps }, () => ({
    // Repeated ids on purpose: their gradients must add up.
    users: Int32Array.from({ length: n }, () => rng.int(USERS / 4)),
    items: Int32Array.from({ length: n }, () => rng.int(ITEMS)),
    labels: Float32Array.from({ length: n }, () => (loss === 'mse' ? 1 + rng.int(5) : rng.int(2))),
    negatives: loss === 'bpr' ? Int32Array.from({ length: n }, () => rng.int(ITEMS)) : null,
  }));
}

describe('fusedPairStep', () => {
  for (const engine of ['cpu', 'wasm'] as const) {
    for (const [name, loss] of [['mf', 'mse'], ['mf', 'bce'], ['mf', 'bpr'], ['gmf', 'bce']] as const) {
      it(`${engine} ${name} ${loss}: same losses and weights as the autograd step over several Adam steps`, async () => {
        await initEngine({ backend: engine, log: silentLogger });
        const a = model(name);
        const b = model(name);
        expect(fusable(b)).toBe(true);
        const ta = trainer(a);
        const tb = trainer(b);
        const scratch = createFusedScratch();
        const frozen = new Set<string>();
        for (const batch of batches(loss, 4, 64)) {
          const ref = pairStep(a, batch, loss, 0.05, true, ta.autograd, frozen);
          const got = fusedPairStep(b as PairModel & { fused: FusedPairKernel }, batch, loss, 0.05, tb.fused, frozen, scratch);
          expect(got).not.toBeNull();
          expect(got as number).toBeCloseTo(ref, 4);
        }
        for (let k = 0; k < a.tables.length; k++) {
          expect(maxAbsDiff(a.tables[k].variable.dataSync() as Float32Array, b.tables[k].variable.dataSync() as Float32Array), a.tables[k].name).toBeLessThan(1e-4);
        }
        for (let k = 0; k < a.dense.length; k++) {
          expect(maxAbsDiff(a.dense[k].dataSync() as Float32Array, b.dense[k].dataSync() as Float32Array), a.dense[k].name).toBeLessThan(1e-4);
        }
        const scores = (m: PairModel) => m.scoreMatrix(tf.tensor1d([0, 1, 2], 'int32'), tf.tensor1d([0, 5, 9], 'int32')).dataSync() as Float32Array;
        expect(maxAbsDiff(scores(a), scores(b))).toBeLessThan(1e-4);
      });
    }
  }

  it('covers only models whose dense weights the kernel differentiates', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const config = { ...configSchema.parse({}).model, dim: 4, layers: [8, 4] };
    const shape = { users: 5, items: 5, globalMean: 0 };
    expect(fusable(buildModel('mlp', { config, shape, nextSeed: () => 3 }))).toBe(false);
    expect(fusable(buildModel('neumf', { config, shape, nextSeed: () => 3 }))).toBe(false);
  });

  it('leaves frozen tables untouched and returns a non-finite loss without updating', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const m = mf() as PairModel & { fused: FusedPairKernel };
    const o = trainer(m).fused;
    const items = m.tables.find((t) => t.name === 'item_embedding')!.variable;
    const before = Float32Array.from(items.dataSync());
    fusedPairStep(m, batches('mse', 1, 32)[0], 'mse', 0, o, new Set(['item_embedding']), createFusedScratch());
    expect(maxAbsDiff(before, items.dataSync() as Float32Array)).toBe(0);
    const users = m.tables.find((t) => t.name === 'user_embedding')!.variable;
    const u = Float32Array.from(users.dataSync());
    const bad = { ...batches('mse', 1, 8)[0], labels: new Float32Array(8).fill(Infinity) };
    expect(Number.isFinite(fusedPairStep(m, bad, 'mse', 0, o, new Set(), createFusedScratch()) as number)).toBe(false);
    expect(maxAbsDiff(u, users.dataSync() as Float32Array)).toBe(0);
  });
});

/** Every item has a brand and a title of 1–4 of 12 hashed buckets; the last 6 items have no training rows. */
function catalogue(): { features: ItemFeatures; learned: Uint8Array } {
  const rng = Prng.fromSeed(8, 'test/fused/catalogue');
  const offsets = new Int32Array(ITEMS + 1);
  const buckets: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < ITEMS; i++) {
    const n = 1 + rng.int(4);
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(rng.int(12));
    for (const b of [...chosen].sort((x, y) => x - y)) {
      buckets.push(b);
      counts.push(1 + rng.int(3));
    }
    offsets[i + 1] = buckets.length;
  }
  const features: ItemFeatures = {
    items: ITEMS,
    inCatalogue: new Uint8Array(ITEMS).fill(1),
    catalogue: {} as ManifestCatalogue,
    features: [
      { name: 'brand', kind: 'category', codes: Int32Array.from({ length: ITEMS }, () => rng.int(5)), vocab: ['a', 'b', 'c', 'd', 'e'] },
      { name: 'title', kind: 'text', buckets: { offsets, values: Int32Array.from(buckets), valid: new Uint8Array(ITEMS).fill(1) }, counts: Int32Array.from(counts) },
    ],
  };
  const learned = new Uint8Array(ITEMS).fill(1);
  learned.fill(0, ITEMS - 6);
  return { features, learned };
}

/** An encoder over every item table of `m`, its token rows drawn from `seed` (the same for the same seed). */
function encoderOf(m: PairModel): ItemEncoder {
  const { features, learned } = catalogue();
  const tables = m.tables.filter((t) => t.kind === 'item');
  const spec = encoderSpec(features, learned, { idDropout: 0.3, tables: tables.map((t) => t.name) });
  const widths = Object.fromEntries(tables.map((t) => [t.name, t.variable.shape[1] ?? 1]));
  const rng = Prng.fromSeed(4, 'test/fused/tokens');
  const values = Object.fromEntries(tables.map((t) => [`${t.name}#features`, Float32Array.from({ length: spec.tokens.length * widths[t.name] }, () => 0.4 * (rng.next() - 0.5))]));
  return createItemEncoder({ spec, features, modelItems: ITEMS, learned, widths, values });
}

describe('fusedPairStep with an item encoder (catalogue features)', () => {
  const cases = [
    ['mf', 'mse', []],
    ['mf', 'bce', []],
    ['mf', 'bpr', []],
    ['gmf', 'bce', []],
    ['mf', 'bce', ['item_embedding']],
    ['mf', 'mse', ['item_bias#features', 'user_bias']],
  ] as const;
  for (const engine of ['cpu', 'wasm'] as const) {
    for (const [name, loss, frozenNames] of cases) {
      it(`${engine} ${name} ${loss}${frozenNames.length ? ` (${frozenNames.join(', ')} frozen)` : ''}: the autograd step's losses and weights, ids dropped alike`, async () => {
        await initEngine({ backend: engine, log: silentLogger });
        const frozen = new Set<string>(frozenNames);
        const features = (e: ItemEncoder, step: number): StepFeatures => ({ encoder: e, scratch: new Int32Array(ITEMS).fill(-1), rng: Prng.fromSeed(21, `drop/${step}`) });
        // An encoder's variables are named by its tables: one encoder at a time, so each run's are kept as arrays.
        const run = (fused: boolean) => {
          const m = model(name) as PairModel & { fused: FusedPairKernel };
          const e = encoderOf(m);
          expect(e.tables.length).toBe(m.tables.filter((t) => t.kind === 'item').length);
          const t = trainer(m, e);
          const initial = Object.fromEntries([...m.tables, ...e.tables].map((x) => [x.name, Float32Array.from(x.variable.dataSync())]));
          const scratch = createFusedScratch();
          const losses = batches(loss, 5, 48).map((batch, step) =>
            fused ? (fusedPairStep(m, batch, loss, 0.05, t.fused, frozen, scratch, features(e, step)) as number) : pairStep(m, batch, loss, 0.05, true, t.autograd, frozen, features(e, step)),
          );
          const weights = Object.fromEntries([...m.tables, ...e.tables, ...m.dense.map((v, k) => ({ name: `dense/${k}`, variable: v }))].map((x) => [x.name, Float32Array.from(x.variable.dataSync())]));
          e.dispose();
          return { losses, weights, initial };
        };
        const ref = run(false);
        const got = run(true);
        got.losses.forEach((l, k) => expect(l).toBeCloseTo(ref.losses[k], 4));
        for (const [k, w] of Object.entries(ref.weights)) expect(maxAbsDiff(w, got.weights[k]), k).toBeLessThan(1e-4);
        for (const f of frozenNames) expect(maxAbsDiff(got.initial[f], got.weights[f]), f).toBe(0);
        // The steps moved every trainable table: the comparison is not of untouched ones.
        for (const k of Object.keys(got.initial).filter((x) => !frozen.has(x))) expect(maxAbsDiff(got.initial[k], got.weights[k]), k).toBeGreaterThan(1e-3);
      });
    }
  }
});
