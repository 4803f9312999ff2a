/**
 * The catalogue's files in the dataset folder (docs/design.md#the-dataset-folder):
 *  - `item_features.arrow`: one row per item index (row i is item i of items.arrow): `#in_catalogue` bool (the
 *    catalogue has a row for the item), then per feature a column named like it — text: List<Int32> of hashed
 *    buckets ascending, with `NAME#counts` a List of the narrowest of Uint8, Uint16, Int32 that holds the column's
 *    largest count (features per bucket; before session 13 always Int32); category: Int32 index into its
 *    vocabulary, −1 when missing; multi: List<Int32> of vocabulary indices; number: Float64, the raw value. A
 *    missing text, multi or number value is null.
 *  - `item_feature_vocab.arrow`: the category and multi vocabularies, one row per value: `feature` utf8, `index`
 *    int32 (the code item_features.arrow stores), `value` utf8, `items` int32 (items having it).
 * item_features.arrow is written in record batches of FEATURE_BATCH_ROWS items, each gathered from the catalogue's
 * store when it is written (catalogue-build.ts ListSource), so the lists are never held twice.
 */
import { Bool, Field, Float64, Int32, List, RecordBatch, Schema, Struct, Uint16, Uint8, Utf8, makeData, type Data, type DataType } from 'apache-arrow';
import { utf8Data, writeBatches, type WrittenHashes } from './arrow-write.js';
import type { BuiltCatalogue, ListColumn } from './catalogue-build.js';
import type { CountArray, CountType } from './catalogue-store.js';
import type { FeatureSpec } from './catalogue-spec.js';

/** Items per record batch of item_features.arrow: about 40 MiB of lists for 10-word titles. */
export const FEATURE_BATCH_ROWS = 1 << 16;

export const IN_CATALOGUE_COLUMN = '#in_catalogue';
export const COUNTS_SUFFIX = '#counts';

function bits(flags: Uint8Array): { bitmap: Uint8Array; zeros: number } {
  const bitmap = new Uint8Array((flags.length + 7) >> 3);
  let zeros = 0;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] !== 0) bitmap[i >> 3] |= 1 << (i & 7);
    else zeros++;
  }
  return { bitmap, zeros };
}

type ListChild = Int32 | Uint16 | Uint8;

/** The Arrow type of a list's values: Int32 (buckets, codes), or a text's counts by their array (ListSource.countArray). */
function childType(kind: CountType): ListChild {
  return kind === 'uint8' ? new Uint8() : kind === 'uint16' ? new Uint16() : new Int32();
}

function listData(col: ListColumn, values: Int32Array | CountArray): Data<DataType> {
  const n = col.valid.length;
  const { bitmap, zeros } = bits(col.valid);
  const type = childType(values instanceof Uint8Array ? 'uint8' : values instanceof Uint16Array ? 'uint16' : 'int32');
  return makeData({
    type: new List(new Field('item', type, false)),
    length: n,
    nullCount: zeros,
    nullBitmap: bitmap,
    valueOffsets: col.offsets,
    child: makeData({ type, length: values.length, data: values }),
  });
}

/** The fields of item_features.arrow, in order. */
function featureFields(built: BuiltCatalogue, features: readonly FeatureSpec[]): Field[] {
  const list = (kind: CountType = 'int32'): List => new List(new Field('item', childType(kind), false));
  const fields: Field[] = [new Field(IN_CATALOGUE_COLUMN, new Bool(), false)];
  features.forEach((f, k) => {
    const col = built.columns[k];
    if (col.kind === 'text' || col.kind === 'multi') {
      fields.push(new Field(f.name, list(), true));
      if (col.kind === 'text' && col.list.withCounts) fields.push(new Field(`${f.name}${COUNTS_SUFFIX}`, list(col.list.countArray), true));
    } else if (col.kind === 'category') fields.push(new Field(f.name, new Int32(), false));
    else fields.push(new Field(f.name, new Float64(), true));
  });
  return fields;
}

/** The columns of items [from, to), in the order of featureFields. */
function featureBatch(built: BuiltCatalogue, from: number, to: number): Data<DataType>[] {
  const n = to - from;
  const data: Data<DataType>[] = [makeData({ type: new Bool(), length: n, data: bits(built.inCatalogue.subarray(from, to)).bitmap })];
  for (const col of built.columns) {
    if (col.kind === 'text' || col.kind === 'multi') {
      const list = col.list.slice(from, to);
      data.push(listData(list, list.values));
      if (list.counts !== null) data.push(listData(list, list.counts));
    } else if (col.kind === 'category') {
      data.push(makeData({ type: new Int32(), length: n, data: col.codes.subarray(from, to) }));
    } else {
      const values = col.values.subarray(from, to);
      const valid = new Uint8Array(n);
      for (let i = 0; i < n; i++) valid[i] = Number.isNaN(values[i]) ? 0 : 1;
      const { bitmap, zeros } = bits(valid);
      data.push(makeData({ type: new Float64(), length: n, nullCount: zeros, nullBitmap: bitmap, data: values }));
    }
  }
  return data;
}

/** `hashes` records the file's SHA-256 (writeBatches). */
export async function writeItemFeatures(path: string, built: BuiltCatalogue, features: readonly FeatureSpec[], hashes?: WrittenHashes): Promise<void> {
  const schema = new Schema(featureFields(built, features));
  function* batches(): Generator<RecordBatch> {
    // An empty catalogue still gets one (empty) batch, as before.
    for (let from = 0; from < built.items || from === 0; from += FEATURE_BATCH_ROWS) {
      const to = Math.min(built.items, from + FEATURE_BATCH_ROWS);
      yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: to - from, children: featureBatch(built, from, to) }));
    }
  }
  // Each batch's lists are gathered into one of two buffers (ListSource.slice) while the one before is written;
  // past one batch the file (430 MB for 1M titles) is hashed on the hash thread, not between the gathers.
  await writeBatches(path, batches(), { hashes, lookahead: true, hashThread: built.items > FEATURE_BATCH_ROWS });
}

export async function writeItemFeatureVocab(path: string, built: BuiltCatalogue, features: readonly FeatureSpec[], hashes?: WrittenHashes): Promise<void> {
  const names: string[] = [];
  const index: number[] = [];
  const values: string[] = [];
  const items: number[] = [];
  features.forEach((f, k) => {
    const v = built.vocabs[k];
    for (let j = 0; j < v.values.length; j++) {
      names.push(f.name);
      index.push(j);
      values.push(v.values[j]);
      items.push(v.items[j]);
    }
  });
  const schema = new Schema([
    new Field('feature', new Utf8(), false),
    new Field('index', new Int32(), false),
    new Field('value', new Utf8(), false),
    new Field('items', new Int32(), false),
  ]);
  const n = names.length;
  const children: Data<DataType>[] = [
    utf8Data(names),
    makeData({ type: new Int32(), length: n, data: Int32Array.from(index) }),
    utf8Data(values),
    makeData({ type: new Int32(), length: n, data: Int32Array.from(items) }),
  ];
  await writeBatches(path, [new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, children }))], { hashes });
}
