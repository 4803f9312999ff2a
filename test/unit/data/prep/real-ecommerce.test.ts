import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED, expectAccounting, prep, tempRoot } from './helpers.js';

// The shared real datasets live outside the repository (../shared/datasets) and are never copied in.
const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const taobao = join(SHARED, 'taobao-userbehavior-excerpt/UserBehavior.csv');
const tmall = join(SHARED, 'tmall-2014-brand-behaviour/t_alibaba_data.csv');
const digi = join(SHARED, 'diginetica-sample/sample_train-item-views.csv');
const yoo = join(SHARED, 'yoochoose-clicks-sample');
const games = join(SHARED, 'sasrec-amazon-games/Video.txt');

describe('shared e-commerce / session datasets', () => {
  it.skipIf(!existsSync(taobao))('Taobao UserBehavior: pv/cart/fav/buy weighted, 110,300 rows', async () => {
    const p = await prep(out(), [taobao], { columns: 'user=0,item=1,event=3,ts=4', event_weights: 'pv=1,fav=2,cart=3,buy=5', split: 'temporal:0.8,0.1,0.1' });
    expect(p.result.rows).toMatchObject({ read: 110300, rejected: 0 });
    expect(p.manifest.events?.slice().sort()).toEqual(['buy', 'cart', 'fav', 'pv']);
    expect([p.result.users, p.result.items]).toEqual([66454, 84793]);
    expect(p.manifest.time).toMatchObject({ min_ts: 1511658000000, max_ts: 1511665811000 });
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(tmall))('Tmall 2014: `M-D` dates via --ts-format %m-%d --ts-year 2014, 182,880 rows', async () => {
    const p = await prep(out(), [tmall], {
      columns: 'user=user_id,item=brand_id,event=type,ts=visit_datetime',
      ts_format: '%m-%d',
      ts_year: 2014,
      event_weights: '0=1,2=2,3=3,1=5',
      dedupe: 'none',
    });
    expect(p.result.rows).toMatchObject({ read: 182880, rejected: 0, deduplicated: 0 });
    expect([p.result.users, p.result.items]).toEqual([884, 9531]);
    expect(p.manifest.time).toMatchObject({ min_iso: '2014-04-15T00:00:00.000Z', max_iso: '2014-08-15T00:00:00.000Z' });
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(digi))('Diginetica: `;`, header, no final newline, 12,391 rows', async () => {
    const p = await prep(out(), [digi], { delimiter: ';', columns: 'user=session_id,item=item_id,ts=eventdate', split: 'leave-last', dedupe: 'none' });
    expect(p.result.rows).toMatchObject({ read: 12391, rejected: 0 });
    expect([p.result.users, p.result.items]).toEqual([2986, 7139]);
    expect(p.manifest.time).toMatchObject({ min_iso: '2016-01-03T00:00:00.000Z', max_iso: '2016-06-01T00:00:00.000Z' });
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(join(yoo, 'yoochoose-clicks-100k_test.txt')))('YooChoose: TSV with header guessed (SessionId/ItemId/Time), --test file', async () => {
    const p = await prep(out(), [join(yoo, 'yoochoose-clicks-100k_train_full.txt')], { test: join(yoo, 'yoochoose-clicks-100k_test.txt'), split: 'none', dedupe: 'none' });
    expect(p.manifest.sources[0].columns).toEqual({ user: 'SessionId', item: 'ItemId', ts: 'Time' });
    expect(p.result.rows).toMatchObject({ read: 70278 + 13568, rejected: 0, train: 70278, test: 13568 });
    expect(p.result.splits.test).toMatchObject({ users: 3416, cold_users: 3416, cold_items: 0 });
    expect(p.manifest.time.min_ts).toBe(1396314141719);
    expectAccounting(p.manifest, check);
  });

  it.skipIf(!existsSync(games))('Amazon Games (SASRec): space-separated, no time, leave-last by file order', async () => {
    const p = await prep(out(), [games], { split: 'leave-last', dedupe: 'none' });
    expect(p.result.rows).toMatchObject({ read: 287107, rejected: 0 });
    expect([p.result.users, p.result.items]).toEqual([31013, 23715]);
    expect(p.result.rows.test).toBe(p.result.rows.valid);
    expectAccounting(p.manifest, check);
  });
});
