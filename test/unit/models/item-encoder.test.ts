import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ItemFeatures } from '../../../src/data/item-features.js';
import type { ManifestCatalogue } from '../../../src/data/manifest.js';
import { initEngine } from '../../../src/engine/backend.js';
import { createItemEncoder, encoderSpec, idMask, itemTokens, withComposedTables, type ItemEncoder } from '../../../src/models/item-encoder.js';
import type { EmbeddingTable } from '../../../src/models/model.js';
import { distinct, featureLeaves } from '../../../src/train/feature-rows.js';
import { silentLogger } from '../../../src/util/log.js';
import { Prng } from '../../../src/util/prng.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
});

const list = (rows: number[][]) => {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  return { offsets, values: Int32Array.from(rows.flat()), valid: new Uint8Array(rows.length).fill(1) };
};

/**
 * Five items: brand (category), tags (multi), title (text buckets with counts), price (number).
 * Items 0–2 are warm; 3 and 4 have no training rows.
 */
function catalogue(): ItemFeatures {
  const text = list([[7, 8], [7], [9, 8], [7, 9], [11]]);
  return {
    items: 5,
    inCatalogue: new Uint8Array(5).fill(1),
    catalogue: {} as ManifestCatalogue,
    features: [
      { name: 'brand', kind: 'category', codes: Int32Array.from([0, 1, 0, 0, 2]), vocab: ['acme', 'zeta', 'solo'] },
      { name: 'tags', kind: 'multi', codes: list([[0, 1], [1], [], [0], [2]]), vocab: ['red', 'big', 'odd'] },
      { name: 'title', kind: 'text', buckets: text, counts: Int32Array.from([1, 3, 2, 1, 1, 1, 1, 1]) },
      { name: 'price', kind: 'number', values: Float64Array.from([1, 2, 3, 4, Number.NaN]), mean: null, std: null },
    ],
  };
}
const WARM = Uint8Array.from([1, 1, 1, 0, 0]);

describe('encoderSpec', () => {
  it('gives rows to values in two items or more, one of them warm, and buckets numbers by quantiles', () => {
    const spec = encoderSpec(catalogue(), WARM, { idDropout: 0.25, tables: ['item_embedding'] });
    // solo and odd (item 4 only), bucket 11 (item 4 only): no rows. zeta: item 1 only: no row.
    expect(spec.tokens).not.toContain('brand\tsolo');
    expect(spec.tokens).not.toContain('brand\tzeta');
    expect(spec.tokens).not.toContain('tags\todd');
    expect(spec.tokens).not.toContain('title\t#11');
    expect(spec.tokens).toEqual(expect.arrayContaining(['brand\tacme', 'tags\tred', 'tags\tbig', 'title\t#7', 'title\t#8', 'title\t#9']));
    const price = spec.fields.find((f) => f.name === 'price');
    expect(price?.boundaries?.length).toBeGreaterThan(0);
    // Prices 1..4 in ten quantile buckets: each in its own bucket, none shared by two items, so no price row.
    expect(spec.tokens.some((t) => t.startsWith('price'))).toBe(false);
  });

  it('keeps a parent\'s tokens first, in its order, and its number boundaries', () => {
    const parent = { format_version: 1 as const, fields: [{ name: 'price', kind: 'number' as const, boundaries: [2.5] }], tokens: ['brand\tzeta', 'gone\tx'], id_dropout: 0.5, tables: ['item_embedding'] };
    const spec = encoderSpec(catalogue(), WARM, { idDropout: 0.25, tables: ['item_embedding'], parent });
    expect(spec.tokens.slice(0, 2)).toEqual(['brand\tzeta', 'gone\tx']);
    expect(spec.fields.find((f) => f.name === 'price')?.boundaries).toEqual([2.5]);
    // price < 2.5 (items 0, 1) and >= 2.5 (items 2, 3): both buckets now shared by a warm item.
    expect(spec.tokens).toEqual(expect.arrayContaining(['price\t<0', 'price\t<1']));
  });
});

describe('itemTokens', () => {
  it('pools each feature to its mean: multi values equally, text buckets by their counts', () => {
    const features = catalogue();
    const spec = encoderSpec(features, WARM, { idDropout: 0, tables: ['t'] });
    const items = itemTokens(spec, features, 6);
    const row = (key: string) => spec.tokens.indexOf(key);
    const of = (i: number) => {
      const out = new Map<number, number>();
      for (let e = items.offsets[i]; e < items.offsets[i + 1]; e++) out.set(items.tokens[e], items.weights[e]);
      return out;
    };
    const item0 = of(0);
    expect(item0.get(row('brand\tacme'))).toBe(1);
    expect(item0.get(row('tags\tred'))).toBeCloseTo(0.5, 6);
    expect(item0.get(row('tags\tbig'))).toBeCloseTo(0.5, 6);
    // Buckets 7 and 8 with counts 1 and 3.
    expect(item0.get(row('title\t#7'))).toBeCloseTo(0.25, 6);
    expect(item0.get(row('title\t#8'))).toBeCloseTo(0.75, 6);
    // Item 4's values have no rows; item 5 is past the catalogue.
    expect(items.offsets[5] - items.offsets[4]).toBe(0);
    expect(items.offsets[6] - items.offsets[5]).toBe(0);
  });
});

function tables(rows: number, width: number, seed: number): EmbeddingTable[] {
  const rng = Prng.fromSeed(seed, 'table');
  const values = Float32Array.from({ length: rows * width }, () => rng.next() - 0.5);
  return [{ name: 'item_embedding', kind: 'item', variable: tf.variable(tf.tensor2d(values, [rows, width]), true, `item_embedding_${seed}`) }];
}

function encoderFor(t: EmbeddingTable[], learned: Uint8Array, seed: number): ItemEncoder {
  const features = catalogue();
  const spec = encoderSpec(features, WARM, { idDropout: 0.5, tables: ['item_embedding'] });
  const rng = Prng.fromSeed(seed, 'features');
  const width = t[0].variable.shape[1] as number;
  const values = Float32Array.from({ length: spec.tokens.length * width }, () => rng.next() - 0.5);
  return createItemEncoder({ spec, features, modelItems: t[0].variable.shape[0], learned, widths: { item_embedding: width }, values: { 'item_embedding#features': values } });
}

/** m_i · T[i] + Σ w F[t], in float64. */
function expected(encoder: ItemEncoder, table: Float32Array, features: Float32Array, width: number, item: number, useId: boolean): number[] {
  const out = Array.from({ length: width }, (_, j) => (useId ? table[item * width + j] : 0));
  const { offsets, tokens, weights } = encoder.items;
  for (let e = offsets[item]; e < offsets[item + 1]; e++) for (let j = 0; j < width; j++) out[j] += weights[e] * features[tokens[e] * width + j];
  return out;
}

describe('compose and withComposedTables', () => {
  it('gives learned items id + features, unlearned ones their features, items without features their id', async () => {
    const t = tables(6, 3, 1);
    const learned = Uint8Array.from([1, 1, 1, 0, 0, 0]);
    const encoder = encoderFor(t, learned, 2);
    const T = t[0].variable.dataSync() as Float32Array;
    const F = encoder.tables[0].variable.dataSync() as Float32Array;
    const before = Float32Array.from(T);
    await withComposedTables(encoder, t, async (raw) => {
      expect(Array.from(raw.item_embedding.dataSync())).toEqual(Array.from(before));
      const composed = t[0].variable.arraySync() as number[][];
      for (let i = 0; i < 6; i++) {
        const useId = encoder.featured[i] === 0 || learned[i] === 1;
        const want = expected(encoder, before, F, 3, i, useId);
        composed[i].forEach((v, j) => expect(v).toBeCloseTo(want[j], 5));
      }
      // Item 3 is cold with features: its id row (random) is not in its vector.
      expect(encoder.featured[3]).toBe(1);
      expect(encoder.featured[4]).toBe(0);
    });
    expect(Array.from(t[0].variable.dataSync())).toEqual(Array.from(before));
    encoder.dispose();
  });
});

describe('idMask', () => {
  it('drops about the dropout rate of learned featured items, never an item without features, always an unlearned one', () => {
    const encoder = { featured: Uint8Array.from([1, 0, 1]), learned: Uint8Array.from([1, 1, 0]) };
    const rng = Prng.fromSeed(3, 'mask');
    let dropped = 0;
    const n = 4000;
    for (let k = 0; k < n; k++) {
      const m = idMask(encoder, Int32Array.from([0, 1, 2]), 0.3, rng);
      expect(m[1]).toBe(1);
      expect(m[2]).toBe(0);
      dropped += 1 - m[0];
    }
    expect(dropped / n).toBeGreaterThan(0.27);
    expect(dropped / n).toBeLessThan(0.33);
  });
});

describe('featureLeaves', () => {
  it('sends each composed vector\'s gradient to its kept id row and, weighted, to its token rows', () => {
    const t = tables(6, 2, 5);
    const encoder = encoderFor(t, Uint8Array.from([1, 1, 1, 0, 0, 0]), 6);
    const { list } = distinct(Int32Array.from([0, 3, 2, 0, 5]), new Int32Array(6).fill(-1));
    expect(Array.from(list)).toEqual([0, 3, 2, 5]);
    const R = [
      [1, 2],
      [3, -1],
      [0.5, 0.25],
      [-2, 4],
    ];
    tf.tidy(() => {
      const leaves = featureLeaves(encoder, t, new Set(), list, Prng.fromSeed(7, 'drop'));
      const { grads } = tf.valueAndGrads(() => tf.sum(tf.mul(leaves.assemble().item_embedding, tf.tensor2d(R))) as TF.Scalar)(leaves.leaves.map((l) => l.tensor));
      const idLeaf = leaves.leaves.find((l) => l.table === t[0].variable);
      const tokenLeaf = leaves.leaves.find((l) => l.table === encoder.tables[0].variable);
      // Cold item 3 never uses its id row; item 5 has no features and always does.
      expect(Array.from(idLeaf?.rows ?? [])).not.toContain(3);
      expect(Array.from(idLeaf?.rows ?? [])).toContain(5);
      const idGrad = grads[leaves.leaves.indexOf(idLeaf as (typeof leaves.leaves)[number])].arraySync() as number[][];
      (idLeaf?.rows ?? []).forEach((item, k) => expect(idGrad[k]).toEqual(R[Array.from(list).indexOf(item)]));
      const tokenGrad = grads[leaves.leaves.indexOf(tokenLeaf as (typeof leaves.leaves)[number])].arraySync() as number[][];
      // Each distinct token row's gradient: Σ over the items holding it of weight × that item's R.
      const want = new Map<number, number[]>();
      list.forEach((item, k) => {
        for (let x = encoder.items.offsets[item]; x < encoder.items.offsets[item + 1]; x++) {
          const g = want.get(encoder.items.tokens[x]) ?? [0, 0];
          R[k].forEach((r, j) => (g[j] += encoder.items.weights[x] * r));
          want.set(encoder.items.tokens[x], g);
        }
      });
      expect(new Set(tokenLeaf?.rows)).toEqual(new Set(want.keys()));
      expect(tokenLeaf?.rows.length).toBe(want.size);
      (tokenLeaf?.rows ?? []).forEach((token, k) => tokenGrad[k].forEach((g, j) => expect(g).toBeCloseTo((want.get(token) as number[])[j], 5)));
    });
    encoder.dispose();
  });
});
