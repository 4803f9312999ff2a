import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

// Issue 19 items 11, 17 and 22, as a new user meets them: exit codes and the advice on stderr.
const dir = tempDir('rec-firstday-');
const rowsText = Array.from({ length: 30 }, (_, k) => `${k % 6},${100 + (k % 7)},${1 + (k % 5)},${881250949 + k * 3607}\n`).join('');

describe('first day with rec prep and rec train', () => {
  it('a UTF-16LE log: exit 1 naming the encoding and an iconv command, nothing written', async () => {
    const log = join(dir, 'excel.csv');
    writeFileSync(log, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rowsText, 'utf16le')]));
    const out = join(dir, 'utf16');
    const r = await rec(['prep', log, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${log} is UTF-16LE text (byte-order mark). Convert it to UTF-8 first, e.g. iconv -f UTF-16LE -t UTF-8 ${log} > ${log}.utf8`);
    expect(r.stderr).not.toMatch(/unexpected failure|at .*\.js:\d+/);
    expect(existsSync(join(out, 'manifest.json'))).toBe(false);
  });

  it('month-day dates without --ts-format: exit 1 suggesting --ts-format %m-%d --ts-year YYYY, not a mapping without ts', async () => {
    const log = join(dir, 'tmall.csv');
    writeFileSync(log, `user_id,brand_id,type,visit_datetime\n${Array.from({ length: 30 }, (_, k) => `${k % 6},${100 + (k % 7)},${k % 4},${4 + (k % 4)}-${1 + k}\n`).join('')}`);
    const r = await rec(['prep', log, '--out', join(dir, 'tmall')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mapped as ts, which holds dates without a year .*Try --ts-format %m-%d --ts-year YYYY/);
    expect(r.stderr).not.toMatch(/try --columns/);
  });

  it('rec train --data on a folder that holds a dataset folder: exit 1, did you mean it', async () => {
    const log = join(dir, 'u.csv');
    writeFileSync(log, rowsText);
    const data = join(dir, 'data');
    mkdirSync(data);
    const p = await rec(['prep', log, '--out', join(data, 'ml100k')]);
    expect(p.code).toBe(0);
    const r = await rec(['train', '--data', data, '--out', join(dir, 'ck')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${data} is not a dataset folder: manifest.json is missing. It holds the dataset folder ${join(data, 'ml100k')}: did you mean ${join(data, 'ml100k')}?`);
  });
});
