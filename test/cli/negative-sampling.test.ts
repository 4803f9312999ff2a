/**
 * `rec train --negative-sampling uniform|on_sale|mixed` (config train.negative_sampling): on_sale trains a pair model on a
 * timed log and is recorded in run.json; it is refused, exit 2 with the key and what was expected, where it cannot
 * apply (mse, a sequence model, a log without times) or with an unknown value.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-negative-sampling-');
const timed = join(dir, 'timed');
const untimed = join(dir, 'untimed');

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  const s = await rec(['synth', '--out', log, '--users', '40', '--items', '30', '--events', '800', '--new-items', '0.3', '--seed', '2']);
  expect(s.code, s.stderr).toBe(0);
  const p = await rec(['prep', log, '--out', timed, '--split', 'temporal:0.8,0.1,0.1']);
  expect(p.code, p.stderr).toBe(0);
  // The same pairs without their times.
  const rows = readFileSync(log, 'utf8').trim().split('\n').slice(1);
  writeFileSync(join(dir, 'pairs.csv'), `user,item\n${rows.map((l) => l.split(',').slice(0, 2).join(',')).join('\n')}\n`);
  const q = await rec(['prep', join(dir, 'pairs.csv'), '--out', untimed, '--split', 'random:0.8,0.1,0.1']);
  expect(q.code, q.stderr).toBe(0);
}, 120_000);

const train = (args: string[]) => rec(['train', '--model', 'mf', '--epochs', '1', '--dim', '8', '--backend', 'cpu', '--seed', '1', ...args], { timeoutMs: 120_000 });

describe('rec train --negative-sampling', () => {
  it('on_sale (bce) and mixed (bpr) train on a timed log, say so, and are recorded in run.json', async () => {
    for (const [loss, sampling, said] of [
      ['bce', 'on_sale', /negatives by time on sale: /],
      ['bpr', 'mixed', /negatives by time on sale for half of them/],
    ] as const) {
      const out = join(dir, `ck-${loss}`);
      const r = await train(['--data', timed, '--loss', loss, '--negative-sampling', sampling, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(said);
      const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { train: { negative_sampling: string } } };
      expect(run.config.train.negative_sampling).toBe(sampling);
    }
  }, 120_000);

  it('is refused with mse, a sequence model, a log without times, or an unknown value', async () => {
    const mse = await train(['--data', timed, '--loss', 'mse', '--negative-sampling', 'on_sale', '--out', join(dir, 'no1')]);
    expect(mse.code).toBe(2);
    expect(mse.stderr).toMatch(/train\.negative_sampling on_sale \(from flag:--negative-sampling\).*loss bce or bpr/);
    const seq = await rec(['train', '--model', 'sasrec', '--epochs', '1', '--data', timed, '--negative-sampling', 'on_sale', '--out', join(dir, 'no2')]);
    expect(seq.code).toBe(2);
    expect(seq.stderr).toMatch(/--model sasrec/);
    const none = await train(['--data', untimed, '--loss', 'bce', '--negative-sampling', 'on_sale', '--out', join(dir, 'no3')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/has no timestamps/);
    const bad = await train(['--data', timed, '--negative-sampling', 'sometimes', '--out', join(dir, 'no4')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/train\.negative_sampling.*"uniform"\|"on_sale"\|"mixed"/);
  }, 120_000);
});
