/**
 * Arrow IPC file writers for the dataset folder (docs/design.md#the-dataset-folder). Columns are built straight from the
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
import { openSequential } from '../../io/sequential-file.js';
import { localHash, threadHash } from './hash-thread.js';
import type { RowStore } from './store.js';

export const BATCH_ROWS = 1 << 18;

/** float64 integers (|x| < 2^53) → int64 little-endian words, without a BigInt per value. */
export function int64Words(src: ArrayLike<number>, from: number, n: number): BigInt64Array {
  const out = new BigInt64Array(n);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = src[from + i];
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

export function utf8Data(strings: readonly string[]): Data<Utf8> {
  const offsets = new Int32Array(strings.length + 1);
  let total = 0;
  let bytes: Buffer;
  const joined = strings.join('');
  if (Buffer.byteLength(joined, 'utf8') === joined.length) {
    // All ASCII (UTF-8 is longer than UTF-16 for any other character), the usual case for ids:
    // one encode for the whole batch, offsets from string lengths, instead of two calls per id.
    for (let i = 0; i < strings.length; i++) {
      total += strings[i].length;
      offsets[i + 1] = total;
    }
    bytes = Buffer.from(joined, 'latin1');
  } else {
    // Per string, so a lone surrogate at the end of one id never pairs with the start of the next.
    for (let i = 0; i < strings.length; i++) {
      total += Buffer.byteLength(strings[i], 'utf8');
      offsets[i + 1] = total;
    }
    bytes = Buffer.allocUnsafe(total);
    for (let i = 0; i < strings.length; i++) bytes.write(strings[i], offsets[i], 'utf8');
  }
  return makeData({ type: new Utf8(), length: strings.length, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, total) });
}

/** The Arrow file writer, able to say how many bytes it has queued so far (its `_position`). */
class CountingFileWriter extends RecordBatchFileWriter {
  get queuedBytes(): number {
    return this._position;
  }
}

/**
 * SHA-256 of the dataset files as they are written, by path: manifest.files_sha256 takes them from here instead of
 * reading a file back (item_features.arrow is 400–650 MB for a 1M-item catalogue).
 */
export type WrittenHashes = Map<string, string>;

export interface WriteBatchesOptions {
  /** Records the file's SHA-256 under `path` once it is written whole. */
  hashes?: WrittenHashes;
  /**
   * Pull the next batch while the one before it is still being written (the generator gathers it meanwhile):
   * only for a generator that refills a batch's arrays no sooner than two batches later.
   */
  lookahead?: boolean;
  /** Hash on the hash thread (hash-thread.ts), for a file of many megabytes; small files hash here. */
  hashThread?: boolean;
  /**
   * Return once the file is written, its digest (which waits for the hash thread to finish the last bytes) recorded
   * in `hashes` later: the promise that records it goes here, for the caller to await before reading `hashes`.
   */
  digests?: Promise<void>[];
}

/**
 * Writes the batches to an Arrow IPC file, one batch at a time. The Arrow writer queues each
 * serialized batch in an unbounded in-memory queue whose body buffers are views of the batch's
 * arrays, so the next batch is pulled only once every queued byte has been written to the file
 * (with `lookahead`, once the batch before the last is): memory stays at one batch (two) however
 * many rows the file gets, and a generator may refill the same arrays for each batch (every other).
 * With `hashes`, the bytes are hashed as they go to the file.
 */
export async function writeBatches(path: string, batches: Iterable<RecordBatch>, opts: WriteBatchesOptions = {}): Promise<void> {
  const writer = new CountingFileWriter();
  const file = await openSequential(path);
  const hash = opts.hashes !== undefined ? (opts.hashThread === true ? threadHash() : localHash()) : null;
  /** Bytes written, counted in file order: every byte before `written` is in the file. */
  let written = 0;
  /** The first failed write's error (set from the writes' callbacks). */
  const failure: { error?: unknown; failed: boolean } = { failed: false };
  let wake = (): void => undefined;
  const drain = (async (): Promise<void> => {
    // One write at a time (writes to one file serialise in the kernel, where waiters would spin on a 2-core
    // machine), but each takes every chunk queued meanwhile, in one writev: the chunks of a batch go to the file
    // while this thread gathers the next batch, not one per turn of this thread (item_features.arrow's ~17 chunks
    // a batch were written each only when this thread was free: a third of the write span idle).
    let queued: Uint8Array[] = [];
    let inFlight: Promise<void> | null = null;
    const flush = (): void => {
      const chunks = queued;
      queued = [];
      let bytes = 0;
      for (const c of chunks) bytes += c.byteLength;
      inFlight = file.write(chunks).then(
        () => {
          written += bytes;
          inFlight = null;
          if (queued.length > 0 && !failure.failed) flush();
          wake();
        },
        (error: unknown) => {
          if (!failure.failed) Object.assign(failure, { error, failed: true });
          inFlight = null;
          wake();
        },
      );
    };
    for await (const chunk of writer) {
      if (failure.failed) break;
      // Hashed (or, for the hash thread, copied) while the thread pool writes the chunks before it.
      await hash?.update(chunk);
      queued.push(chunk);
      if (inFlight === null) flush();
    }
    while (inFlight !== null) await inFlight;
    if (!failure.failed && queued.length > 0) flush();
    while (inFlight !== null) await inFlight;
    if (failure.failed) throw failure.error;
  })();
  // A failed write rejects `drain`; it is awaited below (through the race or at the end).
  drain.catch(() => undefined);
  const until = async (target: number): Promise<void> => {
    while (written < target) {
      if (failure.failed) throw failure.error;
      await Promise.race([
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
        drain,
      ]);
    }
  };
  try {
    let previous = 0;
    for (const batch of batches) {
      writer.write(batch);
      const target = writer.queuedBytes;
      await until(opts.lookahead === true ? previous : target);
      previous = target;
    }
    writer.close();
    await drain;
  } catch (error) {
    writer.abort();
    hash?.drop();
    await file.abort().catch(() => undefined);
    throw error;
  }
  await file.close();
  if (hash === null) return;
  const recorded = hash.digest().then((hex) => {
    opts.hashes?.set(path, hex);
  });
  if (opts.digests === undefined) return recorded;
  // Seen as handled here; the caller's await on `digests` still gets a failure.
  recorded.catch(() => undefined);
  opts.digests.push(recorded);
}

/** A search log's rows (docs/datasets.md#search-logs): the query column, and whether users are absent. */
export interface SearchColumns {
  /** Stored query index → written index. */
  queryMap: Int32Array;
  /** No user column: `user` is written all null. */
  anonymous: boolean;
}

export function interactionSchema(hasEvents: boolean, search: SearchColumns | null = null): Schema {
  const fields: Field[] = [
    new Field('user', new Int32(), search?.anonymous === true),
    new Field('item', new Int32(), false),
    new Field('value', new Float32(), false),
    new Field('ts', new Int64(), true),
    new Field('seq', new Int64(), false),
  ];
  if (hasEvents) fields.push(new Field('event', new Dictionary(new Utf8(), new Int32(), 0, false), false));
  if (search !== null) fields.push(new Field('query', new Int32(), false));
  return new Schema(fields);
}

/**
 * Writes the `count` rows whose `assign` state is `code`, in storage order (the arranged
 * (user, ts, seq) order), with user/item indices remapped through `userMap`/`itemMap`.
 * `eventNames` is the event dictionary, or null when the log has no events.
 */
export async function writeInteractions(
  path: string,
  store: RowStore,
  assign: Uint8Array,
  code: number,
  count: number,
  userMap: Int32Array,
  itemMap: Int32Array,
  eventNames: readonly string[] | null,
  search: SearchColumns | null = null,
  hashes?: WrittenHashes,
  digests?: Promise<void>[],
): Promise<void> {
  const schema = interactionSchema(eventNames !== null, search);
  const dictType = schema.fields[5]?.type as Dictionary<Utf8, Int32> | undefined;
  const dictionary = eventNames !== null ? vectorFromArray(eventNames as string[], new Utf8()) : null;
  const structType = new Struct(schema.fields);
  const { runs } = store;
  // One set of batch arrays, refilled for every batch (writeBatches writes each batch out before
  // it pulls the next); the high words of seq stay 0, and of ts when the log has no time.
  const cap = Math.min(BATCH_ROWS, count);
  const at = new Int32Array(cap);
  const uAll = new Int32Array(cap);
  const itAll = new Int32Array(cap);
  const vAll = new Float32Array(cap);
  const tsAll = new BigInt64Array(cap);
  const seqAll = new BigInt64Array(cap);
  const codesAll = store.events !== null ? new Int32Array(cap) : null;
  const queries = search !== null ? store.queries : null;
  const qAll = queries !== null ? new Int32Array(cap) : null;
  const anonymous = search?.anonymous === true;
  function* batches(): Generator<RecordBatch> {
    // The next row to look at, and its user (rows are in user runs).
    const cursor = new Int32Array(2);
    for (let from = 0; from === 0 || from < count; from += BATCH_ROWS) {
      const n = Math.min(BATCH_ROWS, count - from);
      const u = uAll.subarray(0, n);
      const rows = at.subarray(0, n);
      selectRows(assign, code, runs, anonymous ? null : userMap, cursor, rows, u);
      const it = gatherMapped(itAll.subarray(0, n), store.items, itemMap, rows);
      const v = gatherValues(vAll.subarray(0, n), store, rows);
      const tsOut = tsAll.subarray(0, n);
      if (store.hasTs) gatherTs(new Int32Array(tsAll.buffer, 0, 2 * n), store, rows);
      const seqOut = seqAll.subarray(0, n);
      gatherSeq(new Int32Array(seqAll.buffer, 0, 2 * n), store.seq, rows);
      const codes = codesAll !== null && store.events !== null ? gatherEvents(codesAll.subarray(0, n), store.events, rows) : null;
      const q = qAll !== null && queries !== null && search !== null ? gatherMapped(qAll.subarray(0, n), queries, search.queryMap, rows) : null;
      const children: Data<DataType>[] = [
        anonymous ? makeData({ type: new Int32(), length: n, nullCount: n, nullBitmap: allNullBitmap(n), data: u }) : makeData({ type: new Int32(), length: n, data: u }),
        makeData({ type: new Int32(), length: n, data: it }),
        makeData({ type: new Float32(), length: n, data: v }),
        store.hasTs
          ? makeData({ type: new Int64(), length: n, nullCount: 0, data: tsOut })
          : makeData({ type: new Int64(), length: n, nullCount: n, nullBitmap: allNullBitmap(n), data: tsOut }),
        makeData({ type: new Int64(), length: n, nullCount: 0, data: seqOut }),
      ];
      if (dictType && dictionary && codes !== null) children.push(makeData({ type: dictType, length: n, data: codes, dictionary }));
      if (q !== null) children.push(makeData({ type: new Int32(), length: n, data: q }));
      yield new RecordBatch(schema, makeData({ type: structType, length: n, children }));
      if (count === 0) return;
    }
  }
  // From one full batch (about 8 MB) on; a smaller file is hashed sooner than the thread starts.
  await writeBatches(path, batches(), { hashes, hashThread: count >= BATCH_ROWS, digests });
}

/*
 * The column gathers of writeInteractions' batches: out[i] from the stored row rows[i], one loop a
 * column over one typed-array kind each (monomorphic in V8), instead of one loop calling the
 * store's accessors for every cell.
 */

/**
 * The next rows.length rows in state `code` from cursor [row, user] on, and their users' new
 * indices (-1 for a search log without users); advances the cursor. Outside the generator, whose
 * locals V8 keeps in the generator object rather than in registers.
 */
function selectRows(assign: Uint8Array, code: number, runs: Int32Array, userMap: Int32Array | null, cursor: Int32Array, rows: Int32Array, u: Int32Array): void {
  let row = cursor[0];
  let user = cursor[1];
  for (let i = 0; i < rows.length; i++) {
    while (assign[row] !== code) row++;
    while (row >= runs[user + 1]) user++;
    u[i] = userMap !== null ? userMap[user] : -1;
    rows[i] = row++;
  }
  cursor[0] = row;
  cursor[1] = user;
}

function gatherMapped(out: Int32Array, col: Int32Array, map: Int32Array, rows: Int32Array): Int32Array {
  for (let i = 0; i < rows.length; i++) out[i] = map[col[rows[i]]];
  return out;
}

function gatherValues(out: Float32Array, store: RowStore, rows: Int32Array): Float32Array {
  const values = store.valueStorage();
  if (values instanceof Float32Array) {
    for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]];
    return out;
  }
  const byCode = new Float32Array(256);
  for (let c = 0; c < (store.valueCodes ?? 0); c++) byCode[c] = store.valueOfCode(c);
  for (let i = 0; i < rows.length; i++) out[i] = byCode[values[rows[i]]];
  return out;
}

/** ts in ms as int64 little-endian words (store.tsAt's value, without a BigInt per value). */
function gatherTs(words: Int32Array, store: RowStore, rows: Int32Array): void {
  const ts = store.tsStorage();
  if (ts instanceof Int32Array) gatherTsSeconds(words, ts, store.msOfStored(0), rows);
  else if (ts !== null) gatherTsMs(words, ts, rows);
}

function gatherTsSeconds(words: Int32Array, sec: Int32Array, base: number, rows: Int32Array): void {
  for (let i = 0; i < rows.length; i++) {
    const x = base + sec[rows[i]] * 1000;
    const hi = Math.floor(x / 4294967296);
    words[2 * i] = (x - hi * 4294967296) | 0;
    words[2 * i + 1] = hi | 0;
  }
}

function gatherTsMs(words: Int32Array, ms: Float64Array, rows: Int32Array): void {
  for (let i = 0; i < rows.length; i++) {
    const x = ms[rows[i]];
    const hi = Math.floor(x / 4294967296);
    words[2 * i] = (x - hi * 4294967296) | 0;
    words[2 * i + 1] = hi | 0;
  }
}

/** seq's low words (seq < 2^31, so the high words stay 0). */
function gatherSeq(words: Int32Array, seq: Uint32Array, rows: Int32Array): void {
  for (let i = 0; i < rows.length; i++) words[2 * i] = seq[rows[i]] | 0;
}

function gatherEvents(out: Int32Array, events: Uint8Array | Uint16Array, rows: Int32Array): Int32Array {
  for (let i = 0; i < rows.length; i++) out[i] = events[rows[i]];
  return out;
}

/** A column of ids that builds its own Arrow Utf8 data a batch at a time (vocab-ids.ts). */
export interface Utf8Source {
  readonly length: number;
  utf8(from: number, n: number): Data<Utf8>;
}

/** users.arrow / items.arrow: index, id, count, first_ts, last_ts (NaN → null). */
export async function writeVocab(path: string, ids: readonly string[] | Utf8Source, counts: Int32Array, firstTs: Float64Array, lastTs: Float64Array, hashes?: WrittenHashes): Promise<void> {
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
        Array.isArray(ids) ? utf8Data(ids.slice(from, from + n)) : (ids as Utf8Source).utf8(from, n),
        makeData({ type: new Int32(), length: n, data: counts.slice(from, from + n) }),
        makeData({ type: new Int64(), length: n, nullCount: fv.nulls, nullBitmap: fv.bitmap, data: int64Words(nanToZero(first), 0, n) }),
        makeData({ type: new Int64(), length: n, nullCount: lv.nulls, nullBitmap: lv.bitmap, data: int64Words(nanToZero(last), 0, n) }),
      ];
      yield new RecordBatch(schema, makeData({ type: structType, length: n, children }));
      if (total === 0) return;
    }
  }
  await writeBatches(path, batches(), { hashes });
}

function nanToZero(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number.isNaN(a[i]) ? 0 : a[i];
  return out;
}
