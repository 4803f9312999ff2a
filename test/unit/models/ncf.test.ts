import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, type ModelConfig } from '../../../src/config/schema.js';
import { initEngine } from '../../../src/engine/backend.js';
import { writeModel } from '../../../src/io/checkpoint.js';
import { loadModel } from '../../../src/models/saved.js';
import { fileLoadHandler } from '../../../src/io/tfjs-files.js';
import { gatherRows, namedWeights, isHistoryModel, type PairModel } from '../../../src/models/model.js';
import { mlpTower, type NcfKind } from '../../../src/models/ncf.js';
import { buildModel } from '../../../src/models/registry.js';
import { ConfigError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { tempRoot } from '../train/helpers.js';

/** loadModel narrowed to the (user, item) models these tests save. */
async function loadPairModel(dir: string, check?: Parameters<typeof loadModel>[1]): Promise<PairModel> {
  const m = await loadModel(dir, check);
  if (isHistoryModel(m)) throw new Error(`${dir} holds a history model`);
  return m;
}

const dir = tempRoot('rec-ncf-test-');
const shape = { users: 7, items: 11, globalMean: 0 };

function build(kind: NcfKind, config: Partial<ModelConfig> = {}, seed = 5): PairModel {
  let s = seed;
  return buildModel(kind, { config: modelSchema.parse({ dim: 4, dropout: 0, ...config }), shape, nextSeed: () => s++ });
}

const itemVectorShape = (kind: NcfKind) => build(kind).itemVectors?.().shape;

const allPairs = () => {
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < shape.users; u++) for (let i = 0; i < shape.items; i++) {
    users.push(u);
    items.push(i);
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items) };
};

function scores(model: PairModel, users: Int32Array, items: Int32Array): Float32Array {
  return tf.tidy(() => Float32Array.from(model.scoreRows(gatherRows(model.tables, tf.tensor1d(users, 'int32'), tf.tensor1d(items, 'int32')), false).dataSync()));
}

function graphScores(keras: TF.LayersModel, users: Int32Array, items: Int32Array): Float32Array {
  return tf.tidy(() => {
    const out = keras.predict([tf.tensor2d(users, [users.length, 1], 'int32'), tf.tensor2d(items, [items.length, 1], 'int32')]) as TF.Tensor;
    return Float32Array.from(out.dataSync());
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

describe('NCF models (He et al. 2017)', () => {
  it('have the authors’ shapes: GMF d, MLP embeddings 4d per side and a 8d,4d,2d,d tower, NeuMF both', () => {
    const shapes = (m: PairModel) => Object.fromEntries(namedWeights(m.keras).map((w) => [w.key, w.variable.shape]));
    expect(shapes(build('gmf'))).toEqual({
      'gmf_user_embedding/embeddings': [7, 4],
      'gmf_item_embedding/embeddings': [11, 4],
      'prediction/kernel': [4, 1],
      'prediction/bias': [1],
    });
    const mlp = shapes(build('mlp'));
    expect(mlp['mlp_user_embedding/embeddings']).toEqual([7, 16]);
    expect(mlp['mlp_item_embedding/embeddings']).toEqual([11, 16]);
    expect([mlp['mlp_layer_1/kernel'], mlp['mlp_layer_2/kernel'], mlp['mlp_layer_3/kernel']]).toEqual([
      [32, 16],
      [16, 8],
      [8, 4],
    ]);
    expect(mlp['prediction/kernel']).toEqual([4, 1]);
    const neumf = shapes(build('neumf'));
    expect(neumf['gmf_user_embedding/embeddings']).toEqual([7, 4]);
    expect(neumf['mlp_user_embedding/embeddings']).toEqual([7, 16]);
    expect(neumf['prediction/kernel']).toEqual([8, 1]);
    expect(build('neumf').tables.map((t) => `${t.name}:${t.kind}`)).toEqual([
      'gmf_user_embedding:user',
      'gmf_item_embedding:item',
      'mlp_user_embedding:user',
      'mlp_item_embedding:item',
    ]);
    expect(build('neumf').dense).toHaveLength(8);
  });

  it('take --layers as the authors do: layers[0] is the concatenated embedding width', () => {
    expect(mlpTower(modelSchema.parse({ dim: 8 }))).toEqual([64, 32, 16, 8]);
    expect(mlpTower(modelSchema.parse({ dim: 8, layers: [32, 16] }))).toEqual([32, 16]);
    const m = build('mlp', { layers: [10, 6, 3] });
    expect(namedWeights(m.keras).find((w) => w.key === 'mlp_user_embedding/embeddings')?.variable.shape).toEqual([7, 5]);
    expect(() => build('mlp', { layers: [9, 4] })).toThrow(ConfigError);
    expect(() => build('mlp', { layers: [9, 4] })).toThrow(/model\.layers\[0\].*even.*Received: 9,4/);
  });

  it('initialise embeddings N(0, 0.01) and biases 0, reproducibly from the seed', () => {
    const m = build('neumf', { dim: 16 }, 9);
    const emb = namedWeights(m.keras).find((w) => w.key === 'mlp_item_embedding/embeddings')?.variable.dataSync() ?? new Float32Array();
    let sq = 0;
    for (const v of emb) sq += v * v;
    expect(Math.sqrt(sq / emb.length)).toBeGreaterThan(0.007);
    expect(Math.sqrt(sq / emb.length)).toBeLessThan(0.013);
    expect(Array.from(namedWeights(m.keras).find((w) => w.key === 'mlp_layer_1/bias')?.variable.dataSync() ?? [])).toEqual(new Array(64).fill(0));
    const again = build('neumf', { dim: 16 }, 9);
    const { users, items } = allPairs();
    expect(Array.from(scores(again, users, items))).toEqual(Array.from(scores(m, users, items)));
  });

  for (const kind of ['gmf', 'mlp', 'neumf'] as const) {
    it(`${kind}: scoreRows (the training path) equals the saved Keras graph, and scoreMatrix equals scoreRows`, () => {
      const m = build(kind);
      // Non-zero biases so their handling is checked too.
      for (const w of namedWeights(m.keras)) if (w.key.endsWith('/bias')) w.variable.assign(tf.fill(w.variable.shape, 0.3));
      const { users, items } = allPairs();
      const rows = scores(m, users, items);
      expect(maxDiff(rows, graphScores(m.keras, users, items))).toBeLessThan(1e-6);
      const matrix = tf.tidy(() => Float32Array.from(m.scoreMatrix(tf.tensor1d([0, 1, 2, 3, 4, 5, 6], 'int32'), tf.range(0, 11, 1, 'int32') as TF.Tensor1D).dataSync()));
      expect(maxDiff(matrix, rows)).toBeLessThan(1e-6);
      const sub = tf.tidy(() => Float32Array.from(m.scoreMatrix(tf.tensor1d([3], 'int32'), tf.tensor1d([10, 2], 'int32')).dataSync()));
      expect(maxDiff(sub, [rows[3 * 11 + 10], rows[3 * 11 + 2]])).toBeLessThan(1e-6);
    });

    it(`${kind}: the saved model reloads with identical scores, through rec and plain tf.loadLayersModel`, async () => {
      const m = build(kind);
      const out = dir(`save-${kind}`);
      await writeModel(out, m);
      const back = await loadPairModel(out);
      expect(back.name).toBe(kind);
      const { users, items } = allPairs();
      expect(Array.from(scores(back, users, items))).toEqual(Array.from(scores(m, users, items)));
      const plain = await tf.loadLayersModel(fileLoadHandler(out));
      expect(maxDiff(graphScores(plain, users, items), scores(m, users, items))).toBeLessThan(1e-6);
    });
  }

  it('scoreMatrix equals scoreRows over a catalogue scored in several user chunks, and for a tower without hidden layers', () => {
    // dim 8: the first hidden layer is 32 wide, so 70,000 items allow one user per 4M-float chunk.
    const big = { users: 3, items: 70_000, globalMean: 0 };
    for (const [kind, layers] of [
      ['neumf', []],
      ['mlp', []],
      ['neumf', [8]],
      ['mlp', [8]],
    ] as const) {
      let s = 3;
      const m = buildModel(kind, { config: modelSchema.parse({ dim: 8, dropout: 0, layers }), shape: big, nextSeed: () => s++ });
      for (const w of namedWeights(m.keras)) if (w.key.endsWith('/bias')) w.variable.assign(tf.fill(w.variable.shape, -0.2));
      const items = Int32Array.from({ length: big.items }, (_, i) => i);
      const matrix = tf.tidy(() => Float32Array.from(m.scoreMatrix(tf.tensor1d([2, 0, 1], 'int32'), tf.tensor1d(items, 'int32')).dataSync()));
      const rows = [2, 0, 1].map((u) => scores(m, new Int32Array(big.items).fill(u), items));
      expect(maxDiff(matrix, Float32Array.from(rows.flatMap((r) => Array.from(r))))).toBeLessThan(1e-5);
      m.keras.dispose();
    }
  }, 180_000);

  it('applies dropout to the MLP tower only when training', () => {
    const m = build('mlp', { dropout: 0.5 });
    const { users, items } = allPairs();
    const rows = (training: boolean) =>
      tf.tidy(() => Array.from(m.scoreRows(gatherRows(m.tables, tf.tensor1d(users, 'int32'), tf.tensor1d(items, 'int32')), training).dataSync()));
    expect(rows(false)).toEqual(rows(false));
    expect(rows(true)).not.toEqual(rows(false));
    expect(maxDiff(rows(false), graphScores(m.keras, users, items))).toBeLessThan(1e-6);
  });

  it('item vectors: the item embedding of GMF / MLP, both side by side for NeuMF', () => {
    expect(itemVectorShape('gmf')).toEqual([11, 4]);
    expect(itemVectorShape('mlp')).toEqual([11, 16]);
    expect(itemVectorShape('neumf')).toEqual([11, 20]);
  });
});
