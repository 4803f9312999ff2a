/**
 * Where `rec prep` writes: the dataset folder's locks, how the dataset reaches --out (a whole
 * folder swapped in, or its files moved into a folder that holds others), and the staged folder
 * beside --out that any failure removes.
 */
import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ensureDir, linkTarget, pathExists, removeStaleTemps, restoreMissingDir, stageDir, type StagedDir } from '../../io/atomic.js';
import { acquireLockFile, describeHolder, lockPathBeside, type FolderLock } from '../../io/lock.js';
import { errorCode, inputsInside, inspectOutputDir, outputFsError, refuseOutputDir } from '../../io/output-dir.js';
import { findPromoted, promotedRefusal } from '../../io/promoted.js';
import { DataError, RecError, UsageError } from '../../util/errors.js';
import type { RunIO } from '../../util/run-io.js';
import { isCompleteDataset } from '../dataset.js';
import { CATALOGUE_FILES, DATASET_OUTPUT, MANIFEST_FILE, PARQUET_EXPORT_FILES, SEARCH_FILES, TITLE_FILES } from '../manifest.js';
import { interrupted } from './read.js';

export interface HeldFolders {
  locks: FolderLock[];
  /** Folders made to hold --out's lock, deepest first: removed again if the prep fails. */
  created: string[];
}

/** The staged dataset folder and how it will reach --out. */
export interface StagedOutput {
  staged: StagedDir;
  mode: 'replace' | 'merge';
}

/** fs failures on the output side name --out and say why, instead of surfacing as a crash. */
export function outputError(out: string, error: unknown): unknown {
  return !(error instanceof RecError) && errorCode(error) !== undefined ? outputFsError(out, error) : error;
}

/**
 * How the dataset reaches `out` (README.md#output-files): `replace` swaps a whole folder in (absent, empty, or
 * a dataset rec wrote), `merge` moves the dataset's files into a folder that also holds the user's
 * (only with --force). Inputs inside `out` are never overwritten or deleted, --force or not.
 */
async function planOutput(out: string, inputs: readonly string[], force: boolean): Promise<'replace' | 'merge'> {
  if (dirname(out) === out) {
    throw new UsageError(`--out ${out} is the root of the file system. Expected a folder of its own for the dataset, e.g. --out ${join(out, 'data', 'dataset')}.`);
  }
  // Checked again here, just before writing: replacing a production link with a dataset folder,
  // or writing into a promoted checkpoint, breaks production.
  const promoted = await findPromoted(out);
  if (promoted !== null) throw new UsageError(promotedRefusal(`rec prep --out ${out}`, promoted));
  const state = await inspectOutputDir(out, DATASET_OUTPUT);
  if (state.kind === 'absent') return 'replace';
  for (const rel of await inputsInside(out, inputs)) {
    // Replacing the folder deletes everything in it; merging overwrites only the dataset's names.
    if (DATASET_OUTPUT.owns(rel) || state.kind !== 'foreign') {
      throw new UsageError(
        `--out ${out} holds the input ${join(out, rel)}, which writing the dataset would ${DATASET_OUTPUT.owns(rel) ? 'overwrite' : 'delete'}. Nothing was written. Choose another --out folder, or move the input out of it.`,
      );
    }
  }
  if (state.kind !== 'foreign') return 'replace';
  if (!force) throw refuseOutputDir(out, state, DATASET_OUTPUT);
  return 'merge';
}

/** Plans how the dataset reaches `out` and stages a folder for it beside out's target. */
export async function stageOutput(out: string, inputs: readonly string[], force: boolean, io: RunIO): Promise<StagedOutput> {
  try {
    const mode = await planOutput(out, inputs, force);
    // A symlinked --out (data → a bigger disk) stays a symlink: the dataset goes where it points.
    const target = await linkTarget(out);
    for (const path of await removeStaleTemps(dirname(target), basename(target))) io.log.info(`prep: removed ${path}, left by an interrupted run`);
    return { staged: await stageDir(target), mode };
  } catch (error) {
    throw outputError(out, error);
  }
}

/** Puts the staged dataset in place, manifest.json last when its files are moved in one by one. */
export async function commitOutput({ staged, mode }: StagedOutput): Promise<void> {
  if (mode === 'merge') {
    await commitFiles(staged);
    return;
  }
  try {
    await staged.commit();
  } catch (error) {
    // A mount point cannot be renamed; here it holds only rec's own files, so move them in.
    if (errorCode(error) !== 'EBUSY') throw error;
    await commitFiles(staged);
  }
}

/**
 * Moves the staged files in, manifest.json last; then removes the catalogue (and queries) files an earlier dataset left there
 * when this one has none (the new manifest no longer names them, so nothing reads them, but they would mislead).
 */
async function commitFiles(staged: StagedDir): Promise<void> {
  const absent: string[] = [];
  for (const file of [...Object.values(CATALOGUE_FILES), ...Object.values(TITLE_FILES), ...Object.values(PARQUET_EXPORT_FILES), ...Object.values(SEARCH_FILES)]) if (!(await pathExists(join(staged.path, file)))) absent.push(file);
  await staged.commitInto(MANIFEST_FILE);
  for (const file of absent) await rm(join(staged.destination, file), { force: true });
}

/**
 * Locks every dataset folder a prep reads or writes: --out, and --append-to when it is another
 * folder. Taken in one order (by path), so two preps appending each into the other's base never
 * wait on each other.
 */
export async function lockPrepFolders(out: string, appendTo: string | undefined, io: RunIO): Promise<HeldFolders> {
  const outDir = await linkTarget(out);
  const base = appendTo !== undefined ? await linkTarget(appendTo) : null;
  const held: HeldFolders = { locks: [], created: [] };
  // The root of the file system cannot be --out (planOutput says so), and holds no lock.
  if (dirname(outDir) === outDir) return held;
  try {
    held.created = await ensureParents(outDir);
    const folders = base !== null && base !== outDir ? [outDir, base].sort() : [outDir];
    for (const dir of folders) {
      const lock = await lockDatasetFolder(dir, dir === outDir ? `--out ${out}` : `--append-to ${appendTo}`, dir === outDir, io);
      if (lock === null) continue;
      held.locks.push(lock);
      const restored = await restoreMissingDir(dir, MANIFEST_FILE, isCompleteDataset);
      if (restored !== null) io.log.warn(`prep: ${dir} was missing (a rec prep was killed while swapping it in); restored the complete copy ${basename(restored)}`);
    }
  } catch (error) {
    await releaseFolders(held, false);
    throw outputError(out, error);
  }
  return held;
}

/** Releases the locks; after a failed prep also removes the folders made to hold them. */
export async function releaseFolders(held: HeldFolders, ok: boolean): Promise<void> {
  for (const lock of held.locks.reverse()) await lock.release();
  if (!ok) await removeEmptyFolders(held.created);
}

/**
 * The lock beside a dataset folder (lockPathBeside), waiting while a live process holds it. A base
 * that is only read may sit where this user cannot write (a shared read-only dataset): without its
 * lock it is still read, and a change while reading it is caught (append.ts loadBaseData).
 */
async function lockDatasetFolder(dir: string, what: string, required: boolean, io: RunIO): Promise<FolderLock | null> {
  try {
    return await acquireLockFile(lockPathBeside(dir), 'rec prep', what, {
      onWait: (holder, path) => io.log.warn(`prep: ${what} is being written by ${describeHolder(holder)}; waiting for pid ${holder.pid} to finish (it holds ${path})`),
      aborted: () => (io.signal?.aborted ? interrupted(io.signal) : null),
    });
  } catch (error) {
    // An fs failure (permission, read-only disk, a file on the path) is said of the folder, not of the lock file.
    if (!(error instanceof DataError) || errorCode(error.cause) === undefined) throw error;
    if (required) throw outputFsError(dir, error.cause);
    io.log.debug(`prep: ${what} read without its lock: ${error.message}`);
    return null;
  }
}

/** Creates the missing folders above `dir`; returns those it made, deepest first. */
async function ensureParents(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = dirname(dir); !(await pathExists(p)) && dirname(p) !== p; p = dirname(p)) missing.push(p);
  if (missing.length > 0) await ensureDir(missing[0]);
  return missing;
}

async function removeEmptyFolders(deepestFirst: readonly string[]): Promise<void> {
  for (const dir of deepestFirst) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}
