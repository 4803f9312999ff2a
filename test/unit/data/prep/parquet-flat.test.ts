import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataError } from '../../../../src/util/errors.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { FlatChunk, ShortIds, divInt64, flatKind, int96Ms, readIndices } from '../../../../src/data/prep/parquet-flat.js';
import { IdVocab } from '../../../../src/data/prep/vocab.js';
import { duckdb, q } from './duckdb.js';
import { prep, rejects, rows, tempRoot } from './helpers.js';

const out = tempRoot();

function dir(): string {
  const d = `${out()}-in`;
  mkdirSync(d, { recursive: true });
  return d;
}

/** sha256 of every dataset file but the manifest (which holds times), and the manifest's counts. */
function digest(path: string, manifest: { rows: unknown; time?: unknown; events?: unknown; sources: { rows_read: number; rejected: number }[] }): Record<string, unknown> {
  const files: Record<string, unknown> = {};
  for (const f of readdirSync(path).sort()) {
    if (f !== 'manifest.json') files[f] = createHash('sha256').update(readFileSync(join(path, f))).digest('hex');
  }
  files.manifest = { rows: manifest.rows, time: manifest.time, events: manifest.events, sources: manifest.sources.map((s) => [s.rows_read, s.rejected]) };
  return files;
}

/**
 * Preps the inputs with the flat decoder on the main thread (REC_PARQUET_THREAD=0, so that the spy
 * counts the decoder's slices), on the reader thread (parquet-thread.ts; checked to write the same
 * files) and with hyparquet (REC_PARQUET_READER=hyparquet); returns the digests and the slices taken.
 */
async function both(inputs: string[], overrides: Record<string, unknown> = {}): Promise<{ flat: Record<string, unknown>; general: Record<string, unknown>; slices: number; out: string }> {
  const opts = { split: 'random:0.8,0.1,0.1', max_rejects: '100%', ...overrides };
  const take = vi.spyOn(FlatChunk.prototype, 'take');
  process.env.REC_PARQUET_THREAD = '0';
  let a: Awaited<ReturnType<typeof prep>>;
  try {
    a = await prep(out(), inputs, opts);
  } finally {
    delete process.env.REC_PARQUET_THREAD;
  }
  const slices = take.mock.calls.length;
  take.mockRestore();
  process.env.REC_PARQUET_THREAD = '1';
  try {
    const t = await prep(out(), inputs, opts);
    expect(digest(t.out, t.manifest), 'the reader thread').toEqual(digest(a.out, a.manifest));
  } finally {
    delete process.env.REC_PARQUET_THREAD;
  }
  process.env.REC_PARQUET_READER = 'hyparquet';
  try {
    const b = await prep(out(), inputs, opts);
    return { flat: digest(a.out, a.manifest), general: digest(b.out, b.manifest), slices, out: a.out };
  } finally {
    delete process.env.REC_PARQUET_READER;
  }
}

afterEach(() => {
  delete process.env.REC_PARQUET_READER;
});

describe('the flat Parquet decoder writes the same dataset as hyparquet', () => {
  it('dictionary and unicode text ids, nulls and empty ids in every role, events, ratings, two row groups, zstd', async () => {
    const f = join(dir(), 'a.parquet');
    await duckdb(
      `COPY (SELECT CASE WHEN i % 17 = 3 THEN NULL WHEN i % 29 = 5 THEN '' ELSE (['u', 'ü', '用户', chr(65279) || 'b', '😀'])[1 + i % 5] || (i % 40) END AS user_id,
          CASE WHEN i % 23 = 7 THEN NULL ELSE 'item' || (i % 31) END AS item_id,
          CASE WHEN i % 19 = 2 THEN NULL ELSE (['view', 'buy', 'cart'])[1 + i % 3] END AS event,
          CASE WHEN i % 13 = 1 THEN NULL ELSE (i % 5)::DOUBLE + 0.5 END AS rating,
          CASE WHEN i % 37 = 4 THEN NULL ELSE TIMESTAMP '2024-06-01' + INTERVAL (i * 7) MINUTE END AS ts
        FROM range(3000) t(i)) TO ${q(f)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`,
    );
    const r = await both([f], { columns: 'user=user_id,item=item_id,rating=rating,ts=ts,event=event', feedback: 'explicit' });
    expect(r.slices).toBeGreaterThan(0);
    expect(r.flat).toEqual(r.general);
    expect(rejects(r.out).map((x) => x.reason)).toContain('empty_id');
    expect(rows(r.out, 'users.arrow').map((x) => x.id)).toContain('用户2');
  });

  it('int64 ids beyond 2^53 and negative, int32 ids, float ratings, timestamps of every unit and dates, gzip', async () => {
    const d = dir();
    const units = ['TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP', 'TIMESTAMP_NS', 'DATE'];
    for (const [k, unit] of units.entries()) {
      await duckdb(
        `COPY (SELECT (CASE WHEN i % 3 = 0 THEN 9007199254740993 + i WHEN i % 3 = 1 THEN -i - 5 ELSE i END)::BIGINT AS user_id, (i % 11)::INT AS item_id,
            ((i % 4)::FLOAT / 3)::FLOAT AS rating,
            (TIMESTAMP '1969-12-31 23:59:58.999' + INTERVAL (i * 1234567) MICROSECOND)::${unit} AS ts
          FROM range(400) t(i)) TO ${q(join(d, `p${k}.parquet`))} (FORMAT parquet, COMPRESSION ${k % 2 === 0 ? 'gzip' : 'snappy'})`,
      );
    }
    for (const [k] of units.entries()) {
      const r = await both([join(d, `p${k}.parquet`)], { feedback: 'explicit', columns: 'user=user_id,item=item_id,rating=rating,ts=ts' });
      expect(r.slices).toBeGreaterThan(0);
      expect(r.flat, units[k]).toEqual(r.general);
    }
  });

  it('implicit feedback read from keys: runs of one plain id, an event without a weight, bad timestamps, dictionaries per row group', async () => {
    const f = join(dir(), 'keyed.parquet');
    const n = 6000;
    // Runs of 1-3 rows per item, broken by a non-ASCII id, an empty one and a null.
    const items = Array.from({ length: n }, (_, i) => (i % 211 === 9 ? null : i % 97 === 4 ? '' : i % 89 === 3 ? `é${i % 7}` : `i${Math.floor(i / (1 + (i % 3))) % 400}`));
    const users = Array.from({ length: n }, (_, i) => `u${Math.floor(i / 25)}`);
    const events = Array.from({ length: n }, (_, i) => (i % 101 === 7 ? null : i % 53 === 1 ? 'wish' : (['view', 'buy', 'cart'] as const)[i % 3]));
    // Seconds, with a few outside what a date can hold and one null.
    const ts = Array.from({ length: n }, (_, i) => (i % 307 === 11 ? null : i % 401 === 13 ? 9_000_000_000_000_000n : 1_717_200_000n + BigInt(i * 60)));
    const columnData = [
      { name: 'user_id', data: users, type: 'STRING' as const, nullable: false },
      { name: 'item_id', data: items, type: 'STRING' as const, encoding: 'PLAIN' as const, nullable: true },
      { name: 'event', data: events, type: 'STRING' as const, nullable: true },
      { name: 'ts', data: ts, type: 'INT64' as const, nullable: true },
    ];
    writeFileSync(f, new Uint8Array(parquetWriteBuffer({ columnData, pageSize: 4096, rowGroupSize: 2500 })));
    const r = await both([f], { columns: 'user=user_id,item=item_id,event=event,ts=ts', event_weights: 'view=1,buy=5,cart=2', split: 'none' });
    expect(r.slices).toBeGreaterThan(2);
    expect(r.flat).toEqual(r.general);
    const reasons = new Set(rejects(r.out).map((x) => x.reason));
    expect([...reasons].sort()).toEqual(['bad_ts', 'empty_id', 'unknown_event']);
    expect(rows(r.out, 'train.arrow').length).toBeGreaterThan(1000);
  });

  it('plain-encoded text over many small v2 pages (hyparquet-writer) in a row group larger than a slice', async () => {
    const f = join(dir(), 'plain.parquet');
    const n = 265_000;
    const users = Array.from({ length: n }, (_, i) => (i % 9973 === 5 ? null : `user-${(i * 7919) % 60000}`));
    const items = Array.from({ length: n }, (_, i) => `é${i % 501}`);
    const ts = BigInt64Array.from({ length: n }, (_, i) => 1_717_200_000_000n + BigInt(i) * 1000n);
    const columnData = [
      { name: 'user_id', data: users, type: 'STRING' as const, encoding: 'PLAIN' as const, nullable: true },
      { name: 'item_id', data: items, type: 'STRING' as const, nullable: false },
      { name: 'ts', data: ts, type: 'INT64' as const, nullable: false },
    ];
    writeFileSync(f, new Uint8Array(parquetWriteBuffer({ columnData, pageSize: 20_000, rowGroupSize: n })));
    const r = await both([f], { columns: 'user=user_id,item=item_id,ts=ts', ts_unit: 'ms', split: 'none' });
    expect(r.slices).toBeGreaterThan(2);
    expect(r.flat).toEqual(r.general);
  });

  it('dt= partitions, the partition column as the day', async () => {
    const d = dir();
    await duckdb(`COPY (SELECT 'u' || (i % 50) AS user_id, 'é' || (i % 30) AS item_id, DATE '2024-06-01' + (i % 3)::INT AS dt FROM range(900) t(i)) TO ${q(d)} (FORMAT parquet, PARTITION_BY (dt), APPEND)`);
    const r = await both([d], { columns: 'user=user_id,item=item_id,ts=dt' });
    expect(r.slices).toBeGreaterThan(0);
    expect(r.flat).toEqual(r.general);
  });

  it('a DATE and a DECIMAL that only their logical types declare: days as dates and scaled values, by both readers', async () => {
    const f = join(dir(), 'logical.parquet');
    const required = { repetition_type: 'REQUIRED' } as const;
    writeFileSync(
      f,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: 'root', num_children: 4 },
            { name: 'user_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', ...required },
            { name: 'item_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', ...required },
            { name: 'day', type: 'INT32', logical_type: { type: 'DATE' }, ...required },
            { name: 'rating', type: 'INT32', logical_type: { type: 'DECIMAL', precision: 3, scale: 1 }, ...required },
          ],
          columnData: [
            { name: 'user_id', data: ['a', 'a', 'b'] },
            { name: 'item_id', data: ['x', 'y', 'x'] },
            { name: 'day', data: Int32Array.from([19_875, 19_876, 19_877]) },
            { name: 'rating', data: Int32Array.from([45, 30, 10]) },
          ],
        }),
      ),
    );
    const r = await both([f], { columns: 'user=user_id,item=item_id,ts=day,rating=rating', split: 'none' });
    expect(r.flat).toEqual(r.general);
    const day = 86_400_000;
    expect(rows(r.out, 'train.arrow').map((x) => [Number(x.ts), x.value])).toEqual([
      [19_875 * day, 4.5],
      [19_876 * day, 3],
      [19_877 * day, 1],
    ]);
  });

  it('falls back to hyparquet for an encoding it does not read (DELTA_BINARY_PACKED), with the same result', async () => {
    const f = join(dir(), 'delta.parquet');
    writeFileSync(
      f,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'user_id', data: ['a', 'b', 'c', 'a'], type: 'STRING' },
            { name: 'item_id', data: ['x', 'y', 'x', 'z'], type: 'STRING' },
            { name: 'ts', data: BigInt64Array.from([1n, 2n, 3n, 4n].map((v) => 1_717_200_000_000n + v)), type: 'INT64', encoding: 'DELTA_BINARY_PACKED' },
          ],
        }),
      ),
    );
    const r = await both([f], { columns: 'user=user_id,item=item_id,ts=ts', split: 'none' });
    expect(r.slices).toBe(0);
    expect(r.flat).toEqual(r.general);
  });
});

describe('the flat decoder on damaged files', () => {
  it('a footer that declares more rows than the pages hold: exit 1 naming the file, row group and column', async () => {
    const f = join(dir(), 'short.parquet');
    await duckdb(`COPY (SELECT 'u' || (i % 7) AS user_id, 'i' || (i % 11) AS item_id FROM range(3000) t(i)) TO ${q(f)} (FORMAT parquet, ROW_GROUP_SIZE 3000)`);
    const bytes = Buffer.from(readFileSync(f));
    // The data page of user_id says 3000 values; make it say 2999 (thrift varint of the zigzag 3000 → 2999).
    const at = bytes.indexOf(Buffer.from([0x15, 0xf0, 0x2e]));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1] = 0xee;
    writeFileSync(f, bytes);
    const err = await prep(out(), [f]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/short\.parquet: row group 0 \(rows 1\.\.3000\), column "user_id" cannot be read/);
  });
});

describe('which columns the flat decoder reads', () => {
  it('the kinds whose values it gives as hyparquet does; every other column stays with hyparquet', () => {
    const el = (type: SchemaElement['type'], extra: Partial<SchemaElement> = {}): SchemaElement => ({ name: 'c', type, repetition_type: 'OPTIONAL', ...extra });
    expect(flatKind(el('BYTE_ARRAY'))).toBe('text');
    expect(flatKind(el('BYTE_ARRAY', { converted_type: 'UTF8', logical_type: { type: 'STRING' } }))).toBe('text');
    expect(flatKind(el('BYTE_ARRAY', { converted_type: 'JSON' }))).toBeNull();
    expect(flatKind(el('BYTE_ARRAY', { converted_type: 'DECIMAL' }))).toBeNull();
    expect(flatKind(el('INT32', { converted_type: 'DATE' }))).toBe('date');
    expect(flatKind(el('INT32', { logical_type: { type: 'DATE' } }))).toBeNull();
    expect(flatKind(el('INT32', { converted_type: 'UINT_32' }))).toBeNull();
    expect(flatKind(el('INT64', { converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } }))).toBe('ts-us');
    expect(flatKind(el('INT64', { logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' } }))).toBe('ts-ns');
    expect(flatKind(el('INT64', { converted_type: 'INT_64' }))).toBe('int64');
    expect(flatKind(el('INT64', { converted_type: 'DECIMAL' }))).toBeNull();
    expect(flatKind(el('INT96'))).toBe('int96');
    expect(flatKind(el('DOUBLE'))).toBe('float');
    expect(flatKind(el('BOOLEAN'))).toBeNull();
    expect(flatKind(el('FIXED_LEN_BYTE_ARRAY', { logical_type: { type: 'UUID' } }))).toBeNull();
  });
});

describe('the flat decoder reads INT64 and INT96 exactly as BigInt arithmetic does', () => {
  const edges = [0n, 1n, -1n, 999_999n, -999_999n, 1_000_000n, -1_000_001n, 2n ** 53n + 1n, -(2n ** 53n) - 3n, 2n ** 63n - 1n, -(2n ** 63n), 1_717_200_000_123_456_789n, -86_400_000_000_001n];
  it('divides nanoseconds into milliseconds truncating toward zero', () => {
    for (const v of edges) {
      const hi = Number(BigInt.asIntN(32, v >> 32n));
      const lo = Number(BigInt.asUintN(32, v));
      expect(divInt64(hi, lo, 1_000_000), String(v)).toBe(Number(v / 1_000_000n));
    }
  });

  it('converts INT96 (nanoseconds of the day, Julian day) to ms, before and after 1970', () => {
    const view = new DataView(new ArrayBuffer(12));
    for (const [day, nanos] of [[2440588, 0n], [2460463, 43_200_123_456_789n], [2440587, 86_399_999_999_999n], [2440000, 1n], [2460463, 2n ** 62n]] as const) {
      view.setBigInt64(0, nanos, true);
      view.setInt32(8, day, true);
      const value = (BigInt(day) << 64n) | view.getBigInt64(0, true);
      const ref = ((value >> 64n) - 2440588n) * 86_400_000_000_000n + (value & 0xffffffffffffffffn);
      expect(int96Ms(view, 0), `${day} ${nanos}`).toBe(Number(ref / 1_000_000n));
    }
  });
});

describe('the flat decoder reads dictionary indices as hyparquet does', () => {
  /** An RLE / bit-packed hybrid of `values` at `width` bits: runs of one value as RLE, the rest bit-packed in groups of 8. */
  function encode(values: readonly number[], width: number): Uint8Array {
    const out: number[] = [];
    const varint = (v: number): void => {
      for (; v >= 0x80; v >>>= 7) out.push((v & 0x7f) | 0x80);
      out.push(v);
    };
    let i = 0;
    while (i < values.length) {
      let run = 1;
      while (i + run < values.length && values[i + run] === values[i]) run++;
      if (run >= 8) {
        varint(run << 1);
        for (let b = 0; b < (width + 7) >> 3; b++) out.push((values[i] >>> (8 * b)) & 0xff);
        i += run;
        continue;
      }
      const groups = Math.ceil(Math.min(64, values.length - i) / 8);
      varint((groups << 1) | 1);
      let acc = 0n;
      for (let k = 0; k < groups * 8; k++) acc |= BigInt(values[i + k] ?? 0) << (BigInt(width) * BigInt(k));
      for (let bits = 0n; bits < BigInt(groups * width * 8); bits += 8n) out.push(Number((acc >> bits) & 0xffn));
      i += groups * 8;
    }
    return Uint8Array.from(out);
  }

  it('runs and bit-packed groups at every width to 32 bits, and a run cut short is an error', () => {
    let x = 7;
    for (let width = 1; width <= 32; width++) {
      const values = Array.from({ length: 1000 }, (_, i) => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const v = width === 32 ? x >>> 0 : x % 2 ** width;
        return i % 100 < 20 ? 3 % 2 ** width : v;
      });
      const bytes = encode(values, width);
      const ours = new Int32Array(values.length);
      readIndices({ view: new DataView(bytes.buffer), offset: 0 }, width, ours);
      // hyparquet's reader agrees to 24 bits; past them its 32-bit window overflows (width 25: a value 33545638 read as 33545600).
      if (width <= 24) {
        const theirs = new Int32Array(values.length);
        readRleBitPackedHybrid({ view: new DataView(bytes.buffer), offset: 0 }, width, theirs, bytes.length);
        expect(Array.from(ours), `width ${width}`).toEqual(Array.from(theirs));
      }
      expect(Array.from(ours).map((v) => v >>> 0), `width ${width}`).toEqual(values);
      expect(() => readIndices({ view: new DataView(bytes.buffer, 0, bytes.length - 1), offset: 0 }, width, new Int32Array(values.length))).toThrow(/inside a run/);
    }
  });
});

describe('the reader thread cache of short ids', () => {
  it('gives every id of up to 11 bytes the index the vocabulary gives it, through growth, ids one byte apart and NUL bytes', () => {
    const cache = new ShortIds();
    const direct = new IdVocab();
    const cached = new IdVocab();
    const wrong: string[] = [];
    const ids: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const text = (['i', 'u', 'ab', '', 'x0'] as const)[i % 5] + ((i * 7919) % 6007).toString(36);
      ids.push(Buffer.from(text.slice(0, 1 + (i % 11))));
    }
    // Same words but for the length (trailing NUL bytes), and 0x80+ bytes in every position.
    ids.push(Uint8Array.of(97), Uint8Array.of(97, 0), Uint8Array.of(97, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(0xff, 1, 0xfe, 2, 0xfd, 3, 0xfc, 4, 0xfb, 5, 0xfa));
    for (const [k, id] of [...ids, ...ids].entries()) {
      const padded = new Uint8Array(id.length + 3);
      padded.set(id, 3);
      const want = direct.internBytes(id, 0, id.length);
      const got = cache.intern(padded, 3, 3 + id.length, cached);
      if (got !== want) wrong.push(`${k}: ${got} ≠ ${want}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(cached.size).toBe(direct.size);
  });
});
