import { describe, expect, it } from 'vitest';
import { checkDeclared, chooseKey, describeFeatures, guessFeatures, guessKind, OBJECT_VALUE, parseItemFeatures, type RawValue } from '../../../../src/data/prep/catalogue-spec.js';
import { UsageError } from '../../../../src/util/errors.js';

describe('parseItemFeatures', () => {
  it('reads NAME:KIND pairs in order, spaces and empty parts ignored', () => {
    expect(parseItemFeatures(' title:text, brand:category,,categories:multi,price:number')).toEqual([
      { name: 'title', kind: 'text' },
      { name: 'brand', kind: 'category' },
      { name: 'categories', kind: 'multi' },
      { name: 'price', kind: 'number' },
    ]);
    // A column name may hold a colon: the kind is after the last one.
    expect(parseItemFeatures('a:b:text')).toEqual([{ name: 'a:b', kind: 'text' }]);
    expect(describeFeatures(parseItemFeatures('title:text,price:number'))).toBe('title:text,price:number');
  });

  it('refuses unknown kinds, missing names, repeats and an empty spec, naming the part', () => {
    expect(() => parseItemFeatures('title:words')).toThrow(/"title:words".*text, category, multi, number/);
    expect(() => parseItemFeatures(':text')).toThrow(UsageError);
    expect(() => parseItemFeatures('title')).toThrow(UsageError);
    expect(() => parseItemFeatures('title:text,title:category')).toThrow(/"title" twice/);
    expect(() => parseItemFeatures(' , ')).toThrow(/empty/);
  });
});

describe('chooseKey and checkDeclared', () => {
  it('takes --item-key when present, else the first default name present', () => {
    expect(chooseKey('sku', ['sku', 'id'], 'c.csv')).toBe('sku');
    expect(chooseKey(null, ['title', 'asin', 'id'], 'c.csv')).toBe('id');
    expect(chooseKey(null, ['title', 'product_id'], 'c.csv')).toBe('product_id');
    expect(() => chooseKey('sku', ['id', 'title'], 'c.csv')).toThrow(/--item-key "sku".*Its columns: "id,title"/);
    expect(() => chooseKey(null, ['title', 'price'], 'c.csv')).toThrow(/no item key column.*--item-key/);
  });

  it('names every declared column the catalogue lacks and lists the columns', () => {
    const cols = ['id', 'title', 'price'];
    expect(() => checkDeclared(parseItemFeatures('title:text,colour:category,size:number'), 'id', cols, 'c.csv')).toThrow(/"colour", "size", not columns of c\.csv\. Its columns: "id,title,price"/);
    expect(() => checkDeclared(parseItemFeatures('id:category'), 'id', cols, 'c.csv')).toThrow(/key column "id"/);
    expect(() => checkDeclared(parseItemFeatures('a#b:text'), 'id', ['id', 'a#b'], 'c.csv')).toThrow(/cannot hold "#"/);
    expect(() => checkDeclared(parseItemFeatures('title:text,price:number'), 'id', cols, 'c.csv')).not.toThrow();
  });
});

describe('guessKind', () => {
  const many = (v: RawValue, n: number): RawValue[] => Array.from({ length: n }, () => v);

  it('follows the documented rule', () => {
    expect(guessKind(['$12.99', '1,299.00', '', '7', null])).toBe('number');
    expect(guessKind(['a|b', 'c', 'd|e|f'])).toBe('multi');
    expect(guessKind([['Gift Cards', 'Restaurants'], ['Gift Cards'], []])).toBe('multi');
    // Arrays of long strings are paragraphs: text.
    expect(guessKind([['A gift card for the purchase of goods at Serendipity 3 in New York.'], ['Redeemable for millions of items storewide.']])).toBe('text');
    expect(guessKind([...many('Nike', 4), 'Adidas', 'Puma'])).toBe('category');
    // Distinct short values (every row its own): text, not a category.
    expect(guessKind(['Nike', 'Adidas', 'Puma', 'Asics'])).toBe('text');
    expect(guessKind([...many('Apple iPhone 15 Pro Max case, clear, MagSafe', 3)])).toBe('text');
    expect(guessKind(['苹果手机壳 透明', '华为 Mate 60 Pro 手机', '小米 充电器 快充 套装'])).toBe('text');
  });

  it('skips empty columns and columns of JSON objects', () => {
    expect(guessKind(['', null, []])).toEqual({ skip: 'empty in the rows sampled' });
    expect(guessKind(['x', OBJECT_VALUE])).toEqual({ skip: 'holds JSON objects' });
  });

  it('guesses every column but the key, skipping names with "#"', () => {
    const rows = [
      new Map<string, RawValue>([['id', '1'], ['brand', 'Nike'], ['price', '$5'], ['x#y', 'a']]),
      new Map<string, RawValue>([['id', '2'], ['brand', 'Nike'], ['price', '$6'], ['x#y', 'b']]),
    ];
    const g = guessFeatures(['id', 'brand', 'price', 'x#y'], 'id', rows);
    expect(g.features).toEqual([
      { name: 'brand', kind: 'category' },
      { name: 'price', kind: 'number' },
    ]);
    expect(Object.keys(g.skipped)).toEqual(['x#y']);
  });
});
