/**
 * Arrow IPC inputs (the file format, Feather v2, and the stream format) through apache-arrow,
 * read one record batch at a time.
 */
import { open } from 'node:fs/promises';
import { DataType, RecordBatchReader, type Field, type RecordBatch } from 'apache-arrow';
import { DataError } from '../../util/errors.js';
import { ColumnReadError, type ColumnGroup, type ColumnInfo, type ColumnarFile, type TypeFamily } from './columnar.js';

function familyOf(type: DataType): TypeFamily {
  if (DataType.isDictionary(type)) return familyOf(type.dictionary);
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return 'text';
  if (DataType.isInt(type)) return 'integer';
  if (DataType.isFloat(type) || DataType.isDecimal(type)) return 'float';
  if (DataType.isBool(type)) return 'boolean';
  if (DataType.isTimestamp(type)) return 'timestamp';
  if (DataType.isDate(type)) return 'date';
  if (DataType.isList(type) || DataType.isStruct(type) || DataType.isMap(type) || DataType.isUnion(type) || DataType.isFixedSizeList(type)) return 'nested';
  if (DataType.isBinary(type) || DataType.isLargeBinary(type) || DataType.isFixedSizeBinary(type)) return 'binary';
  return 'other';
}

function columnOf(field: Field): ColumnInfo {
  const family = familyOf(field.type);
  return { name: field.name, family, label: family === 'nested' ? `a nested column (${String(field.type)})` : String(field.type) };
}

/** A batch's column as plain values: timestamps and dates as epoch ms, 64-bit integers as bigint, nulls as null. */
function valuesOf(batch: RecordBatch, name: string): unknown[] {
  const vec = batch.getChild(name);
  if (vec === null) throw new ColumnReadError(name, new Error('the column is missing from this record batch'));
  const out = new Array<unknown>(vec.length);
  for (let i = 0; i < vec.length; i++) {
    const v: unknown = vec.get(i);
    out[i] = v instanceof Date ? v.getTime() : v;
  }
  return out;
}

/** Opens an Arrow IPC file or stream; DataError naming the file when it is neither. */
export async function openArrowIpc(path: string): Promise<ColumnarFile> {
  const handle = await open(path, 'r');
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (error) {
      throw new DataError(`${path}: not a readable Arrow IPC file (${(error as Error).message}). Expected the Arrow IPC file format (Feather v2) or stream format.`, { cause: error });
    }
    const schema = reader.schema;
    const opened = reader;
    return {
      columns: schema.fields.map(columnOf),
      rows: null,
      async *groups(): AsyncGenerator<ColumnGroup> {
        let b = 0;
        for await (const batch of opened) {
          yield {
            name: `record batch ${b++}`,
            length: batch.numRows,
            bytes: 0,
            read: (names) => {
              const out = new Map<string, ArrayLike<unknown>>();
              for (const name of names) out.set(name, valuesOf(batch, name));
              return Promise.resolve(out);
            },
          };
        }
      },
      close: async () => {
        await opened.cancel();
        await handle.close();
      },
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
