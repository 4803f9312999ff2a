/**
 * Output files of `rec recommend` (README.md#commands): JSONL, CSV, an Arrow IPC file or Parquet (the Arrow columns), all readable by
 * pandas / polars / DuckDB / pyarrow. Two record kinds share the writers:
 *
 * - user recommendations: JSONL `{"user", "items": [{"item", "score"}], "cold"}` one line per user;
 *   CSV `user,rank,item,score,cold` one row per recommended item (rank from 1);
 *   Arrow columns user utf8, rank int32, item utf8, score float32, cold bool.
 * - similar items (--similar-to): JSONL `{"item", "items": [{"item", "score"}]}` one line per query
 *   item; CSV `item,rank,similar,score`; Arrow columns item utf8, rank int32, similar utf8,
 *   score float32.
 *
 * A checkpoint whose catalogue kept display titles (vocab/item_titles.arrow) adds `"title"` (null when the item has
 * none) to each JSONL item and a last nullable `title` column to CSV, Arrow and Parquet (the `titles` argument).
 *
 * With `rec recommend --new-items` (a model trained with item features), an item without a training
 * row scored from its features carries `"from_features": true` in JSONL, and CSV and Arrow gain a
 * last column `from_features` (bool) on every row (userLayout / similarLayout with `fromFeatures`).
 *
 * CSV and Arrow have one row per ranked item, so a user with nothing left to recommend has no row
 * there (JSONL keeps the user with an empty list). Files are written to a temporary name in the
 * target folder and renamed on commit, so a reader never sees a half-written file.
 */
import {
  Bool,
  Field,
  Float32,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Utf8,
  makeData,
  type Data,
  type DataType,
} from 'apache-arrow';
import { once } from 'node:events';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ensureDir, removeStaleTemps, tempNameBeside } from './atomic.js';

import { checkOutputFile, outputFsError } from './output-dir.js';
import { ParquetBatchWriter } from './parquet-write.js';

export const ROW_FORMATS = ['jsonl', 'csv', 'arrow', 'parquet'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

export interface RankedItem {
  item: string;
  score: number;
  /** True only on an item without a training row that the model scored from its features. */
  from_features?: boolean;
  /** The catalogue's display title (layouts with titles only; null: the item has none). */
  title?: string | null;
}

export interface UserRecord {
  user: string;
  items: readonly RankedItem[];
  cold: boolean;
}

export interface SimilarRecord {
  item: string;
  /** True when the query item has no training row and its vector comes from its features. */
  from_features?: boolean;
  items: readonly RankedItem[];
}

/** How one record kind is laid out in each format. */
export interface RowLayout<T> {
  csvHeader: string;
  jsonl(record: T): string;
  csv(record: T): string;
  batch(records: readonly T[]): RecordBatch;
}

/** RFC 4180: quote a field only when it holds a delimiter, a quote or a line break. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function utf8Data(strings: readonly string[]): Data<Utf8> {
  const offsets = new Int32Array(strings.length + 1);
  let total = 0;
  for (let i = 0; i < strings.length; i++) {
    total += Buffer.byteLength(strings[i], 'utf8');
    offsets[i + 1] = total;
  }
  const bytes = Buffer.alloc(total);
  for (let i = 0; i < strings.length; i++) bytes.write(strings[i], offsets[i], 'utf8');
  return makeData({ type: new Utf8(), length: strings.length, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, total) });
}

/** Flattens records into one row per ranked item: key, 1-based rank, item, score (+ the record). */
function flatten<T extends { items: readonly RankedItem[] }>(records: readonly T[], key: (r: T) => string) {
  let n = 0;
  for (const r of records) n += r.items.length;
  const keys: string[] = new Array<string>(n);
  const items: string[] = new Array<string>(n);
  const ranks = new Int32Array(n);
  const scores = new Float32Array(n);
  const fromFeatures = new Uint8Array(n);
  const owner: T[] = new Array<T>(n);
  let at = 0;
  for (const r of records) {
    for (let j = 0; j < r.items.length; j++, at++) {
      keys[at] = key(r);
      ranks[at] = j + 1;
      items[at] = r.items[j].item;
      scores[at] = r.items[j].score;
      if (r.items[j].from_features === true) fromFeatures[at] = 1;
      owner[at] = r;
    }
  }
  return { n, keys, ranks, items, scores, fromFeatures, owner };
}

function recordBatch(schema: Schema, n: number, children: Data<DataType>[]): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, children }));
}

const FROM_FEATURES = new Field('from_features', new Bool(), false);

const USER_FIELDS = [
  new Field('user', new Utf8(), false),
  new Field('rank', new Int32(), false),
  new Field('item', new Utf8(), false),
  new Field('score', new Float32(), false),
  new Field('cold', new Bool(), false),
];

const SIMILAR_FIELDS = [
  new Field('item', new Utf8(), false),
  new Field('rank', new Int32(), false),
  new Field('similar', new Utf8(), false),
  new Field('score', new Float32(), false),
];

const itemsJson = (items: readonly RankedItem[], titles = false) =>
  items.map((s) => ({ item: s.item, score: s.score, ...(s.from_features === true ? { from_features: true } : {}), ...(titles ? { title: s.title ?? null } : {}) }));

const TITLE = new Field('title', new Utf8(), true);

/** The title column of the flattened rows (records in order, their items in order): utf8, null where an item has none. */
function titleData(records: readonly { items: readonly RankedItem[] }[]): Data<Utf8> {
  const t: string[] = [];
  const present: boolean[] = [];
  for (const r of records) {
    for (const s of r.items) {
      t.push(s.title ?? '');
      present.push(typeof s.title === 'string');
    }
  }
  const d = utf8Data(t);
  const valid = boolData(t.length, (i) => present[i]);
  return makeData({ type: new Utf8(), length: t.length, valueOffsets: d.valueOffsets, data: d.values, nullBitmap: valid.values, nullCount: present.filter((x) => !x).length });
}

const csvTitle = (titles: boolean, s: RankedItem) => (titles ? `,${csvField(s.title ?? '')}` : '');

/** A bool column of `n` rows, set where `on(i)`. */
function boolData(n: number, on: (i: number) => boolean): Data<Bool> {
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (on(i)) bits[i >> 3] |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: n, data: bits });
}

/**
 * The user layout; `fromFeatures` adds the CSV/Arrow column of that name (--new-items), `titles` a last `title`
 * column (and a JSONL `title` per item): the checkpoint's catalogue has display titles.
 */
export function userLayout(fromFeatures: boolean, titles = false): RowLayout<UserRecord> {
  const schema = new Schema([...USER_FIELDS, ...(fromFeatures ? [FROM_FEATURES] : []), ...(titles ? [TITLE] : [])]);
  const extra = (s: RankedItem) => (fromFeatures ? `,${s.from_features === true}` : '') + csvTitle(titles, s);
  return {
    csvHeader: `user,rank,item,score,cold${fromFeatures ? ',from_features' : ''}${titles ? ',title' : ''}`,
    jsonl: (r) => JSON.stringify({ user: r.user, items: itemsJson(r.items, titles), cold: r.cold }),
    csv: (r) => r.items.map((s, j) => `${csvField(r.user)},${j + 1},${csvField(s.item)},${s.score},${r.cold}${extra(s)}\n`).join(''),
    batch(records) {
      const f = flatten(records, (r) => r.user);
      const columns = [...rankedColumns(f), boolData(f.n, (i) => f.owner[i].cold)];
      if (fromFeatures) columns.push(boolData(f.n, (i) => f.fromFeatures[i] === 1));
      if (titles) columns.push(titleData(records));
      return recordBatch(schema, f.n, columns);
    },
  };
}

/** The columns every ranked list starts with: whose list (user or item), rank, item, score. */
function rankedColumns(f: { keys: readonly string[]; n: number; ranks: Int32Array; items: readonly string[]; scores: Float32Array }): Data<DataType>[] {
  return [utf8Data(f.keys), makeData({ type: new Int32(), length: f.n, data: f.ranks }), utf8Data(f.items), makeData({ type: new Float32(), length: f.n, data: f.scores })];
}

/** The --similar-to layout; `fromFeatures` adds the CSV/Arrow column of that name (about `similar`), `titles` the similar items' `title`. */
export function similarLayout(fromFeatures: boolean, titles = false): RowLayout<SimilarRecord> {
  const schema = new Schema([...SIMILAR_FIELDS, ...(fromFeatures ? [FROM_FEATURES] : []), ...(titles ? [TITLE] : [])]);
  const extra = (s: RankedItem) => (fromFeatures ? `,${s.from_features === true}` : '') + csvTitle(titles, s);
  return {
    csvHeader: `item,rank,similar,score${fromFeatures ? ',from_features' : ''}${titles ? ',title' : ''}`,
    jsonl: (r) => JSON.stringify(r.from_features === true ? { item: r.item, from_features: true, items: itemsJson(r.items, titles) } : { item: r.item, items: itemsJson(r.items, titles) }),
    csv: (r) => r.items.map((s, j) => `${csvField(r.item)},${j + 1},${csvField(s.item)},${s.score}${extra(s)}\n`).join(''),
    batch(records) {
      const f = flatten(records, (r) => r.item);
      const columns = rankedColumns(f);
      if (fromFeatures) columns.push(boolData(f.n, (i) => f.fromFeatures[i] === 1));
      if (titles) columns.push(titleData(records));
      return recordBatch(schema, f.n, columns);
    },
  };
}

export const USER_LAYOUT: RowLayout<UserRecord> = userLayout(false);

/** One query's results (`rec search`): the query as given, the user it was personalised for (null: anonymous). */
export interface SearchRecord {
  query: string;
  user: string | null;
  items: readonly RankedItem[];
}

const SEARCH_FIELDS = [
  new Field('query', new Utf8(), false),
  new Field('user', new Utf8(), true),
  new Field('rank', new Int32(), false),
  new Field('item', new Utf8(), false),
  new Field('score', new Float32(), false),
];

/**
 * `rec search` rows: JSONL `{"query", "user", "items": [{"item", "score", "title"?}]}`; CSV `query,user,rank,item,score`
 * (+ `title`); Arrow the same columns (user nullable). `titles`: the catalogue had a title to show.
 */
export function searchLayout(titles: boolean): RowLayout<SearchRecord> {
  const schema = new Schema(titles ? [...SEARCH_FIELDS, TITLE] : SEARCH_FIELDS);
  return {
    csvHeader: `query,user,rank,item,score${titles ? ',title' : ''}`,
    jsonl: (r) => JSON.stringify({ query: r.query, user: r.user, items: itemsJson(r.items, titles) }),
    csv: (r) => r.items.map((s, j) => `${csvField(r.query)},${csvField(r.user ?? '')},${j + 1},${csvField(s.item)},${s.score}${csvTitle(titles, s)}\n`).join(''),
    batch(records) {
      const f = flatten(records, (r) => r.query);
      const users = f.owner.map((r) => r.user ?? '');
      const userData = utf8Data(users);
      const nulls = boolData(f.n, (i) => f.owner[i].user !== null);
      const columns: Data<DataType>[] = [
        utf8Data(f.keys),
        makeData({ type: new Utf8(), length: f.n, valueOffsets: userData.valueOffsets, data: userData.values, nullBitmap: nulls.values, nullCount: f.owner.filter((r) => r.user === null).length }),
        makeData({ type: new Int32(), length: f.n, data: f.ranks }),
        utf8Data(f.items),
        makeData({ type: new Float32(), length: f.n, data: f.scores }),
      ];
      if (titles) columns.push(titleData(records));
      return recordBatch(schema, f.n, columns);
    },
  };
}

export const SIMILAR_LAYOUT: RowLayout<SimilarRecord> = similarLayout(false);

/** A block of records as text (jsonl or csv, header excluded), ready for stdout or a file. */
export function formatText<T>(layout: RowLayout<T>, format: 'jsonl' | 'csv', records: readonly T[]): string {
  if (format === 'csv') return records.map((r) => layout.csv(r)).join('');
  return records.map((r) => `${layout.jsonl(r)}\n`).join('');
}

/** Streams records into a file that appears, complete, only on commit(). */
export interface RowFileSink<T> {
  readonly path: string;
  write(records: readonly T[]): Promise<void>;
  commit(): Promise<void>;
  /** Removes the temporary file; the destination is left as it was. */
  abort(): Promise<void>;
}

/** `force`: replace an existing file at `path` (without it that is exit 2: a user's file is never replaced unasked). */
export async function openRowFile<T>(path: string, format: RowFormat, layout: RowLayout<T>, force: boolean): Promise<RowFileSink<T>> {
  await checkOutputFile(path, force);
  let handle;
  const tmp = tempNameBeside(path);
  try {
    await ensureDir(dirname(path));
    // What a kill -9 of an earlier run writing this same file left behind.
    await removeStaleTemps(dirname(path), basename(path));
    handle = await open(tmp, 'w');
  } catch (error) {
    throw outputFsError(path, error);
  }
  // autoClose off: the handle must outlive the stream so it can be fsynced before the rename.
  const stream = handle.createWriteStream({ autoClose: false });
  const put = async (chunk: string | Uint8Array) => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  let arrow: { writer: RecordBatchFileWriter; piped: Promise<void>; batches: number } | null = null;
  // Parquet: the same columns as the Arrow layout, one row group per block of records, written to the temp name.
  const parquet = format === 'parquet' ? new ParquetBatchWriter(tmp, layout.batch([]).schema) : null;
  if (format === 'arrow') {
    const writer = new RecordBatchFileWriter();
    const piped = pipeline(writer.toNodeStream(), stream);
    // Observed at commit; without this a failing disk would also surface as an unhandled rejection.
    piped.catch(() => undefined);
    arrow = { writer, piped, batches: 0 };
  } else if (format === 'csv') {
    await put(`${layout.csvHeader}\n`);
  }
  // The stream holds a reference on the handle until it closes, and handle.close() waits for it.
  const release = async () => {
    if (!stream.closed) {
      const closed = once(stream, 'close');
      stream.destroy();
      await closed;
    }
    await handle.close();
  };
  let done = false;
  return {
    path,
    async write(records) {
      if (parquet !== null) {
        await parquet.write(layout.batch(records));
      } else if (arrow !== null) {
        arrow.writer.write(layout.batch(records));
        arrow.batches++;
        // Let the batch drain before the caller builds the next one, so memory stays at one batch.
        await new Promise((r) => setImmediate(r));
        if (stream.writableNeedDrain) await once(stream, 'drain');
      } else {
        const text = formatText(layout, format === 'csv' ? 'csv' : 'jsonl', records);
        if (text.length > 0) await put(text);
      }
    },
    async commit() {
      if (done) return;
      done = true;
      try {
        if (parquet !== null) {
          await parquet.finish();
        } else if (arrow !== null) {
          // An Arrow file needs its schema even with no rows; the schema travels with a batch.
          if (arrow.batches === 0) arrow.writer.write(layout.batch([]));
          arrow.writer.close();
          await arrow.piped;
        } else {
          stream.end();
          await once(stream, 'finish');
        }
        await handle.sync();
      } catch (error) {
        await release().catch(() => undefined);
        await rm(tmp, { force: true });
        throw error;
      }
      await release();
      await rename(tmp, path);
    },
    async abort() {
      if (done) return;
      done = true;
      await release().catch(() => undefined);
      await rm(tmp, { force: true });
    },
  };
}
