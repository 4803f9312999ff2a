import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../../src/data/manifest.js';
import { rec, tempDir } from './helpers.js';

const DAY = 86_400;
const T0 = 1_700_000_000;

describe('rec prep --append-to / --window / --split days through the binary', () => {
  const dir = tempDir('rec-append-');
  const day = (k: number, lines: string[]): string => {
    const path = join(dir, `day${k}.csv`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  // Test is the 24 h before the newest row (T0 + 1 day + 50 s): day 2 only.
  // No header: columns by index, as a nightly job over raw exports would give them.
  const d1 = day(1, [`a,x,pv,${T0}`, `b,y,buy,${T0 + 10}`, `a,y,pv,${T0 + 20}`]);
  const d2 = day(2, [`c,z,pv,${T0 + DAY + 5}`, `a,z,buy,${T0 + DAY + 50}`]);
  const manifest = (ds: string): DatasetManifest => JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as DatasetManifest;

  it('appends a day with the base settings, then a re-run adds nothing', async () => {
    const base = join(dir, 'base');
    const r1 = await rec(['prep', d1, '--out', base, '--columns', 'user=0,item=1,event=2,ts=3', '--event-weights', 'pv=1,buy=5', '--split', 'days:0,1', '--json']);
    expect(r1.code, r1.stderr).toBe(0);
    const next = join(dir, 'next');
    // Only --window is given: columns, weights and split come from the base.
    const r2 = await rec(['prep', d2, '--append-to', base, '--out', next, '--window', '30', '--json']);
    expect(r2.code, r2.stderr).toBe(0);
    const out = JSON.parse(r2.stdout) as { rows: Record<string, number>; users: number; items: number; append: { new_users: number; new_items: number; rows: Record<string, number> } };
    expect(out).toMatchObject({ users: 3, items: 3, append: { new_users: 1, new_items: 1, rows: { base: 3, read_from_logs: 2, added: 2, aged_out: 0 } } });
    expect(out.rows).toMatchObject({ read: 5, accepted: 5, train: 3, test: 2 });
    const m = manifest(next);
    expect(m.prep).toMatchObject({ columns: 'user=0,item=1,event=2,ts=3', split: 'days:0,1' });
    expect(m.window).toMatchObject({ days: 30, aged_out: 0 });
    // The same night again, in place: nothing is rewritten (the manifest hash checkpoints record stays).
    const before = readFileSync(join(next, 'manifest.json'));
    const again = await rec(['prep', d2, '--append-to', next, '--out', next]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing new: every log is already in .*next, which is left as it is \(5 rows\)/);
    expect(again.stderr).toMatch(/already in the base dataset/);
    expect(readFileSync(join(next, 'manifest.json')).equals(before)).toBe(true);
    // Into another folder, the same rows are written, and the manifest says why nothing was added.
    const copy = join(dir, 'copy');
    const c = await rec(['prep', d2, d1, '--append-to', next, '--out', copy]);
    expect(c.code, c.stderr).toBe(0);
    const m2 = manifest(copy);
    expect(m2.rows).toMatchObject({ read: 5, train: 3, test: 2 });
    expect(m2.append?.sources_already_present.map((s) => s.path)).toEqual([d2, d1]);
  });

  it('exit 2 for a bad --window, a missing base and a split without timestamps', async () => {
    const bad = await rec(['prep', d2, '--out', join(dir, 'w'), '--window', '1.5 days']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--window "1.5 days" is invalid/);
    const missing = await rec(['prep', d2, '--append-to', join(dir, 'nope'), '--out', join(dir, 'w')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--append-to .*nope does not exist/);
    const nots = await rec(['prep', d2, '--out', join(dir, 'w'), '--columns', 'user=0,item=1', '--split', 'days:0,1']);
    expect(nots.code).toBe(2);
    expect(nots.stderr).toMatch(/needs timestamps/);
  });
});

describe('rec prep --append-to --window: one bad timestamp cannot age out the history', () => {
  const dir = tempDir('rec-window-');
  const T = 875_000_000;
  const write = (name: string, lines: string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  // MovieLens-like history in seconds (--ts-unit s): 40 rows over 40 hours; a night 2 days later.
  const history = write('history.tsv', Array.from({ length: 40 }, (_, k) => `u${k % 5}\ti${k % 8}\t${1 + (k % 5)}\t${T + k * 3600}`));
  const night = Array.from({ length: 10 }, (_, k) => `n${k % 3}\ti${k % 8}\t3\t${T + 2 * 86_400 + k * 60}`);
  const prepBase = async (name: string): Promise<string> => {
    const base = join(dir, name);
    const r = await rec(['prep', history, '--out', base, '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--split', 'none']);
    expect(r.code, r.stderr).toBe(0);
    return base;
  };

  it('a millisecond timestamp among seconds: exit 0, no base row aged out, a warning naming the cut', async () => {
    const base = await prepBase('ms');
    const log = write('night-ms.tsv', [...night, 'n9\ti3\t4\t875269755000']);
    const r = await rec(['prep', log, '--append-to', base, '--out', base, '--window', '30', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: Record<string, number>; window: Record<string, number> };
    expect(out.window).toMatchObject({ aged_out: 0, anchor_ts: (T + 2 * 86_400 + 9 * 60) * 1000 });
    expect(out.rows).toMatchObject({ read: 51, filtered: 0 });
    expect(r.stderr).toMatch(/--window counts back from .* 1 row lies more than an hour after the rest/);
  });

  it('refuses (exit 1) to age out most of the base in place, and leaves it as it was; --force-window goes ahead', async () => {
    const base = await prepBase('refuse');
    const before = readFileSync(join(base, 'manifest.json'));
    const log = write('night-2020.tsv', [...night, 'n9\ti3\t4\t1600000000', 'n8\ti4\t4\t1600000060']);
    const r = await rec(['prep', log, '--append-to', base, '--out', base, '--window', '30']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/--window 30 would age out 40 of the base dataset's 40 rows: every row before 2020-.*Nothing was written\. .*--force-window/);
    expect(r.stderr).not.toMatch(/unexpected failure|at .*\.js:\d+/);
    expect(readFileSync(join(base, 'manifest.json')).equals(before)).toBe(true);
    const forced = await rec(['prep', log, '--append-to', base, '--out', base, '--window', '30', '--force-window', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect((JSON.parse(forced.stdout) as { window: { aged_out: number } }).window.aged_out).toBe(50);
  });
});

describe('a damaged dataset is refused by rec prep --append-to and rec train (exit 1)', () => {
  const dir = tempDir('rec-damaged-');
  const log = join(dir, 'log.csv');
  writeFileSync(log, `${Array.from({ length: 30 }, (_, k) => `u${k % 5},i${k % 6},${1_700_000_000 + k}`).join('\n')}\n`);
  const night = join(dir, 'night.csv');
  writeFileSync(night, 'u1,i9,1700000100\nu7,i2,1700000200\n');
  const prepped = async (name: string): Promise<string> => {
    const ds = join(dir, name);
    const r = await rec(['prep', log, '--out', ds, '--no-header', '--columns', 'user=0,item=1,ts=2', '--split', 'none']);
    expect(r.code, r.stderr).toBe(0);
    return ds;
  };
  /** User index 0 → 1 in train.arrow's first row: a valid index, so the row silently moves to another user. */
  const moveRow = (ds: string): void => {
    const path = join(ds, 'train.arrow');
    const bytes = readFileSync(path);
    const users = tableFromIPC(bytes).getChild('user')?.data[0].values as Int32Array;
    users[0] = users[0] === 0 ? 1 : 0;
    writeFileSync(path, bytes);
  };

  it('an edited split file: the message names the file, both hashes and says to re-prep', async () => {
    const ds = await prepped('edited');
    moveRow(ds);
    const next = join(dir, 'next');
    const a = await rec(['prep', night, '--append-to', ds, '--out', next]);
    expect(a.code, a.stderr).toBe(1);
    expect(a.stderr).toMatch(/train\.arrow has sha256 [0-9a-f]{64}, but .*manifest\.json records [0-9a-f]{64}.*Re-run rec prep/);
    expect(existsSync(next)).toBe(false);
    const t = await rec(['train', '--data', ds, '--epochs', '1', '--dim', '4', '--backend', 'cpu', '--out', join(dir, 'ck')]);
    expect(t.code, t.stderr).toBe(1);
    expect(t.stderr).toMatch(/train\.arrow has sha256 .* Re-run rec prep/);
  });

  it('a manifest without "time": the key is named, no TypeError', async () => {
    const ds = await prepped('no-time');
    const m = JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    delete m.time;
    writeFileSync(join(ds, 'manifest.json'), JSON.stringify(m));
    const a = await rec(['prep', night, '--append-to', ds, '--out', join(dir, 'next2')]);
    expect(a.code, a.stderr).toBe(1);
    expect(a.stderr).toMatch(/manifest\.json has no "time"/);
    expect(a.stderr).not.toMatch(/TypeError|unexpected failure/);
  });
});
