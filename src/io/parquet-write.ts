/**
 * Parquet output through hyparquet-writer (snappy): Arrow record batches become row groups with the
 * same column names and types (utf8 → STRING, int32 → INT32, int64 → INT64, float32 → FLOAT,
 * float64 → DOUBLE, bool → BOOLEAN, timestamp → TIMESTAMP ms, dictionary<utf8> → STRING), so a
 * warehouse loads rec's Parquet exactly as it loads rec's Arrow files.
 */
import { DataType, type Field, type RecordBatch, type Schema } from 'apache-arrow';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';

type Writer = ReturnType<typeof fileWriter>;
type ColumnData = Parameters<ParquetWriter['write']>[0]['columnData'];
/** hyparquet-writer's own SchemaElement (it bundles its own hyparquet types). */
type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

function elementOf(field: Field): SchemaElement {
  const t = field.type;
  const repetition_type = field.nullable ? 'OPTIONAL' : 'REQUIRED';
  const name = field.name;
  if (DataType.isUtf8(t) || DataType.isLargeUtf8(t) || (DataType.isDictionary(t) && DataType.isUtf8(t.dictionary))) {
    return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type };
  }
  if (DataType.isInt(t)) return t.bitWidth === 64 ? { name, type: 'INT64', repetition_type } : { name, type: 'INT32', repetition_type };
  if (DataType.isFloat(t)) return { name, type: t.precision === 2 ? 'DOUBLE' : 'FLOAT', repetition_type };
  if (DataType.isBool(t)) return { name, type: 'BOOLEAN', repetition_type };
  if (DataType.isTimestamp(t)) {
    return { name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type };
  }
  throw new Error(`Internal error: no Parquet type for the Arrow column ${name} (${String(t)}). Please report this.`);
}

/** The Parquet schema of an Arrow schema (root first, flat columns). */
export function parquetSchemaOf(schema: Schema): SchemaElement[] {
  return [{ name: 'root', num_children: schema.fields.length }, ...schema.fields.map(elementOf)];
}

/** A batch's columns as the writer takes them: int64 and timestamps as bigint, the rest as JS values. */
function columnsOf(batch: RecordBatch): ColumnData {
  return batch.schema.fields.map((field, k) => {
    const vec = batch.getChildAt(k);
    const t = field.type;
    const n = batch.numRows;
    let data: unknown[] | ArrayLike<unknown>;
    if (vec === null) data = new Array<null>(n).fill(null);
    else if (DataType.isTimestamp(t)) data = Array.from({ length: n }, (_, i) => (vec.get(i) === null ? null : BigInt(Math.round(vec.get(i) as number))));
    else if (DataType.isInt(t) && t.bitWidth === 64) data = Array.from({ length: n }, (_, i) => vec.get(i) as bigint | null);
    else if ((DataType.isInt(t) || DataType.isFloat(t)) && vec.nullCount === 0) data = vec.toArray() as ArrayLike<unknown>;
    else data = Array.from({ length: n }, (_, i) => vec.get(i) as unknown);
    return { name: field.name, data: data as ColumnData[number]['data'] };
  });
}

/** Writes record batches of one schema to a Parquet file at `path` (created or truncated), one row group per batch. */
export class ParquetBatchWriter {
  private readonly writer: Writer;
  private readonly pq: ParquetWriter;

  constructor(path: string, schema: Schema) {
    this.writer = fileWriter(path);
    this.pq = new ParquetWriter({ writer: this.writer, schema: parquetSchemaOf(schema), codec: 'SNAPPY', createdBy: 'rec' });
  }

  async write(batch: RecordBatch): Promise<void> {
    if (batch.numRows === 0) return;
    await this.pq.write({ columnData: columnsOf(batch), rowGroupSize: batch.numRows });
  }

  async finish(): Promise<void> {
    await this.pq.finish();
  }
}
