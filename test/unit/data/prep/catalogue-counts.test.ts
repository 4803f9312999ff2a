import { tableFromIPC, type Field, type List } from 'apache-arrow';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../src/data/dataset.js';
import { loadItemFeatures, type ItemFeature, type ItemFeatures, type ListFeature } from '../../../../src/data/item-features.js';
import { countArrayFor } from '../../../../src/data/prep/catalogue-build.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { encoderSpec, itemTokens } from '../../../../src/models/item-encoder.js';
import { prep, REPO, tempRoot } from './helpers.js';

// A dataset written by main at 3d6268d, before counts were narrowed: `#counts` is List<Int32> (README there).
const OLD = join(REPO, 'test/fixtures/catalogue-int32-counts');
const FEATURES = 'title:text,brand:category,categories:multi,price:number';
const out = tempRoot();

function write(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** The value type of each `#counts` list column of a dataset's item_features.arrow. */
function countTypes(dir: string): Record<string, string> {
  const t = tableFromIPC(readFileSync(join(dir, 'item_features.arrow')));
  const out: Record<string, string> = {};
  for (const f of t.schema.fields as Field<List>[]) if (f.name.endsWith('#counts')) out[f.name] = String(f.type.children[0].type);
  return out;
}

async function features(dir: string): Promise<ItemFeatures> {
  const ds = await loadDataset(dir);
  const f = await loadItemFeatures(dir, ds.manifest);
  if (f === null) throw new Error(`${dir}: no catalogue`);
  return f;
}

function text(f: ItemFeatures, name = 'title'): Extract<ItemFeature, { kind: 'text' }> {
  const x = f.features.find((g) => g.name === name);
  if (x?.kind !== 'text') throw new Error(`no text feature ${name}`);
  return x;
}

function listAt(l: ListFeature, values: Int32Array, i: number): number[] | null {
  return l.valid[i] === 0 ? null : Array.from(values.subarray(l.offsets[i], l.offsets[i + 1]));
}

describe('item_features.arrow counts: the narrowest type that holds them', () => {
  it('countArrayFor picks Uint8 up to 255, Uint16 up to 65,535, else Int32', () => {
    expect([0, 1, 255, 256, 65_535, 65_536, 2 ** 31 - 1].map(countArrayFor)).toEqual(['uint8', 'uint8', 'uint8', 'uint16', 'uint16', 'int32', 'int32']);
  });

  it('a dataset written before (Int32 counts) loads, and the same prep now writes Uint8 counts of the same values, and the same encoder tokens', async () => {
    expect(countTypes(join(OLD, 'ds'))).toEqual({ 'title#counts': 'Int32' });
    const dir = out();
    await prep(dir, [join(OLD, 'in/log.csv')], { items: [join(OLD, 'in/catalogue.csv')], item_key: 'item_id', item_features: FEATURES, split: 'days:0,1' });
    expect(countTypes(dir)).toEqual({ 'title#counts': 'Uint8' });
    const [a, b] = [await features(join(OLD, 'ds')), await features(dir)];
    // (The manifest's catalogue block names the fixture's files by absolute path: compared apart, without them.)
    expect(b.features).toEqual(a.features);
    expect(b.inCatalogue).toEqual(a.inCatalogue);
    const same = (c: ItemFeatures['catalogue']): unknown => ({ ...c, files: [], text_featurizer: { ...c.text_featurizer, unicode: '' } });
    expect(same(b.catalogue)).toEqual(same(a.catalogue));
    // A word repeated in a title: counts past 1 survive the narrowing.
    expect(Math.max(...text(b).counts)).toBeGreaterThan(1);
    // What every feature-aware model is built from: the same tokens and pooling weights.
    const warm = new Uint8Array(a.items).fill(1);
    const opts = { idDropout: 0.5, tables: ['item'] };
    const [sa, sb] = [encoderSpec(a, warm, opts), encoderSpec(b, warm, opts)];
    expect(sb).toEqual(sa);
    expect(itemTokens(sb, b, b.items)).toEqual(itemTokens(sa, a, a.items));
  });

  it('a count past 255 makes that column Uint16 (another text column stays Uint8), values exact', async () => {
    const dir = out();
    const log = write(join(dir, 'in/log.csv'), 'user,item\nu1,a\nu1,b\nu2,a\n');
    const spam = Array.from({ length: 300 }, () => 'deal').join(' ');
    const cat = write(join(dir, 'in/cat.csv'), `id,title,about\na,Blue kettle,${spam}\nb,Red kettle,short text\n`);
    await prep(join(dir, 'ds'), [log], { items: [cat], item_key: 'id', item_features: 'title:text,about:text', split: 'none' });
    expect(countTypes(join(dir, 'ds'))).toEqual({ 'title#counts': 'Uint8', 'about#counts': 'Uint16' });
    const f = await features(join(dir, 'ds'));
    const about = text(f, 'about');
    const ref = new TextFeaturizer().featurize(spam);
    expect(Math.max(...ref.counts)).toBe(300);
    expect(listAt(about.buckets, about.counts, 0)).toEqual(Array.from(ref.counts));
    expect(listAt(about.buckets, about.buckets.values, 0)).toEqual(Array.from(ref.buckets));
  });

  it('a count past 255 in a row a later row of its key replaces leaves the column Uint8 (the lists written decide)', async () => {
    const dir = out();
    const log = write(join(dir, 'in/log.csv'), 'user,item\nu1,a\nu1,b\n');
    const spam = Array.from({ length: 300 }, () => 'deal').join(' ');
    const cat = write(join(dir, 'in/cat.csv'), `id,title\na,${spam}\nb,Red kettle\na,Blue kettle\n`);
    await prep(join(dir, 'ds'), [log], { items: [cat], item_key: 'id', item_features: 'title:text', split: 'none' });
    expect(countTypes(join(dir, 'ds'))).toEqual({ 'title#counts': 'Uint8' });
    const title = text(await features(join(dir, 'ds')));
    expect(listAt(title.buckets, title.counts, 0)).toEqual(Array.from(new TextFeaturizer().featurize('Blue kettle').counts));
  });

  it('--append-to a base written before: its lists are carried as they were, a newer row with a count past 255 makes the column Uint16', async () => {
    const dir = out();
    // A copy: prep locks and reads its base, and the fixture stays as written.
    cpSync(join(OLD, 'ds'), join(dir, 'base'), { recursive: true });
    const spam = Array.from({ length: 260 }, () => 'sale').join(' ');
    const newer = write(join(dir, 'in/newer.csv'), `item_id,title,brand,categories,price\ni2,Nike Air Max 2024,Nike,shoes,99\ni10,${spam},Adidas,shoes,80\n`);
    await prep(join(dir, 'next'), [join(OLD, 'in/day2.csv')], { items: [newer], split: 'days:0,1' }, { appendTo: join(dir, 'base') });
    expect(countTypes(join(dir, 'next'))).toEqual({ 'title#counts': 'Uint16' });
    const [b, n] = [await features(join(dir, 'base')), await features(join(dir, 'next'))];
    const ids = (await loadDataset(join(dir, 'next'))).items.ids;
    const [bt, nt] = [text(b), text(n)];
    for (let i = 0; i < b.items; i++) {
      if (ids[i] === 'i2') continue;
      expect(listAt(nt.buckets, nt.counts, i), ids[i]).toEqual(listAt(bt.buckets, bt.counts, i));
      expect(listAt(nt.buckets, nt.buckets.values, i), ids[i]).toEqual(listAt(bt.buckets, bt.buckets.values, i));
    }
    const ref = new TextFeaturizer().featurize(spam);
    expect(listAt(nt.buckets, nt.counts, ids.indexOf('i10'))).toEqual(Array.from(ref.counts));
  });
});
