import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { choosePlan, profileColumns } from '../../../../src/data/prep/columns.js';
import { DataError } from '../../../../src/util/errors.js';
import { SHARED, leftovers, prep, rows, tempRoot } from './helpers.js';

const out = tempRoot();
const NOW = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'rec-diagnose-'));
const at = { now: NOW };

function write(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

// MovieLens u.data layout: user item rating ts (unix seconds in 1997-98), tab separated, no header.
const ml = write(
  'u.data',
  Array.from({ length: 30 }, (_, k) => `${k % 6}\t${100 + (k % 7)}\t${1 + (k % 5)}\t${881250949 + k * 3607}`),
);
// Taobao UserBehavior layout: user,item,category,behavior,ts (unix seconds in 2017), no header.
const behaviours = ['pv', 'pv', 'pv', 'cart', 'pv', 'buy', 'pv', 'fav'];
const taobaoLines = Array.from({ length: 24 }, (_, k) => `${1000 + (k % 5)},${2000 + k},${4000000 + (k % 3) * 17},${behaviours[k % 8]},${1511658000 + k * 60}`);
const taobao = write('UserBehavior.csv', taobaoLines);

describe('a column mapping that makes no sense', () => {
  it('warns on ratings that are unix seconds and times in 1970, naming the columns and the mapping that fits', async () => {
    const p = await prep(out(), [ml], { columns: 'user=0,item=1,ts=2,rating=3' }, at);
    const w = p.result.warnings;
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/^column 3, mapped as rating, holds 30 distinct values from \d+ to \d+, which look like unix seconds/);
    expect(w[0]).toMatch(/Column 2 looks like ratings \(5 distinct values 1\.\.5\) and column 3 like unix seconds .*: try --columns user=0,item=1,rating=2,ts=3\./);
    expect(w[1]).toMatch(/^column 2, mapped as ts, puts 30 of 30 rows before 1995 \(1970-01-01T00:00:01Z to 1970-01-01T00:00:05Z\) under --ts-unit auto/);
    expect(w[1]).toMatch(/try --columns user=0,item=1,rating=2,ts=3\./);
    expect(p.manifest.warnings).toEqual(w);
    expect(p.logs.filter((l) => l.includes('warn')).length).toBeGreaterThanOrEqual(2);
  });

  it('is silent on the right mapping, and records it in the manifest', async () => {
    const p = await prep(out(), [ml], { columns: 'user=0,item=1,rating=2,ts=3' }, at);
    expect(p.result.warnings).toEqual([]);
    expect(p.manifest.warnings).toEqual([]);
    expect(p.manifest.prep).toMatchObject({ column_map: { user: 0, item: 1, rating: 2, ts: 3 }, columns_guessed: false, columns_from: 'columns' });
  });

  it('--strict makes the warnings an error and writes nothing', async () => {
    const dest = out();
    const run = prep(dest, [ml], { columns: 'user=0,item=1,ts=2,rating=3', strict: true }, at);
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(/column 3, mapped as rating.*--strict, config prep\.strict/);
    expect(leftovers(dest)).toEqual([]);
  });

  it('a huge span of ratings without time-like values still warns', async () => {
    const path = write('prices.csv', Array.from({ length: 10 }, (_, k) => `u${k},i${k},${k * 5000}`));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,rating=2' }, at);
    expect(p.result.warnings).toEqual([expect.stringMatching(/^column 2, mapped as rating, holds 10 distinct values from 0 to 45000; ratings are a few levels/)]);
  });
});

describe('--ts-unit that puts the rows in 1970 or the future', () => {
  it('seconds read as milliseconds → 1970: suggests --ts-unit s', async () => {
    const p = await prep(out(), [ml], { columns: 'user=0,item=1,rating=2,ts=3', ts_unit: 'ms' }, at);
    expect(p.result.warnings).toEqual([expect.stringMatching(/puts 30 of 30 rows before 1995 .* under --ts-unit ms .*unix seconds read as milliseconds: try --ts-unit s \(config prep\.ts_unit\)/)]);
  });

  it('milliseconds read as seconds → far future: suggests --ts-unit ms', async () => {
    const path = write('ms.csv', Array.from({ length: 8 }, (_, k) => `u${k},i${k},${1511658000123 + k}`));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', ts_unit: 's' }, at);
    expect(p.result.warnings).toEqual([expect.stringMatching(/puts 8 of 8 rows more than a day in the future .*try --ts-unit ms/)]);
  });

  it('a few rows out of range are named but kept', async () => {
    const path = write('few.csv', Array.from({ length: 8 }, (_, k) => `u${k},i${k},${k === 3 ? 100 : 1511658000 + k}`));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', split: 'none' }, at);
    expect(p.result.rows.train).toBe(8);
    expect(p.result.warnings).toEqual([expect.stringMatching(/^column 2, mapped as ts, has 1 before 1995 of its 8 rows \(1970-01-01T00:01:40Z to .*they are kept/)]);
  });
});

describe('guessed columns', () => {
  it("guesses Taobao's headerless layout from the values, and says so on stderr and in the manifest", async () => {
    const p = await prep(out(), [taobao], { split: 'none' }, at);
    expect(p.result.rows).toMatchObject({ read: 24, rejected: 0 });
    expect(p.manifest.prep).toMatchObject({ column_map: { user: 0, item: 1, event: 3, ts: 4 }, columns_guessed: true, columns_from: 'values' });
    expect(p.manifest.events).toEqual(['pv', 'cart', 'buy', 'fav']);
    const info = p.logs.find((l) => l.includes('no --columns given'));
    expect(info).toMatch(/guessed user=0,item=1,event=3,ts=4 from the values of the first rows .*; in the first 24 rows, event column 3 holds event types \(4 distinct: "pv", "cart", "buy", …\); ts column 4 holds unix seconds .*column 2 ignored/);
    expect(p.result.warnings).toEqual([]);
  });

  it('records a mapping guessed from the header by name', async () => {
    const path = write('named.csv', ['user_id,item_id,category,event,ts', ...taobaoLines]);
    const p = await prep(out(), [path], { split: 'none' }, at);
    expect(p.manifest.prep).toMatchObject({ column_map: { user: 'user_id', item: 'item_id', event: 'event', ts: 'ts' }, columns_guessed: true, columns_from: 'header' });
    expect(p.logs.join('\n')).toMatch(/guessed user=user_id,item=item_id,event=event,ts=ts from the header names; in the first 24 rows, event column 3 \("event"\) holds event types/);
  });

  it('keeps the positional layout (and says so) when it parses, even with a stray bad row in the sample', () => {
    const sample = [['1', '2', '3', '881250949'], ['1', '3', 'x', '881250950'], ['2', '2', '4', '881250951']];
    const c = choosePlan(null, null, 4, 'f', sample, NOW);
    expect(c).toMatchObject({ source: 'position', plan: { user: 0, item: 1, rating: 2, ts: 3, event: -1 } });
    expect(choosePlan(null, ['user_id', 'item_id', 'time'], 3, 'f', [], NOW)).toMatchObject({ source: 'header', plan: { ts: 2 } });
  });

  it('profiles columns as times, ratings, events, numbers and text', () => {
    const sample = taobaoLines.map((l) => l.split(','));
    expect(profileColumns(sample, 5, null, NOW).map((p) => p.kind)).toEqual(['number', 'number', 'number', 'event', 'unix_s']);
    const iso = profileColumns([['a', '2021-03-04T05:06:07Z', '1511658000123', '0.5']], 4, null, NOW);
    expect(iso.map((p) => p.kind)).toEqual(['text', 'iso', 'unix_ms', 'rating']);
  });

  it('explains a mapping under which one column rejects nearly every row: what it held and a --columns that parses', async () => {
    const run = prep(out(), [taobao], { columns: 'user=0,item=1,ts=3' }, at);
    await expect(run).rejects.toThrow(
      /24 of the 24 rejects are bad_ts from column 3, mapped as ts, which holds event types \(4 distinct: "pv", "cart", "buy", …\)\. Column 3 looks like event types .* and column 4 like unix seconds .*: try --columns user=0,item=1,event=3,ts=4\. No dataset was written\./,
    );
  });

  it('under a --max-rejects that lets them through, most rows rejected is a warning with the same explanation', async () => {
    const p = await prep(out(), [taobao], { columns: 'user=0,item=1,ts=3', max_rejects: '100%' }, at);
    expect(p.result.rows.accepted).toBe(0);
    expect(p.result.warnings[0]).toMatch(/^24 of 24 rows were rejected \(see rejects\.jsonl\)\. 24 of the 24 rejects are bad_ts from column 3.*try --columns user=0,item=1,event=3,ts=4\./);
    expect(p.result.warnings[1]).toMatch(/^no rows are left for any split: 24 were rejected/);
  });

  it('suggests --ts-unit when only the unit is wrong', async () => {
    const path = write('iso.csv', Array.from({ length: 6 }, (_, k) => `u${k},i${k},2021-03-0${k + 1}T05:06:07Z`));
    await expect(prep(out(), [path], { columns: 'user=0,item=1,ts=2', ts_unit: 's' }, at)).rejects.toThrow(/bad_ts from column 2, mapped as ts, which holds ISO-8601 times .*Try --ts-unit iso/);
  });
});

describe('other silent surprises', () => {
  it('event weights for events that never occur, and events without a weight', async () => {
    const p = await prep(out(), [taobao], { columns: 'user=0,item=1,event=3,ts=4', event_weights: 'pv=1,cart=3,buy=5,click=2', max_rejects: '50%', split: 'none' }, at);
    expect(p.result.warnings).toEqual([
      expect.stringMatching(/^--event-weights \(config prep\.event_weights\) gives a weight to "click", which no row has \(events seen: "pv", "cart", "buy", "fav"\)/),
      expect.stringMatching(/^3 rows were rejected as unknown_event: .*"fav" \(3\)\. Give them a weight, e\.g\. --event-weights pv=1,cart=3,buy=5,click=2,fav=1/),
    ]);
  });

  it('leave-last with a user per row: every row in train, said twice', async () => {
    const path = write('single.csv', Array.from({ length: 25 }, (_, k) => `u${k},i${k % 4},${1511658000 + k}`));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', split: 'leave-last' }, at);
    expect(p.result.rows.train).toBe(25);
    expect(p.result.warnings).toEqual([
      expect.stringMatching(/^--split leave-last \(config prep\.split\) put every row in train: no user has the 3 rows it needs/),
      expect.stringMatching(/^25 of 25 users \(100\.0%\) have a single row: .*leave-last leaves them all in train/),
    ]);
  });

  it('a split left empty by too few rows', async () => {
    const path = write('two.csv', ['u1,i1,1511658000', 'u2,i2,1511658001']);
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', split: 'temporal:0.5,0.25,0.25' }, at);
    expect(p.result.rows).toMatchObject({ train: 1, valid: 1, test: 0 });
    expect(p.result.warnings).toEqual([expect.stringMatching(/^the test split is empty although --split temporal \(config prep\.split\) gives it a share of 0\.25/)]);
    expect(rows(p.out, 'valid.arrow')).toHaveLength(1);
  });
});

describe('--strict and notes on flags', () => {
  it('a k-core that removes every row is said, and is an error under --strict', async () => {
    const path = write('sparse.csv', Array.from({ length: 6 }, (_, k) => `u${k},i${k},${1511658000 + k}`));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', min_user: 2 }, at);
    expect(p.result.rows).toMatchObject({ filtered: 6, train: 0 });
    expect(p.result.warnings).toEqual([expect.stringMatching(/^no rows are left for any split: 0 were rejected, 0 merged as duplicates and 6 removed by k-core.*Lower --min-user 2/)]);
    await expect(prep(out(), [path], { columns: 'user=0,item=1,ts=2', min_user: 2, strict: true }, at)).rejects.toThrow(/no rows are left .*--strict/);
  });

  it('a --split share replaced by a --test file stays a warning under --strict', async () => {
    const train = write('train.csv', Array.from({ length: 12 }, (_, k) => `u${k % 3},i${k},${1511658000 + k}`));
    const test = write('test.csv', ['u0,i20,1511659000', 'u1,i21,1511659001', 'u2,i22,1511659002']);
    const p = await prep(out(), [train], { columns: 'user=0,item=1,ts=2', test, strict: true }, at);
    expect(p.result.warnings).toEqual([expect.stringMatching(/test share 0\.1 of --split is not used/)]);
  });
});

// Real data, only where the shared datasets are beside the repository.
const realTaobao = join(SHARED, 'taobao-userbehavior-excerpt/UserBehavior.csv');
const realMl = join(SHARED, 'movielens-100k/u.data');
const realTmall = join(SHARED, 'tmall-2014-brand-behaviour/t_alibaba_data.csv');
describe('shared datasets', () => {
  it.skipIf(!existsSync(realTmall))('Tmall: --ts-format advice without --ts-format; no swap hint as it is, the hint with user and item swapped', async () => {
    await expect(prep(out(), [realTmall], { split: 'none' })).rejects.toThrow(/mapped as ts, which holds dates without a year .* Try --ts-format %m-%d --ts-year YYYY/);
    const right = await prep(out(), [realTmall], { ts_format: '%m-%d', ts_year: 2014, split: 'none' });
    expect(right.result.warnings).toEqual([]);
    const swapped = await prep(out(), [realTmall], { columns: 'user=1,item=0,event=2,ts=3', ts_format: '%m-%d', ts_year: 2014, split: 'none' });
    expect(swapped.result.warnings.join('\n')).toMatch(/9531 users but 884 items, and 25\.1% of the users have a single row against 1\.0% of the items/);
  });

  it.skipIf(!existsSync(realTaobao))('Taobao without --columns: guessed user=0,item=1,event=3,ts=4, nothing rejected', async () => {
    const p = await prep(out(), [realTaobao], { split: 'none' });
    expect(p.manifest.prep).toMatchObject({ column_map: { user: 0, item: 1, event: 3, ts: 4 }, columns_guessed: true });
    expect(p.result.rows.rejected).toBe(0);
  });

  it.skipIf(!existsSync(realMl))('MovieLens u.data with ts and rating swapped: warns and suggests the right --columns', async () => {
    const p = await prep(out(), [realMl], { columns: 'user=0,item=1,ts=2,rating=3', split: 'none' });
    expect(p.result.warnings.join('\n')).toMatch(/try --columns user=0,item=1,rating=2,ts=3/);
  });
});

// Issue 19 item 17: a Tmall-like log (`M-D` dates without a year) without --ts-format was explained as
// "the date column holds event types" with a --columns that turned the dates into events: exit 0, no times.
const tmallHeader = 'user_id,brand_id,type,visit_datetime';
const tmallLines = Array.from({ length: 40 }, (_, k) => `${10944750 + (k % 6) * 7},${13451 + (k % 11)},${[0, 0, 0, 1, 0, 2, 0, 3][k % 8]},${4 + (k % 5)}-${1 + ((k * 7) % 28)}`);
const tmall = write('t_alibaba_data.csv', [tmallHeader, ...tmallLines]);

describe('dates without a year (Tmall)', () => {
  it('every row bad_ts: the error names month-day dates and suggests --ts-format %m-%d --ts-year, never a mapping without ts', async () => {
    const run = prep(out(), [tmall], {}, at);
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(
      /40 of the 40 rejects are bad_ts from column 3 \("visit_datetime"\), mapped as ts, which holds dates without a year \(e\.g\. "4-1", "5-8", "6-15"; read with --ts-format %m-%d --ts-year YYYY\)\. Try --ts-format %m-%d --ts-year YYYY \(config prep\.ts_format, prep\.ts_year\)/,
    );
    await expect(run).rejects.not.toThrow(/event=3|holds event types/);
  });

  it('following that advice preps every row with its day', async () => {
    const p = await prep(out(), [tmall], { ts_format: '%m-%d', ts_year: 2014, split: 'none' }, at);
    expect(p.result.rows).toMatchObject({ read: 40, rejected: 0 });
    expect(p.result.warnings).toEqual([]);
    expect(p.manifest.time).toMatchObject({ has_ts: true, min_iso: '2014-04-01T00:00:00.000Z' });
  });

  it('a --columns that maps the dates as events is warned about, with the mapping that keeps them as ts (an error under --strict)', async () => {
    const p = await prep(out(), [tmall], { columns: 'user=0,item=1,rating=2,event=3', split: 'none' }, at);
    const w = p.result.warnings.join('\n');
    expect(w).toMatch(
      /column 3 \("visit_datetime"\), mapped as event, holds dates without a year .*: it looks like the time column, and no column is mapped as ts, so no row keeps its time\. Try --columns user=0,item=1,rating=2,ts=3 --ts-format %m-%d --ts-year YYYY/,
    );
    expect(w).toMatch(/column 2 \("type"\) is mapped as rating but named like an event column; column 3 \("visit_datetime"\) is mapped as event but named like a ts column\. Check the mapping\./);
    await expect(prep(out(), [tmall], { columns: 'user=0,item=1,rating=2,event=3', strict: true }, at)).rejects.toThrow(/mapped as event, holds dates without a year/);
  });

  it('a suggested mapping that drops the time column says so', async () => {
    const path = write('cn-dates.csv', [tmallHeader, ...tmallLines.map((l) => l.replace(/,(\d+)-(\d+)$/, ',$1月$2日'))]);
    const run = prep(out(), [path], {}, at);
    await expect(run).rejects.toThrow(/try --columns user=0,item=1,event=2\. That mapping has no ts column: rows would keep no time .*if column 3 \("visit_datetime"\) holds times, keep it as ts and pass --ts-format/);
  });

  it('profiles dates in the layouts --ts-format reads', () => {
    const kinds = (values: string[]): [string, string | undefined] => {
      const p = profileColumns(values.map((v) => [v]), 1, null, NOW)[0];
      return [p.kind, p.dateFormat?.format];
    };
    expect(kinds(['6-4', '6-4', '8-15', '4-15'])).toEqual(['date', '%m-%d']);
    expect(kinds(['15-4', '4-6'])).toEqual(['date', '%d-%m']);
    expect(kinds(['06/17/2018', '12/01/2017'])).toEqual(['date', '%m/%d/%Y']);
    expect(kinds(['17/06/2018 10:11', '01/12/2017 23:59'])).toEqual(['date', '%d/%m/%Y %H:%M']);
    expect(kinds(['06 17, 2018', '12 1, 2017'])).toEqual(['date', '%m %d, %Y']);
    expect(kinds(['pv', 'pv', 'buy', 'pv'])).toEqual(['event', undefined]);
    expect(kinds(['13-14', '6-4'])).toEqual(['text', undefined]);
    // A stray impossible date is that row's reject, not a reason to call the column text.
    expect(kinds(['6-4', '6-5', '12-31', '2-30', '4-15'])).toEqual(['date', '%m-%d']);
  });
});

// Issue 19 item 22: user and item columns swapped. By name under --columns; by shape (many more
// users than items, the single-row long tail on the users' side) as a hint that --strict leaves a warning.
describe('user and item columns swapped', () => {
  // 40 users; 400 items: the first 120 seen once, the others 3 times (the items' long tail).
  const shopLines: string[] = [];
  for (let it = 0; it < 400; it++) {
    const times = it < 120 ? 1 : 3;
    for (let r = 0; r < times; r++) shopLines.push(`c${(it * 7 + r * 13) % 40},p${it},${1511658000 + shopLines.length * 60}`);
  }
  const shop = write('shop.csv', ['customer_id,product_id,ts', ...shopLines]);

  it('the log as it is: no hint', async () => {
    const p = await prep(out(), [shop], { split: 'none' }, at);
    expect(p.result.users).toBe(40);
    expect(p.result.warnings).toEqual([]);
  });

  it('--columns with user and item swapped: named like the other role, and the long tail on the users', async () => {
    const p = await prep(out(), [shop], { columns: 'user=1,item=0,ts=2', split: 'none' }, at);
    expect(p.result.warnings).toEqual([
      '--columns (config prep.columns): column 1 ("product_id") is mapped as user but named like an item column; column 0 ("customer_id") is mapped as item but named like a user column. Are user and item swapped?',
      expect.stringMatching(
        /^400 users but 40 items, and 30\.0% of the users have a single row against 0\.0% of the items; .*Are the user and item columns swapped \(user: column 1 \("product_id"\), item: column 0 \("customer_id"\)\)\? If so, pass --columns user=0,item=1,ts=2/,
      ),
    ]);
  });

  it('headerless and swapped: the hint alone', async () => {
    const path = write('shop-noheader.csv', shopLines.map((l) => l.split(',').slice(0, 2).reverse().concat(l.split(',')[2]).join(',')));
    const p = await prep(out(), [path], { columns: 'user=0,item=1,ts=2', split: 'none', strict: true }, at);
    expect(p.result.warnings).toHaveLength(1);
    expect(p.result.warnings[0]).toMatch(/^400 users but 40 items.*\(user: column 0, item: column 1\)\? If so, pass --columns user=1,item=0,ts=2/);
  });
});
