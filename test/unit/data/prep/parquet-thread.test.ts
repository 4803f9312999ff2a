import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../../src/util/errors.js';
import { mainGroup, useReaderThread, THREAD_MAX_RUN_ROWS, THREAD_MIN_ROWS } from '../../../../src/data/prep/parquet-thread.js';
import { duckdb, q } from './duckdb.js';
import { prep, tempRoot } from './helpers.js';

// The reader thread runs dist/src/data/prep/parquet-worker.js: `npm run build` first.
const out = tempRoot();

function dir(): string {
  const d = `${out()}-in`;
  mkdirSync(d, { recursive: true });
  return d;
}

/** Every file of a dataset folder, by name, as bytes. */
function files(folder: string): Map<string, Buffer> {
  return new Map(readdirSync(folder).sort().map((f) => [f, readFileSync(join(folder, f))]));
}

async function withThread<T>(mode: '0' | '1', localIds: number | null, run: () => Promise<T>): Promise<T> {
  process.env.REC_PARQUET_THREAD = mode;
  if (localIds !== null) process.env.REC_PARQUET_LOCAL_IDS = String(localIds);
  try {
    return await run();
  } finally {
    delete process.env.REC_PARQUET_THREAD;
    delete process.env.REC_PARQUET_LOCAL_IDS;
  }
}

async function withMainEvery<T>(every: string, run: () => Promise<T>): Promise<T> {
  process.env.REC_PARQUET_MAIN_EVERY = every;
  try {
    return await run();
  } finally {
    delete process.env.REC_PARQUET_MAIN_EVERY;
  }
}

afterEach(() => {
  delete process.env.REC_PARQUET_THREAD;
  delete process.env.REC_PARQUET_LOCAL_IDS;
});

/**
 * Three partitions: digit, text and non-ASCII ids, dictionary and plain pages, several row groups,
 * and ids whose first row is rejected (null timestamp) before an accepted row has them.
 */
async function partitions(d: string): Promise<void> {
  for (let k = 0; k < 2; k++) {
    await duckdb(
      `COPY (SELECT
          CASE WHEN i % 13 = 5 THEN NULL WHEN i % 7 = 0 THEN 'ü' || (i % 5) WHEN i % 3 = 0 THEN 'u' || ((i * 7 + ${k}) % 97) ELSE ((i * 31 + ${k}) % 89)::VARCHAR END AS user_id,
          CASE WHEN i % 11 = 0 THEN '0' || (i % 4) ELSE 'item' || ((i * 17 + ${k * 5}) % 3001) END AS item_id,
          CASE WHEN i % 19 = 3 THEN NULL ELSE TIMESTAMP '2024-06-01' + INTERVAL (i * 37 % 5000) MINUTE + INTERVAL (${k}) DAY END AS ts
        FROM range(3000) t(i)) TO ${q(join(d, `p${k}.parquet`))} (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
    );
  }
}

describe('the Parquet reader thread', () => {
  let logs = '';
  beforeAll(async () => {
    logs = dir();
    await partitions(logs);
  });

  it('is used for files of THREAD_MIN_ROWS rows and more, unless REC_PARQUET_THREAD or the hyparquet reader says otherwise', async () => {
    expect(useReaderThread(THREAD_MIN_ROWS)).toBe(true);
    expect(useReaderThread(THREAD_MIN_ROWS - 1)).toBe(false);
    // A run too large for the thread's resident memory beside its row store reads on the main thread.
    expect(useReaderThread(THREAD_MIN_ROWS, THREAD_MAX_RUN_ROWS)).toBe(true);
    expect(useReaderThread(THREAD_MIN_ROWS, THREAD_MAX_RUN_ROWS + 1)).toBe(false);
    await withThread('1', null, async () => expect(useReaderThread(1)).toBe(true));
    await withThread('0', null, async () => expect(useReaderThread(THREAD_MIN_ROWS)).toBe(false));
    process.env.REC_PARQUET_READER = 'hyparquet';
    try {
      expect(useReaderThread(THREAD_MIN_ROWS)).toBe(false);
    } finally {
      delete process.env.REC_PARQUET_READER;
    }
  });

  it('leaves every mainEvery-th row group of the run to the main thread, counting on from file to file', () => {
    const taken = (base: number, groups: number, mainEvery: number): number[] => [...Array(groups).keys()].filter((g) => mainGroup(g, { base, mainEvery }));
    expect(taken(0, 7, 3)).toEqual([2, 5]);
    // The second file of a run whose first held 7 groups: the run's groups 7..12, of which 8 and 11.
    expect(taken(7, 6, 3)).toEqual([1, 4]);
    expect(taken(0, 7, 0)).toEqual([]);
    expect(taken(0, 7, 1)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('writes the dataset the main thread writes, byte for byte: vocabularies, splits, rejects and manifest', async () => {
    const d = logs;
    const opts = { max_rejects: '100%' };
    const main = await withThread('0', null, () => prep(out(), [d], opts));
    expect(main.result.rows.rejected).toBeGreaterThan(0);
    const threaded = await withThread('1', null, () => prep(out(), [d], opts));
    // Tables of 50 ids: the thread starts new ones part way through a file, the main thread maps those afresh.
    const small = await withThread('1', 50, () => prep(out(), [d], opts));
    // Two threads taking the row groups in turn.
    process.env.REC_PARQUET_READERS = '2';
    const two = await withThread('1', null, () => prep(out(), [d], opts)).finally(() => delete process.env.REC_PARQUET_READERS);
    // The main thread decoding every other row group of the run itself (mainGroup), or none of them.
    const shared = await withMainEvery('2', () => withThread('1', null, () => prep(out(), [d], opts)));
    const none = await withMainEvery('0', () => withThread('1', 50, () => prep(out(), [d], opts)));
    const want = files(main.out);
    expect(want.has('rejects.jsonl') && want.has('users.arrow')).toBe(true);
    expect(files(threaded.out)).toEqual(want);
    expect(files(small.out)).toEqual(want);
    expect(files(two.out)).toEqual(want);
    expect(files(shared.out)).toEqual(want);
    expect(files(none.out)).toEqual(want);
  });

  it('reports a damaged chunk in a row group of the second thread where the main thread does, after the rows before it', async () => {
    const d = dir();
    cpSync(logs, d, { recursive: true });
    const f = join(d, 'p0.parquet');
    const bytes = Buffer.from(readFileSync(f));
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(meta.row_groups.length).toBeGreaterThanOrEqual(2);
    const chunk = meta.row_groups[1].columns[0].meta_data;
    const at = Number(chunk?.dictionary_page_offset ?? chunk?.data_page_offset);
    bytes.fill(0, at, at + 40);
    writeFileSync(f, bytes);
    const errs: unknown[] = [];
    process.env.REC_PARQUET_READERS = '2';
    try {
      for (const mode of ['0', '1'] as const) errs.push(await withThread(mode, null, () => prep(out(), [d]).catch((e: unknown) => e)));
    } finally {
      delete process.env.REC_PARQUET_READERS;
    }
    for (const err of errs) expect(err).toBeInstanceOf(DataError);
    expect((errs[1] as Error).message).toBe((errs[0] as Error).message);
    expect((errs[1] as Error).message).toMatch(/p0\.parquet: row group 1 \(rows \d+\.\.\d+\), column "user_id" cannot be read/);
  });

  it('names the file, row group and column of a damaged chunk, after reading the groups before it', async () => {
    const d = dir();
    cpSync(logs, d, { recursive: true });
    const f = join(d, 'p1.parquet');
    const bytes = Buffer.from(readFileSync(f));
    bytes.fill(0, 4, 200);
    writeFileSync(f, bytes);
    const errs: unknown[] = [];
    for (const mode of ['0', '1'] as const) errs.push(await withThread(mode, null, () => prep(out(), [d]).catch((e: unknown) => e)));
    for (const err of errs) expect(err).toBeInstanceOf(DataError);
    expect((errs[1] as Error).message).toBe((errs[0] as Error).message);
    expect((errs[1] as Error).message).toMatch(/p1\.parquet: row group 0 \(rows 1\.\.\d+\), column "user_id" cannot be read/);
  });

  it('reads a run of many one-group files to the end, each queued to the thread while it reads the one before', async () => {
    const d = dir();
    await duckdb(`COPY (SELECT 'u' || (i % 37) AS user_id, 'i' || (i % 53) AS item_id, DATE '2024-06-01' + (i % 16)::INT AS dt, TIMESTAMP '2024-06-01' + INTERVAL (i) MINUTE AS ts FROM range(1600) t(i)) TO ${q(d)} (FORMAT parquet, PARTITION_BY (dt))`);
    const opts = { columns: 'user=user_id,item=item_id,ts=ts', split: 'none' };
    const main = await withThread('0', null, () => prep(out(), [d], opts));
    for (let k = 0; k < 3; k++) {
      const threaded = await withThread('1', null, () => prep(out(), [d], opts));
      expect(files(threaded.out)).toEqual(files(main.out));
    }
  });

  it('stops part way (too many rejects) and a later run in the same process reads with a new thread', async () => {
    const d = logs;
    const err = await withThread('1', null, () => prep(out(), [d], { max_rejects: '0' }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/reject/);
    const again = await withThread('1', null, () => prep(out(), [d], { max_rejects: '100%' }));
    const main = await withThread('0', null, () => prep(out(), [d], { max_rejects: '100%' }));
    expect(files(again.out)).toEqual(files(main.out));
  });
});
