import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

/** Lets a test make one chosen rename fail, as a full disk or a busy mount would. */
const inject = vi.hoisted(() => ({ failRename: null as null | ((from: string, to: string) => boolean) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      if (inject.failRename?.(String(from), String(to))) throw Object.assign(new Error(`EIO: injected, rename '${from}'`), { code: 'EIO' });
      return actual.rename(from, to);
    },
  };
});

const { ensureDir, findSetAsideCopy, parseTempName, removeStaleTemps, restoreMissingDir, stageDir, tempNameBeside } = await import('../../../src/io/atomic.js');

const root = mkdtempSync(join(tmpdir(), 'rec-atomic-'));
let k = 0;
const fresh = (): string => {
  const dir = join(root, `case-${k++}`);
  mkdirSync(dir);
  return dir;
};
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  inject.failRename = null;
});

const temps = (dir: string): string[] => readdirSync(dir).filter((n) => n.includes('.tmp-'));
/** A pid that belonged to a process which has exited. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
};

describe('stageDir', () => {
  it('commit() puts a staged folder in place of an absent, an empty and an old folder', async () => {
    const dir = fresh();
    for (const setup of ['absent', 'empty', 'old'] as const) {
      const dest = join(dir, setup);
      if (setup !== 'absent') mkdirSync(dest);
      if (setup === 'old') writeFileSync(join(dest, 'a.txt'), 'old');
      const staged = await stageDir(dest);
      writeFileSync(join(staged.path, 'a.txt'), 'new');
      await staged.commit();
      expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('new');
      expect(readdirSync(dest)).toEqual(['a.txt']);
    }
    expect(temps(dir)).toEqual([]);
  });

  it('a failed swap restores the old folder, and abort() then removes the staged one', async () => {
    const dir = fresh();
    const dest = join(dir, 'ds');
    mkdirSync(dest);
    writeFileSync(join(dest, 'a.txt'), 'old');
    const staged = await stageDir(dest);
    writeFileSync(join(staged.path, 'a.txt'), 'new');
    // The old folder moves aside, then moving the new one in fails.
    inject.failRename = (from, to) => from === staged.path && to === dest;
    await expect(staged.commit()).rejects.toThrow(/EIO: injected/);
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('old');
    expect(existsSync(staged.path)).toBe(true);
    await staged.abort();
    expect(existsSync(staged.path)).toBe(false);
    expect(temps(dir)).toEqual([]);
    expect(readdirSync(dest)).toEqual(['a.txt']);
  });

  it('a failed rename onto an absent destination leaves nothing once aborted', async () => {
    const dir = fresh();
    const dest = join(dir, 'ds');
    const staged = await stageDir(dest);
    writeFileSync(join(staged.path, 'a.txt'), 'new');
    inject.failRename = () => true;
    await expect(staged.commit()).rejects.toThrow(/EIO/);
    inject.failRename = null;
    await staged.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('commitInto() keeps the other files, removes an older marker first and moves the marker last', async () => {
    const dir = fresh();
    const dest = join(dir, 'mine');
    mkdirSync(dest);
    writeFileSync(join(dest, 'notes.md'), 'keep');
    writeFileSync(join(dest, 'manifest.json'), '{"old":true}');
    writeFileSync(join(dest, 'train.arrow'), 'old');
    const staged = await stageDir(dest);
    writeFileSync(join(staged.path, 'train.arrow'), 'new');
    writeFileSync(join(staged.path, 'manifest.json'), '{"new":true}');
    // Fail the move of the marker: the folder must not look complete (no manifest at all).
    inject.failRename = (from) => from.endsWith('manifest.json');
    await expect(staged.commitInto('manifest.json')).rejects.toThrow(/EIO/);
    expect(existsSync(join(dest, 'manifest.json'))).toBe(false);
    expect(readFileSync(join(dest, 'notes.md'), 'utf8')).toBe('keep');
    await staged.abort();
    expect(temps(dir)).toEqual([]);

    const again = await stageDir(dest);
    writeFileSync(join(again.path, 'train.arrow'), 'new');
    writeFileSync(join(again.path, 'manifest.json'), '{"new":true}');
    const order: string[] = [];
    inject.failRename = (from) => {
      order.push(from.split('/').pop() ?? '');
      return false;
    };
    await again.commitInto('manifest.json');
    expect(order).toEqual(['train.arrow', 'manifest.json']);
    expect(readdirSync(dest).sort()).toEqual(['manifest.json', 'notes.md', 'train.arrow']);
    expect(readFileSync(join(dest, 'manifest.json'), 'utf8')).toBe('{"new":true}');
    expect(temps(dir)).toEqual([]);
  });
});

describe('removeStaleTemps', () => {
  it('removes temporaries of dead writers for the named destination only', async () => {
    const dir = fresh();
    const dead = deadPid();
    const staleDir = join(dir, `.ds.tmp-${dead}-0a1b2c3d`);
    mkdirSync(staleDir);
    writeFileSync(join(staleDir, 'train.arrow'), 'x');
    writeFileSync(join(dir, `.ds.tmp-${dead}`), 'old style');
    const live = join(dir, `.ds.tmp-${process.pid}-00ff00ff`);
    mkdirSync(live);
    const other = join(dir, `.other.tmp-${dead}-12345678`);
    mkdirSync(other);
    writeFileSync(join(dir, 'ds.tmp-1'), 'not a temp name (no leading dot)');
    const removed = await removeStaleTemps(dir, 'ds');
    expect(removed.sort()).toEqual([join(dir, `.ds.tmp-${dead}`), staleDir].sort());
    expect(readdirSync(dir).sort()).toEqual([`.ds.tmp-${process.pid}-00ff00ff`, `.other.tmp-${dead}-12345678`, 'ds.tmp-1'].sort());
    // Without a name, every dead writer's temporary goes.
    expect(await removeStaleTemps(dir)).toEqual([other]);
    expect(await removeStaleTemps(join(dir, 'missing'))).toEqual([]);
  });

  it('parses the names tempNameBeside makes', () => {
    const name = tempNameBeside('/x/my.data').split('/').pop() ?? '';
    expect(parseTempName(name)).toEqual({ base: 'my.data', pid: process.pid });
    expect(parseTempName('notes.md')).toBeNull();
  });
});

describe('ensureDir', () => {
  it('creates missing parents and accepts an existing folder', async () => {
    const dir = fresh();
    await ensureDir(join(dir, 'a', 'b', 'c'));
    await ensureDir(join(dir, 'a', 'b', 'c'));
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['c']);
  });

  it('fails (rather than retrying forever) where the kernel refuses the folder', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'file'), '');
    await expect(ensureDir(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(ensureDir(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    // Node's recursive mkdir loops on this one (procfs answers ENOENT under an existing parent).
    if (existsSync('/proc/self')) await expect(ensureDir('/proc/self/rec-nope/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('restoreMissingDir (a kill between the two renames of a commit)', () => {
  const copy = (path: string, mark: string, mtime: number): void => {
    mkdirSync(path);
    writeFileSync(join(path, 'manifest.json'), mark);
    utimesSync(join(path, 'manifest.json'), mtime, mtime);
  };
  const any = async (): Promise<boolean> => true;

  it('puts back the newest complete copy of an absent folder; the others stay for the sweep', async () => {
    const d = fresh();
    copy(join(d, '.ds.tmp-1-aa'), 'old', 1000);
    copy(join(d, '.ds.tmp-1-bb'), 'new', 2000);
    mkdirSync(join(d, '.ds.tmp-1-cc')); // staged, never finished: no marker
    copy(join(d, '.other.tmp-1-dd'), 'other', 3000);
    expect(await findSetAsideCopy(join(d, 'ds'), 'manifest.json', async (p) => !p.endsWith('bb'))).toBe(join(d, '.ds.tmp-1-aa'));
    expect(await restoreMissingDir(join(d, 'ds'), 'manifest.json', any)).toBe(join(d, '.ds.tmp-1-bb'));
    expect(readFileSync(join(d, 'ds', 'manifest.json'), 'utf8')).toBe('new');
    expect(readdirSync(d).sort()).toEqual(['.ds.tmp-1-aa', '.ds.tmp-1-cc', '.other.tmp-1-dd', 'ds']);
    // The folder is there now (even an empty one would be: it may be the user's): nothing to restore.
    expect(await restoreMissingDir(join(d, 'ds'), 'manifest.json', any)).toBeNull();
    rmSync(join(d, 'ds'), { recursive: true });
    mkdirSync(join(d, 'ds'));
    expect(await restoreMissingDir(join(d, 'ds'), 'manifest.json', any)).toBeNull();
    expect(readdirSync(join(d, 'ds'))).toEqual([]);
  });
});
