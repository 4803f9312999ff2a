/**
 * Issue #21 item 5: quoted fields over lines (RFC 4180) are one row, on both delimited readers; a
 * field still open after --max-quoted-lines / --max-quoted-bytes or at the end of the file rejects
 * only the line where it opened, and reading resumes at the next line.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addConfigOptions, envLayer, flagLayer } from '../../../../src/cli/options.js';
import { prepSchema } from '../../../../src/config/schema.js';
import { delimitedDataRows } from '../../../../bench/fuzz-cases.js';
import { analyzeDelimitedHead, FastDelimitedReader, readDelimitedWithCsvParse } from '../../../../src/data/prep/delimited.js';
import type { Ingest } from '../../../../src/data/prep/ingest.js';
import { fileKind } from '../../../../src/data/prep/options.js';
import { QUOTE_IMPROPER, QUOTE_OPEN, scanQuotes, type QuotedBounds } from '../../../../src/data/prep/quoted.js';
import { Prng } from '../../../../src/util/prng.js';
import { expectAccounting, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const PARSERS = ['fast', 'csv-parse'] as const;

function write(name: string, data: string | Buffer): string {
  const file = `${out()}-${name}`;
  writeFileSync(file, data);
  return file;
}

const HEADER = 'user,item,rating,ts\n';
const good = (i: number): string => `u${i},i${i},4,${1600000000 + i}\n`;

describe.each(PARSERS)('quoted fields over lines with the %s reader', (parser) => {
  const run = (file: string, overrides: Record<string, unknown> = {}) => prep(out(), [file], { split: 'none', max_rejects: '100%', ...overrides }, { parser });
  const itemIds = (o: string): unknown[] => rows(o, 'items.arrow').map((r) => r.id);

  it('reads a quoted newline as one row with LF in the value, whatever ends the lines (LF, CRLF, CR)', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = `${HEADER}${good(0)}u1,"Red mug\n350 ml, glazed",5,1600000001\n${good(2)}`.split('\n').join(eol);
      const p = await run(write('nl.csv', text));
      expect(p.result.rows, JSON.stringify(eol)).toMatchObject({ read: 3, accepted: 3, rejected: 0 });
      expect(itemIds(p.out)).toEqual(['i0', 'Red mug\n350 ml, glazed', 'i2']);
      expect(p.manifest.sources[0]).toMatchObject({ rows_read: 3, rejected: 0 });
      expectAccounting(p.manifest, check);
    }
  });

  it('reads doubled quotes, empty lines and delimiters inside a field over several lines', async () => {
    const p = await run(write('esc.csv', `${HEADER}u1,"say ""hi""\n\n""bye"",\nend""",3,1600000000\n${good(2)}`));
    expect(p.result.rows).toMatchObject({ read: 2, accepted: 2, rejected: 0 });
    expect(itemIds(p.out)).toEqual(['say "hi"\n\n"bye",\nend"', 'i2']);
  });

  it('reads quoted fields over lines in TSV and `::` files', async () => {
    const tsv = await run(write('nl.tsv', 'user\titem\trating\nu1\t"a\tb\nc"\t4\nu2\ti2\t5\n'));
    expect(itemIds(tsv.out)).toEqual(['a\tb\nc', 'i2']);
    const dat = await run(write('nl.dat', 'u1::"a::b\nc"::4\nu2::i2::5\n'), { header: false });
    expect(itemIds(dat.out)).toEqual(['a::b\nc', 'i2']);
  });

  it('a stray quote before 500 good rows costs one row: unclosed_quote after --max-quoted-lines, reading resumed at the next line', async () => {
    let text = `${HEADER}"${good(0)}`;
    for (let i = 1; i <= 500; i++) text += good(i);
    const p = await run(write('stray.csv', text));
    expect(p.result.rows).toMatchObject({ read: 501, accepted: 500, rejected: 1 });
    expect(p.result.rejected_by_reason).toEqual({ unclosed_quote: 1 });
    const r = rejects(p.out);
    expect(r).toEqual([expect.objectContaining({ line: 2, reason: 'unclosed_quote', raw: '"u0,i0,4,1600000000' })]);
    expect(r[0].detail).toMatch(/still open after 100 lines, the --max-quoted-lines bound.*read on from the next/);
    expect(rows(p.out, 'users.arrow').length).toBe(500);
    expect(p.manifest.sources[0]).toMatchObject({ rows_read: 501, rejected: 1 });
    expectAccounting(p.manifest, check);
  });

  it('a stray quote followed by rows with quoted fields is caught at the first of them (bad_quoting), costing one row', async () => {
    const p = await run(write('stray2.csv', `${HEADER}"u0,i0,3,1600000000\nu1,"i,1",4,1600000001\n${good(2)}`));
    expect(p.result.rows).toMatchObject({ read: 3, accepted: 2, rejected: 1 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([[2, 'bad_quoting']]);
    expect(rejects(p.out)[0].detail).toMatch(/spans lines 2-3 but is not RFC 4180/);
    expect(itemIds(p.out)).toEqual(['i,1', 'i2']);
  });

  it('--max-quoted-lines: a field over 3 lines is read, one over 4 rejects its first line and the lines after it are read afresh', async () => {
    const text = `${HEADER}u1,"a\nb\nc",4,1600000001\nu2,"a\nb\nc\nd",4,1600000002\n${good(3)}`;
    const p = await run(write('lines.csv', text), { max_quoted_lines: 3 });
    expect(p.result.rows).toMatchObject({ read: 6, accepted: 2, rejected: 4 });
    expect(rejects(p.out).map((r) => [r.line, r.reason, r.raw])).toEqual([
      [5, 'unclosed_quote', 'u2,"a'],
      [6, 'wrong_column_count', 'b'],
      [7, 'wrong_column_count', 'c'],
      [8, 'wrong_column_count', 'd",4,1600000002'],
    ]);
    expect(rejects(p.out)[0].detail).toMatch(/still open after 3 lines/);
    expect(itemIds(p.out)).toEqual(['a\nb\nc', 'i3']);
    expectAccounting(p.manifest, check);
  });

  it('--max-quoted-bytes: a field still open at the bound rejects its first line', async () => {
    // Row 1 closes on its 2nd line; row 2 is still open after 14 + 1 + 21 = 36 bytes.
    const text = `${HEADER}u1,"aaaaaaaaaa\nbbbbb",4,1600000001\nu2,"aaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbb\nccc",4,1600000002\n${good(3)}`;
    const p = await run(write('bytes.csv', text), { max_quoted_bytes: 36 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [4, 'unclosed_quote'],
      [5, 'wrong_column_count'],
      [6, 'wrong_column_count'],
    ]);
    expect(rejects(p.out)[0].detail).toMatch(/still open after 36 bytes \(2 lines\), at or over the --max-quoted-bytes bound 36/);
    expect(itemIds(p.out)).toEqual(['aaaaaaaaaa\nbbbbb', 'i3']);
    expect(p.result.rows).toMatchObject({ read: 5, accepted: 2, rejected: 3 });
  });

  it('--max-quoted-lines 1: rows never span lines (each line of a quoted newline is a reject)', async () => {
    const p = await run(write('one.csv', `${HEADER}u1,"a\nb",4,1600000001\n${good(2)}`), { max_quoted_lines: 1 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [2, 'unclosed_quote'],
      [3, 'wrong_column_count'],
    ]);
    expect(p.result.rows).toMatchObject({ read: 3, accepted: 1, rejected: 2 });
  });

  it('the end of the file inside an open field rejects the line where it opened; the lines after it are read', async () => {
    const p = await run(write('eof.csv', `${HEADER}${good(0)}u1,"never closed,4,1600000001\n${good(2)}${good(3)}`));
    expect(p.result.rows).toMatchObject({ read: 4, accepted: 3, rejected: 1 });
    expect(rejects(p.out)).toEqual([expect.objectContaining({ line: 3, reason: 'unclosed_quote', detail: expect.stringMatching(/at the end of the file/) })]);
    expect(itemIds(p.out)).toEqual(['i0', 'i2', 'i3']);
  });

  it('a row over lines with a byte that is not UTF-8 is one invalid_utf8 reject at its first line', async () => {
    const data = Buffer.concat([Buffer.from(`${HEADER}u1,"a\nb`), Buffer.from([0xff]), Buffer.from(`",4,1600000001\n${good(2)}`)]);
    const p = await run(write('utf8.csv', data));
    expect(p.result.rows).toMatchObject({ read: 2, accepted: 1, rejected: 1 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([[2, 'invalid_utf8']]);
    expect(rejects(p.out)[0].detail).toMatch(/^invalid UTF-8 at byte 2 of the line \(0xff\).*\(line 3, inside the quoted field/);
  });

  it('guesses a headerless file\'s columns from its rows, not from the lines of its quoted fields', async () => {
    let text = '';
    for (let i = 0; i < 6; i++) text += `${i},"item ${i}\nsecond line\nthird, with a comma",${1 + (i % 5)},${1600000000 + i}\n`;
    const p = await run(write('guess.csv', text));
    expect(p.result.rows).toMatchObject({ read: 6, accepted: 6, rejected: 0 });
    expect(p.manifest.sources[0]).toMatchObject({ header: false, columns: { user: 0, item: 1, rating: 2, ts: 3 } });
  });
});

/** Every call a reader makes on its ingest, with the fields as strings. */
function recorder(calls: string[]): Ingest {
  const fake = {
    acceptBytes(buf: Buffer, starts: Int32Array, ends: Int32Array, nf: number, line: number): void {
      const fields: string[] = [];
      for (let k = 0; k < Math.min(nf, starts.length); k++) fields.push(buf.toString('utf8', starts[k], ends[k]));
      calls.push(JSON.stringify(['row', line, nf, nf <= starts.length ? fields : null]));
    },
    acceptStrings(fields: readonly string[], nf: number, line: number): void {
      calls.push(JSON.stringify(['row', line, nf, nf <= fields.length && nf <= 5 ? fields : null]));
    },
    rejectUnparsed(line: number, reason: string, detail: string): void {
      calls.push(JSON.stringify(['reject', line, reason, detail]));
    },
  };
  return fake as unknown as Ingest;
}

describe('the fast reader, csv-parse and an independent count agree on random quoting', () => {
  const TOKENS = ['a', 'bc', ',', ',', '"', '"', '""', '\n', '\n', '\r\n', '\r', '"x,y"', '\ufffd', 'é'];

  async function readBoth(data: Buffer, bounds: QuotedBounds, rng: Prng): Promise<{ fast: string[]; ref: string[]; fastRows: number; refRows: number }> {
    const head = data.subarray(0, 1 << 16).toString('utf8');
    const setup = analyzeDelimitedHead(head, true, fileKind('x.csv', 'auto'), { delimiter: ',', header: false, spec: null, quoted: bounds }, 'x.csv');
    const fast: string[] = [];
    const reader = new FastDelimitedReader({ ...setup, columnCount: 4 }, recorder(fast));
    for (let pos = 0; pos < data.length; ) {
      const end = Math.min(data.length, pos + 1 + rng.int(40));
      reader.push(data.subarray(pos, end));
      pos = end;
    }
    reader.finish();
    const ref: string[] = [];
    async function* chunks(): AsyncGenerator<Buffer> {
      yield data;
    }
    const refRows = await readDelimitedWithCsvParse(chunks(), { ...setup, columnCount: 4 }, recorder(ref));
    return { fast, ref, fastRows: reader.dataRows, refRows };
  }

  it('on 1,500 random texts of quotes, delimiters and line ends under random bounds', async () => {
    const rng = Prng.fromSeed(21, 'quoted');
    let spanning = 0;
    for (let c = 0; c < 1500; c++) {
      const parts: string[] = ['a'];
      const n = rng.int(60);
      for (let k = 0; k < n; k++) parts.push(TOKENS[rng.int(TOKENS.length)]);
      const data = Buffer.from(parts.join(''));
      const bounds = { maxLines: 1 + rng.int(6), maxBytes: 1 + rng.int(60) };
      const got = await readBoth(data, bounds, rng);
      const what = `case ${c}: ${JSON.stringify(parts.join(''))} ${JSON.stringify(bounds)}`;
      expect(got.fast, what).toEqual(got.ref);
      expect(got.fastRows, what).toBe(got.refRows);
      const counted = delimitedDataRows(data, ',', false, bounds);
      expect(got.fastRows, what).toBe(counted);
      const physical = data.toString('latin1').split(/\r\n|\r|\n/).filter((l) => l !== '').length;
      if (counted < physical) spanning++;
    }
    // Not a vacuous agreement: many texts have rows over lines.
    expect(spanning).toBeGreaterThan(100);
  });
});

describe('scanQuotes', () => {
  const scan = (text: string, open = false, d = ','): number => {
    const b = Buffer.from(text);
    return scanQuotes(b, 0, b.length, Buffer.from(d), open);
  };

  it('says whether a quoted field is open at the end of a line, and whether a quote breaks RFC 4180', () => {
    expect(scan('a,b,c')).toBe(0);
    expect(scan('a,"b,c')).toBe(QUOTE_OPEN);
    expect(scan('a,"b"",c')).toBe(QUOTE_OPEN);
    expect(scan('a,"b""",c')).toBe(0);
    expect(scan('a,"b"x,c')).toBe(QUOTE_IMPROPER);
    expect(scan('a,"b"x,"c')).toBe(QUOTE_OPEN | QUOTE_IMPROPER);
    expect(scan('a,5" tv,c')).toBe(QUOTE_IMPROPER);
    expect(scan(' "a')).toBe(QUOTE_IMPROPER);
    expect(scan('end"', true)).toBe(0);
    expect(scan('end",x', true)).toBe(0);
    expect(scan('mid""dle', true)).toBe(QUOTE_OPEN);
    expect(scan('', true)).toBe(QUOTE_OPEN);
    expect(scan('a::"b::c', false, '::')).toBe(QUOTE_OPEN);
    expect(scan('b::c"::d', true, '::')).toBe(0);
  });
});

describe('--max-quoted-lines / --max-quoted-bytes (config prep.max_quoted_lines, prep.max_quoted_bytes)', () => {
  it('are prep and drift flags and REC_* variables, listed in --help, defaulting to 100 lines and 1 MiB', () => {
    const cmd = new Command('prep').exitOverride();
    addConfigOptions(cmd, 'prep');
    cmd.parse(['--max-quoted-lines', '5', '--max-quoted-bytes', '4096'], { from: 'user' });
    expect(flagLayer(cmd, 'prep').values).toEqual({ prep: { max_quoted_lines: 5, max_quoted_bytes: 4096 } });
    expect(cmd.helpInformation()).toMatch(/--max-quoted-lines <n>\s+most lines a quoted field/);
    expect(cmd.helpInformation()).toMatch(/--max-quoted-bytes <n>/);
    const drift = new Command('drift').exitOverride();
    addConfigOptions(drift, 'drift');
    expect(drift.helpInformation()).toMatch(/--max-quoted-lines/);
    expect(envLayer({ REC_PREP_MAX_QUOTED_LINES: '7' }, 'prep').values).toEqual({ prep: { max_quoted_lines: 7 } });
    expect(prepSchema.parse({})).toMatchObject({ max_quoted_lines: 100, max_quoted_bytes: 1 << 20 });
  });

  it('refuse 0, fractions and more than 256 MiB', () => {
    for (const bad of [{ max_quoted_lines: 0 }, { max_quoted_lines: 1.5 }, { max_quoted_bytes: 0 }, { max_quoted_bytes: 256 * 1024 * 1024 + 1 }]) {
      expect(prepSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(prepSchema.safeParse({ max_quoted_lines: 1, max_quoted_bytes: 256 * 1024 * 1024 }).success).toBe(true);
  });
});
