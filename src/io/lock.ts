/**
 * A folder lock for commands that write into a checkpoint (`rec train`), and the sweep of
 * temporaries that a killed process left behind. The lock is the file `.rec.lock` holding the
 * owner's pid; it is created atomically (written under a temporary name and hard-linked into place,
 * which fails if the name exists, so a reader never sees a lock without its pid), removed on every
 * way out of the process that Node can see, and taken over when its owner is dead (kill -9, power
 * loss).
 */
import { link, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { isPidAlive, tempNameBeside } from './atomic.js';
import { errorCode, outputFsError } from './output-dir.js';

export const LOCK_NAME = '.rec.lock';

export interface LockInfo {
  pid: number;
  command: string;
  started: string;
}

export interface FolderLock {
  readonly path: string;
  release(): Promise<void>;
}

/** The lock's owner, or null when the lock is absent or unreadable (a lock is never half-written). */
export async function readLock(dir: string): Promise<LockInfo | null> {
  try {
    const value = JSON.parse(await readFile(join(dir, LOCK_NAME), 'utf8')) as Partial<LockInfo>;
    if (typeof value.pid !== 'number') return null;
    return { pid: value.pid, command: String(value.command ?? 'rec'), started: String(value.started ?? '?') };
  } catch {
    return null;
  }
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
  const path = join(dir, LOCK_NAME);
  const info: LockInfo = { pid: process.pid, command, started: new Date().toISOString() };
  const tmp = tempNameBeside(path);
  try {
    await writeFile(tmp, `${JSON.stringify(info)}\n`);
  } catch (error) {
    throw outputFsError(tmp, error);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST' || attempt >= 3) throw outputFsError(path, error);
      }
      const holder = await readLock(dir);
      if (holder && holder.pid !== process.pid && isPidAlive(holder.pid)) {
        throw new UsageError(
          `${what} is in use by another rec process: ${describeHolder(holder)} holds ${path}. Wait for it to finish, or remove ${path} if that process is gone.`,
        );
      }
      // The owner is dead (or the lock unreadable): take it over. Two processes doing this at the
      // same instant could both succeed; the window is one unlink + link after a crash.
      await rm(path, { force: true });
    }
  } finally {
    await rm(tmp, { force: true });
  }
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
      const holder = await readLock(dir);
      if (holder?.pid === process.pid) await unlink(path).catch(() => undefined);
    },
  };
}
