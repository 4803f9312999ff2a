/**
 * Reading a typed, columnar input (Parquet, Arrow IPC) into the shared Ingest: columns by name
 * (Hive partition folders such as `dt=2024-06-01` as extra columns), one row group at a time, so
 * memory holds one group's columns beside the row store however large the file. Rows meet the same
 * checks, rejects and accounting as CSV rows (Ingest.acceptTyped); a row's `line` is its 1-based
 * row number in the file.
 */
import { DataError, UsageError } from '../../util/errors.js';
import type { ManifestSource } from '../manifest.js';
import { choosePlan, planRoles, type ColumnPlan } from './columns.js';
import type { ColumnContext } from './diagnose.js';
import type { Ingest, TypedRow } from './ingest.js';
import { partitionValues } from './inputs.js';
import type { ColumnRole } from './options.js';
import { FlatRole, type FlatSlice } from './parquet-flat.js';
import { fileDigest } from './source.js';
import type { ColumnsSpec, InputFormat } from './options.js';
import type { RejectSink } from './rejects.js';

/** What this module needs of read.ts's InputFile, ReadContext, ReadState and ReadOutcome (read.ts imports this one). */
export interface InputFile {
  path: string;
  role: 'log' | 'valid' | 'test';
  kind: { format: InputFormat };
}
export interface ReadContext {
  spec: ColumnsSpec | null;
  sink: RejectSink;
  warn: (msg: string) => void;
  bar: { update(done: number): void };
  bytesDone: number;
  /**
   * Rows the Parquet inputs not yet read hold, by their footers (columnarRowCount): the row store is
   * sized once for all of them instead of growing by half again file after file.
   */
  columnarRows?: number;
}
export interface ReadState {
  columns: ColumnContext | null;
}
export interface ReadOutcome {
  source: ManifestSource;
  from: number;
  to: number;
}

/** What a column's values are, as far as a role cares; `partition` is a Hive folder's value (text). */
export type TypeFamily = 'text' | 'integer' | 'float' | 'boolean' | 'timestamp' | 'date' | 'nested' | 'binary' | 'other' | 'partition';

export interface ColumnInfo {
  name: string;
  family: TypeFamily;
  /** The type as the format names it (`INT64 (TIMESTAMP MICROS)`, `Dictionary<Int32, Utf8>`), for messages. */
  label: string;
}

/** One row group (Parquet) or record batch (Arrow). */
export interface ColumnGroup {
  /** How errors name it: `row group 3` (a large one is read in slices, each named by its group), `record batch 2`. */
  name: string;
  length: number;
  /** Bytes of the file this group covers, for the progress bar. */
  bytes: number;
  /** The file's row group it is (or a slice of): Parquet's reader threads take a file's row groups in turn. */
  group?: number;
  /** The named columns' values, `length` each; throws ColumnReadError naming the column. */
  read(names: readonly string[]): Promise<Map<string, ArrayLike<unknown>>>;
  /**
   * The named columns as slices of rec's own decoder (parquet-flat.ts), or null when one of them
   * needs `read`; absent for formats without one. Throws ColumnReadError naming the column.
   * `ids`: which of them are id columns (a reader thread numbers their ids: FlatSlice.local).
   */
  readFlat?(names: readonly string[], ids: readonly string[]): Promise<Map<string, FlatSlice> | null>;
}

export interface ColumnarFile {
  columns: ColumnInfo[];
  /** Rows the file says it holds (null when only reading it tells, as for an Arrow stream). */
  rows: number | null;
  /** Row groups in the file (Parquet). */
  groupCount?: number;
  groups(): AsyncIterable<ColumnGroup>;
  close(): Promise<void>;
}

/** A failure decoding one column of a group: the message names the column. */
export class ColumnReadError extends Error {
  readonly column: string;
  constructor(column: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.column = column;
  }
}

const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';
const USABLE: ReadonlySet<TypeFamily> = new Set(['text', 'integer', 'float', 'boolean', 'timestamp', 'date', 'partition']);

/** Families that hold the same kind of value: ids stay ids, times stay times. */
function sameKind(a: TypeFamily, b: TypeFamily): boolean {
  const k = (f: TypeFamily): string => (f === 'partition' ? 'text' : f === 'date' ? 'timestamp' : f);
  return k(a) === k(b);
}

/** Each mapped role's column in the first columnar file, which every later file must match (by name and kind). */
const firstColumns = new WeakMap<ReadState, { file: string; byRole: Map<ColumnRole, ColumnInfo> }>();

/** The columns of the file, then its partition keys that the file does not hold itself. */
function headerOf(file: InputFile, columns: readonly ColumnInfo[]): { header: ColumnInfo[]; partitions: Map<string, string | null> } {
  const header = [...columns];
  const partitions = new Map<string, string | null>();
  for (const [key, value] of partitionValues(file.path)) {
    if (columns.some((c) => c.name === key)) continue;
    partitions.set(key, value === HIVE_NULL ? null : value);
    header.push({ name: key, family: 'partition', label: `partition folder ${key}=` });
  }
  return { header, partitions };
}

/** The file's plan: --columns, or names the first file used, or guessed from the names. */
function planColumns(file: InputFile, header: readonly ColumnInfo[], ctx: ReadContext, state: ReadState): ColumnPlan {
  const names = header.map((c) => c.name);
  const first = firstColumns.get(state);
  if (first !== undefined) {
    const plan: ColumnPlan = { user: -1, item: -1, rating: -1, event: -1, ts: -1, query: -1 };
    for (const [role, col] of first.byRole) {
      const idx = names.indexOf(col.name);
      if (idx < 0) {
        throw new DataError(
          `${file.path} has no column ${JSON.stringify(col.name)} (the ${role} column of ${first.file}): the schema changed between inputs. Its columns: ${names.join(', ')}. Expected every file and partition to hold the mapped columns; rewrite this one or leave it out.`,
        );
      }
      plan[role] = idx;
    }
    return plan;
  }
  const choice = choosePlan(ctx.spec, names, names.length, file.path);
  if (choice.plan.query >= 0) {
    throw new UsageError(`${file.path}: a search log (--columns query=…) is read from CSV, TSV or JSONL for now, not from Parquet or Arrow. Export it as CSV, e.g. in DuckDB: COPY (SELECT * FROM '${file.path}') TO 'searches.csv' (HEADER).`);
  }
  if (choice.source === 'position') {
    throw new UsageError(`${file.path}: cannot tell the user and item columns from the names ${names.join(', ')}. Expected --columns user=NAME,item=NAME[,rating=NAME][,event=NAME][,ts=NAME].`);
  }
  return choice.plan;
}

/** Refuses a mapped column rec cannot read (nested, binary), or one whose kind differs from the first file's. */
function checkTypes(file: InputFile, plan: ColumnPlan, header: readonly ColumnInfo[], state: ReadState): Map<ColumnRole, ColumnInfo> {
  const byRole = new Map<ColumnRole, ColumnInfo>();
  const first = firstColumns.get(state);
  for (const role of planRoles(plan)) {
    const col = header[plan[role]];
    if (!USABLE.has(col.family)) {
      throw new DataError(`${file.path}: the ${role} column ${JSON.stringify(col.name)} is ${col.label}, which rec cannot read as a ${role}. Expected a flat column (text, integer, float or timestamp); flatten it in the warehouse (e.g. DuckDB UNNEST or a struct field).`);
    }
    const was = first?.byRole.get(role);
    if (was !== undefined && !sameKind(was.family, col.family)) {
      throw new DataError(
        `${file.path}: the ${role} column ${JSON.stringify(col.name)} is ${col.label}, but in ${first?.file} it is ${was.label}: the type changed between inputs, so the same ${role} could read as two. Expected one type in every file; cast it in the warehouse (e.g. CAST(${col.name} AS VARCHAR)).`,
      );
    }
    byRole.set(role, col);
  }
  return byRole;
}

/**
 * The mapped values of a row as JSON text, for rejects.jsonl. An INT64 integer column's value is
 * written as its decimal text (hyparquet gives a bigint; the flat decoder a number while exact).
 */
function rawRow(names: readonly [ColumnRole, string, boolean][], row: TypedRow): string {
  const obj: Record<string, unknown> = {};
  for (const [role, name, int64] of names) {
    const v = row[role];
    obj[name] = typeof v === 'bigint' || (int64 && typeof v === 'number') ? String(v) : v === undefined ? null : v;
  }
  return JSON.stringify(obj);
}

interface RoleSource {
  role: ColumnRole;
  name: string;
  /** A partition value (the same for every row of the file), or undefined for a file column. */
  constant: string | null | undefined;
  /** An INT64 integer column (its values bigints, or numbers while exact). */
  int64: boolean;
}

export interface ColumnarHooks {
  /** Makes (first file) or checks the run's Ingest. */
  ingestFor: (plan: ColumnPlan) => Ingest;
  /** The error to stop with once a signal arrived, else null. */
  aborted: () => Error | null;
}

/** Reads one columnar input into the shared Ingest. */
export async function readColumnarInput(
  file: InputFile,
  open: (path: string) => Promise<ColumnarFile>,
  ctx: ReadContext,
  state: ReadState,
  hooks: ColumnarHooks,
): Promise<ReadOutcome> {
  const src = await open(file.path);
  try {
    const { header, partitions } = headerOf(file, src.columns);
    const plan = planColumns(file, header, ctx, state);
    const byRole = checkTypes(file, plan, header, state);
    const columns: ColumnContext = { file: file.path, plan, source: ctx.spec !== null ? 'columns' : 'header', profiles: [], header: header.map((c) => c.name), labels: {} };
    for (const [role, col] of byRole) columns.labels[role] = `column ${JSON.stringify(col.name)} (${col.label})`;
    state.columns ??= columns;
    const ing = hooks.ingestFor(plan);
    if (!firstColumns.has(state)) firstColumns.set(state, { file: file.path, byRole });
    ing.beginFile({ file: file.path, plan, columnCount: 0 });
    const from = ing.store.length;
    const left = ctx.columnarRows ?? 0;
    if (left > 0 || src.rows !== null) ing.store.reserve(Math.max(left, src.rows ?? 0));
    const sources: RoleSource[] = [...byRole].map(([role, col]) => ({
      role,
      name: col.name,
      constant: col.family === 'partition' ? (partitions.get(col.name) ?? null) : undefined,
      int64: col.family === 'integer' && col.label.startsWith('INT64'),
    }));
    const tsCol = byRole.get('ts');
    const tsMs = tsCol !== undefined && (tsCol.family === 'timestamp' || tsCol.family === 'date');
    // Hashed meanwhile, off this thread (the manifest records it).
    const digesting = fileDigest(file.path);
    digesting.catch(() => undefined);
    const rows = await readGroups(file, src, { sources, tsMs, aborted: hooks.aborted }, ing, ctx);
    await ctx.sink.flush();
    if (ctx.columnarRows !== undefined) ctx.columnarRows = Math.max(0, ctx.columnarRows - rows);
    if (rows === 0) ctx.warn(`${file.path} has no rows (an empty partition); nothing was read from it.`);
    const digest = await digesting;
    const counts = ing.fileCounts();
    const sourceCols: Record<string, string> = {};
    for (const s of sources) sourceCols[s.role] = s.name;
    const source: ManifestSource = {
      path: file.path,
      role: file.role,
      bytes: digest.bytes,
      sha256: digest.sha256,
      content_sha256: digest.content_sha256,
      gzip: false,
      format: file.kind.format,
      delimiter: null,
      header: null,
      columns: sourceCols,
      rows_read: counts.read,
      rejected: counts.rejected,
    };
    return { source, from, to: ing.store.length };
  } finally {
    await src.close();
  }
}

/**
 * One group's rows into the Ingest: each role's column read into the shared row (partition values
 * stay as set), one role at a time rather than a loop over roles, which keeps the per-row path monomorphic.
 */
function feedRows(ing: Ingest, row: TypedRow, cols: Partial<Record<ColumnRole, ArrayLike<unknown>>>, at: { n: number; offset: number; tsMs: boolean; raw: () => string }): void {
  const { user, item, rating, event, ts } = cols;
  const { n, offset, tsMs, raw } = at;
  for (let i = 0; i < n; i++) {
    if (user !== undefined) row.user = user[i];
    if (item !== undefined) row.item = item[i];
    if (rating !== undefined) row.rating = rating[i];
    if (event !== undefined) row.event = event[i];
    if (ts !== undefined) row.ts = ts[i];
    ing.acceptTyped(row, tsMs, offset + i + 1, raw);
  }
}

/** A group's columns by role, each checked to hold the group's rows. */
function groupColumns(file: InputFile, group: ColumnGroup, sources: readonly RoleSource[], data: Map<string, ArrayLike<unknown>>): Partial<Record<ColumnRole, ArrayLike<unknown>>> {
  const cols: Partial<Record<ColumnRole, ArrayLike<unknown>>> = {};
  for (const s of sources) {
    if (s.constant !== undefined) continue;
    const values = data.get(s.name) as ArrayLike<unknown>;
    if (values.length !== group.length) {
      throw new DataError(`${file.path}: ${group.name}, column ${JSON.stringify(s.name)} holds ${values.length} values, but the footer says ${group.length} rows. The file is damaged or its footer is wrong; nothing was written.`);
    }
    cols[s.role] = values;
  }
  return cols;
}

/**
 * feedRows for the flat decoder's slices: each role's FlatRole gives the row's value (parquet-flat.ts).
 * When every role is a file column (`keyed`), Ingest reads the rows it can from their keys and asks
 * for the rest as values.
 */
function feedFlat(ing: Ingest, row: TypedRow, cols: Partial<Record<ColumnRole, FlatRole>>, at: { n: number; offset: number; tsMs: boolean; raw: () => string; keyed: boolean }): void {
  const { user, item, rating, event, ts } = cols;
  const { n, offset, tsMs, raw } = at;
  const typed = (i: number): void => {
    if (user !== undefined) row.user = user.valueAt(i);
    if (item !== undefined) row.item = item.valueAt(i);
    if (rating !== undefined) row.rating = rating.valueAt(i);
    if (event !== undefined) row.event = event.valueAt(i);
    if (ts !== undefined) row.ts = ts.valueAt(i);
    ing.acceptTyped(row, tsMs, offset + i + 1, raw);
  };
  if (at.keyed && user !== undefined && item !== undefined) {
    ing.acceptKeyed({ user, item, rating, event, ts }, n, tsMs, typed);
    return;
  }
  for (let i = 0; i < n; i++) typed(i);
}

/** The groups of a file; a failure to frame the next one (a truncated Arrow stream) is a DataError naming the file and where. */
async function* damagedAfter(file: InputFile, groups: AsyncIterable<ColumnGroup>, rowsRead: () => number): AsyncGenerator<ColumnGroup> {
  const it = groups[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<ColumnGroup>;
    try {
      next = await it.next();
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError(`${file.path}: cannot read past row ${rowsRead()} (${(error as Error).message}). The file is damaged or truncated; nothing was written.`, { cause: error });
    }
    if (next.done === true) return;
    yield next.value;
  }
}

/** Every group's rows into the Ingest; returns the rows read. */
async function readGroups(file: InputFile, src: ColumnarFile, how: { sources: readonly RoleSource[]; tsMs: boolean; aborted: () => Error | null }, ing: Ingest, ctx: ReadContext): Promise<number> {
  const { sources, tsMs } = how;
  const fileCols = [...new Set(sources.filter((s) => s.constant === undefined).map((s) => s.name))];
  // Two names (--columns refuses one column as both user and item), as the reader thread keeps one map of ids a column.
  const idCols = sources.filter((s) => s.constant === undefined && (s.role === 'user' || s.role === 'item')).map((s) => s.name);
  const named: [ColumnRole, string, boolean][] = sources.map((s) => [s.role, s.name, s.int64]);
  const row: TypedRow = { user: undefined, item: undefined, rating: undefined, event: undefined, ts: undefined, query: undefined };
  for (const s of sources) if (s.constant !== undefined) row[s.role] = s.constant;
  // Called only for a reject, on the row being read (one function, not one per row).
  const raw = (): string => rawRow(named, row);
  let offset = 0;
  let g = 0;
  // Partition values are strings in the shared row, so acceptKeyed (file columns' keys only) is for files without them.
  const keyed = sources.every((s) => s.constant === undefined && s.role !== 'query');
  const flatRoles: Partial<Record<ColumnRole, FlatRole>> = {};
  for (const s of sources) if (s.constant === undefined) flatRoles[s.role] = new FlatRole(s.role === 'user' || s.role === 'item');
  for await (const group of damagedAfter(file, src.groups(), () => offset)) {
    let data: Map<string, ArrayLike<unknown>> | null = null;
    let flat: Map<string, FlatSlice> | null;
    try {
      flat = group.readFlat !== undefined ? await group.readFlat(fileCols, idCols) : null;
      if (flat === null) data = await group.read(fileCols);
    } catch (error) {
      const col = error instanceof ColumnReadError ? `, column ${JSON.stringify(error.column)}` : '';
      throw new DataError(`${file.path}: ${group.name} (rows ${offset + 1}..${offset + group.length})${col} cannot be read (${(error as Error).message}). The file is damaged, truncated or its footer is wrong; nothing was written.`, { cause: error });
    }
    const at = { n: group.length, offset, tsMs, raw, keyed };
    if (flat !== null) {
      for (const s of sources) if (s.constant === undefined) flatRoles[s.role]?.set(flat.get(s.name) as FlatSlice);
      feedFlat(ing, row, flatRoles, at);
    } else {
      feedRows(ing, row, groupColumns(file, group, sources, data as Map<string, ArrayLike<unknown>>), at);
    }
    offset += group.length;
    g++;
    ctx.bytesDone += group.bytes;
    ctx.bar.update(ctx.bytesDone);
    if (ctx.sink.pendingBytes > 1 << 16) await ctx.sink.flush();
    const stop = how.aborted();
    if (stop !== null) throw stop;
  }
  return offset;
}
