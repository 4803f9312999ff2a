import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../../../src/util/errors.js';
import { sniffWideEncoding } from '../../../../src/util/lines.js';
import { prep, tempRoot } from './helpers.js';

// Issue 19 item 11: a UTF-16 log read as UTF-8 gave ids with NUL bytes, ratings read as events and
// no timestamps, exit 0. Wide encodings are refused (exit 1), naming the encoding and how to convert,
// unless a byte-order mark or --encoding utf-16 says how to read them (issue 22).
const out = tempRoot();
const dir = mkdtempSync(join(tmpdir(), 'rec-encoding-'));
const text = Array.from({ length: 40 }, (_, k) => `${k % 7},${100 + (k % 9)},${1 + (k % 5)},${881250949 + k * 60}\n`).join('');

function utf16be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1];
    be[i + 1] = le[i];
  }
  return be;
}

function utf32le(s: string): Buffer {
  const b = Buffer.alloc(s.length * 4);
  for (let i = 0; i < s.length; i++) b.writeUInt32LE(s.charCodeAt(i), i * 4);
  return b;
}

// UTF-16 with a byte-order mark is read (--encoding: the mark decides), see encoding-option.test.ts.
const cases: [string, string, Buffer][] = [
  ['UTF-16LE without a BOM', 'UTF-16LE', Buffer.from(text, 'utf16le')],
  ['UTF-16BE without a BOM', 'UTF-16BE', utf16be(text)],
  ['UTF-32LE with a BOM', 'UTF-32LE', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), utf32le(text)])],
  ['UTF-32LE without a BOM', 'UTF-32LE', utf32le(text)],
];

describe('logs in UTF-16 or UTF-32', () => {
  it.each(cases)('%s is refused with a DataError naming the file, the encoding and iconv; nothing is written', async (_name, encoding, bytes) => {
    const path = join(dir, `${encoding}-${bytes.length}.csv`);
    writeFileSync(path, bytes);
    const dest = out();
    const run = prep(dest, [path], { columns: 'user=0,item=1,rating=2,ts=3' });
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(`${path} is ${encoding} text`);
    await expect(run).rejects.toThrow(`iconv -f ${encoding} -t UTF-8 ${path} > ${path}.utf8`);
    if (encoding.startsWith('UTF-16')) await expect(run).rejects.toThrow('--encoding utf-16');
    expect(existsSync(join(dest, 'manifest.json'))).toBe(false);
  });

  it('a gzipped UTF-16LE log is refused by its decompressed bytes, with a gunzip | iconv | gzip command', async () => {
    const path = join(dir, 'night.csv.gz');
    writeFileSync(path, gzipSync(Buffer.from(text, 'utf16le')));
    const run = prep(out(), [path], {});
    await expect(run).rejects.toThrow(`${path} (decompressed) is UTF-16LE text (NUL bytes between its characters, no byte-order mark)`);
    await expect(run).rejects.toThrow(`gunzip -c ${path} | iconv -f UTF-16LE -t UTF-8 | gzip > ${join(dir, 'night.csv')}.utf8.gz`);
  });

  it('the same log in UTF-8 (with or without a BOM) preps', async () => {
    const path = join(dir, 'utf8.csv');
    writeFileSync(path, `\ufeff${text}`);
    const p = await prep(out(), [path], { columns: 'user=0,item=1,rating=2,ts=3' });
    expect(p.result.rows.accepted).toBe(40);
  });

  it('sniffing does not mistake UTF-8 text, non-ASCII text or random bytes for a wide encoding', () => {
    expect(sniffWideEncoding(Buffer.from(text))).toBeNull();
    expect(sniffWideEncoding(Buffer.from('ユーザー,商品,评分\n'.repeat(20)))).toBeNull();
    const noise = Buffer.alloc(4096);
    let x = 12345;
    for (let i = 0; i < noise.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      noise[i] = x >>> 24;
    }
    expect(sniffWideEncoding(noise)).toBeNull();
    // One NUL in a line of UTF-8 is that row's problem, not the file's encoding.
    expect(sniffWideEncoding(Buffer.from(`${text}1,2\u0000,3,4\n`))).toBeNull();
  });
});
