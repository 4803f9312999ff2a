import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../src/data/dataset.js';
import { SHARED, expectAccounting, prep, tempRoot } from './helpers.js';

// The shared real datasets live outside the repository (../shared/datasets) and are never copied in.
const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const ml100k = join(SHARED, 'movielens-100k');
const ml1m = join(SHARED, 'movielens-1m-partial/ratings.dat.gz');
const ncf = join(SHARED, 'ncf-eval-files');

describe('shared MovieLens / NCF datasets', () => {
  it.skipIf(!existsSync(join(ml100k, 'u.data')))('ML-100K u.data: 100,000 ratings, 943 users, 1,682 items', async () => {
    const p = await prep(out(), [join(ml100k, 'u.data')]);
    expect(p.result.rows).toMatchObject({ read: 100000, accepted: 100000, rejected: 0, deduplicated: 0 });
    expect(p.result.rows.train + p.result.rows.valid + p.result.rows.test).toBe(100000);
    expect([p.result.users, p.result.items]).toEqual([943, 1682]);
    expect(p.manifest.feedback).toMatchObject({ kind: 'explicit', value_min: 1, value_max: 5 });
    expect(p.manifest.time).toMatchObject({ min_ts: 874724710000, max_ts: 893286638000 });
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(join(ml100k, 'u1.test')))('ML-100K u1.base + --test u1.test: the official split', async () => {
    const p = await prep(out(), [join(ml100k, 'u1.base')], { test: join(ml100k, 'u1.test'), split: 'none' });
    expect(p.result.rows).toMatchObject({ read: 100000, train: 80000, valid: 0, test: 20000 });
    expect(p.manifest.sources.map((s) => s.sha256)).toEqual([
      'ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a',
      '18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950',
    ]);
    expect(p.result.splits.test.cold_users).toBe(0);
    expectAccounting(p.manifest, check);
    const ds = await loadDataset(p.out);
    expect(ds.train.length).toBe(80000);
    expect(ds.test.length).toBe(20000);
    expect(ds.users.lookup('1')).toBeGreaterThanOrEqual(0);
  });

  it.skipIf(!existsSync(ml1m))('ML-1M (users 1–2999) ratings.dat.gz with `::`, leave-last', async () => {
    const p = await prep(out(), [ml1m], { split: 'leave-last' });
    expect(p.manifest.sources[0]).toMatchObject({ delimiter: '::', gzip: true, bytes: 2882903, sha256: '2fedcf5405373a49df4041e3d3fe1e8db9eacf2c77c209ae1f686ea06b7a16d9' });
    expect(p.result.rows).toMatchObject({ read: 487650, rejected: 0, valid: 2999, test: 2999, train: 487650 - 2 * 2999 });
    expect([p.result.users, p.result.items]).toEqual([2999, 3615]);
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(join(ncf, 'ml1m-u2999.test.tsv')))('NCF ml1m-u2999 train + --test: 484,651 + 2,999', async () => {
    const p = await prep(out(), [join(ncf, 'ml1m-u2999.train.tsv')], { test: join(ncf, 'ml1m-u2999.test.tsv'), split: 'none', feedback: 'implicit' });
    expect(p.result.rows).toMatchObject({ read: 487650, rejected: 0, deduplicated: 0, train: 484651, test: 2999 });
    expect(p.result.splits.test).toMatchObject({ users: 2999, cold_users: 0 });
    expect(p.manifest.feedback.kind).toBe('implicit');
    expectAccounting(p.manifest, check);
  });
});
