import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anonymizeId, keyFingerprint } from '../../../../src/data/anonymize.js';
import { parseDuration, parseSplitSpec } from '../../../../src/data/prep/options.js';
import { UsageError } from '../../../../src/util/errors.js';
import { existsSync } from 'node:fs';
import { SHARED, expectAccounting, prep, rows, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);
const logDir = mkdtempSync(join(tmpdir(), 'rec-append-logs-'));
const DAY = 86_400;
const T0 = 1_700_000_000; // unix seconds

function log(name: string, lines: string[]): string {
  const path = join(logDir, name);
  writeFileSync(path, `user,item,event,ts\n${lines.join('\n')}\n`);
  return path;
}

// Day 1: users a, b; items x, y, z. Day 2: user a again, new user c, new item w; one repeat of (a, x).
const day1 = log('day1.csv', [`a,x,view,${T0}`, `a,y,buy,${T0 + 100}`, `b,y,view,${T0 + 200}`, `b,z,view,${T0 + 300}`, `a,z,view,${T0 + DAY - 1}`]);
const day2 = log('day2.csv', [`a,x,buy,${T0 + DAY + 10}`, `c,w,view,${T0 + DAY + 20}`, `c,x,view,${T0 + DAY + 30}`, `b,w,buy,${T0 + 2 * DAY - 5}`]);
const day3 = log('day3.csv', [`d,v,view,${T0 + 2 * DAY + 10}`, `a,v,view,${T0 + 2 * DAY + 20}`]);
const weights = { event_weights: 'view=1,buy=5', columns: 'user=user,item=item,event=event,ts=ts' };

function ids(dir: string, file: string): string[] {
  return rows(dir, file).map((r) => String(r.id));
}

function allRows(dir: string): Record<string, unknown>[] {
  return ['train.arrow', 'valid.arrow', 'test.arrow'].flatMap((f) => rows(dir, f).map((r) => ({ ...r, split: f })));
}

describe('--split days:VALID,TEST', () => {
  it('parses whole days and refuses anything else', () => {
    expect(parseSplitSpec('days:0,1')).toEqual({ kind: 'days', valid: 0, test: 1 });
    expect(parseSplitSpec('days:2,3')).toEqual({ kind: 'days', valid: 2, test: 3 });
    for (const bad of ['days:1', 'days:0,0', 'days:-1,1', 'days:a,b', 'days:0,15x', 'days:0,h', 'days:0,1e3']) expect(() => parseSplitSpec(bad)).toThrow(/--split \(config prep\.split\)/);
  });

  it('takes durations with a unit, for logs that span hours', () => {
    expect(parseSplitSpec('days:0,12h')).toEqual({ kind: 'days', valid: 0, test: 0.5 });
    expect(parseSplitSpec('days:30m,15m')).toEqual({ kind: 'days', valid: 1800 / 86400, test: 900 / 86400 });
    expect(parseSplitSpec('days:0.5,1d')).toEqual({ kind: 'days', valid: 0.5, test: 1 });
    expect(parseDuration('90s')).toBeCloseTo(90 / 86400, 12);
    expect(parseDuration('7')).toBe(7);
    expect(parseDuration('-1')).toBeNull();
    expect(parseDuration('1 h')).toBeNull();
  });

  it('cuts at newest − TEST days and newest − (VALID+TEST) days, exclusive', async () => {
    // Newest ts N = T0 + 10 days. Test: ts > N − 1 day; valid: N − 3 days < ts ≤ N − 1 day.
    const n = T0 + 10 * DAY;
    const path = log('cuts.csv', [
      `u,a,view,${n - DAY}`, // exactly one day before the newest: valid
      `u,b,view,${n - DAY + 1}`, // test
      `u,c,view,${n}`, // test
      `u,d,view,${n - 3 * DAY}`, // exactly VALID+TEST days before: train
      `u,e,view,${n - 3 * DAY + 1}`, // valid
      `v,f,view,${T0}`, // train
    ]);
    const p = await prep(out(), [path], { ...weights, split: 'days:2,1' });
    const items = (f: string): string[] => {
      const names = ids(p.out, 'items.arrow');
      return rows(p.out, f).map((r) => names[Number(r.item)]).sort();
    };
    expect(items('test.arrow')).toEqual(['b', 'c']);
    expect(items('valid.arrow')).toEqual(['a', 'e']);
    expect(items('train.arrow')).toEqual(['d', 'f']);
    expect(p.manifest.split).toMatchObject({ kind: 'days', spec: 'days:2,1', ratios: null, cuts: { test_from_ts: (n - DAY) * 1000 + 1, valid_from_ts: (n - 3 * DAY) * 1000 + 1 } });
    expectAccounting(p.manifest, check);
  });

  it('needs timestamps', async () => {
    const path = join(logDir, 'nots.csv');
    writeFileSync(path, 'user,item\na,x\nb,y\n');
    await expect(prep(out(), [path], { split: 'days:0,1' })).rejects.toThrow(/--split days:0,1 \(config prep\.split\) needs timestamps/);
  });
});

describe('--append-to', () => {
  it('keeps every base id at its index, puts new ids after them, and accounts for every row', async () => {
    const base = await prep(out(), [day1], { ...weights, split: 'days:0,1' });
    expect(ids(base.out, 'users.arrow')).toEqual(['a', 'b']);
    expect(ids(base.out, 'items.arrow')).toEqual(['x', 'y', 'z']);
    // Only settings that were not given come from the base: here none are given.
    const next = await prep(out(), [day2], {}, { appendTo: base.out });
    expect(ids(next.out, 'users.arrow')).toEqual(['a', 'b', 'c']);
    expect(ids(next.out, 'items.arrow')).toEqual(['x', 'y', 'z', 'w']);
    expect(next.manifest.prep).toMatchObject({ split: 'days:0,1', event_weights: { view: 1, buy: 5 }, dedupe: 'max' });
    const a = next.manifest.append;
    expect(a).toMatchObject({
      base: { path: base.out, users: 2, items: 3, rows: 5 },
      sources_added: [day2],
      sources_already_present: [],
      // (a, x) view in the base and buy in day 2: max keeps the buy, so one row is a duplicate.
      // The base's (a, x) view is the row merged into the new buy: the dataset grows by 4 − 1.
      rows: { base: 5, read_from_logs: 4, added: 4, merged_from_base: 1, aged_out: 0, already_present: 0 },
      new_users: 1,
      new_items: 1,
    });
    expect(a?.inherited).toEqual(expect.arrayContaining(['columns', 'event_weights', 'split', 'dedupe', 'feedback']));
    expect(next.manifest.rows).toMatchObject({ read: 9, accepted: 9, rejected: 0, deduplicated: 1, filtered: 0 });
    expectAccounting(next.manifest, check);
    const kept = next.manifest.rows;
    expect(kept.train + kept.valid + kept.test).toBe(5 + 4 - 1);
    expect(next.manifest.sources.map((s) => s.path)).toEqual([day1, day2]);
    // The last 24 hours before the newest row are the test slice (no calendar): day 2, and (a, z) at
    // T0 + 1 day − 1 s, which is within 24 h of the newest (T0 + 2 days − 5 s). The rest is train.
    const users = ids(next.out, 'users.arrow');
    const items = ids(next.out, 'items.arrow');
    const test = rows(next.out, 'test.arrow').map((r) => `${users[Number(r.user)]}${items[Number(r.item)]}`).sort();
    expect(test).toEqual(['ax', 'az', 'bw', 'cw', 'cx']);
    expect(next.manifest.rows.train).toBe(3);
    // Base rows keep values, ts and seq; new rows' seq follow the base's.
    const ay = allRows(next.out).find((r) => r.user === 0 && r.item === 1);
    expect(ay).toMatchObject({ value: 5, ts: (T0 + 100) * 1000, seq: 1 });
    const cw = allRows(next.out).find((r) => r.user === 2 && r.item === 3);
    expect(cw).toMatchObject({ seq: 6 });
  });

  it('is idempotent: a log already in the base adds nothing and says so', async () => {
    const base = await prep(out(), [day1], { ...weights, split: 'days:0,1' });
    const once = await prep(out(), [day2], {}, { appendTo: base.out });
    const twice = await prep(out(), [day2, day1], {}, { appendTo: once.out });
    expect(twice.manifest.append).toMatchObject({
      sources_added: [],
      sources_already_present: [
        { path: day2, rows_read: 4 },
        { path: day1, rows_read: 5 },
      ],
      rows: { base: 8, read_from_logs: 0, added: 0, already_present: 9 },
      new_users: 0,
      new_items: 0,
    });
    expect(twice.logs.join('\n')).toMatch(/nothing new/);
    for (const f of ['train.arrow', 'valid.arrow', 'test.arrow', 'users.arrow', 'items.arrow']) expect(rows(twice.out, f)).toEqual(rows(once.out, f));
    expect(twice.manifest.rows).toMatchObject({ read: 8, accepted: 8, deduplicated: 0, train: once.manifest.rows.train, test: once.manifest.rows.test });
    expect(twice.manifest.sources).toEqual(once.manifest.sources);
    expectAccounting(twice.manifest, check);
  });

  it('--window ages out old rows (base and new), counts them, and keeps the base ids at their index', async () => {
    const base = await prep(out(), [day1], { ...weights, split: 'days:0,1' });
    const two = await prep(out(), [day2], {}, { appendTo: base.out });
    // 5 of the base's 8 rows would age out: refused (exit 1, nothing written) unless forced.
    const refused = join(logDir, 'refused');
    await expect(prep(refused, [day3], {}, { appendTo: two.out, windowDays: 1 })).rejects.toThrow(
      /--window 1 would age out 5 of the base dataset's 8 rows: every row before .*Nothing was written\. .*add --force-window/,
    );
    expect(existsSync(refused)).toBe(false);
    const three = await prep(out(), [day3], {}, { appendTo: two.out, windowDays: 1, forceWindow: true });
    // Newest ts T0 + 2 days + 20 s: rows before T0 + 1 day + 20 s age out: all of day 1 and (a, x)@+10 s.
    expect(three.manifest.window).toMatchObject({ days: 1, newest_ts: (T0 + 2 * DAY + 20) * 1000, anchor_ts: (T0 + 2 * DAY + 20) * 1000, from_ts: (T0 + DAY + 20) * 1000, aged_out: 5 });
    expect(three.manifest.append?.rows).toMatchObject({ base: 8, read_from_logs: 2, added: 2, aged_out: 5 });
    expect(three.manifest.rows).toMatchObject({ read: 10, accepted: 10, filtered: 5, deduplicated: 0 });
    expect(three.manifest.rows.train + three.manifest.rows.valid + three.manifest.rows.test).toBe(5);
    expectAccounting(three.manifest, check);
    expect(ids(three.out, 'users.arrow')).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(three.out, 'items.arrow')).toEqual(['x', 'y', 'z', 'w', 'v']);
    // y and z lost all their rows: still in the vocabulary, count 0, no times.
    const items = rows(three.out, 'items.arrow');
    expect(items[1]).toMatchObject({ index: 1, id: 'y', count: 0, first_ts: null, last_ts: null });
    expect(three.manifest.items).toBe(5);
  });

  it('works without --append-to too', async () => {
    const p = await prep(out(), [day1, day2, day3], { ...weights, split: 'none' }, { windowDays: 1 });
    // Newest T0 + 2 days + 20 s: rows at or after T0 + 1 day + 20 s stay: day 2 but (a,x)@+1day+10s, and day 3.
    expect(p.manifest.window).toMatchObject({ newest_ts: (T0 + 2 * DAY + 20) * 1000, anchor_ts: (T0 + 2 * DAY + 20) * 1000, aged_out: 6 });
    expect(p.manifest.rows).toMatchObject({ read: 11, filtered: 6, deduplicated: 0, train: 5 });
    expectAccounting(p.manifest, check);
  });


  it('keeps the base rows in their split under a random split', async () => {
    const lines: string[] = [];
    for (let u = 0; u < 30; u++) for (let i = 0; i < 5; i++) lines.push(`u${u},i${(u + i) % 17},view,${T0 + u * 60 + i}`);
    const big = log('big1.csv', lines);
    const more = log('big2.csv', lines.map((l) => l.replace(/^u/, 'w')));
    const base = await prep(out(), [big], { ...weights, split: 'random:0.6,0.2,0.2' });
    const next = await prep(out(), [more], {}, { appendTo: base.out });
    const key = (r: Record<string, unknown>): string => `${String(r.seq)}:${r.split as string}`;
    const before = allRows(base.out).map(key).sort();
    const after = new Set(allRows(next.out).filter((r) => Number(r.seq) < 150).map(key));
    for (const k of before) expect(after.has(k), k).toBe(true);
    expect(next.manifest.rows.valid + next.manifest.rows.test).toBeGreaterThan(base.manifest.rows.valid + base.manifest.rows.test);
    expectAccounting(next.manifest, check);
  });

  it('may write NEW over BASE itself (staged, then renamed)', async () => {
    const dir = out();
    await prep(dir, [day1], { ...weights, split: 'days:0,1' });
    const before = readFileSync(join(dir, 'manifest.json'));
    const next = await prep(dir, [day2], {}, { appendTo: dir });
    expect(next.manifest.append?.base.path).toBe(dir);
    expect(next.manifest.append?.rows.added).toBe(4);
    expect(readFileSync(join(dir, 'manifest.json')).equals(before)).toBe(false);
    expect(ids(dir, 'users.arrow')).toEqual(['a', 'b', 'c']);
  });

  it('leaves BASE untouched when re-run in place with nothing new, and rewrites it when a setting changes', async () => {
    const dir = out();
    await prep(dir, [day1], { ...weights, split: 'days:0,1' });
    await prep(dir, [day2], {}, { appendTo: dir, windowDays: 5 });
    const files = ['manifest.json', 'train.arrow', 'test.arrow', 'users.arrow'];
    const before = files.map((f) => readFileSync(join(dir, f)));
    const again = await prep(dir, [day2, day1], {}, { appendTo: dir, windowDays: 5 });
    expect(again.result.unchanged).toBe(true);
    expect(again.result.append).toMatchObject({ sources_added: [], rows: { base: 8, added: 0 }, new_users: 0 });
    expect(again.logs.join('\n')).toMatch(/which is left as it is/);
    files.forEach((f, k) => expect(readFileSync(join(dir, f)).equals(before[k]), f).toBe(true));
    const resplit = await prep(dir, [day2], { split: 'none' }, { appendTo: dir, explicitKeys: new Set(['split']) });
    expect(resplit.result.unchanged).toBeUndefined();
    expect(resplit.manifest.rows).toMatchObject({ train: 8, test: 0 });
  });

  it('takes flags over the base settings, and refuses ones that would disagree with the base rows', async () => {
    const base = await prep(out(), [day1], { ...weights, split: 'days:0,1' });
    const flagged = await prep(out(), [day2], { split: 'none' }, { appendTo: base.out, explicitKeys: new Set(['split']) });
    expect(flagged.manifest.split.kind).toBe('none');
    expect(flagged.manifest.append?.inherited).not.toContain('split');
    await expect(prep(out(), [day2], { event_weights: 'view=1,buy=3' }, { appendTo: base.out, explicitKeys: new Set(['event_weights']) })).rejects.toThrow(
      /--event-weights view=1,buy=3 differ from the base dataset's buy=5,view=1/,
    );
    await expect(prep(out(), [day2], { feedback: 'explicit' }, { appendTo: base.out, explicitKeys: new Set(['feedback']) })).rejects.toThrow(UsageError);
    await expect(prep(out(), [day2], {}, { appendTo: join(logDir, 'no-such-dataset') })).rejects.toThrow(/--append-to .*no-such-dataset does not exist/);
    const noEvents = join(logDir, 'noevents.csv');
    writeFileSync(noEvents, `user,item,ts\na,x,${T0 + 2 * DAY}\n`);
    await expect(prep(out(), [noEvents], { columns: 'user=user,item=item,ts=ts' }, { appendTo: base.out, explicitKeys: new Set(['columns']) })).rejects.toThrow(
      /maps the columns user,item,ts, but the base dataset .* maps user,item,event,ts/,
    );
  });

  it('under --anonymize, folds new raw ids onto the base HMACs and refuses another key', async () => {
    const key = Buffer.from('a-secret-key-of-some-length');
    const base = await prep(out(), [day1], { ...weights, split: 'days:0,1', anonymize: true }, { anonKey: key });
    expect(base.manifest.anonymize?.key_fingerprint).toBe(keyFingerprint(key));
    const next = await prep(out(), [day2], {}, { appendTo: base.out, anonKey: key });
    expect(ids(next.out, 'users.arrow')).toEqual(['a', 'b', 'c'].map((u) => anonymizeId(key, u)));
    expect(next.manifest.append?.new_users).toBe(1);
    expectAccounting(next.manifest, check);
    await expect(prep(out(), [day2], {}, { appendTo: base.out })).rejects.toThrow(/the base dataset's user ids are anonymised .*--anonymize-key-file/);
    await expect(prep(out(), [day2], {}, { appendTo: base.out, anonKey: Buffer.from('another-key-entirely') })).rejects.toThrow(/fingerprint .* but the base dataset was anonymised/);
  });
});

const taobao = join(SHARED, 'taobao-userbehavior-excerpt/UserBehavior.csv');

describe('--append-to on real logs', () => {
  it.skipIf(!existsSync(taobao))('Taobao excerpt in two halves, appended, equals the whole excerpt prepped at once', async () => {
    // The excerpt is sorted by time, so its halves are "yesterday" and "today", and ids appear in the same order.
    const lines = readFileSync(taobao, 'utf8').trimEnd().split('\n');
    const half = 55_150;
    const a = join(logDir, 'taobao-a.csv');
    const b = join(logDir, 'taobao-b.csv');
    writeFileSync(a, `${lines.slice(0, half).join('\n')}\n`);
    writeFileSync(b, `${lines.slice(half).join('\n')}\n`);
    const settings = { columns: 'user=0,item=1,event=3,ts=4', event_weights: 'pv=1,fav=2,cart=3,buy=5', split: 'none' };
    const whole = await prep(out(), [taobao], settings);
    const first = await prep(out(), [a], settings);
    const both = await prep(out(), [b], {}, { appendTo: first.out });
    for (const f of ['users.arrow', 'items.arrow']) expect(rows(both.out, f)).toEqual(rows(whole.out, f));
    const strip = (dir: string) => rows(dir, 'train.arrow').map((r) => [r.user, r.item, r.value, r.ts, r.event]);
    expect(strip(both.out)).toEqual(strip(whole.out));
    expect(both.manifest.rows).toMatchObject({ read: first.manifest.rows.train + lines.length - half, train: whole.manifest.rows.train });
    expect(both.manifest.append).toMatchObject({ new_users: whole.result.users - first.result.users, new_items: whole.result.items - first.result.items });
    expectAccounting(both.manifest, check);
  });
});
