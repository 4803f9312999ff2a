/**
 * Two `rec prep` runs into the same dataset folder at once (a nightly job overlapping a retry or a
 * backfill): the second waits for the first's lock, then appends onto what the first committed, so
 * no night is lost and nobody sees a stack trace (README "Nightly retraining", docs/nightly.md).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../../src/data/manifest.js';
import { BIN, rec, sleep, tempDir, type RunResult } from './helpers.js';

const T0 = 1_700_000_000;
const BASE_ROWS = 3000;
const NIGHT_ROWS = 500;

/** Delays in [0, 1) of a full run's duration: a fixed-seed LCG, so a failing trial can be replayed. */
function delays(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  });
}

/** `rec prep ARGS`, started now; resolves with its exit code and output. */
function start(args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'prep', ...args], { env: { ...process.env, CI: 'true', REC_LOG_LEVEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

const manifest = (ds: string): DatasetManifest => JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as DatasetManifest;
const stored = (m: DatasetManifest): number => m.rows.train + m.rows.valid + m.rows.test;

describe('rec prep: two runs into one dataset folder at once', () => {
  const dir = tempDir('rec-prep-race-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Every (user, item) pair is distinct, so no row is deduplicated: the row count tells a lost night.
  const log = (name: string, tag: string, rows: number, day: number): string => {
    const path = join(dir, name);
    const lines = Array.from({ length: rows }, (_, i) => `${tag}u${i % 97},${tag}i${i},${T0 + day * 86_400 + i}`);
    writeFileSync(path, `user,item,ts\n${lines.join('\n')}\n`);
    return path;
  };
  const base = join(dir, 'base');
  const nightA = log('night-a.csv', 'a', NIGHT_ROWS, 1);
  const nightB = log('night-b.csv', 'b', NIGHT_ROWS, 2);
  const temps = (): string[] => readdirSync(dir).filter((n) => n.startsWith('.ds.'));
  beforeAll(async () => {
    const first = await rec(['prep', log('history.csv', 'h', BASE_ROWS, 0), '--out', base, '--columns', 'user=user,item=item,ts=ts', '--split', 'days:0,1', '-q']);
    expect(first.code, first.stderr).toBe(0);
  });

  it('appending two nights in place at once keeps both (seeded trials)', async () => {
    const ds = join(dir, 'ds');
    cpSync(base, ds, { recursive: true });
    const t0 = performance.now();
    const solo = await rec(['prep', nightA, '--append-to', ds, '--out', ds, '-q']);
    const fullMs = performance.now() - t0;
    expect(solo.code, solo.stderr).toBe(0);

    const outcomes: string[] = [];
    for (const [trial, fraction] of delays(6, 19).entries()) {
      rmSync(ds, { recursive: true, force: true });
      cpSync(base, ds, { recursive: true });
      const delay = Math.round(fraction * fullMs);
      const a = start([nightA, '--append-to', ds, '--out', ds]);
      await sleep(delay);
      const b = start([nightB, '--append-to', ds, '--out', ds]);
      const [ra, rb] = await Promise.all([a, b]);
      const what = `trial ${trial}, B started ${delay} ms after A`;
      for (const r of [ra, rb]) {
        expect(r.code, `${what}: ${r.stderr}`).toBe(0);
        expect(r.stderr, what).not.toMatch(/unexpected failure|ENOTEMPTY|\n\s+at /);
      }
      const m = manifest(ds);
      expect(stored(m), `${what}: rows in the dataset`).toBe(BASE_ROWS + 2 * NIGHT_ROWS);
      expect(m.sources.map((s) => s.path).sort(), what).toEqual([join(dir, 'history.csv'), nightA, nightB].sort());
      expect(temps(), what).toEqual([]);
      outcomes.push(`${delay}ms${/waiting for pid/.test(ra.stderr + rb.stderr) ? ' (waited)' : ''}`);
    }
    // Which trials overlapped depends on the machine's load; every one must keep both nights.
    expect(outcomes).toHaveLength(6);
  }, 240_000);

  it('waits for a live holder of the folder lock, naming its pid; SIGTERM while waiting exits 143 with nothing written', async () => {
    const ds = join(dir, 'held');
    cpSync(base, ds, { recursive: true });
    const before = readFileSync(join(ds, 'manifest.json'), 'utf8');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const holderGone = new Promise((done) => holder.on('exit', done));
    writeFileSync(join(dir, '.held.rec.lock'), JSON.stringify({ pid: holder.pid, command: 'rec prep', started: 'then' }));
    try {
      for (const end of ['SIGTERM', 'holder exits'] as const) {
        const child = spawn(process.execPath, [BIN, 'prep', nightA, '--append-to', ds, '--out', ds], { env: { ...process.env, CI: 'true', REC_LOG_LEVEL: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const code = new Promise<number | null>((done) => child.on('close', done));
        for (let i = 0; i < 3000 && !stderr.includes('waiting for pid'); i++) await sleep(10);
        expect(stderr).toContain(`waiting for pid ${holder.pid} to finish`);
        expect(readFileSync(join(ds, 'manifest.json'), 'utf8')).toBe(before);
        if (end === 'SIGTERM') {
          child.kill('SIGTERM');
          expect(await code, stderr).toBe(143);
          expect(readFileSync(join(ds, 'manifest.json'), 'utf8')).toBe(before);
        } else {
          holder.kill('SIGKILL');
          await holderGone;
          expect(await code, stderr).toBe(0);
          expect(stored(manifest(ds))).toBe(BASE_ROWS + NIGHT_ROWS);
        }
      }
    } finally {
      holder.kill('SIGKILL');
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('.held'))).toEqual([]);
  }, 60_000);

  it('two plain preps into one folder: both exit 0 and the folder holds one complete dataset', async () => {
    const out = join(dir, 'ds');
    rmSync(out, { recursive: true, force: true });
    for (const [trial, fraction] of delays(4, 7).entries()) {
      const a = start([nightA, '--out', out, '--seed', '1', '-q']);
      await sleep(Math.round(fraction * 400));
      const b = start([nightB, '--out', out, '--seed', '2', '-q']);
      const results = await Promise.all([a, b]);
      for (const r of results) {
        expect(r.code, `trial ${trial}: ${r.stderr}`).toBe(0);
        expect(r.stderr).not.toMatch(/unexpected failure|ENOTEMPTY/);
      }
      const m = manifest(out);
      expect([1, 2]).toContain(m.seed);
      expect(m.sources.map((s) => s.path)).toEqual([m.seed === 1 ? nightA : nightB]);
      expect(temps(), `trial ${trial}`).toEqual([]);
      expect(existsSync(join(dir, '.ds.rec.lock'))).toBe(false);
    }
  }, 120_000);
});
