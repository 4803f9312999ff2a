/**
 * Arrow IPC file writers for the dataset folder (PRODUCT §3). Columns are built straight from the
 * typed arrays (no JS value per cell) and written as record batches of at most BATCH_ROWS rows.
 */
import {
  Dictionary,
  Field,
  Float32,
  Int32,
  Int64,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Utf8,
  makeData,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { RowStore } from './store.js';

export const BATCH_ROWS = 1 << 18;

/** float64 integers (|x| < 2^53) → int64 little-endian words, without a BigInt per value. */
export function int64Words(src: ArrayLike<number>, from: number, n: number, pick?: Int32Array): BigInt64Array {
  const out = new BigInt64Array(n);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = pick ? src[pick[from + i]] : src[from + i];
    const hi = Math.floor(x / 4294967296);
    w[2 * i] = (x - hi * 4294967296) | 0;
    w[2 * i + 1] = hi | 0;
  }
  return out;
}

function allNullBitmap(n: number): Uint8Array {
  return new Uint8Array((n + 7) >> 3);
}

function validityFromNaN(values: Float64Array): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) nulls++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function utf8Data(strings: readonly string[]): Data<Utf8> {
  const offsets = new Int32Array(strings.length + 1);
  let total = 0;
  for (let i = 0; i < strings.length; i++) {
    total += Buffer.byteLength(strings[i], 'utf8');
    offsets[i + 1] = total;
  }
  const bytes = Buffer.allocUnsafe(total);
  for (let i = 0; i < strings.length; i++) bytes.write(strings[i], offsets[i], 'utf8');
  return makeData({ type: new Utf8(), length: strings.length, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, total) });
}

async function writeBatches(path: string, batches: Iterable<RecordBatch>): Promise<void> {
  const writer = new RecordBatchFileWriter();
  const out = createWriteStream(path);
  const done = pipeline(writer.toNodeStream(), out);
  for (const batch of batches) {
    writer.write(batch);
    // Let the bytes drain to disk before building the next batch, so memory stays at one batch.
    await new Promise((r) => setImmediate(r));
    if (out.writableNeedDrain) await once(out, 'drain');
  }
  writer.close();
  await done;
}

export function interactionSchema(hasEvents: boolean): Schema {
  const fields: Field[] = [
    new Field('user', new Int32(), false),
    new Field('item', new Int32(), false),
    new Field('value', new Float32(), false),
    new Field('ts', new Int64(), true),
    new Field('seq', new Int64(), false),
  ];
  if (hasEvents) fields.push(new Field('event', new Dictionary(new Utf8(), new Int32(), 0, false), false));
  return new Schema(fields);
}

/**
 * Writes the rows `order` (row indices into `store`) with their user/item indices remapped through
 * `userMap`/`itemMap`. `eventNames` is the event dictionary, or null when the log has no events.
 */
export async function writeInteractions(
  path: string,
  store: RowStore,
  order: Int32Array,
  userMap: Int32Array,
  itemMap: Int32Array,
  eventNames: readonly string[] | null,
): Promise<void> {
  const schema = interactionSchema(eventNames !== null);
  const dictType = schema.fields[5]?.type as Dictionary<Utf8, Int32> | undefined;
  const dictionary = eventNames !== null ? vectorFromArray(eventNames as string[], new Utf8()) : null;
  const structType = new Struct(schema.fields);
  function* batches(): Generator<RecordBatch> {
    const total = order.length;
    for (let from = 0; from === 0 || from < total; from += BATCH_ROWS) {
      const n = Math.min(BATCH_ROWS, total - from);
      const u = new Int32Array(n);
      const it = new Int32Array(n);
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const r = order[from + i];
        u[i] = userMap[store.users[r]];
        it[i] = itemMap[store.items[r]];
        v[i] = store.values[r];
      }
      const children: Data<DataType>[] = [
        makeData({ type: new Int32(), length: n, data: u }),
        makeData({ type: new Int32(), length: n, data: it }),
        makeData({ type: new Float32(), length: n, data: v }),
        store.ts
          ? makeData({ type: new Int64(), length: n, nullCount: 0, data: int64Words(store.ts, from, n, order) })
          : makeData({ type: new Int64(), length: n, nullCount: n, nullBitmap: allNullBitmap(n), data: new BigInt64Array(n) }),
        makeData({ type: new Int64(), length: n, nullCount: 0, data: int64Words(store.seq, from, n, order) }),
      ];
      if (dictType && dictionary && store.events) {
        const codes = new Int32Array(n);
        for (let i = 0; i < n; i++) codes[i] = store.events[order[from + i]];
        children.push(makeData({ type: dictType, length: n, data: codes, dictionary }));
      }
      yield new RecordBatch(schema, makeData({ type: structType, length: n, children }));
      if (total === 0) return;
    }
  }
  await writeBatches(path, batches());
}

/** users.arrow / items.arrow: index, id, count, first_ts, last_ts (NaN → null). */
export async function writeVocab(path: string, ids: readonly string[], counts: Int32Array, firstTs: Float64Array, lastTs: Float64Array): Promise<void> {
  const schema = new Schema([
    new Field('index', new Int32(), false),
    new Field('id', new Utf8(), false),
    new Field('count', new Int32(), false),
    new Field('first_ts', new Int64(), true),
    new Field('last_ts', new Int64(), true),
  ]);
  const structType = new Struct(schema.fields);
  function* batches(): Generator<RecordBatch> {
    const total = ids.length;
    for (let from = 0; from === 0 || from < total; from += BATCH_ROWS) {
      const n = Math.min(BATCH_ROWS, total - from);
      const index = new Int32Array(n);
      for (let i = 0; i < n; i++) index[i] = from + i;
      const first = firstTs.subarray(from, from + n);
      const last = lastTs.subarray(from, from + n);
      const fv = validityFromNaN(first);
      const lv = validityFromNaN(last);
      const children: Data<DataType>[] = [
        makeData({ type: new Int32(), length: n, data: index }),
        utf8Data(ids.slice(from, from + n)),
        makeData({ type: new Int32(), length: n, data: counts.slice(from, from + n) }),
        makeData({ type: new Int64(), length: n, nullCount: fv.nulls, nullBitmap: fv.bitmap, data: int64Words(nanToZero(first), 0, n) }),
        makeData({ type: new Int64(), length: n, nullCount: lv.nulls, nullBitmap: lv.bitmap, data: int64Words(nanToZero(last), 0, n) }),
      ];
      yield new RecordBatch(schema, makeData({ type: structType, length: n, children }));
      if (total === 0) return;
    }
  }
  await writeBatches(path, batches());
}

function nanToZero(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number.isNaN(a[i]) ? 0 : a[i];
  return out;
}
