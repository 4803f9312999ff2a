/**
 * `queries.arrow` of a search log's dataset (docs/datasets.md#search-logs), one row per query index: `index` int32,
 * `text` utf8 (the query as read, control characters removed), `count` int32 (rows over all splits), `buckets`
 * List<Int32> and `bucket_counts` List<Int32>: the TextFeaturizer's distinct buckets ascending and the features in
 * each, hashed as the catalogue's text features are, so a query and a title share buckets.
 */
import { Field, Int32, List, RecordBatch, Schema, Struct, Utf8, makeData, type Data, type DataType } from 'apache-arrow';
import { featurizeColumn, type TextFeaturizer } from '../text.js';
import { BATCH_ROWS, utf8Data, writeBatches } from './arrow-write.js';

const listType = (): List => new List(new Field('item', new Int32(), false));

export const QUERY_SCHEMA = new Schema([
  new Field('index', new Int32(), false),
  new Field('text', new Utf8(), false),
  new Field('count', new Int32(), false),
  new Field('buckets', listType(), false),
  new Field('bucket_counts', listType(), false),
]);

function listData(offsets: Int32Array, values: Int32Array): Data<DataType> {
  return makeData({ type: listType(), length: offsets.length - 1, nullCount: 0, valueOffsets: offsets, child: makeData({ type: new Int32(), length: values.length, data: values }) });
}

/** Writes queries.arrow; `texts[k]` and `counts[k]` belong to query index k. */
export async function writeQueries(path: string, texts: readonly string[], counts: Int32Array, featurizer: TextFeaturizer): Promise<void> {
  const structType = new Struct(QUERY_SCHEMA.fields);
  function* batches(): Generator<RecordBatch> {
    const total = texts.length;
    for (let from = 0; from === 0 || from < total; from += BATCH_ROWS) {
      const n = Math.min(BATCH_ROWS, total - from);
      const slice = texts.slice(from, from + n);
      const col = featurizeColumn(slice, featurizer);
      const index = new Int32Array(n);
      for (let i = 0; i < n; i++) index[i] = from + i;
      const children: Data<DataType>[] = [
        makeData({ type: new Int32(), length: n, data: index }),
        utf8Data(slice),
        makeData({ type: new Int32(), length: n, data: counts.slice(from, from + n) }),
        listData(col.offsets, col.buckets),
        listData(col.offsets, col.counts),
      ];
      yield new RecordBatch(QUERY_SCHEMA, makeData({ type: structType, length: n, children }));
      if (total === 0) return;
    }
  }
  await writeBatches(path, batches());
}
