import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { modelSchema } from '../../../src/config/schema.js';
import { createDenseOptimizer } from '../../../src/engine/sparse-optimizer.js';
import { initEngine } from '../../../src/engine/backend.js';
import { gatherRows, namedWeights, type PairModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';
import { renameSlots } from '../../../src/train/optimizer-state.js';
import { createDenseParamUpdater, resolveFrozen } from '../../../src/train/params.js';
import { ConfigError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { maxAbsDiff } from '../engine/helpers.js';

function mlp(seed: number): PairModel {
  let s = seed;
  return buildModel('mlp', { config: modelSchema.parse({ dim: 4, dropout: 0 }), shape: { users: 5, items: 6, globalMean: 0 }, nextSeed: () => s++ });
}

const users = Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2]);
const items = Int32Array.from([0, 1, 2, 3, 4, 5, 5, 4]);

/** Gradients of a squared-score loss with respect to the model's dense variables. */
function denseGrads(model: PairModel): TF.NamedTensorMap {
  return tf.variableGrads(() => {
    const rows = gatherRows(model.tables, tf.tensor1d(users, 'int32'), tf.tensor1d(items, 'int32'));
    return tf.mean(tf.square(tf.sub(model.scoreRows(rows, true), 1))) as TF.Scalar;
  }, [...model.dense]).grads;
}

function denseValues(model: PairModel): Float32Array[] {
  return model.dense.map((v) => Float32Array.from(v.dataSync()));
}

describe('dense-variable updates in place', () => {
  for (const engine of ['cpu', 'wasm'] as const) {
    it(`${engine}: match tf.train.adam over several steps, and matmuls see the new weights`, async () => {
      await initEngine({ backend: engine, log: silentLogger });
      const a = mlp(3);
      const b = mlp(3);
      const cfg = { name: 'adam' as const, lr: 0.05 };
      const ours = createDenseParamUpdater(cfg, a);
      const reference = createDenseOptimizer(cfg);
      for (let step = 0; step < 5; step++) {
        tf.tidy(() => {
          expect(Object.keys(ours.apply(denseGrads(a)))).toEqual([]);
          reference.applyGradients(denseGrads(b));
        });
        // Scores go through (fused) matmuls: on wasm a stale packed kernel would show here.
        const score = (m: PairModel) =>
          tf.tidy(() => Float32Array.from(m.scoreRows(gatherRows(m.tables, tf.tensor1d(users, 'int32'), tf.tensor1d(items, 'int32')), false).dataSync()));
        expect(maxAbsDiff(score(a), score(b))).toBeLessThan(1e-5);
      }
      const va = denseValues(a);
      const vb = denseValues(b);
      va.forEach((v, k) => expect(maxAbsDiff(v, vb[k])).toBeLessThan(1e-5));
      expect(maxAbsDiff(va[0], denseValues(mlp(3))[0])).toBeGreaterThan(1e-3);
      reference.dispose();
    });
  }

  it('passes through gradients of variables it does not own, and keys its state by stable names', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const m = mlp(4);
    const updater = createDenseParamUpdater({ name: 'adam', lr: 0.01 }, m);
    const rest = tf.tidy(() => {
      const grads = denseGrads(m);
      grads.other = tf.ones([2]);
      return Object.keys(updater.apply(grads));
    });
    expect(rest).toEqual(['other']);
    expect(Object.keys(updater.getState()).filter((k) => k.endsWith('/t')).sort()).toEqual([
      'mlp_layer_1/bias/t',
      'mlp_layer_1/kernel/t',
      'mlp_layer_2/bias/t',
      'mlp_layer_2/kernel/t',
      'mlp_layer_3/bias/t',
      'mlp_layer_3/kernel/t',
      'prediction/bias/t',
      'prediction/kernel/t',
    ]);
  });
});

describe('resolveFrozen', () => {
  it('maps layer names and single weights to the variables pairStep filters on', async () => {
    await initEngine({ backend: 'cpu', log: silentLogger });
    const m = mlp(5);
    const byKey = new Map(namedWeights(m.keras).map((w) => [w.key, w.variable.name]));
    expect([...resolveFrozen(m, ['mlp_item_embedding', 'prediction/bias', 'mlp_layer_2'])].sort()).toEqual(
      ['mlp_item_embedding', byKey.get('prediction/bias'), byKey.get('mlp_layer_2/kernel'), byKey.get('mlp_layer_2/bias')].sort(),
    );
    expect(() => resolveFrozen(m, ['item_embedding'])).toThrow(ConfigError);
    expect(() => resolveFrozen(m, ['item_embedding'])).toThrow(/train\.freeze names "item_embedding".*mlp_user_embedding, mlp_item_embedding, mlp_layer_1/);
  });
});

describe('renameSlots', () => {
  it('renames tfjs slot keys through a name map and back, leaving other keys alone', () => {
    const state = { 'slot:dense_3/kernel_7/m': new Float32Array([1]), 'slot:x/v': new Float32Array([2]), iterations: 4 };
    const names = new Map([['dense_3/kernel_7', 'dense_3/kernel']]);
    const stable = renameSlots(state, names);
    expect(Object.keys(stable).sort()).toEqual(['iterations', 'slot:dense_3/kernel/m', 'slot:x/v']);
    const back = renameSlots(stable, new Map([...names].map(([k, v]) => [v, k])));
    expect(back).toEqual(state);
  });
});
