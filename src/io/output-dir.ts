/**
 * Which output folders a command may write (README.md#output-files): an absent or empty folder, or one the same
 * command wrote before and that holds nothing else. Anything else is the user's, and is refused
 * unless they pass --force; even then a command only adds or replaces its own files in it, never
 * deletes theirs.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DataError, UsageError } from '../util/errors.js';
import { findPromoted, promotedRefusal } from './promoted.js';

/** What a command writes into its folder, and how to recognise a folder it wrote. */
export interface OutputKind {
  /** "dataset folder", "checkpoint". */
  readonly noun: string;
  /** The file whose presence (with valid JSON) marks a folder this command wrote. */
  readonly marker: string;
  /** Whether an entry name is one this command writes (or a temporary it leaves while writing). */
  owns(name: string): boolean;
}

export type OutputDirState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'empty' }
  /** Written by the same command, and holding nothing else. */
  | { readonly kind: 'own' }
  /** `foreign` lists the entries that are not the command's own, `marked` whether the marker is there. */
  | { readonly kind: 'foreign'; readonly foreign: readonly string[]; readonly marked: boolean };

/** Temporaries rec leaves while writing (`.NAME.tmp-PID-HEX`), and the locks of a running command (lock.ts). */
export function isRecTemp(name: string): boolean {
  return /\.tmp-\d+/.test(name) || /^\.(.+\.)?rec\.lock(-takeover)?$/.test(name);
}

export async function inspectOutputDir(dir: string, kind: OutputKind): Promise<OutputDirState> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'absent' };
    throw outputFsError(dir, error);
  }
  if (!info.isDirectory()) throw new UsageError(`--out ${dir} exists and is not a folder. Expected an absent or empty folder, or a ${kind.noun} that rec wrote.`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw outputFsError(dir, error);
  }
  // A folder holding only rec's temporaries (a killed run's leftovers, a lock) has nothing to keep.
  if (names.every(isRecTemp)) return { kind: 'empty' };
  const marked = names.includes(kind.marker) && (await isJsonObject(join(dir, kind.marker)));
  const foreign = names.filter((n) => !kind.owns(n) && !isRecTemp(n)).sort();
  if (marked && foreign.length === 0) return { kind: 'own' };
  return { kind: 'foreign', foreign, marked };
}

/** The exit-2 refusal for a folder that is not the command's to replace; `extra` says what would allow it. */
export function refuseOutputDir(dir: string, state: OutputDirState, kind: OutputKind, extra = '--force'): UsageError {
  if (state.kind !== 'foreign') return new UsageError(`--out ${dir}: internal misuse of refuseOutputDir for a ${state.kind} folder.`);
  const shown = state.foreign.slice(0, 5).join(', ');
  const more = state.foreign.length > 5 ? ` and ${state.foreign.length - 5} more` : '';
  const what = state.marked
    ? `holds a ${kind.noun} and other files too (${shown}${more})`
    : state.foreign.length > 0
      ? `is not a ${kind.noun} written by rec: it holds ${shown}${more}`
      : `holds ${kind.noun} files but no valid ${kind.marker}`;
  return new UsageError(`--out ${dir} ${what}. Nothing was written. Choose an absent or empty folder, or pass ${extra} to write into it (your own files are kept).`);
}

const FS_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENAMETOOLONG: 'the name is too long for the file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EBUSY: 'the path is busy (a mount point or the root?)',
  EISDIR: 'it is a folder',
  ENOSPC: 'no space left on the device',
  EEXIST: 'something already exists there',
  EXDEV: 'it is on another file system',
  ENOENT: 'a folder on the path is missing and cannot be created there',
  ELOOP: 'too many symbolic links on the path',
};

/** What an fs error code means, in words, for the codes a user can cause by the paths they give. */
export function fsErrorReason(code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(FS_REASONS, code) ? FS_REASONS[code] : undefined;
}

/** fs errors on an output path as messages that name it: permission, over-long name, a file in the way. */
export function outputFsError(path: string, error: unknown): Error {
  const code = errorCode(error);
  const reason = fsErrorReason(code);
  if (code && reason) return new DataError(`Cannot write ${path}: ${reason} (${code}).`, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A file output (`rec synth --out FILE`): absent, or an existing file only with --force; a folder,
 * an unreachable path, or a path inside a promoted checkpoint (promoted.ts) is refused before any
 * work starts.
 */
export async function checkOutputFile(path: string, force: boolean, flag = '--out'): Promise<void> {
  const promoted = await findPromoted(path);
  if (promoted !== null) throw new UsageError(promotedRefusal(`${flag} ${path}`, promoted));
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw outputFsError(path, error);
  }
  if (info.isDirectory()) throw new UsageError(`${flag} ${path} is a folder. Expected the path of a file to write.`);
  if (!force) throw new UsageError(`${flag} ${path} already exists. Nothing was written. Choose another path, or pass --force to replace it.`);
}

/**
 * The inputs that lie inside `dir` (at any depth, compared by real path so symlinks count), as
 * paths relative to it. A command must never delete or overwrite its own inputs.
 */
export async function inputsInside(dir: string, inputs: readonly string[]): Promise<string[]> {
  const root = await realOrResolved(dir);
  const inside: string[] = [];
  for (const input of inputs) {
    const rel = relative(root, await realOrResolved(input));
    if (rel !== '' && rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel)) inside.push(rel);
  }
  return inside;
}

async function realOrResolved(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

export function errorCode(error: unknown): string | undefined {
  return error && typeof error === 'object' && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

async function isJsonObject(path: string): Promise<boolean> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
