/**
 * The `production` pointer of `rec promote` (docs/nightly.md#promotion-rec-promote-ckpt---to-dir---force---json): `DIR/production` is a symbolic link to
 * the promoted checkpoint, with a relative target so the folder can be moved or restored from a
 * cache as a whole. A symlink rather than a pointer file because every reader follows it: a
 * server loading `DIR/production/model/model.json`, `ls`, `rec eval --baseline DIR/production`.
 * It is switched by creating the new link under a temporary name beside it and renaming it over
 * the old one: rename(2) is atomic, so a reader sees the old checkpoint or the new one, never
 * none. Needs a file system with symlinks (Linux, macOS; Windows only with developer mode).
 */
import { lstat, readlink, realpath, rename, rm, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { tempNameBeside } from '../io/atomic.js';
import { PRODUCTION_LINK as PRODUCTION } from '../io/promoted.js';
import { DataError, UsageError } from '../util/errors.js';

export { PRODUCTION };

export interface Pointer {
  /** The link itself, DIR/production. */
  link: string;
  /** The checkpoint it points at, resolved to a real path; null when that is gone (`missing` says where). */
  target: string | null;
  missing: string | null;
}

function code(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** DIR/production when it is a link (null when absent); exit 2 when something else sits there. */
export async function readPointer(dir: string): Promise<Pointer | null> {
  const link = join(dir, PRODUCTION);
  let info;
  try {
    info = await lstat(link);
  } catch (error) {
    if (code(error) === 'ENOENT') return null;
    throw error;
  }
  if (!info.isSymbolicLink()) {
    throw new UsageError(`${link} is not a link made by rec promote (it is a ${info.isDirectory() ? 'folder' : 'file'}); rec never replaces it. Move it away, or promote into another --to DIR.`);
  }
  const raw = await readlink(link);
  try {
    return { link, target: await realpath(link), missing: null };
  } catch {
    return { link, target: null, missing: resolve(dirname(link), raw) };
  }
}

/**
 * A checkpoint path as given on the command line, with a `production` link resolved: the real
 * folder, and the link when there was one (recorded in eval files).
 */
export async function resolveCheckpointPath(path: string): Promise<{ path: string; pointer: string | null }> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return { path, pointer: null };
  }
  if (!info.isSymbolicLink()) return { path, pointer: null };
  try {
    return { path: await realpath(path), pointer: path };
  } catch {
    throw new UsageError(`${path} is a link to ${resolve(dirname(path), await readlink(path))}, which no longer exists. Restore that checkpoint, or promote another (rec promote CKPT --to ${dirname(path)} --force).`);
  }
}

/** Exit 1 unless `link` resolves to `target` (a real path). */
async function expectResolves(link: string, target: string, shown: string, after: string): Promise<void> {
  const resolved = await realpath(link).catch(() => null);
  if (resolved !== target) {
    throw new DataError(`${shown} would point at ${resolved ?? `${await readlink(link).catch(() => '?')}, which does not exist`} instead of ${target}. ${after}`);
  }
}

/**
 * Points DIR/production at `target` (a real path) in one rename (see the file comment), and checks
 * that the link resolves to it before and after the rename.
 */
export async function switchPointer(dir: string, target: string): Promise<void> {
  // A relative link is read from the folder it lies in, which is DIR's real path: when DIR is
  // itself a link (nightly -> /disk2/nightly), a target relative to DIR as given points nowhere.
  const realDir = await realpath(dir);
  const link = join(realDir, PRODUCTION);
  const tmp = tempNameBeside(link);
  const relativeTarget = relative(realDir, target);
  await symlink(isAbsolute(relativeTarget) ? relativeTarget : relativeTarget || '.', tmp, 'dir');
  try {
    await expectResolves(tmp, target, join(dir, PRODUCTION), 'Production is unchanged.');
    await rename(tmp, link);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await expectResolves(join(dir, PRODUCTION), target, join(dir, PRODUCTION), 'Point it back with rec promote PREVIOUS --to DIR --force.');
}
