/**
 * Parquet inputs through hyparquet (pure JavaScript; snappy, gzip, brotli, zstd and lz4 through
 * hyparquet-compressors; docs/warehouse.md#choosing-the-reader has the numbers it was chosen by):
 * the footer gives the schema and row groups, and each row group's mapped columns are read on their
 * own, so a damaged column is named and memory holds one group at a time. Flat columns of the usual
 * kinds are decoded by parquet-flat.ts instead (no JS value per row), hyparquet reading the rest.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type ColumnMetaData, type FileMetaData, type SchemaElement, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from '../../util/errors.js';
import { ColumnReadError, type ColumnGroup, type ColumnInfo, type ColumnarFile, type TypeFamily } from './columnar.js';
import { FlatChunk, FlatKeys, flatEncodings, flatKind, type FlatKind, type FlatSlice } from './parquet-flat.js';
import { DAY_MS } from './timestamps.js';


/** Timestamps of every unit (and INT96) as epoch ms numbers, dates as the ms of their day: no Date object per value. */
const PARSERS = {
  timestampFromMilliseconds: (v: bigint): number => Number(v),
  timestampFromMicroseconds: (v: bigint): number => Math.floor(Number(v) / 1000),
  timestampFromNanoseconds: (v: bigint): number => Number(v / 1_000_000n),
  dateFromDays: (days: number): number => days * DAY_MS,
};

/**
 * Rows read at a time: a row group larger than this (Spark's 128 MB groups hold millions of rows)
 * is read in slices, so memory holds at most this many decoded rows of the mapped columns.
 */
const SLICE_ROWS = 1 << 18;
/** Byte ranges kept: each slice of a group asks for the same column chunks again. */
const CACHED_RANGES = 8;

/** The file as hyparquet's AsyncBuffer, one positioned read per range (the last few kept); a short read (truncated file) throws. */
function fileBuffer(handle: FileHandle, size: number): AsyncBuffer {
  const cache = new Map<string, ArrayBuffer>();
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const key = `${start}:${end ?? ''}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const out = await readRange(handle, size, start, end);
      cache.set(key, out);
      if (cache.size > CACHED_RANGES) cache.delete(cache.keys().next().value as string);
      return out;
    },
  };
}

async function readRange(handle: FileHandle, size: number, start: number, end: number | undefined): Promise<ArrayBuffer> {
  const stop = Math.min(end ?? size, size);
  const out = new ArrayBuffer(Math.max(0, stop - start));
  const view = new Uint8Array(out);
  let done = 0;
  while (done < view.length) {
    const { bytesRead } = await handle.read(view, done, view.length - done, start + done);
    if (bytesRead === 0) throw new Error(`the file ends at byte ${start + done}, before byte ${stop} that the footer points to`);
    done += bytesRead;
  }
  if ((end ?? size) > size) throw new Error(`the footer points to byte ${end}, past the end of the file (${size} bytes)`);
  return out;
}

function familyOf(el: SchemaElement, nested: boolean): TypeFamily {
  if (nested) return 'nested';
  const lt = el.logical_type?.type;
  const ct = el.converted_type;
  if (lt === 'TIMESTAMP' || ct === 'TIMESTAMP_MILLIS' || ct === 'TIMESTAMP_MICROS' || el.type === 'INT96') return 'timestamp';
  if (lt === 'DATE' || ct === 'DATE') return 'date';
  if (lt === 'DECIMAL' || ct === 'DECIMAL' || el.type === 'FLOAT' || el.type === 'DOUBLE') return 'float';
  if (el.type === 'INT32' || el.type === 'INT64') return 'integer';
  if (el.type === 'BOOLEAN') return 'boolean';
  if (el.type === 'BYTE_ARRAY') return lt === undefined || lt === 'STRING' || lt === 'ENUM' || lt === 'JSON' || ct === 'UTF8' || ct === 'ENUM' || ct === 'JSON' ? 'text' : 'binary';
  if (el.type === 'FIXED_LEN_BYTE_ARRAY') return 'binary';
  return 'other';
}

function labelOf(el: SchemaElement, nested: boolean): string {
  if (nested) return `a nested column (${el.logical_type?.type ?? el.converted_type ?? 'group'})`;
  const lt = el.logical_type;
  const extra = lt?.type === 'TIMESTAMP' ? `TIMESTAMP ${lt.unit}` : (lt?.type ?? el.converted_type);
  return `${el.type ?? 'group'}${extra !== undefined ? ` (${extra})` : ''}`;
}

function columnsOf(metadata: FileMetaData): ColumnInfo[] {
  const tree: SchemaTree = parquetSchema(metadata);
  return tree.children.map((c) => {
    const nested = c.children.length > 0 || c.element.repetition_type === 'REPEATED';
    return { name: c.element.name, family: familyOf(c.element, nested), label: labelOf(c.element, nested) };
  });
}

/** One column of rows [rowStart, rowEnd) as one array. */
async function readColumn(file: AsyncBuffer, metadata: FileMetaData, name: string, rowStart: number, rowEnd: number): Promise<ArrayLike<unknown>> {
  const parts: { start: number; data: ArrayLike<unknown> }[] = [];
  await parquetRead({
    file,
    metadata,
    columns: [name],
    rowStart,
    rowEnd,
    compressors,
    parsers: PARSERS,
    onChunk: (chunk) => {
      if (chunk.columnName === name) parts.push({ start: chunk.rowStart, data: chunk.columnData as ArrayLike<unknown> });
    },
  });
  const n = rowEnd - rowStart;
  if (parts.length === 1 && parts[0].start === rowStart && parts[0].data.length === n) return parts[0].data;
  // Pages decoded around the slice hold rows outside it: keep the slice's rows only.
  const out: unknown[] = new Array<unknown>(n);
  let filled = 0;
  for (const p of parts.sort((a, b) => a.start - b.start)) {
    for (let i = 0; i < p.data.length; i++) {
      const r = p.start + i;
      if (r >= rowStart && r < rowEnd) {
        out[r - rowStart] = p.data[i];
        filled++;
      }
    }
  }
  if (filled !== n) throw new Error(`its pages hold ${filled} of the ${n} rows ${rowStart + 1}..${rowEnd} the footer declares`);
  return out;
}

/** A row group's column chunk as the flat decoder reads it. */
interface FlatColumn {
  meta: ColumnMetaData;
  kind: FlatKind;
  optional: boolean;
  floatBytes: number;
}

/**
 * How the flat decoder (parquet-flat.ts) reads a row group's column, or null when the column needs
 * hyparquet: not top-level and flat, a type or encoding the decoder does not read, or
 * REC_PARQUET_READER=hyparquet (which keeps the general reader for every file, to compare the two).
 */
function flatColumn(metadata: FileMetaData, group: number, name: string): FlatColumn | null {
  if (process.env.REC_PARQUET_READER === 'hyparquet') return null;
  const top = parquetSchema(metadata).children.find((c) => c.element.name === name);
  const chunk = metadata.row_groups[group].columns.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === name);
  const meta = chunk?.meta_data;
  if (top === undefined || top.children.length > 0 || meta === undefined || chunk?.file_path !== undefined) return null;
  const rep = top.element.repetition_type;
  const kind = flatKind(top.element);
  if (kind === null || rep === 'REPEATED' || !flatEncodings(meta)) return null;
  return { meta, kind, optional: rep !== 'REQUIRED', floatBytes: top.element.type === 'FLOAT' ? 4 : 8 };
}

/** Reads a column chunk's bytes for the flat decoder, with the file's key table of that column. */
async function flatChunk(handle: FileHandle, size: number, col: FlatColumn, rows: number, keys: FlatKeys): Promise<FlatChunk> {
  const { meta } = col;
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  const bytes = new Uint8Array(await readRange(handle, size, start, start + Number(meta.total_compressed_size)));
  return new FlatChunk({ bytes, meta, kind: col.kind, optional: col.optional, floatBytes: col.floatBytes, rows, compressors, keys });
}

/** Rows the Parquet files hold, by their footers (0 for a file whose footer cannot be read: reading it says why). */
export async function parquetRowCount(paths: readonly string[]): Promise<number> {
  let rows = 0;
  for (const path of paths) {
    try {
      const handle = await open(path, 'r');
      try {
        const metadata = await parquetMetadataAsync(fileBuffer(handle, (await handle.stat()).size));
        rows += Number(metadata.num_rows);
      } finally {
        await handle.close();
      }
    } catch {
      // Reported with its file name when the file itself is read.
    }
  }
  return rows;
}

/**
 * Gives a DATE or DECIMAL that only its logical type declares the converted type too (writers since
 * Parquet 2.x may omit it): hyparquet converts days and scales by the converted type alone, so such a
 * column would otherwise read as raw day numbers (dates in January 1970) or unscaled integers (4.5 as 45).
 */
function withConvertedTypes(metadata: FileMetaData): FileMetaData {
  for (const el of metadata.schema) {
    if (el.converted_type !== undefined) continue;
    const lt = el.logical_type;
    if (lt?.type === 'DATE') el.converted_type = 'DATE';
    else if (lt?.type === 'DECIMAL') {
      el.converted_type = 'DECIMAL';
      el.scale = lt.scale;
      el.precision = lt.precision;
    }
  }
  return metadata;
}

/** Opens a Parquet file: its footer read and checked (DataError naming the file when it is not Parquet or is truncated). */
export async function openParquet(path: string): Promise<ColumnarFile> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const file = fileBuffer(handle, size);
    let metadata: FileMetaData;
    try {
      metadata = withConvertedTypes(await parquetMetadataAsync(file));
    } catch (error) {
      throw new DataError(`${path}: not a readable Parquet file (${(error as Error).message}). Expected a Parquet file ending in its footer and "PAR1"; it may be truncated or still being written.`, { cause: error });
    }
    const groups = metadata.row_groups.map((rg) => ({ rows: Number(rg.num_rows), bytes: Number(rg.total_compressed_size ?? rg.total_byte_size) }));
    const total = groups.reduce((a, g) => a + g.rows, 0);
    if (total !== Number(metadata.num_rows)) {
      throw new DataError(`${path}: the footer says ${metadata.num_rows} rows but its row groups hold ${total}. The file is damaged; nothing was written.`);
    }
    return {
      columns: columnsOf(metadata),
      rows: total,
      groupCount: groups.length,
      async *groups(): AsyncGenerator<ColumnGroup> {
        let start = 0;
        // One key table per column for the whole file, so that each row group does not grow its own again.
        const flatKeys = new Map<string, FlatKeys>();
        /** A group's chunks of the named columns for the flat decoder, or null when one of them needs hyparquet. */
        const openFlat = async (names: readonly string[], group: number, rows: number): Promise<Map<string, FlatChunk> | null> => {
          const cols = names.map((name) => flatColumn(metadata, group, name));
          if (cols.some((c) => c === null)) return null;
          const chunks = new Map<string, FlatChunk>();
          for (const [i, name] of names.entries()) {
            const col = cols[i] as FlatColumn;
            const keys = flatKeys.get(name) ?? new FlatKeys(col.kind, col.floatBytes);
            flatKeys.set(name, keys);
            try {
              chunks.set(name, await flatChunk(handle, size, col, rows, keys));
            } catch (error) {
              throw new ColumnReadError(name, error);
            }
          }
          return chunks;
        };
        for (const [k, g] of groups.entries()) {
          // The group's column chunks for the flat decoder, opened by the first slice, read on by the next;
          // null once any mapped column needs hyparquet (decided before a chunk is read, so none is read twice).
          let flat: Map<string, FlatChunk> | null | undefined;
          for (let from = 0; from < g.rows || (from === 0 && g.rows === 0); from += SLICE_ROWS) {
            const rowStart = start + from;
            const length = Math.min(SLICE_ROWS, g.rows - from);
            yield {
              name: `row group ${k}`,
              group: k,
              length,
              bytes: Math.round((g.bytes * length) / Math.max(1, g.rows)),
              read: async (names) => {
                const out = new Map<string, ArrayLike<unknown>>();
                for (const name of names) {
                  try {
                    out.set(name, await readColumn(file, metadata, name, rowStart, rowStart + length));
                  } catch (error) {
                    throw new ColumnReadError(name, error);
                  }
                }
                return out;
              },
              readFlat: async (names) => {
                if (flat === undefined) flat = await openFlat(names, k, g.rows);
                if (flat === null) return null;
                const out = new Map<string, FlatSlice>();
                for (const name of names) {
                  try {
                    out.set(name, (flat.get(name) as FlatChunk).take(length));
                  } catch (error) {
                    throw new ColumnReadError(name, error);
                  }
                }
                return out;
              },
            };
            if (g.rows === 0) break;
          }
          start += g.rows;
        }
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
