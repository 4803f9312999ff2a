import { readFileSync, writeFileSync } from 'node:fs';
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
