/**
 * Atomic file and folder writes (docs/design.md#crash-safety): every file is written to a temporary name in the
 * same folder and renamed into place, so a crash never leaves a partial file where a complete one
 * is expected. Temporary names contain `.tmp-` so readers (and resume) can ignore them.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errorCode } from './output-dir.js';

export function tempNameBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** `.NAME.tmp-PID` or `.NAME.tmp-PID-HEX`, as tempNameBeside (and older writers without HEX) name them. */
const TEMP_NAME = /^\.(.+)\.tmp-(\d+)(?:-[0-9a-f]+)?$/;

/** The destination name and writer pid of a temporary name, or null when `name` is not one. */
export function parseTempName(name: string): { base: string; pid: number } | null {
  const m = TEMP_NAME.exec(name);
  return m ? { base: m[1], pid: Number(m[2]) } : null;
}

/** Whether the process that wrote a temporary is gone (signal 0 probes without signalling). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else, so it may still be writing.
    return errorCode(error) === 'EPERM';
  }
}

/**
 * Removes the temporaries in `dir` left by writers that were killed (kill -9, power loss): names
 * shaped like tempNameBeside's whose pid is no longer alive, and, when `baseName` is given, only
 * those of that destination (`.BASE.tmp-…`; or those a predicate on the name accepts), so other
 * commands' work in the same folder is kept. Returns the paths removed. A missing `dir` has nothing
 * to clean.
 */
export async function removeStaleTemps(dir: string, only?: string | ((name: string) => boolean)): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names) {
    const temp = parseTempName(name);
    if (temp === null || isPidAlive(temp.pid)) continue;
    if (typeof only === 'string' ? temp.base !== only : only !== undefined && !only(name)) continue;
    const path = join(dir, name);
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/**
 * `mkdir -p` that fails instead of looping. Node's recursive mkdir retries forever when the
 * kernel answers ENOENT for a folder whose parent exists (procfs: `--out /proc/self/x` spun for
 * minutes and never saw SIGTERM); here each level is tried once.
 */
export async function ensureDir(path: string): Promise<void> {
  try {
    await mkdir(path);
    return;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') {
      if ((await stat(path)).isDirectory()) return;
      throw error;
    }
    if (code !== 'ENOENT' || dirname(path) === path) throw error;
  }
  await ensureDir(dirname(path));
  await mkdir(path);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = tempNameBeside(path);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(tmp, path);
}

/** JSON with sorted keys, 2-space indent and a trailing newline, so files diff cleanly. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(value, sortedReplacer, 2)}\n`;
}

function sortedReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value)) {
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(source).sort()) out[k] = source[k];
    return out;
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, stableJson(value));
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The newest complete folder left beside `dest` under a temporary name (`.NAME.tmp-…`) by a kill
 * between the two renames of StagedDir.commit (old folder set aside, new one not yet renamed in).
 * Complete: `marker` exists in it (written last) and `complete` accepts it; the newest by the
 * marker's mtime, so the staged copy, whose marker was written after the set-aside one's, wins: it
 * is what the commit would have put in place.
 */
export async function newestCopyBeside(dest: string, marker: string, complete: (dir: string) => Promise<boolean> = async () => true): Promise<string | null> {
  const parent = dirname(dest);
  const prefix = `.${basename(dest)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return null;
  }
  let best: { path: string; mtime: number } | null = null;
  for (const name of names) {
    if (!name.startsWith(prefix) || parseTempName(name) === null) continue;
    const path = join(parent, name);
    try {
      const info = await stat(join(path, marker));
      if ((best === null || info.mtimeMs > best.mtime) && (await complete(path))) best = { path, mtime: info.mtimeMs };
    } catch {
      // No marker: a staged folder that was never finished, not a candidate.
    }
  }
  return best?.path ?? null;
}

/**
 * The copy to put back when `dest` is absent (newestCopyBeside). Null when `dest` exists (even
 * without its marker: it may be the user's folder) or there is no such copy.
 */
export async function findSetAsideCopy(dest: string, marker: string, complete: (dir: string) => Promise<boolean>): Promise<string | null> {
  if (await lexists(dest)) return null;
  return newestCopyBeside(dest, marker, complete);
}

/**
 * Puts the copy findSetAsideCopy finds back in place of the absent `dest`; returns it, or null.
 * Call it holding the folder's lock, and before removeStaleTemps, which would delete the copy.
 */
export async function restoreMissingDir(dest: string, marker: string, complete: (dir: string) => Promise<boolean>): Promise<string | null> {
  const found = await findSetAsideCopy(dest, marker, complete);
  if (found === null) return null;
  try {
    await rename(found, dest);
  } catch (error) {
    // Restored by another process in the meantime: nothing left to do.
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTEMPTY' || errorCode(error) === 'EEXIST') return null;
    throw error;
  }
  return found;
}

/**
 * Where a symlinked output folder really is (data → a bigger disk), so it is written, locked and
 * restored there; a link whose target is missing (its folder was being swapped when a kill struck)
 * resolves to that target too. Any other path is returned as it is.
 */
export async function linkTarget(path: string): Promise<string> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return path;
  } catch {
    return path;
  }
  try {
    return await realpath(path);
  } catch {
    return resolve(dirname(path), await readlink(path));
  }
}

async function lexists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    // Unreachable for another reason (a file on the path, no permission): not absent, so not ours to fill.
    return errorCode(error) !== 'ENOENT';
  }
}

/**
 * A folder built under a temporary name beside its destination, then put in place:
 *
 * - `commit()` replaces the destination as a whole: renamed onto an absent or empty destination,
 *   otherwise the old one is moved aside first (so at any moment the destination is the old
 *   complete folder, absent for the instant between two renames, or the new complete one). If the
 *   swap fails the old folder is moved back and the staged one stays for `abort()` to remove.
 * - `commitInto(last)` keeps the destination and whatever else it holds (a user's own files under
 *   --force): the staged entries are moved in one by one, `last` (the marker, e.g. manifest.json)
 *   after all others, and an older `last` is removed before the first move, so a kill midway never
 *   leaves a folder that looks complete.
 *
 * Either marks the stage done only once it has succeeded; `abort()` removes the staged folder
 * unless a commit succeeded.
 */
export interface StagedDir {
  readonly path: string;
  readonly destination: string;
  commit(): Promise<void>;
  commitInto(last: string): Promise<void>;
  abort(): Promise<void>;
}

export async function stageDir(destination: string): Promise<StagedDir> {
  await ensureDir(dirname(destination));
  const path = tempNameBeside(destination);
  await mkdir(path);
  let done = false;
  return {
    path,
    destination,
    async commit() {
      if (done) return;
      let aside: string | null = null;
      try {
        try {
          // rename(2) replaces an empty folder in one step; a non-empty one answers ENOTEMPTY/EEXIST.
          await rename(path, destination);
        } catch (error) {
          const code = errorCode(error);
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
          aside = tempNameBeside(destination);
          await rename(destination, aside);
          await rename(path, destination);
        }
      } catch (error) {
        if (aside !== null && !(await pathExists(destination))) await rename(aside, destination);
        throw error;
      }
      done = true;
      // The new folder is in place; a failure to delete the old copy only leaves a stale temp,
      // which removeStaleTemps clears on the next write to this destination.
      if (aside !== null) await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    },
    async commitInto(last: string) {
      if (done) return;
      await ensureDir(destination);
      await rm(join(destination, last), { force: true });
      const names = (await readdir(path)).filter((n) => n !== last).sort();
      for (const name of [...names, last]) await rename(join(path, name), join(destination, name));
      done = true;
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
    },
    async abort() {
      if (done) return;
      done = true;
      await rm(path, { recursive: true, force: true });
    },
  };
}
