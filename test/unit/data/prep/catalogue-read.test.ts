import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { readCatalogue, sampleCatalogue, splitQuoted, type CatalogueRead } from '../../../../src/data/prep/catalogue-read.js';
import type { FeatureSpec } from '../../../../src/data/prep/catalogue-spec.js';
import type { ListStore } from '../../../../src/data/prep/catalogue-store.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { tempRoot } from './helpers.js';

const out = tempRoot();

/** The stored text buckets of `key`'s feature `f` (null when the row had no value). */
function buckets(read: CatalogueRead, key: string, f = 0): number[] | null {
  const k = read.store.keys.get(key);
  if (k === undefined) throw new Error(`no row for ${key}`);
  const slot = read.store.slotOfKey.a[k];
  const col = read.store.columns[f];
  if (col.status.a[slot] === 0) return null;
  const lists = col.lists as ListStore;
  const out = new Int32Array(lists.lengthOf(slot));
  lists.copyTo(slot, out, null, 0, null);
  return Array.from(out);
}

const title = (text: string): number[] => Array.from(new TextFeaturizer().featurize(text).buckets);

describe('splitQuoted', () => {
  it('reads plain RFC 4180 lines as csv-parse does', () => {
    const lines = [
      'a,b,c',
      '"a",b,"c"',
      '"苹果, 手机壳","say ""hi""",',
      ',,',
      '"",x,""',
      '1,"<b>bold</b> &amp; 🎉","$1,299.00"',
      '"a""",""""',
    ];
    for (const l of lines) expect(splitQuoted(l, ','), l).toEqual((parseSync(l, { relax_quotes: true, relax_column_count: true }) as string[][])[0]);
    expect(splitQuoted('a::"b::c"::d', '::')).toEqual(['a', 'b::c', 'd']);
    expect(splitQuoted('a\t"b\tc"', '\t')).toEqual(['a', 'b\tc']);
  });

  it('leaves what it cannot read to csv-parse (null)', () => {
    expect(splitQuoted('a,"unclosed', ',')).toBeNull();
    expect(splitQuoted('a,"b"x,c', ',')).toBeNull();
    expect(splitQuoted('a,b"c,d', ',')).toBeNull();
  });
});

describe('readCatalogue', () => {
  it('takes a 1 MB title, a stray quote and a lone-key row without losing the rows around them', async () => {
    const dir = out();
    const big = 'word '.repeat(200_000);
    const path = join(`${dir}-cat.csv`);
    writeFileSync(path, ['id,title,price', `a,"${big}",1`, 'b,"unclosed,2', 'c,fine,"$1,299.00"', 'd', 'e,"x ""quoted"" y",'].join('\n'));
    const rejects: [number, string][] = [];
    const read = await readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }, { name: 'price', kind: 'number' }], { add: (_f, line, reason) => rejects.push([line, reason]) });
    expect([...read.store.keys.keys()]).toEqual(['a', 'c', 'e']);
    expect(buckets(read, 'a')).toEqual(title(big));
    expect(buckets(read, 'e')).toEqual(title('x "quoted" y'));
    // e's price is empty: stored as missing.
    expect(read.store.columns[1].status.a[read.store.slotOfKey.a[2]]).toBe(0);
    // `b,"unclosed,2` opens a field that the next line's quotes close improperly (RFC 4180): only its line is rejected, the next is read again.
    expect(rejects).toEqual([
      [3, 'bad_quoting'],
      [5, 'wrong_column_count'],
    ]);
    expect(read).toMatchObject({ read: 5, rejected: 2, duplicates: 0 });
    const sample = await sampleCatalogue(path);
    expect(sample.columns).toEqual(['id', 'title', 'price']);
    expect(sample.rows.length).toBe(3);
  });

  it('reads quoted fields over lines in CSV and TSV (newline as whitespace), numbering rows by their first line', async () => {
    const dir = out();
    const csv = join(`${dir}-multi.csv`);
    writeFileSync(csv, ['id,title,price', 'a,"Nike Air', 'running ""shoe""",12', 'b,plain,3', 'c,"one\r\ntwo\r\n', 'three",4', 'd'].join('\n'));
    const tsv = join(`${dir}-multi.tsv`);
    writeFileSync(tsv, ['id\ttitle\tprice', 'a\t"Nike Air', 'running ""shoe"""\t12', 'b\tplain\t3', 'd'].join('\r\n'));
    for (const path of [csv, tsv]) {
      const rejects: [number, string][] = [];
      const read = await readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }, { name: 'price', kind: 'number' }], { add: (_f, line, reason) => rejects.push([line, reason]) });
      expect(buckets(read, 'a')).toEqual(title('Nike Air running "shoe"'));
      expect(buckets(read, 'b')).toEqual(title('plain'));
      if (path === csv) {
        expect(buckets(read, 'c')).toEqual(title('one two three'));
        expect(rejects).toEqual([[9, 'wrong_column_count']]);
      } else expect(rejects).toEqual([[5, 'wrong_column_count']]);
    }
    const sample = await sampleCatalogue(csv);
    expect(sample.rows.map((r) => r.get('title'))).toEqual(['Nike Air\nrunning "shoe"', 'plain', 'one\ntwo\n\nthree']);
  });

  it('rejects a quote still open at the end of the file or past --max-quoted-bytes, and reads on from the next line', async () => {
    const path = `${out()}-open.csv`;
    const long = 'x'.repeat(80);
    writeFileSync(path, ['id,title', `a,"${long}`, long, `${long}"`, 'b,fine', 'c,"never closed', 'd,after'].join('\n'));
    const rejects: [number, string, string][] = [];
    const read = await readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }], { add: (_f, line, reason, detail) => rejects.push([line, reason, detail]) }, { quoted: { maxLines: 100, maxBytes: 100 } });
    // Line 2 opens a field still open past 100 bytes at line 3: line 2 is rejected, lines 3 and 4 are read afresh.
    expect(rejects.map(([l, r]) => [l, r])).toEqual([
      [2, 'unclosed_quote'],
      [3, 'wrong_column_count'],
      [4, 'wrong_column_count'],
      [6, 'unclosed_quote'],
    ]);
    expect(rejects[0][2]).toMatch(/--max-quoted-bytes bound 100/);
    expect(rejects[3][2]).toMatch(/still open at the end of the file/);
    expect([...read.store.keys.keys()]).toEqual(['b', 'd']);
    expect(read).toMatchObject({ read: 6, rejected: 4 });
  });

  it('stops at a signal (SIGINT, SIGTERM) between chunks', async () => {
    const path = `${out()}-long.csv`;
    writeFileSync(path, `id,title\n${Array.from({ length: 20_000 }, (_, k) => `i${k},title ${k}`).join('\n')}`);
    const read = readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }], { add: () => undefined }, { signal: AbortSignal.abort('SIGTERM') });
    await expect(read).rejects.toThrow(/rec prep was interrupted; no dataset was written/);
  });
});

describe('readCatalogue, a CSV row and the same row in JSONL', () => {
  /** Per key: each feature's status and list or code, and the multi vocabulary. */
  function content(read: CatalogueRead): unknown {
    const { store } = read;
    const rows = [...store.keys].map(([key, k]) => {
      const slot = store.slotOfKey.a[k];
      return [key, ...store.columns.map((col) => {
        const list = col.lists === null ? null : new Int32Array(col.lists.lengthOf(slot));
        if (list !== null) col.lists?.copyTo(slot, list, null, 0, null);
        return [col.status.a[slot], list === null ? col.codes?.a[slot] : Array.from(list)];
      })];
    });
    return { rows, vocabs: store.columns.map((c) => c.vocab?.values ?? null) };
  }

  it('gives the same features and no conflicting duplicates: quotes, a field over CRLF lines, multibyte, empty fields, escapes', async () => {
    const dir = out();
    const csv = join(`${dir}-same.csv`);
    writeFileSync(
      csv,
      [
        'id,title,cats,brand',
        'a,"Nike Air',
        'running ""shoe""","Shoes|Sport| Shoes ",Nike',
        'b,苹果手机壳,手机|配件,Apple',
        'c,,,',
        'd,"x, y",|| |,"  "',
        'e,émoji 🎉,café|日本|café,B',
      ].join('\r\n'),
    );
    const jsonl = join(`${dir}-same.jsonl`);
    writeFileSync(
      jsonl,
      [
        '{"id":"a","title":"Nike Air\\nrunning \\"shoe\\"","cats":["Shoes","Sport"," Shoes "],"brand":"Nike"}',
        '{"id":"b","title":"\\u82f9\\u679c\\u624b\\u673a\\u58f3","cats":["手机","配件"],"brand":"Apple"}',
        '{"id":"c","title":"","cats":[""],"brand":""}',
        '{"brand":"  ","cats":["",""," ",""],"id":"d","title":"x, y"}',
        '{"id":"e","title":"\\u00e9moji \\ud83c\\udf89","cats":["café","日本","café"],"brand":"B"}',
      ].join('\n'),
    );
    const features: FeatureSpec[] = [{ name: 'title', kind: 'text' }, { name: 'cats', kind: 'multi' }, { name: 'brand', kind: 'category' }];
    const rejects: unknown[] = [];
    const read = (paths: string[], textWorker: boolean) => readCatalogue(paths, 'id', features, { add: (...a) => rejects.push(a) }, { textWorker });
    const fromCsv = await read([csv], false);
    const fromJsonl = await read([jsonl], false);
    expect(rejects).toEqual([]);
    expect(content(fromCsv)).toEqual(content(fromJsonl));
    const a = content(fromCsv) as { rows: [string, [number, unknown][]][]; vocabs: unknown[] };
    expect(a.vocabs[1]).toEqual(['Shoes', 'Sport', '手机', '配件', 'café', '日本']);
    expect(a.vocabs[2]).toEqual(['Nike', 'Apple', 'B']);
    expect(buckets(fromCsv, 'a')).toEqual(title('Nike Air\nrunning "shoe"'));
    for (const textWorker of [false, true]) {
      const both = await read([csv, jsonl], textWorker);
      expect([both.duplicates, both.conflicting], `textWorker ${textWorker}`).toEqual([5, 0]);
      expect(content(both)).toEqual(content(fromCsv));
    }
  });
});
