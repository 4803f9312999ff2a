/**
 * Integrity of a dataset folder as its readers see it (README "Output files", docs/datasets.md):
 * the files' SHA-256 against those manifest.json records, and, hashes or not, the rows' structure.
 * A row whose user index is out of range would otherwise be trained as another user's (typed
 * arrays wrap nothing but index garbage), and a duplicate or negative `seq` makes --append-to
 * drop a base row and count it as a duplicate.
 */
import { fileSha256, sha256Hex } from '../util/hash.js';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import type { Dataset, SplitData, Vocab } from './dataset-types.js';
import { CATALOGUE_FILES, PARQUET_EXPORT_FILES, REJECTS_FILE, SEARCH_FILES, SPLIT_FILES, TITLE_FILES, VOCAB_FILES, type DatasetFileHashes } from './manifest.js';


export const DATASET_FILE_NAMES = { ...SPLIT_FILES, ...VOCAB_FILES, rejects: REJECTS_FILE } as const;

/**
 * SHA-256 of each file of a dataset folder just written (manifest.files_sha256); the catalogue's files with `catalogue` (its titles with `titles`), queries.arrow with `search`, the Parquet export with `parquet`.
 * A file whose path `written` holds (hashed as it was written) is not read again.
 */
export async function datasetFileHashes(dir: string, catalogue = false, parquet = false, search = false, titles = false, written: ReadonlyMap<string, string> = new Map()): Promise<DatasetFileHashes> {
  const names: Record<string, string> = { ...DATASET_FILE_NAMES, ...(catalogue ? CATALOGUE_FILES : {}), ...(titles ? TITLE_FILES : {}), ...(parquet ? PARQUET_EXPORT_FILES : {}), ...(search ? SEARCH_FILES : {}) };
  const keys = Object.keys(names);
  const hashes = await Promise.all(keys.map((k) => written.get(join(dir, names[k])) ?? fileSha256(join(dir, names[k]))));
  return Object.fromEntries(keys.map((k, i) => [k, hashes[i]])) as DatasetFileHashes;
}

/** Refuses a file whose bytes are not those prep wrote (the hash manifest.json records). */
export function verifyFileHash(dir: string, file: string, bytes: Uint8Array, expected: string): void {
  const actual = sha256Hex(bytes);
  if (actual === expected) return;
  throw new DataError(
    `Dataset file ${join(dir, file)} has sha256 ${actual}, but ${join(dir, 'manifest.json')} records ${expected}: the file changed after rec prep wrote it (edited, damaged or replaced), so its rows cannot be trusted. Nothing was read from the dataset. Re-run rec prep (the same command, from the logs) to rebuild it.`,
  );
}

function damaged(ds: Dataset, what: string): DataError {
  return new DataError(`Dataset ${ds.dir} is damaged: ${what}. Nothing was read from it. Re-run rec prep (the same command, from the logs) to rebuild it.`);
}

/** Every index of `col` in 0..size-1, and per index the number of rows (added to `counts`). */
function checkIndices(ds: Dataset, file: string, col: Int32Array, size: number, role: string, vocabFile: string, counts: Int32Array | null): void {
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v < 0 || v >= size) {
      throw damaged(ds, `${file} row ${i + 1} has ${role} index ${v}, outside 0..${size - 1} (${vocabFile} holds ${size} ${role === 'event' ? 'event names' : 'ids'})`);
    }
    if (counts !== null) counts[v]++;
  }
}

function checkVocab(ds: Dataset, v: Vocab, file: string, rowCounts: Int32Array): void {
  if (v.index.size !== v.ids.length) {
    const dup = v.ids.findIndex((id, i) => v.index.get(id) !== i);
    const [first, second] = [dup, v.index.get(v.ids[dup]) ?? dup].sort((a, b) => a - b);
    throw damaged(ds, `${file} holds the id ${JSON.stringify(v.ids[dup])} twice (at indices ${first} and ${second})`);
  }
  for (let k = 0; k < v.ids.length; k++) {
    if (v.counts[k] !== rowCounts[k]) {
      throw damaged(ds, `${file} says id ${JSON.stringify(v.ids[k])} (index ${k}) has ${v.counts[k]} rows, but the split files hold ${rowCounts[k]}`);
    }
  }
}

/** Seqs are distinct non-negative integers across the three splits (row identity under --append-to). */
function checkSeqs(ds: Dataset, parts: readonly [string, SplitData][]): void {
  let n = 0;
  let max = -1;
  for (const [file, s] of parts) {
    for (let i = 0; i < s.length; i++) {
      const q = s.seq[i];
      if (!(Number.isInteger(q) && q >= 0)) throw damaged(ds, `${file} row ${i + 1} has seq ${q}, expected a non-negative integer`);
      if (q > max) max = q;
    }
    n += s.length;
  }
  // Seqs are dense (input positions), so a bitmap over 0..max is O(n); else sort a copy.
  if (max <= 8 * n + 1024) {
    const seen = new Uint8Array(max + 1);
    for (const [file, s] of parts) {
      for (let i = 0; i < s.length; i++) {
        const q = s.seq[i];
        if (seen[q] === 1) throw damaged(ds, `seq ${q} is on two rows (one of them ${file} row ${i + 1}); every row's seq is unique`);
        seen[q] = 1;
      }
    }
    return;
  }
  const all = new Float64Array(n);
  let at = 0;
  for (const [, s] of parts) {
    all.set(s.seq, at);
    at += s.length;
  }
  all.sort();
  for (let k = 1; k < n; k++) if (all[k] === all[k - 1]) throw damaged(ds, `seq ${all[k]} is on two rows; every row's seq is unique`);
}

/** An anonymous search log: users.arrow is empty and every row's user is -1 (null in Arrow). */
function checkAnonymous(ds: Dataset, file: string, s: SplitData): void {
  if (ds.users.ids.length !== 0) throw damaged(ds, `the manifest records an anonymous search log, but ${VOCAB_FILES.users} holds ${ds.users.ids.length} ids`);
  for (let i = 0; i < s.length; i++) if (s.users[i] !== -1) throw damaged(ds, `${file} row ${i + 1} has user index ${s.users[i]} in an anonymous search log (expected null)`);
}

/** Structural checks that need no hash: indices in range, unique seqs and ids, counts that add up. */
export function checkDatasetRows(ds: Dataset): void {
  const parts = (['train', 'valid', 'test'] as const).map((name) => [SPLIT_FILES[name], ds[name]] as [string, SplitData]);
  const nUsers = ds.users.ids.length;
  const nItems = ds.items.ids.length;
  const userRows = new Int32Array(nUsers);
  const itemRows = new Int32Array(nItems);
  const nEvents = ds.eventNames?.length ?? 0;
  const anonymous = ds.manifest.search?.anonymous === true;
  const nQueries = ds.queries?.texts.length ?? 0;
  const queryRows = new Int32Array(nQueries);
  for (const [file, s] of parts) {
    if (anonymous) checkAnonymous(ds, file, s);
    else checkIndices(ds, file, s.users, nUsers, 'user', VOCAB_FILES.users, userRows);
    if (ds.queries !== null) {
      if (s.queries === null) throw damaged(ds, `${file} has no query column, but the manifest records a search log`);
      checkIndices(ds, file, s.queries, nQueries, 'query', SEARCH_FILES.queries, queryRows);
    }
    checkIndices(ds, file, s.items, nItems, 'item', VOCAB_FILES.items, itemRows);
    if (s.events !== null) checkIndices(ds, file, s.events, nEvents, 'event', 'manifest.json "events"', null);
  }
  checkVocab(ds, ds.users, VOCAB_FILES.users, userRows);
  if (ds.queries !== null) {
    const counts = ds.queries.counts;
    for (let k = 0; k < nQueries; k++) {
      if (counts[k] !== queryRows[k]) throw damaged(ds, `${SEARCH_FILES.queries} says query ${k} has ${counts[k]} rows, but the split files hold ${queryRows[k]}`);
    }
  }
  checkVocab(ds, ds.items, VOCAB_FILES.items, itemRows);
  checkSeqs(ds, parts);
}
