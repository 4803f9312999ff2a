import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPidAlive, parseTempName, removeStaleTemps } from '../../../src/io/atomic.js';
import { acquireLock, acquireLockFile, LOCK_NAME, lockPathBeside, readLock, readLockFile } from '../../../src/io/lock.js';
import { InterruptedError, UsageError } from '../../../src/util/errors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'rec-lock-'));
/** The pid of a process that has exited (pids are not reused this fast in practice). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe('folder lock', () => {
  it('is created with the owner pid and removed on release', async () => {
    const d = dir();
    const lock = await acquireLock(d, 'rec train', '--out x');
    expect((await readLock(d))?.pid).toBe(process.pid);
    await lock.release();
    expect(readdirSync(d)).toEqual([]);
  });

  it('refuses (exit 2) while a live process holds it, naming the pid', async () => {
    const d = dir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(d, LOCK_NAME), JSON.stringify({ pid: child.pid, command: 'rec train', started: 'then' }));
      const error = await acquireLock(d, 'rec train', `--out ${d}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toContain(`pid ${child.pid}`);
      expect((await readLock(d))?.pid).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is dead, or that is unreadable', async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_NAME), JSON.stringify({ pid: deadPid(), command: 'rec train', started: 'then' }));
    const lock = await acquireLock(d, 'rec train', '--out x');
    expect((await readLock(d))?.pid).toBe(process.pid);
    await lock.release();
    writeFileSync(join(d, LOCK_NAME), '');
    const again = await acquireLock(d, 'rec train', '--out x');
    expect((await readLock(d))?.pid).toBe(process.pid);
    await again.release();
    expect(existsSync(join(d, LOCK_NAME))).toBe(false);
  });

  it('given a wait, waits while a live process holds it and takes it once that process is gone', async () => {
    const d = dir();
    const path = lockPathBeside(join(d, 'ds'));
    expect(path).toBe(join(d, '.ds.rec.lock'));
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    const gone = new Promise((done) => child.on('exit', done));
    writeFileSync(path, JSON.stringify({ pid: child.pid, command: 'rec prep', started: 'then' }));
    const waits: number[] = [];
    let polls = 0;
    const lock = await acquireLockFile(path, 'rec prep', '--out ds', {
      onWait: (holder) => waits.push(holder.pid),
      // The holder ends after a few polls: the lock is free only then.
      aborted: () => {
        if (++polls === 3) child.kill('SIGKILL');
        return null;
      },
      pollMs: 20,
    });
    await gone;
    expect(waits).toEqual([child.pid]);
    expect(polls).toBeGreaterThanOrEqual(3);
    expect((await readLockFile(path))?.pid).toBe(process.pid);
    await lock.release();
    expect(readdirSync(d)).toEqual([]);
  });

  it('stops waiting with the error aborted() gives (SIGINT/SIGTERM), leaving the holder its lock', async () => {
    const d = dir();
    const path = lockPathBeside(join(d, 'ds'));
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      writeFileSync(path, JSON.stringify({ pid: child.pid, command: 'rec prep', started: 'then' }));
      let polls = 0;
      const stop = new InterruptedError('SIGTERM', 'interrupted');
      const error = await acquireLockFile(path, 'rec prep', '--out ds', { onWait: () => undefined, aborted: () => (++polls > 2 ? stop : null), pollMs: 5 }).catch((e: unknown) => e);
      expect(error).toBe(stop);
      expect((await readLockFile(path))?.pid).toBe(child.pid);
      expect(readdirSync(d)).toEqual(['.ds.rec.lock']);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('pidAlive: this process yes, an exited one no', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(deadPid())).toBe(false);
    expect(isPidAlive(0)).toBe(false);
  });
});

describe('stale temporaries', () => {
  it('parses the writer pid of both temp name formats', () => {
    expect(parseTempName('.weights.bin.tmp-123-ab12cd34')).toEqual({ base: 'weights.bin', pid: 123 });
    expect(parseTempName('.users.arrow.tmp-77')).toEqual({ base: 'users.arrow', pid: 77 });
    expect(parseTempName('weights.bin')).toBeNull();
    expect(parseTempName('.hidden')).toBeNull();
  });

  it('removes only the temporaries of dead writers that the filter accepts', async () => {
    const d = dir();
    const dead = deadPid();
    writeFileSync(join(d, `.eval-test-full.json.tmp-${dead}-0a0b0c0d`), '{"half');
    mkdirSync(join(d, `.last.tmp-${dead}-01020304`));
    writeFileSync(join(d, `.recs.jsonl.tmp-${process.pid}-0a0b0c0d`), 'live');
    writeFileSync(join(d, `.other.tmp-${dead}-0a0b0c0d`), 'filtered out');
    writeFileSync(join(d, 'user-file.tmp-1'), 'not rec format');
    const removed = await removeStaleTemps(d, (n: string) => !n.startsWith('.other'));
    expect(removed.sort()).toEqual([join(d, `.eval-test-full.json.tmp-${dead}-0a0b0c0d`), join(d, `.last.tmp-${dead}-01020304`)]);
    expect(readdirSync(d).sort()).toEqual([`.other.tmp-${dead}-0a0b0c0d`, `.recs.jsonl.tmp-${process.pid}-0a0b0c0d`, 'user-file.tmp-1']);
  });
});
