import { describe, expect, it } from 'vitest';
import type { ItemFeatures } from '../../../../src/data/item-features.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { buildVocab, itemBags } from '../../../../src/models/search/bags.js';
import { QueryEncoder } from '../../../../src/models/search/query.js';
import { buildSearchModel, itemPrior, refreshServing, SearchRanker, SEARCH_FORMAT, type SearchModel, type SearchSpec } from '../../../../src/models/search/search-model.js';
import { decodeServing, ServingRanker } from '../../../../src/models/search/serving.js';

const TITLES = ['red cordless drill 18v', 'blue hammer steel', 'aluminium ladder 6 ft', 'kitchen faucet chrome', 'cordless impact driver', 'garden shovel', '水龙头 厨房'];
const QUERIES = ['cordless drill', 'hamer', 'ladder', '厨房 faucet', 'nothing here'];
const featurizer = new TextFeaturizer();
// TF.js names each model's id-row variable by its seed: one seed per model built here.
let seed = 7;

function model(kind: SearchSpec['model']): SearchModel {
  const f = TITLES.map((t) => featurizer.featurize(t));
  const offsets = new Int32Array(f.length + 1);
  f.forEach((x, i) => (offsets[i + 1] = offsets[i] + x.buckets.length));
  const features: ItemFeatures = {
    items: TITLES.length,
    inCatalogue: new Uint8Array(TITLES.length).fill(1),
    features: [{ name: 'title', kind: 'text', buckets: { offsets, values: Int32Array.from(f.flatMap((x) => Array.from(x.buckets))), valid: new Uint8Array(TITLES.length).fill(1) }, counts: Int32Array.from(f.flatMap((x) => Array.from(x.counts))) }],
    catalogue: {} as ItemFeatures['catalogue'],
  };
  const vocab = buildVocab(features, null, null);
  const bags = itemBags(vocab, features, TITLES.length);
  const towers = kind !== 'bm25';
  const spec: SearchSpec = {
    format: SEARCH_FORMAT,
    model: kind,
    featurizer: featurizer.spec(),
    values: vocab.values,
    tower: towers ? { dim: 8, temperature: 0.05, id_dropout: 0.5 } : null,
    bm25: kind !== 'two-tower' ? { k1: 1.2, b: 0.75 } : null,
    alpha: kind === 'hybrid' ? 0.3 : null,
    head: null,
    personal: towers ? { beta: 0.4, history: 20 } : null,
  };
  const trained = Uint8Array.of(1, 1, 0, 1, 0, 1, 1);
  const histories = towers ? { offsets: Int32Array.of(0, 2, 2, 3), items: Int32Array.of(0, 4, 3) } : null;
  const m = buildSearchModel({ spec, vocab, itemBags: bags, bagCounts: new Int32Array(bags.rows.length).fill(1), trained, prior: itemPrior(Int32Array.of(0, 1), Float32Array.of(1, 0.5), TITLES.length), histories, seed: seed++, initStd: 0.1 });
  refreshServing(m);
  return m;
}

function block(m: SearchModel, weights = 'w'.repeat(64)): Uint8Array {
  const serving = m.sidecar().serving;
  return serving(weights).bytes;
}

describe('the serving block', () => {
  const encoder = new QueryEncoder(featurizer.spec());

  for (const kind of ['bm25', 'two-tower', 'hybrid'] as const) {
    it(`${kind}: scores every query exactly as the whole model does, anonymous and personal`, () => {
      const m = model(kind);
      const whole = new SearchRanker(m);
      const served = new ServingRanker(decodeServing(block(m), 'serving.bin', 'w'.repeat(64)));
      expect(served.items).toBe(TITLES.length);
      for (const text of QUERIES) {
        const q = encoder.encode(text);
        for (const user of [-1, 0, 1, 2]) {
          const a = whole.score(q, null, undefined, user);
          const b = served.score(q, null, undefined, user);
          expect(b.score, `${text} user ${user}`).toEqual(a.score);
          expect(b.cosine).toEqual(a.cosine);
          expect(b.bm25).toEqual(a.bm25);
          expect(served.score(q, Int32Array.of(3, 0), undefined, user).score).toEqual(whole.score(q, Int32Array.of(3, 0), undefined, user).score);
        }
      }
      // A user with history changes the ranking where the model has towers.
      if (kind !== 'bm25') expect(served.score(encoder.encode('drill'), null, undefined, 0).score).not.toEqual(served.score(encoder.encode('drill'), null, undefined, -1).score);
    });
  }

  it('reads a block from a buffer at any offset (copied once when unaligned)', () => {
    const m = model('hybrid');
    const bytes = block(m);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const served = new ServingRanker(decodeServing(shifted.subarray(3), 'serving.bin', null));
    const q = encoder.encode('cordless drill');
    expect(served.score(q, null).score).toEqual(new SearchRanker(m).score(q, null).score);
  });

  it('refuses a block of other weights, a flipped byte, a truncated or padded file', () => {
    const bytes = block(model('hybrid'));
    expect(() => decodeServing(bytes, 'serving.bin', 'x'.repeat(64))).toThrow(/other weights than run\.json records/);
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 100] ^= 1;
    expect(() => decodeServing(flipped, 'serving.bin', null)).toThrow(/serving\.bin is corrupt: its checksum/);
    expect(() => decodeServing(bytes.subarray(0, bytes.length - 8), 'serving.bin', null)).toThrow(/truncated or damaged/);
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes);
    expect(() => decodeServing(padded, 'serving.bin', null)).toThrow(/truncated or damaged/);
    expect(() => decodeServing(Uint8Array.of(1, 2, 3), 'serving.bin', null)).toThrow(/does not start with RECSRV1/);
  });
});
