import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectAccounting, prep, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const logDir = mkdtempSync(join(tmpdir(), 'rec-window-logs-'));
const HOUR = 3600;
const DAY = 86_400;
const T0 = 875_000_000; // unix seconds, MovieLens-era
const ML = { columns: 'user=0,item=1,rating=2,ts=3', ts_unit: 's', split: 'none', header: false };

function log(name: string, lines: string[]): string {
  const path = join(logDir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** 60 rows over 60 hours: 6 users × 10 items. */
const history = log(
  'history.tsv',
  Array.from({ length: 60 }, (_, k) => `u${k % 6}\ti${Math.floor(k / 6)}\t${1 + (k % 5)}\t${T0 + k * HOUR}`),
);
/** A night 3 days later: 20 rows a minute apart. */
const nightRows = Array.from({ length: 20 }, (_, k) => `n${k % 4}\ti${k % 10}\t${1 + (k % 5)}\t${T0 + 3 * DAY + k * 60}`);

describe('--window anchor', () => {
  it('one timestamp in milliseconds among seconds cannot age out the history', async () => {
    const base = await prep(out(), [history], ML);
    // 875269755000 read as seconds is the year 29706.
    const night = log('night-ms.tsv', [...nightRows, `n9\ti3\t4\t875269755000`]);
    const next = await prep(out(), [night], {}, { appendTo: base.out, windowDays: 30 });
    const newestNight = (T0 + 3 * DAY + 19 * 60) * 1000;
    expect(next.manifest.window).toMatchObject({ days: 30, newest_ts: 875269755000 * 1000, anchor_ts: newestNight, from_ts: newestNight - 30 * DAY * 1000, aged_out: 0 });
    expect(next.manifest.rows).toMatchObject({ read: 81, filtered: 0, train: 81 });
    expectAccounting(next.manifest, check);
    expect(next.manifest.warnings?.join('\n')).toMatch(/--window counts back from .*, not from the newest timestamp .*: 1 row lies more than an hour after the rest of the data/);
  });

  it('one row dated years after the rest, but not in the future, cannot either', async () => {
    const night = log('night-2020.tsv', [...nightRows, `n9\ti3\t4\t${1_600_000_000}`]);
    const p = await prep(out(), [history, night], { ...ML, columns: 'user=0,item=1,rating=2,ts=3' }, { windowDays: 30 });
    expect(p.manifest.window).toMatchObject({ anchor_ts: (T0 + 3 * DAY + 19 * 60) * 1000, aged_out: 0 });
  });

  it('counts back from the newest row when the newest rows agree', async () => {
    const p = await prep(out(), [history, log('night-ok.tsv', nightRows)], ML, { windowDays: 3 });
    const newest = (T0 + 3 * DAY + 19 * 60) * 1000;
    expect(p.manifest.window).toMatchObject({ newest_ts: newest, anchor_ts: newest, from_ts: newest - 3 * DAY * 1000 });
    // History rows before T0 + 19 min (k·1 h < 19 min): k = 0 only.
    expect(p.manifest.window?.aged_out).toBe(1);
    expect(p.manifest.warnings ?? []).toEqual([]);
  });
});

describe('--window under --append-to refuses to age out most of the base', () => {
  it('exit 1, nothing written, unless --force-window', async () => {
    const base = await prep(out(), [history], ML);
    // Two rows dated 2020: too many for the anchor to pass over, so the guard has to stop them.
    const night = log('night-two-bad.tsv', [...nightRows, `n9\ti3\t4\t${1_600_000_000}`, `n8\ti4\t4\t${1_600_000_100}`]);
    const refused = out();
    const err = await prep(refused, [night], {}, { appendTo: base.out, windowDays: 30 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 1 });
    expect((err as Error).message).toMatch(/--window 30 would age out 60 of the base dataset's 60 rows: every row before 2020-08-14T.*Nothing was written\. .*add --force-window; if not, check the new logs' timestamps/);
    expect(existsSync(refused)).toBe(false);
    const forced = await prep(out(), [night], {}, { appendTo: base.out, windowDays: 30, forceWindow: true });
    expect(forced.manifest.window?.aged_out).toBe(80);
    expectAccounting(forced.manifest, check);
  });

  it('lets a window age out less than half of the base', async () => {
    const base = await prep(out(), [history], ML);
    // Anchor T0 + 3 days + 19 min; a 2.5-day window keeps the history rows from T0 + 12 h 19 min on: 47 of 60.
    const next = await prep(out(), [log('night-half.tsv', nightRows)], {}, { appendTo: base.out, windowDays: 2.5 });
    expect(next.manifest.window?.aged_out).toBe(13);
  });
});
