import { existsSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runPrep } from '../../../../src/data/prep/run.js';
import { DataError, InterruptedError, UsageError } from '../../../../src/util/errors.js';
import { silentLogger } from '../../../../src/util/log.js';
import { noProgress } from '../../../../src/util/progress.js';
import { config, expectAccounting, fixture, leftovers, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);

describe('rec prep rejects', () => {
  it('rejects each malformed row with a reason and line, and keeps reading', async () => {
    const p = await prep(out(), [fixture('rejects.csv')], { split: 'none', max_rejects: '100%' });
    expect(p.result.rows).toMatchObject({ read: 11, accepted: 2, rejected: 9, train: 2 });
    expect(p.result.rejected_by_reason).toEqual({ bad_rating: 3, bad_ts: 1, empty_id: 2, unclosed_quote: 1, wrong_column_count: 2 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [2, 'wrong_column_count'],
      [3, 'empty_id'],
      [4, 'empty_id'],
      [5, 'bad_rating'],
      [6, 'bad_rating'],
      [7, 'bad_rating'],
      [8, 'bad_ts'],
      [9, 'wrong_column_count'],
      [10, 'unclosed_quote'],
    ]);
    const r0 = rejects(p.out)[0];
    expect(r0).toMatchObject({ file: fixture('rejects.csv'), raw: '1,11', detail: 'expected 4 fields, got 2' });
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['1', '4']);
    expectAccounting(p.manifest, check);
    expect(p.manifest.sources[0]).toMatchObject({ rows_read: 11, rejected: 9 });
  });

  it('truncates the raw text of long rejected rows', async () => {
    const dir = out();
    const file = `${dir}-long.csv`;
    writeFileSync(file, `1,2,3,4\n1,2,${'x'.repeat(500)},4\n`);
    const p = await prep(dir, [file], { split: 'none', max_rejects: '100%' });
    const raw = rejects(p.out)[0].raw ?? '';
    expect(raw.length).toBeLessThanOrEqual(201);
    expect(raw.endsWith('…')).toBe(true);
  });

  it('fails over --max-rejects (count) with exit 1 and leaves no dataset and no temp folder', async () => {
    const dir = out();
    const err = await prep(dir, [fixture('rejects.csv')], { split: 'none', max_rejects: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/Too many rejected rows: 4.*--max-rejects 3 \(config prep\.max_rejects\)/);
    expect((err as Error).message).toMatch(/rejects\.csv:2 wrong_column_count/);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('fails over --max-rejects (percent) after reading everything', async () => {
    const dir = out();
    const err = await prep(dir, [fixture('rejects.csv')], { split: 'none', max_rejects: '50%' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/9 \(81\.82% of 11 rows read\)/);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('keeps an existing dataset when a new prep fails', async () => {
    const dir = out();
    await prep(dir, [fixture('basic.tsv')]);
    await expect(prep(dir, [fixture('rejects.csv')], { max_rejects: 0 })).rejects.toBeInstanceOf(DataError);
    expect(existsSync(`${dir}/manifest.json`)).toBe(true);
    expect(leftovers(dir)).toEqual([dir.split('/').pop()]);
  });

  it('a missing input is a usage error (exit 2) naming the path', async () => {
    const dir = out();
    const err = await prep(dir, [fixture('nope.csv')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toContain(fixture('nope.csv'));
    const err2 = await prep(dir, [fixture('basic.tsv')], { test: fixture('missing-test.tsv') }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/--test file \(config prep\.test\) .*missing-test\.tsv/);
    expect(existsSync(dir)).toBe(false);
  });

  it('an empty file or a header without rows is a data error', async () => {
    await expect(prep(out(), [fixture('empty.csv')])).rejects.toThrow(/empty\.csv is empty/);
    await expect(prep(out(), [fixture('header-only.csv')])).rejects.toThrow(/header-only\.csv has no data rows \(only a header\)/);
  });

  it('a corrupt .gz is a data error naming the file, with nothing left behind', async () => {
    const dir = out();
    const gz = `${dir}-bad.tsv.gz`;
    writeFileSync(gz, Buffer.concat([gzipSync(Buffer.from('1\t2\t3\t4\n'.repeat(1000))).subarray(0, 40), Buffer.from('garbage')]));
    const err = await prep(dir, [gz]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(gz);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('reports bytes read to the progress bar and stops it', async () => {
    const updates: number[] = [];
    let total = -1;
    let stopped = false;
    const progress = {
      start: (_label: string, t: number) => {
        total = t;
        return { update: (v: number) => updates.push(v), stop: () => (stopped = true) };
      },
    };
    await runPrep({ inputs: [fixture('basic.tsv')], out: out(), config: config(), seed: 1, recVersion: 't' }, { log: silentLogger, progress });
    expect(total).toBe(statSync(fixture('basic.tsv')).size);
    expect(updates).toContain(total);
    expect(stopped).toBe(true);
  });

  it('stops at the next chunk when the run is aborted, leaving nothing behind', async () => {
    const dir = out();
    const controller = new AbortController();
    controller.abort('SIGTERM');
    const err = await runPrep({ inputs: [fixture('basic.tsv')], out: dir, config: config(), seed: 1, recVersion: 't' }, { log: silentLogger, progress: noProgress, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(143);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('leaves out the raw text under --anonymize', async () => {
    const p = await prep(out(), [fixture('rejects.csv')], { split: 'none', max_rejects: '100%', anonymize: true }, { anonKey: Buffer.from('k'.repeat(20)) });
    expect(rejects(p.out).every((r) => r.raw === null)).toBe(true);
  });
});

describe('rec prep settings errors', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ columns: 'usr=0,item=1' }, /--columns \(config prep\.columns\) is invalid\. Received: "usr=0,item=1"\. Expected user=C,item=C/],
    [{ columns: 'user=0' }, /item and a user or a query are required/],
    [{ columns: 'user=0,item=9' }, /maps item to column 9, but .*basic\.tsv has 4 columns/],
    [{ columns: 'user=uid,item=iid' }, /names the user column "uid", which is not in the header of .*basic\.tsv\. Received header: "u1,i1,5,1000000000"/],
    [{ columns: 'user=uid,item=iid', header: false }, /names columns, but --no-header \(config prep\.header: false\)/],
    [{ split: 'random:0.8,0.1' }, /--split \(config prep\.split\) is invalid\. Received: "random:0\.8,0\.1"/],
    [{ split: 'random:0.8,0.3,0.1' }, /these sum to 1\.2/],
    [{ split: 'temporal:0.8,0.1,0.1', columns: 'user=0,item=1,rating=2' }, /--split temporal .* needs timestamps/],
    [{ event_weights: 'view=1,buy' }, /--event-weights \(config prep\.event_weights\) is invalid/],
    [{ event_weights: 'view=1' }, /no event column is mapped/],
    [{ ts_format: '%m-%d' }, /has no year .* --ts-year YYYY \(config prep\.ts_year\)/],
    [{ ts_format: '%Q' }, /--ts-format \(config prep\.ts_format\) is invalid/],
    [{ feedback: 'explicit', columns: 'user=0,item=1' }, /--feedback explicit .* needs a rating column/],
    [{ anonymize: true }, /--anonymize .* needs a key/],
  ];
  for (const [overrides, message] of cases) {
    it(`rejects ${JSON.stringify(overrides)}`, async () => {
      const dir = out();
      const err = await prep(dir, [fixture('basic.tsv')], overrides as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
      expect(existsSync(dir)).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    });
  }
});
