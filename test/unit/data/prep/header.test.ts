import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../../../src/util/errors.js';
import { prep, rows, tempRoot } from './helpers.js';

// Issue 19 item 5: a base prepped with --header and column indices handed its --header to a night
// without a header line: the night's first row was skipped as a header, silently (99 of 100 read).
const out = tempRoot();
const dir = mkdtempSync(join(tmpdir(), 'rec-header-'));
const NOW = Date.UTC(2026, 0, 1);
const at = { now: NOW };

function write(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const line = (k: number, day: number): string => `${1000 + (k % 9)},${5000 + (k % 13) + day * 100},${['pv', 'pv', 'cart', 'buy'][k % 4]},${1511658000 + day * 86400 + k * 60}`;
const base = write('day1.csv', ['uid,iid,what,when', ...Array.from({ length: 100 }, (_, k) => line(k, 0))]);
const night = write('day2.csv', Array.from({ length: 100 }, (_, k) => line(k, 1)));
const settings = { header: true, columns: 'user=0,item=1,event=2,ts=3', split: 'none' };

describe('a line given as header that reads as data', () => {
  it('a night without a header under a base prepped with --header: its first line is read as a row, with a warning', async () => {
    const b = await prep(out(), [base], settings, at);
    expect(b.result.rows.read).toBe(100);
    expect(b.result.warnings).toEqual([]);
    const p = await prep(out(), [night], {}, { ...at, appendTo: b.out });
    expect(p.manifest.append?.inherited).toContain('header');
    expect(p.manifest.append?.rows.read_from_logs).toBe(100);
    expect(p.result.rows.read).toBe(200);
    expect(p.result.warnings).toEqual([
      `${night}: its first line "1000,5100,pv,1511744400" was to be skipped as a header (--header, config prep.header, or the base dataset's header setting under --append-to), but it reads as data (user "1000", item "5100", event "pv", ts "1511744400"): it is read as a row. Pass --no-header (config prep.header: false) for files without a header line.`,
    ]);
    expect(p.manifest.sources.find((s) => s.path === night)).toMatchObject({ header: false, rows_read: 100 });
    const first = rows(p.out, 'train.arrow').filter((r) => r.ts === 1511744400000);
    expect(first).toHaveLength(1);
  });

  it('the same on a first prep with --header, by both readers; --strict makes it an error', async () => {
    for (const parser of ['fast', 'csv-parse'] as const) {
      const p = await prep(out(), [night], settings, { ...at, parser });
      expect(p.result.rows.read).toBe(100);
      expect(p.result.warnings).toHaveLength(1);
    }
    await expect(prep(out(), [night], { ...settings, strict: true }, at)).rejects.toThrow(DataError);
  });

  it('a header of names, or of numbers that are no plausible data (column numbers), is still skipped', async () => {
    const named = await prep(out(), [base], settings, at);
    expect(named.result.rows.read).toBe(100);
    const numbered = write('numbered.csv', ['0,1,2,3', ...Array.from({ length: 20 }, (_, k) => line(k, 0))]);
    const p = await prep(out(), [numbered], settings, at);
    expect(p.result.rows.read).toBe(20);
    expect(p.result.warnings).toEqual([]);
  });
});
