/**
 * Reads a dataset folder written by `rec prep` (docs/design.md#the-dataset-folder) into typed arrays for training and
 * evaluation. Independent of TF.js. Timestamps come back as float64 epoch ms (exact below 2^53).
 */
import { tableFromIPC, type Table, type Vector } from 'apache-arrow';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { findSetAsideCopy, linkTarget, pathExists, restoreMissingDir } from '../io/atomic.js';
import { acquireLockFile, describeHolder, lockPathBeside, readLockFile } from '../io/lock.js';
import { DataError, describeValue, UsageError } from '../util/errors.js';
import { checkDatasetRows, verifyFileHash } from './dataset-check.js';
import type { Dataset, Queries, SplitData, Vocab } from './dataset-types.js';
import { listFeature } from './item-features.js';
import { checkManifestShape } from './manifest-shape.js';
import { CATALOGUE_FILES, DATASET_FORMAT_VERSION, MANIFEST_FILE, REJECTS_FILE, SEARCH_FILES, SPLIT_FILES, VOCAB_FILES, type DatasetManifest, type ManifestSearch } from './manifest.js';

export type { Dataset, Queries, SplitData, SplitName, Vocab } from './dataset-types.js';

/** One Arrow file of a dataset; `sha256`, when the manifest records it, must match its bytes. */
async function readTable(dir: string, file: string, sha256?: string): Promise<Table> {
  const path = join(dir, file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataError(`Dataset ${dir} is incomplete: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}). Re-run rec prep.`, { cause: error });
  }
  if (sha256 !== undefined) verifyFileHash(dir, file, bytes, sha256);
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new DataError(`Dataset file ${path} is not a readable Arrow IPC file (${(error as Error).message}). Re-run rec prep.`, { cause: error });
  }
}

function column(table: Table, name: string, path: string): Vector {
  const v = table.getChild(name);
  if (!v) throw new DataError(`Dataset file ${path} has no column "${name}". Expected the columns of a dataset folder (docs/design.md#the-dataset-folder); re-run rec prep.`);
  return v;
}

/** int64 column → float64 (NaN where null), from the little-endian words, without BigInt. */
function int64Column(v: Vector): Float64Array {
  const out = new Float64Array(v.length);
  let at = 0;
  for (const d of v.data) {
    const words = d.values as unknown as BigInt64Array;
    const w = new Int32Array(words.buffer, words.byteOffset, d.length * 2);
    const validity = d.nullCount > 0 ? d.nullBitmap : null;
    for (let i = 0; i < d.length; i++) {
      const j = d.offset + i;
      if (validity && !(validity[j >> 3] & (1 << (j & 7)))) out[at + i] = Number.NaN;
      else out[at + i] = w[2 * i + 1] * 4294967296 + (w[2 * i] >>> 0);
    }
    at += d.length;
  }
  return out;
}

function typed<T extends Int32Array | Float32Array>(v: Vector, ctor: new (n: number) => T): T {
  const out = new ctor(v.length);
  let at = 0;
  for (const d of v.data) {
    out.set((d.values as unknown as T).subarray(0, d.length) as T, at);
    at += d.length;
  }
  return out;
}

function splitData(table: Table, path: string, hasTs: boolean, hasEvents: boolean, search: ManifestSearch | null): SplitData {
  const events = hasEvents ? column(table, 'event', path) : null;
  let codes: Int32Array | null = null;
  if (events) {
    codes = new Int32Array(events.length);
    let at = 0;
    for (const d of events.data) {
      codes.set((d.values as Int32Array).subarray(0, d.length), at);
      at += d.length;
    }
  }
  const users = typed(column(table, 'user', path), Int32Array);
  // An anonymous search log's user column is all null: -1 in memory, whatever the null slots hold.
  if (search?.anonymous === true) users.fill(-1);
  return {
    length: table.numRows,
    users,
    items: typed(column(table, 'item', path), Int32Array),
    values: typed(column(table, 'value', path), Float32Array),
    ts: hasTs ? int64Column(column(table, 'ts', path)) : null,
    seq: int64Column(column(table, 'seq', path)),
    events: codes,
    queries: search !== null ? typed(column(table, 'query', path), Int32Array) : null,
  };
}

/** queries.arrow: one row per query index, its text, row count and TextFeaturizer features. */
function queriesOf(table: Table, path: string, search: ManifestSearch): Queries {
  const textVec = column(table, 'text', path);
  const texts: string[] = new Array<string>(textVec.length);
  let k = 0;
  for (const d of textVec.data) {
    const offsets = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < d.length; i++) texts[k++] = buf.toString('utf8', offsets[d.offset + i], offsets[d.offset + i + 1]);
  }
  const index = typed(column(table, 'index', path), Int32Array);
  for (let i = 0; i < index.length; i++) {
    if (index[i] !== i) throw new DataError(`Dataset file ${path} row ${i + 1} has index ${index[i]}, expected ${i}. Re-run rec prep.`);
  }
  const buckets = listFeature(column(table, 'buckets', path));
  const bucketCounts = listFeature(column(table, 'bucket_counts', path)).values;
  const nb = search.text_featurizer.num_buckets;
  for (let i = 0; i < buckets.values.length; i++) {
    if (buckets.values[i] < 0 || buckets.values[i] >= nb) throw new DataError(`Dataset file ${path} holds the bucket ${buckets.values[i]}, outside 0..${nb - 1}. Re-run rec prep.`);
  }
  if (bucketCounts.length !== buckets.values.length || texts.length !== search.queries) {
    throw new DataError(`Dataset file ${path} is inconsistent (${texts.length} queries, the manifest says ${search.queries}; ${buckets.values.length} buckets, ${bucketCounts.length} counts). Re-run rec prep.`);
  }
  const { hash, ...rest } = search.text_featurizer;
  return { texts, buckets, bucketCounts, counts: typed(column(table, 'count', path), Int32Array), spec: { ...rest, hash: hash as 'murmur3_x86_32' } };
}

function vocab(table: Table, path: string): Vocab {
  const idVec = column(table, 'id', path);
  const ids: string[] = new Array<string>(idVec.length);
  let k = 0;
  for (const d of idVec.data) {
    const offsets = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < d.length; i++) ids[k++] = buf.toString('utf8', offsets[d.offset + i], offsets[d.offset + i + 1]);
  }
  const index = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) index.set(ids[i], i);
  return {
    ids,
    counts: typed(column(table, 'count', path), Int32Array),
    firstTs: int64Column(column(table, 'first_ts', path)),
    lastTs: int64Column(column(table, 'last_ts', path)),
    index,
    lookup: (id: string) => index.get(id) ?? -1,
  };
}

/** Reads one vocabulary file: a dataset's users.arrow / items.arrow, or their copies in a checkpoint's vocab/. */
export async function readVocabFile(path: string): Promise<Vocab> {
  return vocab(await readTable(dirname(path), basename(path)), path);
}

/** [min, max] of a split's values (the train rating range rmse/mae clip to); [0, 0] when empty. */
export function valueRange(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  return values.length ? [lo, hi] : [0, 0];
}

const DATASET_FILES = [...Object.values(SPLIT_FILES), ...Object.values(VOCAB_FILES), REJECTS_FILE, MANIFEST_FILE];

/** Whether `dir` holds every file rec prep writes: a set-aside copy is put back only when whole. */
export async function isCompleteDataset(dir: string): Promise<boolean> {
  try {
    const names = new Set(await readdir(dir));
    return DATASET_FILES.every((n) => names.has(n));
  } catch {
    return false;
  }
}

/**
 * Puts back a dataset folder that is absent because a `rec prep` was killed between the two
 * renames of its swap (old folder set aside, new one not yet in place; see docs/datasets.md), so a
 * reader finds the folder instead of "not a dataset". Takes the folder's lock (the one prep holds
 * while writing it) for the rename. Returns the copy put back, or null when there is none or the
 * lock cannot be written here (a read-only disk: the usual "missing" error follows).
 */
export async function restoreAbsentDataset(path: string): Promise<string | null> {
  const dir = await linkTarget(path);
  if ((await findSetAsideCopy(dir, MANIFEST_FILE, isCompleteDataset)) === null) return null;
  const lockPath = lockPathBeside(dir);
  let lock;
  try {
    lock = await acquireLockFile(lockPath, 'rec (restoring a dataset)', dir);
  } catch (error) {
    if (!(error instanceof UsageError)) return null;
    const holder = await readLockFile(lockPath);
    throw new DataError(
      `${dir} is missing while ${holder !== null ? describeHolder(holder) : 'another rec process'} writes it (it holds ${lockPath}). Run again once that process has finished.`,
      { cause: error },
    );
  }
  try {
    return await restoreMissingDir(dir, MANIFEST_FILE, isCompleteDataset);
  } finally {
    await lock.release();
  }
}

/** Whether a dataset path exists, after putting back a folder a killed prep left absent (restoreAbsentDataset). */
export async function datasetPathExists(path: string): Promise<boolean> {
  return (await pathExists(path)) || (await restoreAbsentDataset(path)) !== null;
}

/** The manifest's bytes; a folder missing after a killed prep is restored first (restoreAbsentDataset). */
async function readManifestBytes(dir: string): Promise<Buffer> {
  const path = join(dir, MANIFEST_FILE);
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || (await restoreAbsentDataset(dir)) === null) throw error;
    return readFile(path);
  }
}

/** SHA-256 of a dataset's manifest.json: what checkpoints and eval files record to name their data. */
export async function manifestSha256(dir: string): Promise<string> {
  return createHash('sha256').update(await readManifestBytes(dir)).digest('hex');
}

const INSIDE_MAX_ENTRIES = 1000;
const INSIDE_MAX_SHOWN = 5;

/**
 * Dataset folders (with a manifest.json) directly inside `dir`, by name: `--data data` where data/
 * holds data/ml100k. Looks at the first INSIDE_MAX_ENTRIES entries, so a huge folder stays quick.
 */
export async function datasetsInside(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).slice(0, INSIDE_MAX_ENTRIES).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    try {
      if ((await stat(join(dir, name, MANIFEST_FILE))).isFile()) out.push(join(dir, name));
    } catch {
      // Not a folder, or no manifest in it.
    }
    if (out.length >= INSIDE_MAX_SHOWN) break;
  }
  return out;
}

/** ` It holds the dataset folder D: did you mean D?`, or '' when `inside` is empty. */
export function datasetsInsideHint(inside: readonly string[]): string {
  if (inside.length === 0) return '';
  return ` It holds the dataset folder${inside.length === 1 ? '' : 's'} ${inside.join(', ')}: did you mean ${inside.length === 1 ? inside[0] : 'one of them'}?`;
}

export async function readManifest(dir: string): Promise<DatasetManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = (await readManifestBytes(dir)).toString('utf8');
  } catch (error) {
    if (error instanceof DataError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new DataError(`Cannot read ${path} (${code ?? String(error)}).`, { cause: error });
    const hint = datasetsInsideHint(await datasetsInside(dir));
    throw new DataError(
      // Never suggest `--out ${dir}`: the folder may hold the user's raw logs.
      `${dir} is not a dataset folder: ${MANIFEST_FILE} is missing.${hint} Expected a folder written by rec prep (rec prep LOG... --out NEW_DIR, into a new folder, not the one holding the logs).`,
      { cause: error },
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${path} is not valid JSON (${(error as Error).message}). Re-run rec prep.`, { cause: error });
  }
  const m = manifest as Partial<DatasetManifest> | null;
  if (!m || typeof m !== 'object' || typeof m.format_version !== 'number') {
    throw new DataError(`${path} has no format_version. Expected a manifest written by rec prep; re-run rec prep.`);
  }
  if (m.format_version !== DATASET_FORMAT_VERSION) {
    throw new DataError(
      `Dataset ${dir} has format_version ${describeValue(m.format_version)}; this rec reads format_version ${DATASET_FORMAT_VERSION}. Re-run rec prep with this version of rec.`,
    );
  }
  return checkManifestShape(m, path);
}

/**
 * Reads a dataset and checks it before anyone uses it: each file against the sha256 the manifest
 * records (datasets written before it was recorded have only the structural checks), the row
 * counts against the manifest, and the rows' structure (dataset-check.ts).
 */

export async function loadDataset(dir: string): Promise<Dataset> {
  const manifest = await readManifest(dir);
  const hasTs = manifest.time.has_ts;
  const hasEvents = Array.isArray(manifest.events);
  const sha = manifest.files_sha256;
  const search = manifest.search ?? null;
  const [train, valid, test, users, items, queries] = await Promise.all([
    readTable(dir, SPLIT_FILES.train, sha?.train),
    readTable(dir, SPLIT_FILES.valid, sha?.valid),
    readTable(dir, SPLIT_FILES.test, sha?.test),
    readTable(dir, VOCAB_FILES.users, sha?.users),
    readTable(dir, VOCAB_FILES.items, sha?.items),
    search !== null ? readTable(dir, SEARCH_FILES.queries, sha?.queries) : null,
  ]);
  const ds: Dataset = {
    dir,
    manifest,
    train: splitData(train, join(dir, SPLIT_FILES.train), hasTs, hasEvents, search),
    valid: splitData(valid, join(dir, SPLIT_FILES.valid), hasTs, hasEvents, search),
    test: splitData(test, join(dir, SPLIT_FILES.test), hasTs, hasEvents, search),
    users: vocab(users, join(dir, VOCAB_FILES.users)),
    items: vocab(items, join(dir, VOCAB_FILES.items)),
    eventNames: manifest.events ?? null,
    queries: search !== null && queries !== null ? queriesOf(queries, join(dir, SEARCH_FILES.queries), search) : null,
  };
  if (ds.users.ids.length !== manifest.users || ds.items.ids.length !== manifest.items) {
    throw new DataError(`Dataset ${dir} is inconsistent: users.arrow/items.arrow hold ${ds.users.ids.length}/${ds.items.ids.length} ids, the manifest says ${manifest.users}/${manifest.items}. Re-run rec prep.`);
  }
  for (const name of ['train', 'valid', 'test'] as const) {
    if (ds[name].length !== manifest.rows[name]) {
      throw new DataError(`Dataset ${dir} is inconsistent: ${SPLIT_FILES[name]} has ${ds[name].length} rows, the manifest says ${manifest.rows[name]}. Re-run rec prep.`);
    }
  }
  checkDatasetRows(ds);
  if ((manifest.catalogue ?? null) !== null) await checkCatalogueFiles(dir);
  return ds;
}

/**
 * A dataset prepped with --items has its catalogue's files (their hashes and structure are checked by
 * loadItemFeatures, item-features.ts, which reads them): a copy that lost them is refused here.
 */
async function checkCatalogueFiles(dir: string): Promise<void> {
  for (const file of Object.values(CATALOGUE_FILES)) {
    try {
      if (!(await stat(join(dir, file))).isFile()) throw new Error('not a file');
    } catch (error) {
      throw new DataError(`Dataset ${dir} is incomplete: its manifest records a catalogue, but ${file} is missing (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Re-run rec prep with --items.`, { cause: error });
    }
  }
}
