/**
 * Data with nothing to learn from (issue 19, item 15): a sequence model on users with one row each
 * or on a one-item catalogue, and any model on an empty train split, are refused with exit 1 before
 * a checkpoint is written (they used to "complete" with loss 0 and a best ndcg of 1.0 or NaN). A
 * validation that ranks nobody (NaN) never becomes the best epoch: model/ holds the last weights
 * and best.json records no value.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRunJson, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-degenerate-');
const data = (name: string) => join(dir, name);

/** A log of `rows` [user, item, ts] lines. */
function writeLog(name: string, rows: [string, string, number][]): string {
  const path = join(dir, `${name}.csv`);
  writeFileSync(path, `user,item,ts\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  return path;
}

const prep = async (name: string, log: string, args: string[]) => {
  const r = await rec(['prep', log, '--out', data(name), ...args]);
  expect(r.code, r.stderr).toBe(0);
};

beforeAll(async () => {
  const users = Array.from({ length: 40 }, (_, u) => `u${u}`);
  // One row a user over 7 items: no sequence of two.
  await prep('single', writeLog('single', users.map((u, k) => [u, `i${k % 7}`, 1000 + k])), []);
  // Three rows a user, all of one item, kept as they are: sequences of a one-item catalogue.
  await prep('one-item', writeLog('one-item', users.flatMap((u, k) => [0, 1, 2].map((t): [string, string, number] => [u, 'i0', 1000 + 100 * t + k]))), ['--dedupe', 'none']);
  // Every row in valid or test.
  await prep('empty-train', writeLog('empty-train', users.flatMap((u, k) => [[u, `i${k % 7}`, 1000 + k], [u, `i${(k + 1) % 7}`, 2000 + k]] as [string, string, number][])), ['--split', 'temporal:0,0.5,0.5']);
}, 60_000);

describe('refused before training', () => {
  it.each([
    ['sasrec', 'single', /no training sequences: --model sasrec .* none of the 40 users has 2 or more of the train split's \d+ rows/],
    ['sasrec', 'one-item', /no training sequences: --model sasrec .* the catalogue holds 1 item/],
    ['sasrec', 'empty-train', /no training rows: the train split of .* is empty \(80 rows are in its valid\/test splits\)/],
    ['mf', 'empty-train', /no training rows/],
    ['neumf', 'empty-train', /no training rows/],
  ])('--model %s on %s: exit 1 naming the cause, no checkpoint', async (model, name, message) => {
    const out = join(dir, `ck-${model}-${name}`);
    const r = await rec(['train', '--data', data(name), '--model', model, '--epochs', '2', '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(out, 'run.json'))).toBe(false);
  }, 60_000);
});

describe('a validation metric that is NaN', () => {
  it('is never the best: model/ holds the last weights, best.json no value, and the run summary no best', async () => {
    // The valid rows' users have no train row, so validation ranks nobody.
    const out = join(dir, 'ck-nan');
    const r = await rec(['train', '--data', data('single'), '--model', 'mf', '--epochs', '2', '--backend', 'cpu', '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/valid ndcg@10 is NaN at epoch 1 .* counts neither for the best epoch nor for early stopping/);
    expect((JSON.parse(r.stdout) as { best: unknown }).best).toBeNull();
    expect(JSON.parse(readFileSync(join(out, 'best.json'), 'utf8'))).toMatchObject({ epoch: 2, metric: null, value: null });
    expect(existsSync(join(out, 'model', 'weights.bin'))).toBe(true);
    expect(readRunJson(out).status).toBe('completed');
  }, 60_000);
});
