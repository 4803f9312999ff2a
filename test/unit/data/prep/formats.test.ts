import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fixture, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();

describe('rec prep input formats', () => {
  it('reads headerless TSV with user,item,rating,ts guessed by position', async () => {
    const p = await prep(out(), [fixture('basic.tsv')], { split: 'none' });
    expect(p.result.rows).toMatchObject({ read: 5, accepted: 5, rejected: 0, train: 5 });
    expect(p.manifest.sources[0]).toMatchObject({ delimiter: '\t', header: false, columns: { user: 0, item: 1, rating: 2, ts: 3 }, rows_read: 5 });
    expect(p.manifest.feedback.kind).toBe('explicit');
    const train = rows(p.out, 'train.arrow');
    // sorted by (user, ts, seq); u1 first seen → index 0
    expect(train.map((r) => [r.user, r.item, r.value, r.ts, r.seq])).toEqual([
      [0, 0, 5, 1000000000000, 0],
      [0, 1, 3, 1000000100000, 1],
      [1, 0, 4, 1000000050000, 2],
      [1, 2, 2, 1000000200000, 3],
      [2, 1, 1, 1000000300000, 4],
    ]);
  });

  it('strips a BOM, reads CRLF, skips blank lines and reads a last line without newline', async () => {
    const p = await prep(out(), [fixture('bom-crlf.csv')], { split: 'none' });
    expect(p.manifest.sources[0]).toMatchObject({ header: true, delimiter: ',', columns: { user: 'user', item: 'item', rating: 'rating' } });
    expect(p.result.rows).toMatchObject({ read: 3, rejected: 0, train: 3 });
    expect(rows(p.out, 'train.arrow').map((r) => [r.user, r.item, r.value, r.ts])).toEqual([
      [0, 0, 5, null],
      [0, 1, 3, null],
      [1, 1, 4, null],
    ]);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['1', '2']);
  });

  it('reads quoted fields with delimiters, escaped quotes and newlines (RFC 4180; CRLF inside a value read as LF)', async () => {
    const p = await prep(out(), [fixture('quoted.csv')], { split: 'none', max_rejects: '100%' });
    // 7 physical data lines, 5 rows: the two notes quoted over two lines are one row each.
    expect(p.result.rows).toMatchObject({ read: 5, accepted: 4, rejected: 1 });
    expect(rows(p.out, 'items.arrow').map((r) => r.id)).toEqual(['x', 'y', 'z,1']);
    expect(rejects(p.out).map((r) => [r.line, r.reason, r.raw])).toEqual([[6, 'bad_rating', 'd,w,oops,plain,1003']]);
    expect(rows(p.out, 'train.arrow').map((r) => r.ts)).toEqual([1000000, 1001000, 1002000, 1004000]);
    expect(p.manifest.sources[0]).toMatchObject({ rows_read: 5, rejected: 1 });
    expect(p.manifest.sources[0].columns).toEqual({ user: 'user_id', item: 'item_id', rating: 'rating', ts: 'timestamp' });
  });

  it('reads `::`-delimited .dat files', async () => {
    const p = await prep(out(), [fixture('colon-delimited.dat')], { split: 'none' });
    expect(p.manifest.sources[0].delimiter).toBe('::');
    expect(p.result.rows.train).toBe(3);
    expect(rows(p.out, 'train.arrow')[0]).toMatchObject({ user: 0, item: 0, value: 5, ts: 1600000000000 });
  });

  it('streams .gz input and records size and sha256 of the file on disk', async () => {
    const dir = out();
    const gz = `${dir}-basic.tsv.gz`;
    const bytes = gzipSync(readFileSync(fixture('basic.tsv')));
    writeFileSync(gz, bytes);
    const p = await prep(dir, [gz], { split: 'none' });
    expect(p.result.rows.train).toBe(5);
    expect(p.manifest.sources[0]).toMatchObject({ gzip: true, bytes: bytes.length });
    const { createHash } = await import('node:crypto');
    expect(p.manifest.sources[0].sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('reads JSON Lines with events, weights and ISO timestamps; rejects bad lines', async () => {
    const p = await prep(out(), [fixture('events.jsonl')], { split: 'none', event_weights: 'view=1,cart=3,buy=5', dedupe: 'none', max_rejects: '100%' });
    expect(p.manifest.feedback).toMatchObject({ kind: 'implicit', event_weights: { view: 1, cart: 3, buy: 5 } });
    expect(p.result.rows).toMatchObject({ read: 8, accepted: 4, rejected: 4 });
    expect(p.result.rejected_by_reason).toEqual({ bad_json: 1, bad_ts: 1, empty_id: 1, unknown_event: 1 });
    const rj = rejects(p.out);
    expect(rj.map((r) => [r.line, r.reason])).toEqual([
      [4, 'unknown_event'],
      [5, 'bad_json'],
      [7, 'empty_id'],
      [8, 'bad_ts'],
    ]);
    const train = rows(p.out, 'train.arrow');
    expect(train.map((r) => [r.user, r.item, r.value, r.ts, r.event])).toEqual([
      [0, 0, 1, Date.UTC(2020, 0, 1), 'view'],
      [0, 0, 5, Date.UTC(2020, 0, 1, 0, 5, 0, 500), 'buy'],
      [1, 1, 3, Date.UTC(2020, 0, 2, 8), 'cart'],
      [2, 2, 1, 1577836800000, 'view'],
    ]);
    expect(p.manifest.events).toEqual(['view', 'buy', 'cart']);
  });

  it('auto-detects unix seconds, milliseconds, fractional seconds and ISO-8601', async () => {
    const p = await prep(out(), [fixture('ts-auto.csv')], { split: 'none' });
    expect(rows(p.out, 'train.arrow').map((r) => r.ts)).toEqual([1700000000000, 1700000000123, 1700000000000, 1700000000250, 1396437466940, 1700000000000]);
  });

  it('honours --ts-unit s / ms / iso', async () => {
    const s = await prep(out(), [fixture('basic.tsv')], { split: 'none', ts_unit: 'ms' });
    expect(rows(s.out, 'train.arrow')[0].ts).toBe(1000000000);
    const iso = await prep(out(), [fixture('basic.tsv')], { split: 'none', ts_unit: 'iso', max_rejects: '100%' });
    expect(iso.result.rejected_by_reason).toEqual({ bad_ts: 5 });
  });

  it('reads %m-%d dates with --ts-year and maps numeric event codes to weights', async () => {
    const p = await prep(out(), [fixture('dates.csv')], {
      columns: 'user=user_id,item=brand_id,event=type,ts=visit_datetime',
      ts_format: '%m-%d',
      ts_year: 2014,
      event_weights: '0=1,1=5,2=2,3=3',
      split: 'none',
      max_rejects: '100%',
    });
    expect(p.result.rejected_by_reason).toEqual({ bad_ts: 1 });
    expect(rejects(p.out)[0]).toMatchObject({ line: 5, reason: 'bad_ts' });
    const train = rows(p.out, 'train.arrow');
    expect(train.map((r) => [r.value, r.ts, r.event])).toEqual([
      [1, Date.UTC(2014, 5, 4), '0'],
      [5, Date.UTC(2014, 5, 5), '1'],
      [2, Date.UTC(2014, 3, 15), '2'],
      [1, Date.UTC(2014, 11, 31), '0'],
    ]);
  });

  it('guesses header names (SessionId/ItemId/Time) and maps columns by name or index', async () => {
    const dir = out();
    const file = `${dir}-clicks.txt`;
    writeFileSync(file, 'SessionId\tItemId\tTime\n1\t214\t1396437466.94\n1\t215\t1396437467.5\n2\t214\t1396437470\n');
    const p = await prep(dir, [file], { split: 'none' });
    expect(p.manifest.sources[0]).toMatchObject({ header: true, delimiter: '\t', columns: { user: 'SessionId', item: 'ItemId', ts: 'Time' } });
    expect(p.manifest.feedback.kind).toBe('implicit');
    const byIndex = await prep(out(), [file], { split: 'none', columns: 'user=1,item=0', header: true });
    expect(byIndex.result.users).toBe(2);
    expect(byIndex.result.items).toBe(2);
  });

  it('reads a single-space delimited file without timestamps (SASRec format)', async () => {
    const dir = out();
    const file = `${dir}-seq.txt`;
    copyFileSync(fixture('kcore.txt'), file);
    const p = await prep(dir, [file], { split: 'none' });
    expect(p.manifest.sources[0].delimiter).toBe(' ');
    expect(p.manifest.time.has_ts).toBe(false);
    expect(rows(p.out, 'train.arrow').every((r) => r.ts === null && r.value === 1)).toBe(true);
  });
});
