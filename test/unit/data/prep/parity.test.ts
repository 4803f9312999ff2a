import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../../../src/util/prng.js';
import { fixture, prep, tempRoot, type Prepped } from './helpers.js';

const out = tempRoot();

/** Every output file equal, the manifest apart from the parser it names. */
function expectSameDataset(a: string, b: string): void {
  const files = readdirSync(a).sort();
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) {
    if (f === 'manifest.json') {
      const ma = JSON.parse(readFileSync(join(a, f), 'utf8')) as { prep: Record<string, unknown> };
      const mb = JSON.parse(readFileSync(join(b, f), 'utf8')) as { prep: Record<string, unknown> };
      expect(ma.prep.parser).toBe('fast');
      expect(mb.prep.parser).toBe('csv-parse');
      delete ma.prep.parser;
      delete mb.prep.parser;
      expect(mb).toEqual(ma);
    } else {
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    }
  }
}

async function both(inputs: string[], overrides: Record<string, unknown>): Promise<Prepped> {
  const fast = await prep(out(), inputs, overrides);
  const ref = await prep(out(), inputs, overrides, { parser: 'csv-parse' });
  expectSameDataset(fast.out, ref.out);
  return fast;
}

describe('byte-level fast path = csv-parse', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['basic.tsv', {}],
    ['bom-crlf.csv', {}],
    ['quoted.csv', { max_rejects: '100%' }],
    ['colon-delimited.dat', {}],
    ['dates.csv', { columns: 'user=user_id,item=brand_id,event=type,ts=visit_datetime', ts_format: '%m-%d', ts_year: 2014, event_weights: '0=1,1=5,2=2,3=3', max_rejects: '100%' }],
    ['dedupe.csv', { dedupe: 'sum' }],
    ['ts-auto.csv', {}],
    ['leave-last.tsv', { split: 'leave-last' }],
    ['kcore.txt', { min_user: 2, min_item: 2 }],
  ];
  for (const [name, overrides] of cases) {
    it(`gives the same dataset on ${name}`, async () => {
      await both([fixture(name)], overrides);
    });
  }

  it('gives the same dataset on rows rejected for every reason but broken quoting', async () => {
    const dir = out();
    const file = `${dir}-rejects.csv`;
    const text = readFileSync(fixture('rejects.csv'), 'utf8').replace('3,"18,4,1000\n', '3,"18",4,1000\n');
    writeFileSync(file, text);
    await both([file], { max_rejects: '100%' });
  });

  it('gives the same dataset on a 1.5 MB random CSV with quotes, LF/CRLF/CR, invalid UTF-8, blank lines and bad rows (chunk boundaries)', async () => {
    const rng = Prng.fromSeed(11, 'parity');
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const idText = (): string => {
      const k = rng.int(10);
      if (k < 6) return String(rng.int(5000));
      if (k === 6) return `"u,${rng.int(300)}"`;
      if (k === 7) return `"line\n${rng.int(50)}"`;
      if (k === 8) return `"say ""${rng.int(50)}"""`;
      return `0${rng.int(90)}`;
    };
    const rating = (): string => pick(['1', '2.5', '4', '5', '3.25', ' 4', 'x', '', '"3"']);
    const ts = (): string => pick([String(1600000000 + rng.int(1e6)), String(1600000000000 + rng.int(1e9)), '2021-03-04T05:06:07Z', '2021-03-04 05:06:07.5', 'bad']);
    const parts: Buffer[] = [Buffer.from('user,item,rating,ts\n')];
    let size = 0;
    while (size < 1.5e6) {
      const eol = pick(['\n', '\n', '\n', '\r\n', '\r']);
      let line = `${idText()},${idText()},${rating()},${ts()}`;
      if (rng.int(200) === 0) line = `${idText()},${idText()}`;
      if (rng.int(300) === 0) line = '';
      parts.push(Buffer.from(line));
      // Now and then a byte that is not UTF-8: both readers must reject that line alike.
      if (rng.int(150) === 0) parts.push(Buffer.from([pick([0xff, 0xc3, 0x80])]));
      parts.push(Buffer.from(eol));
      size += line.length + eol.length;
    }
    const dir = out();
    const file = `${dir}-random.csv`;
    writeFileSync(file, Buffer.concat(parts));
    await both([file], { max_rejects: '100%', split: 'random:0.8,0.1,0.1' });
  });

  it('gives the same dataset on rows over lines: quoted newlines, stray quotes, fields over the line and byte bounds, EOF inside quotes', async () => {
    const rng = Prng.fromSeed(21, 'parity-quoted');
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const desc = (): string => {
      const lines: string[] = [];
      for (let k = 1 + rng.int(6); k > 0; k--) lines.push(pick(['Red mug', 'says ""hi""', '350 ml, glazed', '', 'é 漢字', 'x'.repeat(rng.int(40))]));
      return `"${lines.join(pick(['\n', '\r\n', '\r']))}"`;
    };
    const parts: string[] = ['user,item,rating,ts\n'];
    for (let i = 0; i < 3000; i++) {
      const k = rng.int(40);
      const item = k < 8 ? desc() : k === 8 ? `"i${i}` : k === 9 ? `i"${i}` : `i${rng.int(200)}`;
      const user = k === 10 ? `"u${rng.int(100)}` : `u${rng.int(100)}`;
      parts.push(`${user},${item},${1 + rng.int(5)},${1600000000 + i}${pick(['\n', '\n', '\r\n', '\r'])}`);
    }
    parts.push('u1,"never closed,3,1600009999\nu2,i2,4,1600010000\n');
    const file = `${out()}-quoted.csv`;
    writeFileSync(file, parts.join(''));
    const lines = parts.join('').split(/\r\n|\r|\n/).length - 2;
    const wide = await both([file], { max_rejects: '100%', split: 'none' });
    expect(wide.result.rows.read).toBeLessThan(lines);
    expect(Object.keys(wide.result.rejected_by_reason)).toEqual(expect.arrayContaining(['unclosed_quote', 'bad_quoting']));
    const tight = await both([file], { max_rejects: '100%', split: 'none', max_quoted_lines: 3, max_quoted_bytes: 60 });
    expect(tight.result.rows.read).toBeGreaterThan(wide.result.rows.read);
    expect(tight.result.rejected_by_reason.unclosed_quote).toBeGreaterThan(wide.result.rejected_by_reason.unclosed_quote);
  });
});
