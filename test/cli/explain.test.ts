/** Issue #13 "Explain every surprise": eval after the dataset moved, bce/bpr on explicit ratings. */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-explain-');
const ratings = join(dir, 'ratings.csv');
const ds = join(dir, 'ds');
const ck = join(dir, 'ck');

beforeAll(async () => {
  const rows: string[] = [];
  for (let u = 0; u < 40; u++) for (let i = 0; i < 8; i++) rows.push(`${u},${(u * 3 + i * 5) % 30},${1 + ((u * 7 + i) % 5)}`);
  // Item 999 is user 0's last row, so leave-last puts it in test only: it has no training row.
  rows.push('0,999,5');
  writeFileSync(ratings, `user,item,rating\n${rows.join('\n')}\n`);
  const p = await rec(['prep', ratings, '--out', ds, '--split', 'leave-last']);
  expect(p.code, p.stderr).toBe(0);
  const t = await rec(['train', '--data', ds, '--model', 'gmf', '--epochs', '1', '--dim', '4', '--backend', 'cpu', '--out', ck, '--json']);
  expect(t.code, t.stderr).toBe(0);
  // The warning is said at training time, and kept in run.json.
  expect(t.stderr).toMatch(/warning: model gmf trains with loss bce on explicit ratings: every rating counts as a positive/);
  const run = JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { notes?: string[] };
  expect(run.notes?.[0]).toMatch(/--positive-threshold R/);
}, 120_000);

describe('explained surprises', () => {
  it('--positive-threshold: recorded in run.json config; rejected with mse (exit 2, naming the flag)', async () => {
    const out = join(dir, 'ck-bin');
    const t = await rec(['train', '--data', ds, '--model', 'mf', '--loss', 'bpr', '--positive-threshold', '4', '--epochs', '1', '--dim', '4', '--backend', 'cpu', '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).not.toMatch(/warning: model mf trains with loss bpr/);
    expect(t.stderr).toMatch(/positives: \d+ of \d+ training rows have a value >= 4/);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { train: { positive_threshold: number } } };
    expect(run.config.train.positive_threshold).toBe(4);
    const mse = await rec(['train', '--data', ds, '--model', 'mf', '--positive-threshold', '4', '--epochs', '1', '--backend', 'cpu', '--out', join(dir, 'ck-mse')]);
    expect(mse.code).toBe(2);
    expect(mse.stderr).toMatch(/train\.positive_threshold 4 \(from flag.*\) applies to losses bce and bpr/);
  });

  it('eval after the dataset moved: exit 2 naming run.json and --data DIR; --data makes it work', async () => {
    const moved = join(dir, 'ck-moved');
    cpSync(ck, moved, { recursive: true });
    const elsewhere = join(dir, 'ds-elsewhere');
    cpSync(ds, elsewhere, { recursive: true });
    const run = JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')) as { dataset: { path: string } };
    run.dataset.path = join(dir, 'ds-gone');
    writeFileSync(join(moved, 'run.json'), JSON.stringify(run));
    const r = await rec(['eval', moved, '--backend', 'cpu', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(join(dir, 'ds-gone'));
    expect(r.stderr).toMatch(/no longer exists \(that path is recorded in .*run\.json, dataset\.path\).*--data DIR/);
    const ok = await rec(['eval', moved, '--data', elsewhere, '--backend', 'cpu', '--json', '--k', '5', '--metrics', 'hr']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toMatch(/warning/);
  });

  it('--resume after the dataset moved: exit 2 naming run.json, and how to go on', async () => {
    const moved = join(dir, 'ck-resume-moved');
    cpSync(ck, moved, { recursive: true });
    const run = JSON.parse(readFileSync(join(moved, 'run.json'), 'utf8')) as { dataset: { path: string } };
    run.dataset.path = join(dir, 'ds-gone');
    writeFileSync(join(moved, 'run.json'), JSON.stringify(run));
    const r = await rec(['train', '--resume', '--out', moved, '--epochs', '2', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ds-gone \(dataset\.path in its run\.json\), which no longer exists.*--init-from/);
  });

  it('--similar-to an item without training rows warns that its neighbours are arbitrary', async () => {
    const r = await rec(['recommend', ck, '--similar-to', '999', '--similar-to', '3', '--k', '2', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: --similar-to "999": no training rows .*neighbours are arbitrary/);
    expect(r.stderr).not.toMatch(/"3"/);
    expect((JSON.parse(r.stdout) as { similar: unknown[] }).similar).toHaveLength(2);
  });

  it('a folder of raw logs given as --data is not a dataset, and no message suggests prepping onto it', async () => {
    const raw = join(dir, 'raw');
    cpSync(ratings, join(raw, 'ratings.csv'));
    const r = await rec(['eval', ck, '--data', raw, '--backend', 'cpu']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not a dataset folder/);
    expect(r.stderr).not.toContain(`--out ${raw}`);
    const missing = await rec(['eval', ck, '--data', join(dir, 'nope'), '--backend', 'cpu']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--data .*nope does not exist/);
  });
});
