/**
 * A folder lock for commands that write a folder (`rec train` into a checkpoint, `rec prep` into a
 * dataset folder, `rec promote`), and the sweep of temporaries that a killed process left behind.
 * The lock is a file holding the owner's pid: `.rec.lock` inside a folder that stays in place
 * (a checkpoint), or `.NAME.rec.lock` beside a folder that is replaced as a whole by renames (a
 * dataset folder), so the lock outlives the swap. It is created atomically (written under a
 * temporary name and hard-linked into place, which fails if the name exists, so a reader never
 * sees a lock without its pid), removed on every way out of the process that Node can see, and
 * taken over when its owner is dead (kill -9, power loss).
 */
import { link, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { isPidAlive, tempNameBeside } from './atomic.js';
import { errorCode, outputFsError } from './output-dir.js';

export const LOCK_NAME = '.rec.lock';

/** The lock of a folder replaced as a whole (a dataset folder): a file beside it, `.NAME.rec.lock`. */
export function lockPathBeside(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.rec.lock`);
}

export interface LockInfo {
  pid: number;
  command: string;
  started: string;
}

export interface FolderLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * How to meet a live holder: wait until it is gone (polling every `pollMs`), calling `onWait` once;
 * `aborted()` is asked at every poll and its error thrown when it returns one (SIGINT, SIGTERM).
 */
export interface LockWait {
  onWait(holder: LockInfo, lockPath: string): void;
  aborted?(): Error | null;
  pollMs?: number;
}

/** The owner of the lock file at `path`, or null when absent or unreadable (a lock is never half-written). */
export async function readLockFile(path: string): Promise<LockInfo | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<LockInfo>;
    if (typeof value.pid !== 'number') return null;
    return { pid: value.pid, command: String(value.command ?? 'rec'), started: String(value.started ?? '?') };
  } catch {
    return null;
  }
}

/** `dir`'s lock owner (`.rec.lock` inside it), or null when the lock is absent or unreadable. */
export async function readLock(dir: string): Promise<LockInfo | null> {
  return readLockFile(join(dir, LOCK_NAME));
}

/** The live process holding `dir`'s lock, other than this one; null when free or stale. */
export async function liveLockHolder(dir: string): Promise<LockInfo | null> {
  const info = await readLock(dir);
  return info && info.pid !== process.pid && isPidAlive(info.pid) ? info : null;
}

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid} (${info.command}, since ${info.started})`;
}

/**
 * Takes `dir`'s lock (the folder must exist). Exit 2 when a live process holds it; a lock whose
 * process is gone is taken over. `what` names the folder in messages (e.g. "--out /x").
 */
export async function acquireLock(dir: string, command: string, what: string): Promise<FolderLock> {
  return acquireLockFile(join(dir, LOCK_NAME), command, what);
}

/**
 * Takes the lock file at `path` (its folder must exist). A live holder is refused with exit 2, or,
 * given `wait`, waited for; a lock whose process is gone is taken over.
 */
export async function acquireLockFile(path: string, command: string, what: string, wait?: LockWait): Promise<FolderLock> {
  const info: LockInfo = { pid: process.pid, command, started: new Date().toISOString() };
  const tmp = tempNameBeside(path);
  try {
    await writeFile(tmp, `${JSON.stringify(info)}\n`);
  } catch (error) {
    throw outputFsError(tmp, error);
  }
  try {
    let announced = false;
    for (let takeovers = 0; ; ) {
      try {
        await link(tmp, path);
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw outputFsError(path, error);
      }
      const holder = await readLockFile(path);
      if (holder && holder.pid !== process.pid && isPidAlive(holder.pid)) {
        if (wait === undefined) {
          throw new UsageError(`${what} is in use by another rec process: ${describeHolder(holder)} holds ${path}. Wait for it to finish, or remove ${path} if that process is gone.`);
        }
        if (!announced) wait.onWait(holder, path);
        announced = true;
        await pause(wait, wait.pollMs ?? 100);
        continue;
      }
      if (await takeOver(path, holder, tmp)) {
        if (++takeovers > 3) throw outputFsError(path, Object.assign(new Error(`${path} exists`), { code: 'EEXIST' }));
      } else {
        // Another process is taking the dead owner's lock over: see what it left in a moment.
        await pause(wait, 5);
      }
    }
  } finally {
    await rm(tmp, { force: true });
  }
  return heldLock(path);
}

async function pause(wait: LockWait | undefined, ms: number): Promise<void> {
  const stop = wait?.aborted?.() ?? null;
  if (stop !== null) throw stop;
  await new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));
  const after = wait?.aborted?.() ?? null;
  if (after !== null) throw after;
}

/** The guard held while a dead owner's lock is removed: `.rec.lock-takeover` beside `.rec.lock`. */
export function takeoverGuardPath(lockPath: string): string {
  return `${lockPath}-takeover`;
}

/**
 * Removes the lock at `path` whose owner `seen` is dead (or that is unreadable), holding a guard
 * file (created like the lock, from `ours`), and only if the lock is still the one seen. Removing
 * it unguarded would let two processes that both saw the dead owner each remove the lock the other
 * had just taken, and both go on. False when another process holds the guard (a guard whose
 * process died is removed for the next try).
 */
async function takeOver(path: string, seen: LockInfo | null, ours: string): Promise<boolean> {
  const guard = takeoverGuardPath(path);
  try {
    await link(ours, guard);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw outputFsError(guard, error);
    const other = await readLockFile(guard);
    if (other === null || !isPidAlive(other.pid)) await rm(guard, { force: true });
    return false;
  }
  try {
    const now = await readLockFile(path);
    if (now?.pid === seen?.pid && now?.started === seen?.started) await rm(path, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

function heldLock(path: string): FolderLock {
  // process.exit() (a second Ctrl-C) skips finally blocks; the 'exit' event still runs sync code.
  const onExit = () => {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', onExit);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      const holder = await readLockFile(path);
      if (holder?.pid === process.pid) await unlink(path).catch(() => undefined);
    },
  };
}
