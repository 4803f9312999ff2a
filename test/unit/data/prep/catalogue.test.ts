import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../src/data/dataset.js';
import { loadItemFeatures, type ItemFeature, type ListFeature } from '../../../../src/data/item-features.js';
import { displayTitle, pickTitleFeature, readItemTitles, TITLE_MAX_CHARS } from '../../../../src/data/item-titles.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { DataError, UsageError } from '../../../../src/util/errors.js';
import { expectAccounting, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();

function write(path: string, text: string | Buffer): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const LOG = ['user,item,ts', 'u1,i1,1600000000', 'u1,i2,1600000100', 'u2,i1,1600000200', 'u2,i3,1600000300', 'u3,i2,1600000400', 'u3,i4,1600000500', 'u4,i1,1600000600', 'u4,i2,1600000700'].join('\n');

// Line numbers (header = 1): 2 i1, 3 i2, 4 no key, 5 i3, 6 i9, 7 i2 again, 8 two fields, 9 i8.
const CATALOGUE = [
  'item_id,title,brand,categories,price',
  'i1,"苹果手机壳 透明 <b>新款</b>",Apple,phone|case,"$1,299.00"',
  'i2,Nike Air 👟 running shoe,Nike,shoes|sport,12.99',
  ',a row without a key,X,a,1',
  'i3,,Nike,,N/A',
  'i9,华为 Mate 60 Pro 手机,Huawei,phone| phone ,"1.299,00 €"',
  'i2,Nike Air running shoe v2,Nike,shoes,13.50',
  'i7,only two fields',
  'i8,🎉🎉,,,$10 - $20',
].join('\n');

const TITLES: Record<string, string | null> = {
  i1: '苹果手机壳 透明 <b>新款</b>',
  i2: 'Nike Air running shoe v2',
  i3: null,
  i4: null,
  i9: '华为 Mate 60 Pro 手机',
  i8: '🎉🎉',
};

function listAt(l: ListFeature, i: number): number[] | null {
  return l.valid[i] === 0 ? null : Array.from(l.values.subarray(l.offsets[i], l.offsets[i + 1]));
}

function feature(fs: ItemFeature[], name: string): ItemFeature {
  const f = fs.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no feature ${name}`);
  return f;
}

async function prepWithCatalogue(): Promise<{ dir: string; plain: string; m: Awaited<ReturnType<typeof prep>> }> {
  const dir = out();
  const log = write(join(dir, 'in', 'log.csv'), LOG);
  const cat = write(join(dir, 'in', 'catalogue.csv'), CATALOGUE);
  const m = await prep(join(dir, 'ds'), [log], { items: [cat], item_features: 'title:text,brand:category,categories:multi,price:number', split: 'random:0.6,0.2,0.2' });
  const plain = join(dir, 'plain');
  await prep(plain, [log], { split: 'random:0.6,0.2,0.2' });
  return { dir, plain, m };
}

describe('rec prep --items: a CSV catalogue', () => {
  it('accounts for every catalogue row, keeps the log rows as they were, and appends catalogue-only items', async () => {
    const { dir, plain, m } = await prepWithCatalogue();
    const ds = join(dir, 'ds');
    const c = m.manifest.catalogue;
    expect(c).toBeDefined();
    if (c === null || c === undefined) return;
    expect(c.rows).toEqual({ read: 8, accepted: 6, rejected: 2, duplicates: 1, conflicting_duplicates: 1, items: 5 });
    expect(c.rejected_by_reason).toEqual({ empty_key: 1, wrong_column_count: 1 });
    expect(c.key).toBe('item_id');
    expect(c.features).toEqual({ title: 'text', brand: 'category', categories: 'multi', price: 'number' });
    expect(c.features_guessed).toBe(false);
    expect(c.log_items_without_row).toBe(1);
    expect(c.catalogue_only_items).toBe(2);
    expect(c.catalogue_only_from).toBe(4);
    expect(c.text_featurizer).toEqual({ ...new TextFeaturizer().spec(), unicode: process.versions.unicode });
    expect(m.result.catalogue).toEqual(c);

    // The log's rows, accounting and first four item indices are those of a prep without the catalogue.
    const p = JSON.parse(readFileSync(join(plain, 'manifest.json'), 'utf8')) as typeof m.manifest;
    expect(m.manifest.rows).toEqual(p.rows);
    expectAccounting(m.manifest, (cond, what) => expect(cond, what).toBe(true));
    for (const split of ['train.arrow', 'valid.arrow', 'test.arrow']) expect(rows(ds, split)).toEqual(rows(plain, split));
    const items = rows(ds, 'items.arrow');
    expect(items.slice(0, 4)).toEqual(rows(plain, 'items.arrow'));
    expect(items.slice(4).map((r) => [r.id, r.count, r.first_ts, r.last_ts])).toEqual([
      ['i9', 0, null, null],
      ['i8', 0, null, null],
    ]);
    expect(m.manifest.items).toBe(6);

    // Rejected catalogue rows: in rejects.jsonl, by file and line, apart from the log's count.
    const rj = rejects(ds);
    expect(rj.map((r) => [r.file, r.line, r.reason])).toEqual([
      [join(dir, 'in', 'catalogue.csv'), 4, 'empty_key'],
      [join(dir, 'in', 'catalogue.csv'), 8, 'wrong_column_count'],
    ]);
    expect(m.manifest.rows.rejected).toBe(0);
  });

  it('stores each feature per item index as documented, checked against a reference', async () => {
    const { dir } = await prepWithCatalogue();
    const ds = join(dir, 'ds');
    const data = await loadDataset(ds);
    const f = await loadItemFeatures(ds, data.manifest);
    expect(f).not.toBeNull();
    if (f === null) return;
    const ids = data.items.ids;
    expect(ids).toEqual(['i1', 'i2', 'i3', 'i4', 'i9', 'i8']);
    expect(Array.from(f.inCatalogue)).toEqual([1, 1, 1, 0, 1, 1]);

    const title = feature(f.features, 'title');
    if (title.kind !== 'text') throw new Error('title');
    const ref = new TextFeaturizer();
    ids.forEach((id, i) => {
      const t = TITLES[id];
      const got = listAt(title.buckets, i);
      if (t === null) expect(got, id).toBeNull();
      else {
        const want = ref.featurize(t);
        expect(got, id).toEqual(Array.from(want.buckets));
        expect(Array.from(title.counts.subarray(title.buckets.offsets[i], title.buckets.offsets[i + 1]))).toEqual(Array.from(want.counts));
      }
    });
    // The HTML tag is not a word; the Chinese title gives character unigrams and bigrams.
    expect(listAt(title.buckets, 0)).not.toContain(ref.featurize('b').buckets[0]);
    expect(listAt(title.buckets, 5)).toEqual([]);

    const brand = feature(f.features, 'brand');
    if (brand.kind !== 'category') throw new Error('brand');
    expect(brand.vocab).toEqual(['Apple', 'Nike', 'Huawei']);
    expect(Array.from(brand.codes)).toEqual([0, 1, 1, -1, 2, -1]);

    const cats = feature(f.features, 'categories');
    if (cats.kind !== 'multi') throw new Error('categories');
    expect(cats.vocab).toEqual(['phone', 'case', 'shoes']);
    expect(ids.map((_, i) => listAt(cats.codes, i))).toEqual([[0, 1], [2], null, null, [0], null]);

    const price = feature(f.features, 'price');
    if (price.kind !== 'number') throw new Error('price');
    const want = [1299, 13.5, Number.NaN, Number.NaN, 1299, Number.NaN];
    expect(Array.from(price.values)).toEqual(want);
    const present = want.filter((x) => !Number.isNaN(x));
    const mean = present.reduce((a, b) => a + b, 0) / present.length;
    const std = Math.sqrt(present.reduce((a, b) => a + (b - mean) ** 2, 0) / present.length);
    expect(price.mean).toBeCloseTo(mean, 10);
    expect(price.std).toBeCloseTo(std, 10);

    const stats = f.catalogue.feature_stats;
    expect(stats.title).toMatchObject({ present: 4, missing: 2, invalid: 1 });
    expect(stats.brand).toMatchObject({ present: 4, missing: 2, invalid: 0, vocab_size: 3 });
    expect(stats.categories).toMatchObject({ present: 3, missing: 3, vocab_size: 3 });
    expect(stats.price).toMatchObject({ present: 3, missing: 3, invalid: 1, min: 13.5, max: 1299 });
  });

  it('hashes the catalogue files in files_sha256 and refuses a changed one', async () => {
    const { dir, m } = await prepWithCatalogue();
    const ds = join(dir, 'ds');
    expect(Object.keys(m.manifest.files_sha256 ?? {}).sort()).toEqual(['item_feature_vocab', 'item_features', 'item_titles', 'items', 'rejects', 'test', 'train', 'users', 'valid']);
    expect(m.manifest.files).toMatchObject({ item_features: 'item_features.arrow', item_feature_vocab: 'item_feature_vocab.arrow' });
    const titles = join(ds, 'item_titles.arrow');
    const tb = readFileSync(titles);
    tb[tb.length - 20] ^= 1;
    writeFileSync(titles, tb);
    await expect(readItemTitles(ds, m.manifest.files_sha256?.item_titles)).rejects.toThrow(/item_titles\.arrow has sha256/);
    const path = join(ds, 'item_feature_vocab.arrow');
    const bytes = readFileSync(path);
    bytes[bytes.length - 20] ^= 1;
    writeFileSync(path, bytes);
    await expect(loadItemFeatures(ds, m.manifest)).rejects.toThrow(/item_feature_vocab\.arrow has sha256/);
  });
});

describe('rec prep --items: JSONL, guessed kinds', () => {
  it('reads arrays as multi values, rejects bad keys and lines, and records the guess', async () => {
    const dir = out();
    const log = write(join(dir, 'log.jsonl'), ['{"u":"a","item":101}', '{"u":"b","item":102}', '{"u":"a","item":"103"}'].join('\n'));
    const lines = [
      '{"item":101,"title":"Wireless mouse","cat":["Electronics","Mice"],"brand":"Logi","price":"$25.00","meta":{"x":1}}',
      '{"item":102,"title":"机械键盘 青轴","cat":["Electronics"],"brand":"Logi","price":49.5,"meta":{}}',
      '{"item":1.5,"title":"fraction key"}',
      '{"item":[1],"title":"array key"}',
      'not json',
      '[1,2]',
      '{"item":200,"title":"USB-C cable","cat":["Electronics","Cables"],"brand":"Anker","price":""}',
      '{"item":201,"title":"","cat":[],"brand":"Logi","price":"1e3"}',
    ];
    const cat = write(join(dir, 'cat.jsonl.gz'), gzipSync(lines.join('\n')));
    const m = await prep(join(dir, 'ds'), [log], { items: [cat], split: 'none', columns: 'user=u,item=item' });
    const c = m.manifest.catalogue;
    if (c === null || c === undefined) throw new Error('no catalogue');
    expect(c.key).toBe('item');
    expect(c.features_guessed).toBe(true);
    expect(c.features).toEqual({ title: 'text', cat: 'multi', brand: 'category', price: 'number' });
    expect(c.skipped).toEqual({ meta: 'holds JSON objects' });
    expect(m.logs.some((l) => l.includes('guessed --item-features title:text,cat:multi,brand:category,price:number'))).toBe(true);
    expect(c.rows).toMatchObject({ read: 8, rejected: 4, items: 4 });
    expect(c.rejected_by_reason).toEqual({ bad_json: 2, bad_key: 2 });
    expect(c.files[0]).toMatchObject({ gzip: true, format: 'jsonl', rows_read: 8, rejected: 4 });
    // 101 and 102 match the log's ids; 103 has no row; 200, 201 are catalogue-only.
    expect(c.log_items_without_row).toBe(1);
    expect(c.catalogue_only_items).toBe(2);
    const data = await loadDataset(join(dir, 'ds'));
    expect(data.items.ids).toEqual(['101', '102', '103', '200', '201']);
    const f = await loadItemFeatures(join(dir, 'ds'), data.manifest);
    const price = feature(f?.features ?? [], 'price');
    if (price.kind !== 'number') throw new Error('price');
    expect(Array.from(price.values)).toEqual([25, 49.5, Number.NaN, Number.NaN, 1000]);
    const cats = feature(f?.features ?? [], 'cat');
    if (cats.kind !== 'multi') throw new Error('cat');
    expect(cats.vocab).toEqual(['Electronics', 'Mice', 'Cables']);
    expect([0, 1, 2, 3, 4].map((i) => listAt(cats.codes, i))).toEqual([[0, 1], [0], null, [0, 2], null]);
  });
});

describe('rec prep --items: usage errors before anything is written', () => {
  it('names unknown declared columns and lists the catalogue columns (exit 2)', async () => {
    const dir = out();
    const log = write(join(dir, 'log.csv'), LOG);
    const cat = write(join(dir, 'cat.csv'), CATALOGUE);
    const err = await prep(join(dir, 'ds'), [log], { items: [cat], item_features: 'title:text,colour:category' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/"colour", not a column of .*cat\.csv\. Its columns: "item_id,title,brand,categories,price"/);
    await expect(prep(join(dir, 'ds2'), [log], { item_features: 'title:text' })).rejects.toThrow(/--items FILE/);
    await expect(prep(join(dir, 'ds3'), [log], { items: [join(dir, 'missing.csv')] })).rejects.toThrow(UsageError);
  });

  it('warns when no catalogue key matches a log item', async () => {
    const dir = out();
    const log = write(join(dir, 'log.csv'), LOG);
    const cat = write(join(dir, 'cat.csv'), ['sku,id,title', 'i1,x1,a', 'i2,x2,b'].join('\n'));
    const m = await prep(join(dir, 'ds'), [log], { split: 'none', items: [cat], item_features: 'title:text' });
    expect(m.manifest.warnings?.some((w) => w.includes('never matches the log'))).toBe(true);
    await expect(prep(join(dir, 'ds2'), [log], { split: 'none', items: [cat], item_features: 'title:text', strict: true })).rejects.toThrow(DataError);
    const ok = await prep(join(dir, 'ds3'), [log], { split: 'none', items: [cat], item_features: 'title:text', item_key: 'sku' });
    expect(ok.manifest.catalogue?.log_items_without_row).toBe(2);
  });
});

describe('rec prep --items --force into a folder that holds other files', () => {
  it('a later prep without a catalogue removes the catalogue files an earlier one moved in, and keeps the rest', async () => {
    const dir = out();
    const log = write(join(dir, 'in', 'log.csv'), LOG);
    const cat = write(join(dir, 'in', 'catalogue.csv'), CATALOGUE);
    const target = join(dir, 'shared');
    write(join(target, 'notes.txt'), 'mine');
    await prep(target, [log], { items: [cat], item_features: 'title:text' }, { force: true });
    expect(existsSync(join(target, 'item_features.arrow'))).toBe(true);
    await prep(target, [log], {}, { force: true });
    expect(existsSync(join(target, 'item_features.arrow'))).toBe(false);
    expect(existsSync(join(target, 'item_feature_vocab.arrow'))).toBe(false);
    expect(readFileSync(join(target, 'notes.txt'), 'utf8')).toBe('mine');
    await loadDataset(target);
  });
});

describe('rec prep --append-to with a catalogue', () => {
  const DAY2 = ['user,item,ts', 'u1,i5,1600100000', 'u5,i1,1600100100', 'u5,i9,1600100200'].join('\n');
  // i2 gets a new title and price, i5 (new in the log) and i10 (catalogue-only) are new, with a new brand.
  const NEWER = ['item_id,title,brand,categories,price', 'i2,Nike Air Max 2024,Nike,shoes,99', 'i5,Puma Suede 经典款,Puma,shoes|retro,70', 'i10,Adidas Samba,Adidas,shoes,80'].join('\n');
  const FEATURES = 'title:text,brand:category,categories:multi,price:number';

  async function base(): Promise<{ dir: string; day2: string; newer: string }> {
    const dir = out();
    const log = write(join(dir, 'in', 'log.csv'), LOG);
    const cat = write(join(dir, 'in', 'catalogue.csv'), CATALOGUE);
    await prep(join(dir, 'base'), [log], { items: [cat], item_features: FEATURES, split: 'days:0,1' });
    return { dir, day2: write(join(dir, 'in', 'day2.csv'), DAY2), newer: write(join(dir, 'in', 'newer.csv'), NEWER) };
  }

  it('merges a newer catalogue: newer rows win, other base items keep their features, vocabularies only grow', async () => {
    const { dir, day2, newer } = await base();
    const b = await loadDataset(join(dir, 'base'));
    const bf = await loadItemFeatures(join(dir, 'base'), b.manifest);
    // The base's features, declared again in another order: accepted.
    const m = await prep(join(dir, 'next'), [day2], { items: [newer], item_features: 'price:number,title:text,categories:multi,brand:category' }, { appendTo: join(dir, 'base') });
    const d = await loadDataset(join(dir, 'next'));
    const f = await loadItemFeatures(join(dir, 'next'), d.manifest);
    if (bf === null || f === null) throw new Error('no catalogue');
    // Every base item keeps its index (catalogue-only ones too); i5 joins from the log, then i10 from the catalogue.
    expect(d.items.ids).toEqual([...b.items.ids, 'i5', 'i10']);
    const c = m.manifest.catalogue;
    expect(c?.append).toEqual({ base_items: 6, carried: 4, replaced: 1 });
    expect(c?.features).toEqual({ title: 'text', brand: 'category', categories: 'multi', price: 'number' });
    expect(c?.rows).toMatchObject({ read: 3, rejected: 0, items: 3 });
    // i8 is still catalogue-only, i9 now has a row, i10 is new.
    expect(c?.catalogue_only_items).toBe(2);
    expect(c?.catalogue_only_from).toBe(7);
    expect(Array.from(f.inCatalogue)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);

    const ref = new TextFeaturizer();
    const title = feature(f.features, 'title');
    const baseTitle = feature(bf.features, 'title');
    if (title.kind !== 'text' || baseTitle.kind !== 'text') throw new Error('title');
    for (const i of [0, 2, 4, 5]) expect(listAt(title.buckets, i), d.items.ids[i]).toEqual(listAt(baseTitle.buckets, i));
    expect(listAt(title.buckets, 1)).toEqual(Array.from(ref.featurize('Nike Air Max 2024').buckets));
    expect(listAt(title.buckets, 6)).toEqual(Array.from(ref.featurize('Puma Suede 经典款').buckets));

    const brand = feature(f.features, 'brand');
    const baseBrand = feature(bf.features, 'brand');
    if (brand.kind !== 'category' || baseBrand.kind !== 'category') throw new Error('brand');
    expect(brand.vocab).toEqual([...baseBrand.vocab, 'Puma', 'Adidas']);
    expect(Array.from(brand.codes)).toEqual([0, 1, 1, -1, 2, -1, 3, 4]);
    const cats = feature(f.features, 'categories');
    if (cats.kind !== 'multi') throw new Error('categories');
    expect(cats.vocab).toEqual(['phone', 'case', 'shoes', 'retro']);
    expect(listAt(cats.codes, 1)).toEqual([2]);
    expect(listAt(cats.codes, 6)).toEqual([2, 3]);
    const price = feature(f.features, 'price');
    if (price.kind !== 'number') throw new Error('price');
    expect(Array.from(price.values)).toEqual([1299, 99, Number.NaN, Number.NaN, 1299, Number.NaN, 70, 80]);
    expect(price.mean).toBeCloseTo((1299 + 99 + 1299 + 70 + 80) / 5, 10);

    // Display titles: the newer row's wins (i2), base items without a newer row keep theirs, new items get theirs.
    const baseTitles = await readItemTitles(join(dir, 'base'), b.manifest.files_sha256?.item_titles);
    const titles = await readItemTitles(join(dir, 'next'), d.manifest.files_sha256?.item_titles);
    expect(c?.title).toBe('title');
    expect(baseTitles?.[1]).toBe('Nike Air running shoe v2');
    expect(titles).toEqual([...(baseTitles ?? []).map((t, i) => (i === 1 ? 'Nike Air Max 2024' : t)), 'Puma Suede 经典款', 'Adidas Samba']);
  });

  it('carries the base catalogue when no newer one is given, and refuses other features or key', async () => {
    const { dir, day2, newer } = await base();
    const bf = await loadItemFeatures(join(dir, 'base'), (await loadDataset(join(dir, 'base'))).manifest);
    const m = await prep(join(dir, 'next'), [day2], {}, { appendTo: join(dir, 'base') });
    const f = await loadItemFeatures(join(dir, 'next'), (await loadDataset(join(dir, 'next'))).manifest);
    if (bf === null || f === null) throw new Error('no catalogue');
    expect(m.manifest.catalogue?.append).toEqual({ base_items: 6, carried: 5, replaced: 0 });
    expect(m.manifest.catalogue?.log_items_without_row).toBe(2);
    expect(Array.from(f.inCatalogue)).toEqual([...Array.from(bf.inCatalogue), 0]);
    const title = feature(f.features, 'title');
    const baseTitle = feature(bf.features, 'title');
    if (title.kind !== 'text' || baseTitle.kind !== 'text') throw new Error('title');
    expect(Array.from(title.buckets.values)).toEqual(Array.from(baseTitle.buckets.values));
    expect(listAt(title.buckets, 6)).toBeNull();
    const baseTitles = await readItemTitles(join(dir, 'base'));
    expect(await readItemTitles(join(dir, 'next'))).toEqual([...(baseTitles ?? []), null]);

    const other = await prep(join(dir, 'x'), [day2], { items: [newer], item_features: 'title:text' }, { appendTo: join(dir, 'base') }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(UsageError);
    expect((other as Error).message).toMatch(/--item-features title:text differs from the base dataset's catalogue/);
    await expect(prep(join(dir, 'y'), [day2], { items: [newer], item_key: 'sku' }, { appendTo: join(dir, 'base') })).rejects.toThrow(/--item-key sku differs/);
  });
});

describe('display titles (item_titles.arrow)', () => {
  it('keeps the title feature verbatim per item (latest row, trimmed), and none without a text feature', async () => {
    const { dir, plain, m } = await prepWithCatalogue();
    const ds = await loadDataset(join(dir, 'ds'));
    expect(m.manifest.catalogue?.title).toBe('title');
    expect(m.manifest.files.item_titles).toBe('item_titles.arrow');
    const titles = await readItemTitles(join(dir, 'ds'), ds.manifest.files_sha256?.item_titles);
    expect(titles).toEqual(ds.items.ids.map((id) => TITLES[id] ?? null));
    // No catalogue, or one without text: no titles file.
    expect(await readItemTitles(plain)).toBeNull();
    const log = write(join(dir, 'in', 'log2.csv'), LOG);
    const cat = write(join(dir, 'in', 'cat2.csv'), CATALOGUE);
    const n = await prep(join(dir, 'notext'), [log], { items: [cat], item_features: 'brand:category,price:number' });
    expect(n.manifest.catalogue?.title).toBeNull();
    expect(existsSync(join(dir, 'notext', 'item_titles.arrow'))).toBe(false);
  });

  it('picks `title`, else the first text feature; trims and caps what it shows', () => {
    expect(pickTitleFeature([{ name: 'desc', kind: 'text' }, { name: 'title', kind: 'text' }])).toBe('title');
    expect(pickTitleFeature([{ name: 'brand', kind: 'category' }, { name: 'name', kind: 'text' }, { name: 'desc', kind: 'text' }])).toBe('name');
    expect(pickTitleFeature([{ name: 'desc', kind: 'text' }, { name: 'title', kind: 'text' }], 'desc')).toBe('desc');
    expect(pickTitleFeature([{ name: 'brand', kind: 'category' }])).toBeNull();
    expect(displayTitle('  Cordless drill \n')).toBe('Cordless drill');
    expect(displayTitle(['red', 'drill'])).toBe('red drill');
    expect(displayTitle('   ')).toBeNull();
    const long = `${'🎉'.repeat(TITLE_MAX_CHARS - 1)}ab`;
    expect(Array.from(displayTitle(long) ?? '')).toHaveLength(TITLE_MAX_CHARS);
    expect(displayTitle(long)?.endsWith('🎉a')).toBe(true);
  });
});
