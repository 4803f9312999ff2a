import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { readCatalogue, sampleCatalogue, splitQuoted } from '../../../../src/data/prep/catalogue-read.js';
import { tempRoot } from './helpers.js';

const out = tempRoot();

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
    expect([...read.rows.keys()]).toEqual(['a', 'c', 'e']);
    expect(read.rows.get('a')?.values[0]).toBe(big);
    expect(read.rows.get('e')?.values).toEqual(['x "quoted" y', '']);
    expect(rejects).toEqual([
      [3, 'unclosed_quote'],
      [5, 'wrong_column_count'],
    ]);
    expect(read).toMatchObject({ read: 5, rejected: 2, duplicates: 0 });
    const sample = await sampleCatalogue(path);
    expect(sample.columns).toEqual(['id', 'title', 'price']);
    expect(sample.rows.length).toBe(3);
  });

  it('stops at a signal (SIGINT, SIGTERM) between chunks', async () => {
    const path = `${out()}-long.csv`;
    writeFileSync(path, `id,title\n${Array.from({ length: 20_000 }, (_, k) => `i${k},title ${k}`).join('\n')}`);
    const read = readCatalogue([path], 'id', [{ name: 'title', kind: 'text' }], { add: () => undefined }, AbortSignal.abort('SIGTERM'));
    await expect(read).rejects.toThrow(/rec prep was interrupted; no dataset was written/);
  });
});
