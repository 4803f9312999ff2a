import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

// Issue 19 items 11, 17 and 22, as a new user meets them: exit codes and the advice on stderr.
const dir = tempDir('rec-firstday-');
const rowsText = Array.from({ length: 30 }, (_, k) => `${k % 6},${100 + (k % 7)},${1 + (k % 5)},${881250949 + k * 3607}\n`).join('');

describe('first day with rec prep and rec train', () => {
  it('a UTF-16LE log with its byte-order mark (an Excel export) is read whole; without the mark it is exit 1 naming --encoding and iconv', async () => {
    const log = join(dir, 'excel.csv');
    writeFileSync(log, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rowsText, 'utf16le')]));
    const out = join(dir, 'utf16');
    const r = await rec(['prep', log, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { rows: { read: number; rejected: number } }).rows).toMatchObject({ read: 30, rejected: 0 });
    const bare = join(dir, 'excel-nobom.csv');
    writeFileSync(bare, Buffer.from(rowsText, 'utf16le'));
    const b = await rec(['prep', bare, '--out', join(dir, 'utf16-bare')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/UTF-16/);
    expect(b.stderr).toMatch(/--encoding utf-16/);
    expect(b.stderr).toMatch(/iconv -f UTF-16LE -t UTF-8/);
    expect(b.stderr).not.toMatch(/unexpected failure|at .*\.js:\d+/);
    expect(existsSync(join(dir, 'utf16-bare', 'manifest.json'))).toBe(false);
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
