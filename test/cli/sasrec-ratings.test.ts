/**
 * SASRec on explicit ratings (issue 19, item 19): training warns as GMF does that every rating
 * enters the history, and `--positive-threshold R` keeps only ratings >= R as the sequence, in
 * training, validation, `rec eval` and `rec recommend` alike (recorded in config.yaml, so the
 * checkpoint's readers apply the same threshold).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-sasrec-ratings-');
const ds = join(dir, 'ds');
const common = ['--model', 'sasrec', '--epochs', '1', '--dim', '8', '--max-len', '12', '--batch-size', '8', '--seed', '7', '--backend', 'cpu'];

beforeAll(async () => {
  const rows: string[] = [];
  let ts = 1_600_000_000;
  for (let u = 0; u < 30; u++) for (let i = 0; i < 8; i++) rows.push(`u${u},i${(u * 3 + i * 5) % 25},${1 + ((u + i) % 5)},${ts++}`);
  // `low` rated everything below 4: with --positive-threshold 4 it has no history at all.
  for (let i = 0; i < 6; i++) rows.push(`low,i${i},${1 + (i % 2)},${ts++}`);
  const log = join(dir, 'ratings.csv');
  writeFileSync(log, `user,item,rating,ts\n${rows.join('\n')}\n`);
  const p = await rec(['prep', log, '--split', 'leave-last', '--out', ds]);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

describe('rec train --model sasrec on explicit ratings', () => {
  it('warns that every rating enters the history, and records the note in run.json', async () => {
    const ck = join(dir, 'plain');
    const t = await rec(['train', '--data', ds, ...common, '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/warning: model sasrec trains on explicit ratings: every rated item enters the user's history.*--positive-threshold R/);
    const run = JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { notes?: string[] };
    expect(run.notes?.[0]).toMatch(/^model sasrec trains on explicit ratings/);
  }, 60_000);

  it('--positive-threshold R: only ratings >= R form the sequences in train, eval and recommend', async () => {
    const ck = join(dir, 'bin');
    const t = await rec(['train', '--data', ds, ...common, '--positive-threshold', '4', '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).not.toMatch(/warning: model sasrec/);
    expect(t.stderr).toMatch(/sequences: \d+ of \d+ training rows have a value >= 4 and form the users' histories/);
    expect(readFileSync(join(ck, 'config.yaml'), 'utf8')).toMatch(/positive_threshold: 4/);

    // `low` has test and train rows but none >= 4: eval finds no history to rank it from.
    const e = await rec(['eval', ck, '--backend', 'cpu', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const evaluated = JSON.parse(e.stdout) as { users: { skipped_by_reason: Record<string, number> } };
    expect(evaluated.users.skipped_by_reason.no_history).toBe(1);

    // ... and recommend treats it as a user without history: cold, popular items.
    const r = await rec(['recommend', ck, '--user', 'low', '--user', 'u1', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const recs = JSON.parse(r.stdout) as { recommendations: { user: string; cold: boolean }[] };
    expect(recs.recommendations.map((x) => [x.user, x.cold])).toEqual([
      ['low', true],
      ['u1', false],
    ]);
  }, 90_000);
});
