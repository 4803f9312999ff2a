/**
 * `rec prep --export-parquet` (docs/warehouse.md#writing-parquet): the splits as Parquet with raw
 * ids, for a warehouse to load without rec: `user`, `item` (strings), `value` (float), `ts`
 * (timestamp ms UTC, null without time), `seq` (int64), `event` (string, when the log has events).
 * Read back from the staged Arrow splits one record batch at a time, so memory holds one batch.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordBatchReader } from 'apache-arrow';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { PARQUET_EXPORT_FILES, SPLIT_FILES } from '../manifest.js';

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

function schema(events: boolean, hasTs: boolean): SchemaElement[] {
  const text = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'REQUIRED' });
  const cols: SchemaElement[] = [
    text('user'),
    text('item'),
    { name: 'value', type: 'FLOAT', repetition_type: 'REQUIRED' },
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type: hasTs ? 'REQUIRED' : 'OPTIONAL' },
    { name: 'seq', type: 'INT64', repetition_type: 'REQUIRED' },
  ];
  if (events) cols.push(text('event'));
  return [{ name: 'root', num_children: cols.length }, ...cols];
}

/** One split's Arrow file → its Parquet file, ids through the vocabularies. */
async function exportSplit(arrowPath: string, parquetPath: string, userIds: readonly string[], itemIds: readonly string[], events: boolean, hasTs: boolean): Promise<void> {
  const fw = fileWriter(parquetPath);
  const writer = new ParquetWriter({ writer: fw, schema: schema(events, hasTs), codec: 'SNAPPY', createdBy: 'rec prep' });
  const handle = await open(arrowPath, 'r');
  try {
    const reader = await RecordBatchReader.from(handle);
    for await (const batch of reader) {
      const n = batch.numRows;
      if (n === 0) continue;
      const u = batch.getChild('user')?.toArray() as Int32Array;
      const it = batch.getChild('item')?.toArray() as Int32Array;
      const value = batch.getChild('value')?.toArray() as Float32Array;
      const tsVec = batch.getChild('ts');
      const seq = batch.getChild('seq')?.toArray() as BigInt64Array;
      const ev = batch.getChild('event');
      const columnData = [
        { name: 'user', data: Array.from(u, (k) => userIds[k]) },
        { name: 'item', data: Array.from(it, (k) => itemIds[k]) },
        { name: 'value', data: value },
        { name: 'ts', data: Array.from({ length: n }, (_, i) => (hasTs ? (tsVec?.get(i) as bigint | null) : null)) },
        { name: 'seq', data: Array.from(seq) },
        ...(events && ev !== null ? [{ name: 'event', data: Array.from({ length: n }, (_, i) => ev.get(i) as string) }] : []),
      ];
      await writer.write({ columnData, rowGroupSize: n });
    }
  } finally {
    await handle.close();
  }
  await writer.finish();
}

/** Writes train/valid/test.parquet beside the staged Arrow splits in `dir`. */
export async function exportSplitsParquet(dir: string, userIds: readonly string[], itemIds: readonly string[], events: boolean, hasTs: boolean): Promise<void> {
  for (const name of ['train', 'valid', 'test'] as const) {
    await exportSplit(join(dir, SPLIT_FILES[name]), join(dir, PARQUET_EXPORT_FILES[`${name}_parquet`]), userIds, itemIds, events, hasTs);
  }
}
