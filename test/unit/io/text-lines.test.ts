import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTextLines, type TextLine } from '../../../src/io/text-lines.js';
import { DataError, UsageError } from '../../../src/util/errors.js';
import { MAX_LINE_BYTES } from '../../../src/util/lines.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-text-lines-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(path: string): Promise<TextLine[]> {
  const out: TextLine[] = [];
  for await (const l of readTextLines(path, 'test file')) out.push(l);
  return out;
}

describe('readTextLines', () => {
  it('numbers physical lines across mixed terminators, blank lines included, last line unterminated', async () => {
    const path = join(dir, 'mixed.txt');
    await writeFile(path, '\uFEFFa\r\n\rb\nc\r\u00e9');
    expect(await collect(path)).toEqual([
      { text: 'a', line: 1 },
      { text: '', line: 2 },
      { text: 'b', line: 3 },
      { text: 'c', line: 4 },
      { text: '\u00e9', line: 5 },
    ]);
  });

  it('an empty file has no lines', async () => {
    const path = join(dir, 'empty.txt');
    await writeFile(path, '');
    expect(await collect(path)).toEqual([]);
  });

  it('an over-long line is a data error naming file:line', async () => {
    const path = join(dir, 'long.txt');
    await writeFile(path, `ok\n${'x'.repeat(MAX_LINE_BYTES + 1)}\n`);
    await expect(collect(path)).rejects.toThrow(DataError);
    await expect(collect(path)).rejects.toThrow(/long\.txt:2: line of \d+ bytes or more/);
  });

  it('a UTF-16 list of ids (Excel "Unicode text") is a data error naming the encoding, not ids with NUL bytes', async () => {
    const path = join(dir, 'users16.txt');
    await writeFile(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('u1\nu2\nu3\n', 'utf16le')]));
    await expect(collect(path)).rejects.toThrow(DataError);
    await expect(collect(path)).rejects.toThrow(`${path} is UTF-16LE text (byte-order mark). Convert it to UTF-8 first, e.g. iconv -f UTF-16LE -t UTF-8`);
    const gz = join(dir, 'users16.txt.gz');
    await writeFile(gz, gzipSync(Buffer.from('user-1\nuser-2\nuser-3\n', 'utf16le')));
    await expect(collect(gz)).rejects.toThrow(`${gz} (decompressed) is UTF-16LE text`);
  });

  it('a missing file is a usage error, a folder a data error (also when named .gz)', async () => {
    await expect(collect(join(dir, 'nope.txt'))).rejects.toThrow(UsageError);
    await expect(collect(dir)).rejects.toThrow(DataError);
    const gzDir = join(dir, 'folder.gz');
    await mkdir(gzDir);
    await expect(collect(gzDir)).rejects.toThrow(DataError);
  });
});
