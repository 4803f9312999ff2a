/**
 * Issue #11 ("Data safety"): each way a red-team log fooled prep, on both delimited readers.
 * `read` counts rows (a row quoted over lines is one, see quoted.test.ts); nothing is merged, rounded or stored as ±Inf.
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { expectAccounting, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const PARSERS = ['fast', 'csv-parse'] as const;

function write(name: string, data: string | Buffer): string {
  const file = `${out()}-${name}`;
  writeFileSync(file, data);
  return file;
}

describe.each(PARSERS)('issue #11 with the %s reader', (parser) => {
  const run = (file: string, overrides: Record<string, unknown> = {}) => prep(out(), [file], { split: 'none', max_rejects: '100%', ...overrides }, { parser });

  it('a stray quote rejects its own line only (unclosed_quote, at the end of the file); read counts the lines after it', async () => {
    const lines = ['user,item,rating,ts'];
    for (let i = 0; i < 10; i++) lines.push(`${i === 2 ? '"' : ''}u${i},i${i},4,${1600000000 + i}`);
    const p = await run(write('stray.csv', `${lines.join('\n')}\n`));
    expect(p.result.rows).toMatchObject({ read: 10, accepted: 9, rejected: 1 });
    expect(rejects(p.out)).toEqual([expect.objectContaining({ line: 4, reason: 'unclosed_quote', raw: '"u2,i2,4,1600000002' })]);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['u0', 'u1', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9']);
    expectAccounting(p.manifest, check);
  });

  it('a stray quote in a 400-line gzipped log costs one row, and no id holds a newline', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) lines.push(`${i === 5 ? '"' : ''}${i % 37},${i % 53},3,${1600000000 + i}`);
    const p = await run(write('stray.csv.gz', gzipSync(`${lines.join('\n')}\n`)));
    expect(p.result.rows).toMatchObject({ read: 400, rejected: 1 });
    expect(rows(p.out, 'users.arrow').every((r) => !String(r.id).includes('\n'))).toBe(true);
  });

  it('rejects lines that are not UTF-8 instead of merging ids that differ only in bad bytes', async () => {
    const data = Buffer.concat([
      Buffer.from('user,item,rating\n'),
      ...[0xff, 0xfe, 0xc0].map((b) => Buffer.concat([Buffer.from('u'), Buffer.from([b]), Buffer.from(',i1,4\n')])),
      Buffer.from('ü,i1,5\n'),
    ]);
    const p = await run(write('utf8.csv', data));
    expect(p.result.rows).toMatchObject({ read: 4, accepted: 1, rejected: 3, deduplicated: 0 });
    expect(p.result.rejected_by_reason).toEqual({ invalid_utf8: 3 });
    expect(rejects(p.out)[0].detail).toMatch(/invalid UTF-8 at byte 2 of the line \(0xff\)/);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['ü']);
  });

  it('rejects ratings beyond float32 and numbers in hex, binary or octal, saying why', async () => {
    const file = write('numbers.csv', 'user,item,rating,ts\n1,1,1e39,1600000000\n2,2,0x10,1600000000\n3,3,0b11,1600000000\n4,4,0o7,1600000000\n5,5,-1e39,1600000000\n6,6,4,0x5f5e1000\n7,7,4,1e400\n8,8,3.5,1600000000\n');
    const p = await run(file);
    expect(p.result.rows).toMatchObject({ read: 8, accepted: 1, rejected: 7 });
    expect(rejects(p.out).map((r) => [r.line, r.reason, r.detail])).toEqual([
      [2, 'bad_rating', 'rating "1e39" is outside the float32 range ±3.4028234663852886e+38 in which values are stored'],
      [3, 'bad_rating', 'rating "0x10" is not a decimal number'],
      [4, 'bad_rating', 'rating "0b11" is not a decimal number'],
      [5, 'bad_rating', 'rating "0o7" is not a decimal number'],
      [6, 'bad_rating', 'rating "-1e39" is outside the float32 range ±3.4028234663852886e+38 in which values are stored'],
      [7, 'bad_ts', expect.stringMatching(/^timestamp "0x5f5e1000" cannot be read; expected unix seconds or milliseconds, or ISO-8601/)],
      [8, 'bad_ts', expect.stringMatching(/^timestamp "1e400" cannot be read/)],
    ]);
    expect(rows(p.out, 'train.arrow').map((r) => r.value)).toEqual([3.5]);
  });

  it('rejects 15-digit unix seconds (beyond 2^53 ms) under --ts-unit s', async () => {
    const p = await run(write('far.tsv', '1\t1\t4\t999999999999999\n2\t2\t4\t1600000000\n'), { ts_unit: 's' });
    expect(p.result.rejected_by_reason).toEqual({ bad_ts: 1 });
  });

  it('reads CR-only, CRLF and mixed line ends, with a BOM, as one row per line', async () => {
    const p = await run(write('cr.csv', '\ufeffuser,item,rating\r1,1,4\r2,2,5\r\n3,3,3\n4,4,2\r'));
    expect(p.result.rows).toMatchObject({ read: 4, accepted: 4, rejected: 0 });
    expect(p.manifest.sources[0].header).toBe(true);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['1', '2', '3', '4']);
  });

  it('rejects ids that start with a BOM inside the file (JS Arrow readers drop it, merging ids)', async () => {
    const p = await run(write('bom-id.csv', 'user,item,rating\n16,1,4\n\ufeff16,2,5\n'));
    expect(p.result.rejected_by_reason).toEqual({ bad_id: 1 });
    expect(rejects(p.out)[0].line).toBe(3);
  });
});

describe('issue #11 in JSON Lines', () => {
  it('rejects number ids beyond 2^53 and fractional ones instead of rounding them together', async () => {
    const text = [
      '{"user": 9007199254740993, "item": "a", "rating": 4}',
      '{"user": 9007199254740992, "item": "a", "rating": 4}',
      '{"user": "9007199254740993", "item": "a", "rating": 4}',
      '{"user": 9007199254740991, "item": "a", "rating": 4}',
      '{"user": 1.5, "item": "a", "rating": 4}',
      '{"user": "\\ud800", "item": "a", "rating": 4}',
      '{"user": 7, "item": "b", "rating": 1e39}',
    ].join('\n');
    const p = await prep(out(), [write('ids.jsonl', text)], { split: 'none', max_rejects: '100%' });
    expect(p.result.rows).toMatchObject({ read: 7, accepted: 2, rejected: 5 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [1, 'unsafe_integer_id'],
      [2, 'unsafe_integer_id'],
      [5, 'bad_id'],
      [6, 'invalid_utf8'],
      [7, 'bad_rating'],
    ]);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['9007199254740993', '9007199254740991']);
  });

  it('reads CR-only JSON Lines and rejects a line that is not UTF-8', async () => {
    const data = Buffer.concat([Buffer.from('{"user":"a","item":"x"}\r{"user":"b'), Buffer.from([0xff]), Buffer.from('","item":"x"}\r{"user":"c","item":"x"}\r')]);
    const p = await prep(out(), [write('cr.jsonl', data)], { split: 'none', max_rejects: '100%' });
    expect(p.result.rows).toMatchObject({ read: 3, accepted: 2, rejected: 1 });
    expect(p.result.rejected_by_reason).toEqual({ invalid_utf8: 1 });
  });
});
