/**
 * Atomic file and folder writes (PRODUCT §3, §4): every file is written to a temporary name in the
 * same folder and renamed into place, so a crash never leaves a partial file where a complete one
 * is expected. Temporary names contain `.tmp-` so readers (and resume) can ignore them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function tempNameBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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
 * A folder built under a temporary name beside its destination and renamed into place by
 * `commit()`. `abort()` removes it. An existing destination is replaced only at commit time, and
 * is moved aside first so the swap never leaves neither copy on disk for longer than two renames.
 */
export interface StagedDir {
  readonly path: string;
  readonly destination: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export async function stageDir(destination: string): Promise<StagedDir> {
  await mkdir(dirname(destination), { recursive: true });
  const path = tempNameBeside(destination);
  await mkdir(path, { recursive: true });
  let done = false;
  return {
    path,
    destination,
    async commit() {
      if (done) return;
      done = true;
      if (await pathExists(destination)) {
        const old = tempNameBeside(destination);
        await rename(destination, old);
        await rename(path, destination);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(path, destination);
      }
    },
    async abort() {
      if (done) return;
      done = true;
      await rm(path, { recursive: true, force: true });
    },
  };
}
