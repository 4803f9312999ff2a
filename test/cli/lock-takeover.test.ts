/**
 * Taking over a lock left by a killed process (io/lock.ts), by several processes at once: as after
 * a crash, when the next nightly train, prep or promote and its retry start together. At most one
 * may hold the lock at any moment. Runs the compiled module (dist/) in real processes, since a
 * lock tells its holders apart by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, sleep, tempDir } from './helpers.js';

const LOCK_JS = join(REPO, 'dist/src/io/lock.js');
const WORKERS = 6;

/** Takes DIR's lock (no waiting: a live holder is refused), notes `in`/`out` around a 150 ms hold. */
const WORKER = `
const { appendFileSync } = require('node:fs');
const [lockJs, dir, log] = process.argv.slice(1);
import(lockJs).then(async ({ acquireLock }) => {
  let lock;
  try { lock = await acquireLock(dir, 'rec test', dir); } catch { return; }
  appendFileSync(log, 'in\\n');
  await new Promise((r) => setTimeout(r, 150));
  appendFileSync(log, 'out\\n');
  await lock.release();
});`;

/** Start offsets in [0, 8) ms: a fixed-seed LCG, so a failing trial can be replayed. */
function offsets(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.floor((8 * x) / 2 ** 32);
  });
}

/** The most holders at once in a log of `in`/`out` lines. */
function mostAtOnce(log: string): { most: number; holders: number } {
  let now = 0;
  let most = 0;
  let holders = 0;
  for (const line of log.split('\n')) {
    if (line === 'in') {
      holders++;
      most = Math.max(most, ++now);
    } else if (line === 'out') now--;
  }
  return { most, holders };
}

describe('a dead owner\'s lock taken over by several processes at once', () => {
  const dir = tempDir('rec-lock-race-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is held by one of them at a time (seeded trials)', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    for (let trial = 0; trial < 16; trial++) {
      const folder = join(dir, `t${trial}`);
      const log = join(dir, `t${trial}.log`);
      mkdirSync(folder);
      writeFileSync(log, '');
      writeFileSync(join(folder, '.rec.lock'), JSON.stringify({ pid: dead, command: 'rec train', started: 'before the crash' }));
      const ends: Promise<unknown>[] = [];
      for (const offset of offsets(WORKERS, 31 + trial)) {
        await sleep(offset);
        const child = spawn(process.execPath, ['-e', WORKER, LOCK_JS, folder, log], { stdio: 'ignore' });
        ends.push(new Promise((done) => child.on('close', done)));
      }
      await Promise.all(ends);
      const { most, holders } = mostAtOnce(readFileSync(log, 'utf8'));
      expect(holders, `trial ${trial}`).toBeGreaterThanOrEqual(1);
      expect(most, `trial ${trial}: two processes held the lock at once`).toBe(1);
    }
  }, 120_000);
});
