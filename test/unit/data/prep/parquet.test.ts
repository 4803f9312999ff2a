import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dictionary, Int32, Int64, Table, TimestampMillisecond, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { DataError, UsageError } from '../../../../src/util/errors.js';
import { duckdb, q } from './duckdb.js';
import { readLogs } from '../../../../src/data/prep/run.js';
import { silentLogger } from '../../../../src/util/log.js';
import { noProgress } from '../../../../src/util/progress.js';
import { config, expectAccounting, leftovers, prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();

/** A folder for a test's inputs. */
function dir(): string {
  const d = `${out()}-in`;
  mkdirSync(d, { recursive: true });
  return d;
}

const accounting = (cond: boolean, what: string): void => expect(cond, what).toBe(true);

describe('rec prep reads Parquet', () => {
  it('keeps int64 ids beyond 2^53 exact, reads dictionary strings and timestamps of every unit', async () => {
    const d = dir();
    const units = ['TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP', 'TIMESTAMP_NS'];
    for (const [k, unit] of units.entries()) {
      await duckdb(
        `COPY (SELECT 9007199254740993 + (i % 2)::BIGINT + ${2 * k} AS user_id, 'item' || (i % 3) AS item_id, '2024-06-01 10:00:00.123'::TIMESTAMP::${unit} + INTERVAL (i) HOUR AS ts
          FROM range(6) t(i)) TO ${q(join(d, `u${k}.parquet`))} (FORMAT parquet, COMPRESSION ${['snappy', 'zstd', 'gzip', 'brotli'][k]})`,
      );
    }
    const p = await prep(out(), [d], { split: 'none', dedupe: 'sum' });
    expect(p.result.rows).toMatchObject({ read: 24, rejected: 0 });
    expect(p.manifest.sources.map((s) => [s.format, s.columns])).toEqual(units.map(() => ['parquet', { user: 'user_id', item: 'item_id', ts: 'ts' }]));
    expect(rows(p.out, 'users.arrow').map((r) => r.id).slice(0, 3)).toEqual(['9007199254740993', '9007199254740994', '9007199254740995']);
    expect(p.result.rows).toMatchObject({ deduplicated: 0, train: 24 });
    expect(rows(p.out, 'items.arrow').map((r) => r.id)).toEqual(['item0', 'item1', 'item2']);
    // Seconds lose the .123; the other units keep the milliseconds.
    const base = Date.UTC(2024, 5, 1, 10);
    expect(p.manifest.time).toMatchObject({ min_ts: base, max_ts: base + 5 * 3_600_000 + 123 });
    expectAccounting(p.manifest, accounting);
  });

  it('counts nulls as rejects with the role named, and an explicit rating column', async () => {
    const d = dir();
    const f = join(d, 'r.parquet');
    await duckdb(
      `COPY (SELECT * FROM (VALUES (1, 'a', 4.5::DOUBLE, 100), (NULL, 'b', 3.0, 101), (2, NULL, 2.0, 102), (3, 'c', NULL, 103), (4, 'd', 1.0, NULL), (5, 'e', 5.0, 1717200000))
        t(user_id, item_id, rating, ts)) TO ${q(f)} (FORMAT parquet)`,
    );
    const p = await prep(out(), [f], { split: 'none', max_rejects: '100%', ts_unit: 's' });
    expect(p.result.rows).toMatchObject({ read: 6, rejected: 4, train: 2 });
    expect(rejects(p.out).map((r) => [r.line, r.reason, r.detail])).toEqual([
      [2, 'empty_id', 'user id is null'],
      [3, 'empty_id', 'item id is null'],
      [4, 'bad_rating', 'rating is null'],
      [5, 'bad_ts', 'timestamp is null'],
    ]);
    expect(rejects(p.out)[0].raw).toBe('{"user_id":null,"item_id":"b","rating":3,"ts":101}');
    expect(rows(p.out, 'train.arrow').map((r) => [r.value, r.ts])).toEqual([
      [4.5, 100_000],
      [5, 1717200000_000],
    ]);
  });

  it('reads a Hive-partitioned tree, with the partition column as the day (--columns ts=dt)', async () => {
    const d = dir();
    await duckdb(
      `COPY (SELECT 'u' || (i % 4) AS user, 'i' || i AS item, DATE '2024-06-01' + (i // 5)::INT AS dt FROM range(15) t(i))
        TO ${q(join(d, 'events'))} (FORMAT parquet, PARTITION_BY (dt))`,
    );
    writeFileSync(join(d, 'events', '_SUCCESS'), '');
    const p = await prep(out(), [join(d, 'events')], { split: 'temporal:0.6,0.2,0.2', columns: 'user=user,item=item,ts=dt' });
    expect(p.manifest.sources.map((s) => s.path.slice(d.length))).toEqual(['/events/dt=2024-06-01/data_0.parquet', '/events/dt=2024-06-02/data_0.parquet', '/events/dt=2024-06-03/data_0.parquet']);
    expect(p.manifest.sources[0].columns).toEqual({ user: 'user', item: 'item', ts: 'dt' });
    expect(p.manifest.time).toMatchObject({ min_iso: '2024-06-01T00:00:00.000Z', max_iso: '2024-06-03T00:00:00.000Z' });
    expect(p.result.rows).toMatchObject({ read: 15, rejected: 0, train: 5, valid: 5, test: 5 });
    // A glob over the partitions reads the same files.
    const g = await prep(out(), [join(d, 'events', 'dt=2024-06-0[12]', '*.parquet')], { split: 'none', columns: 'user=user,item=item,ts=dt' });
    expect(g.result.rows.read).toBe(10);
  });

  it('reads Arrow IPC files and streams, dictionary strings included', async () => {
    const d = dir();
    const withEvent = new Table({
      user_id: vectorFromArray([1n, 2n, 9007199254740993n], new Int64()),
      item_id: vectorFromArray(['a', 'b', 'c'], new Utf8()),
      event: vectorFromArray(['view', 'buy', 'view'], new Dictionary(new Utf8(), new Int32())),
      ts: vectorFromArray([1717200000000, 1717200001000, 1717200002000], new TimestampMillisecond()),
    });
    writeFileSync(join(d, 'log.arrow'), tableToIPC(withEvent, 'file'));
    writeFileSync(join(d, 'log2.arrows'), tableToIPC(withEvent, 'stream'));
    const p = await prep(out(), [join(d, 'log.arrow'), join(d, 'log2.arrows')], { split: 'none', dedupe: 'sum' });
    expect(p.result.rows).toMatchObject({ read: 6, rejected: 0 });
    expect(p.manifest.sources.map((s) => s.format)).toEqual(['arrow', 'arrow']);
    expect(p.manifest.events).toEqual(['view', 'buy']);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['1', '2', '9007199254740993']);
    expect(p.manifest.time).toMatchObject({ min_ts: 1717200000000, max_ts: 1717200002000 });
  });
});

describe('rec prep sizes its row store once for all the Parquet inputs', () => {
  it('reserves the rows every footer declares before the first file, instead of growing file after file', async () => {
    const d = dir();
    for (const k of [0, 1, 2]) {
      await duckdb(`COPY (SELECT 'u' || (i % 997) AS user_id, 'i' || (i % 991) AS item_id FROM range(${k * 40000}, ${(k + 1) * 40000}) t(i)) TO ${q(join(d, `p${k}.parquet`))} (FORMAT parquet)`);
    }
    const logs = await readLogs([d], config(), { log: silentLogger, progress: noProgress });
    expect(logs.read).toBe(120000);
    // Growing by half again per file would have left 147,456 (65,536 → 98,304 → 147,456).
    expect(logs.ingest.store.capacity).toBe(120000);
  });
});

describe('a row group larger than a slice', () => {
  it('is read in slices of 2^18 rows, rows numbered through the whole file', async () => {
    const d = dir();
    const f = join(d, 'big-group.parquet');
    await duckdb(
      `COPY (SELECT CASE WHEN i = 270000 THEN NULL ELSE 'u' || (i % 5000) END AS user_id, 'i' || (i % 3000) AS item_id FROM range(300000) t(i))
        TO ${q(f)} (FORMAT parquet, ROW_GROUP_SIZE 300000)`,
    );
    const p = await prep(out(), [f], { split: 'none', max_rejects: '1' });
    expect(p.result.rows).toMatchObject({ read: 300000, rejected: 1 });
    expect(rejects(p.out).map((r) => [r.line, r.detail])).toEqual([[270001, 'user id is null']]);
  });
});

describe('rec prep --export-parquet', () => {
  it('writes the splits as Parquet with raw ids beside the Arrow files, which DuckDB reads', async () => {
    const d = dir();
    const f = join(d, 'log.parquet');
    await duckdb(
      `COPY (SELECT 'u' || (i % 20) AS user_id, 9007199254740993 + (i % 13) AS item_id, (['view', 'buy'])[1 + (i % 2)] AS event, TIMESTAMP '2024-06-01' + INTERVAL (i) MINUTE AS ts FROM range(400) t(i))
        TO ${q(f)} (FORMAT parquet)`,
    );
    const p = await prep(out(), [f], { split: 'random:0.8,0.1,0.1' }, { exportParquet: true });
    expect(p.manifest.files).toMatchObject({ train_parquet: 'train.parquet', valid_parquet: 'valid.parquet', test_parquet: 'test.parquet' });
    expect(Object.keys(p.manifest.files_sha256 ?? {})).toContain('test_parquet');
    for (const split of ['train', 'valid', 'test'] as const) {
      const arrow = rows(p.out, `${split}.arrow`);
      const users = rows(p.out, 'users.arrow').map((r) => r.id);
      const items = rows(p.out, 'items.arrow').map((r) => r.id);
      const back = await duckdb(`SELECT "user", item, value, epoch_ms(ts) AS ts, seq, event FROM ${q(join(p.out, `${split}.parquet`))}`);
      expect(back.map((r) => [r.user, r.item, r.value, Number(r.ts), Number(r.seq), r.event])).toEqual(
        arrow.map((r) => [users[r.user as number], items[r.item as number], r.value, r.ts, r.seq, r.event]),
      );
    }
    const types = await duckdb(`DESCRIBE SELECT * FROM ${q(join(p.out, 'train.parquet'))}`);
    expect(types.map((t) => `${String(t.column_name)}:${String(t.column_type)}`)).toEqual(['user:VARCHAR', 'item:VARCHAR', 'value:FLOAT', 'ts:TIMESTAMP WITH TIME ZONE', 'seq:BIGINT', 'event:VARCHAR']);
  });
});

describe('rec prep refuses broken Parquet clearly, writing nothing', () => {
  async function good(path: string, extra = ''): Promise<void> {
    await duckdb(`COPY (SELECT 'u' || (i % 7) AS user_id, 'i' || (i % 11) AS item_id${extra} FROM range(3000) t(i)) TO ${q(path)} (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
  }

  it('a truncated file: exit 1 naming it', async () => {
    const d = dir();
    const f = join(d, 'cut.parquet');
    await good(f);
    const bytes = readFileSync(f);
    writeFileSync(f, bytes.subarray(0, bytes.length - 100));
    const o = out();
    const err = await prep(o, [f]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/cut\.parquet: not a readable Parquet file .*truncated/);
    expect(leftovers(o)).toEqual([]);
  });

  it('a footer that points at the wrong bytes: exit 1 naming the file, row group and column', async () => {
    const d = dir();
    const f = join(d, 'lying.parquet');
    await good(f);
    const bytes = Buffer.from(readFileSync(f));
    // Zero the data pages of the first row group; the footer still describes them.
    bytes.fill(0, 4, 200);
    writeFileSync(f, bytes);
    const err = await prep(out(), [f]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/lying\.parquet: row group 0 \(rows 1\.\.\d+\), column "user_id" cannot be read/);
  });

  it('a column whose type changes between partitions: exit 1 naming both files', async () => {
    const d = dir();
    await good(join(d, 'a.parquet'));
    await duckdb(`COPY (SELECT i::BIGINT AS user_id, 'i' || i AS item_id FROM range(5) t(i)) TO ${q(join(d, 'b.parquet'))} (FORMAT parquet)`);
    const err = await prep(out(), [d]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/b\.parquet: the user column "user_id" is INT64.*but in .*a\.parquet it is BYTE_ARRAY/);
  });

  it('a mapped column missing in one partition: exit 1 naming it', async () => {
    const d = dir();
    await good(join(d, 'a.parquet'), `, 'view' AS event`);
    await good(join(d, 'b.parquet'));
    const err = await prep(out(), [d]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/b\.parquet has no column "event" \(the event column of .*a\.parquet\): the schema changed/);
  });

  it('a nested column: ignored when not mapped, exit 1 when mapped', async () => {
    const d = dir();
    const f = join(d, 'n.parquet');
    await duckdb(`COPY (SELECT 'u' || i AS user_id, 'i' || i AS item_id, [i, i + 1] AS tags, {'a': i} AS meta FROM range(4) t(i)) TO ${q(f)} (FORMAT parquet)`);
    const p = await prep(out(), [f], { split: 'none' });
    expect(p.result.rows.read).toBe(4);
    const err = await prep(out(), [f], { columns: 'user=user_id,item=tags' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/the item column "tags" is a nested column \(LIST\)/);
  });

  it('an empty partition: read as 0 rows with a warning', async () => {
    const d = dir();
    await good(join(d, 'a.parquet'));
    await duckdb(`COPY (SELECT 'u' AS user_id, 'i' AS item_id WHERE false) TO ${q(join(d, 'b.parquet'))} (FORMAT parquet)`);
    const p = await prep(out(), [d], { split: 'none' });
    expect(p.manifest.sources.map((s) => s.rows_read)).toEqual([3000, 0]);
    expect(p.result.warnings.join('\n')).toMatch(/b\.parquet has no rows \(an empty partition\)/);
  });

  it('a truncated Arrow IPC stream: exit 1 naming it', async () => {
    const d = dir();
    const f = join(d, 'cut.arrows');
    const batches = [0, 1, 2].map((k) => new Table({ user_id: vectorFromArray([`u${k}`, `v${k}`], new Utf8()), item_id: vectorFromArray(['a', 'b'], new Utf8()) }));
    const bytes = tableToIPC(new Table([...batches.flatMap((t) => t.batches)]), 'stream');
    writeFileSync(f, bytes.subarray(0, bytes.length - 40));
    const err = await prep(out(), [f]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/cut\.arrows: cannot read past row 4 \(.*\)\. The file is damaged or truncated/);
  });

  it('a folder without data files: exit 2', async () => {
    const d = dir();
    writeFileSync(join(d, '_SUCCESS'), '');
    await expect(prep(out(), [d])).rejects.toThrow(UsageError);
  });
});
