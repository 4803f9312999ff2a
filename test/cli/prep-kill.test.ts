import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { isCompleteDataset, loadDataset } from '../../src/data/dataset.js';
import { findSetAsideCopy } from '../../src/io/atomic.js';
import { BIN, rec, tempDir } from './helpers.js';

const DATASET = ['items.arrow', 'manifest.json', 'rejects.jsonl', 'test.arrow', 'train.arrow', 'users.arrow', 'valid.arrow'];

/** Starts `rec prep`, SIGKILLs it after `delayMs` (unless it finished), and resolves when it is gone. */
function prepKilledAfter(args: string[], delayMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'prep', ...args], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal });
    });
  });
}

/** Starts `rec prep`, sends SIGTERM after `delayMs`, and reports how long it took to exit after the signal. */
function prepTerminatedAfter(args: string[], delayMs: number): Promise<{ code: number | null; stderr: string; exitAfterSignalMs: number | null }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'prep', ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let sentAt: number | null = null;
    const timer = setTimeout(() => {
      sentAt = performance.now();
      child.kill('SIGTERM');
    }, delayMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr, exitAfterSignalMs: sentAt === null ? null : performance.now() - sentAt });
    });
  });
}

/** Fractions of a full run's duration in [0.25, 1.5): a fixed-seed LCG, so a failure can be replayed. */
function killMoments(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 0.25 + 1.25 * (x / 2 ** 32);
  });
}

describe('rec prep after a kill between the two renames of an in-place swap', () => {
  const dir = tempDir('rec-kill-swap-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the next --append-to the folder puts the set-aside copy back and appends onto it (nothing deleted)', async () => {
    const day = (name: string, lines: string[]): string => {
      const path = join(dir, name);
      writeFileSync(path, `user,item,ts\n${lines.join('\n')}\n`);
      return path;
    };
    const ds = join(dir, 'ds');
    const first = await rec(['prep', day('d1.csv', ['a,x,1700000000', 'b,y,1700000010', 'c,z,1700000020']), '--out', ds, '--split', 'none', '-q']);
    expect(first.code, first.stderr).toBe(0);
    // The state a kill leaves: the old folder renamed aside by a process now dead, the new one never renamed in.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    renameSync(ds, join(dir, `.ds.tmp-${dead}-0badc0de`));
    const next = await rec(['prep', day('d2.csv', ['d,x,1700086400', 'd,w,1700086410']), '--append-to', ds, '--out', ds]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/ds was missing \(a rec prep was killed while swapping it in\); restored the complete copy \.ds\.tmp-/);
    expect(next.stderr).not.toMatch(/unexpected failure/);
    const m = JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as { rows: { train: number }; sources: { path: string }[] };
    expect(m.rows.train).toBe(5);
    expect(m.sources.map((s) => s.path)).toEqual([join(dir, 'd1.csv'), join(dir, 'd2.csv')]);
    expect(readdirSync(dir).filter((n) => n.startsWith('.ds.'))).toEqual([]);
  });
});

describe('rec prep under SIGKILL (README.md#output-files: a crash never leaves a half dataset)', () => {
  const dir = tempDir('rec-kill-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'log.csv');
  const out = join(dir, 'ds');
  const temps = (): string[] => readdirSync(dir).filter((n) => n.startsWith('.ds.tmp-'));

  it('leaves either the previous complete dataset or the new one, and the next prep cleans the temps', async () => {
    const synth = await rec(['synth', '--out', log, '--users', '8000', '--items', '3000', '--events', '250000', '-q']);
    expect(synth.code, synth.stderr).toBe(0);

    const t0 = performance.now();
    const first = await rec(['prep', log, '--out', out, '--seed', '1', '-q']);
    const fullMs = performance.now() - t0;
    expect(first.code, first.stderr).toBe(0);
    let previous = readFileSync(join(out, 'manifest.json'), 'utf8');

    const outcomes: string[] = [];
    let sawTemp = false;
    for (const [i, fraction] of killMoments(5, 11).entries()) {
      const seed = 100 + i;
      const delay = Math.round(fraction * fullMs);
      const run = await prepKilledAfter([log, '--out', out, '--seed', String(seed), '-q'], delay);
      sawTemp ||= temps().length > 0;
      if (!existsSync(out)) {
        // Only between the two renames of the swap: a complete copy waits beside it for the next run to put back.
        expect(await findSetAsideCopy(out, 'manifest.json', isCompleteDataset), `kill at ${delay} ms`).not.toBeNull();
        outcomes.push(`${delay}ms: absent`);
        continue;
      }
      expect(readdirSync(out).sort(), `kill at ${delay} ms`).toEqual(DATASET);
      const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
      const ds = await loadDataset(out);
      if (manifest === previous) {
        outcomes.push(`${delay}ms: old`);
      } else {
        expect(ds.manifest.seed, `kill at ${delay} ms left a dataset of another run`).toBe(seed);
        outcomes.push(`${delay}ms: new (${run.signal ?? `exit ${run.code}`})`);
        previous = manifest;
      }
    }

    // SIGTERM: exit 143 soon after, the staged folder removed and the dataset untouched (or 0 if it had finished).
    const before = existsSync(out) ? readFileSync(join(out, 'manifest.json'), 'utf8') : null;
    const leftBefore = temps().sort();
    const term = await prepTerminatedAfter([log, '--out', out, '--seed', '50', '-q'], Math.round(0.6 * fullMs));
    if (term.code !== 0) {
      // null: the signal came before rec installed its handlers (start-up), which is as harmless.
      expect([143, null], term.stderr).toContain(term.code);
      expect(term.stderr).not.toMatch(/unexpected failure/);
      // Its own staged folder is gone; it may also have swept the stale ones the kills left.
      expect(temps().filter((t) => !leftBefore.includes(t))).toEqual([]);
      expect(existsSync(out) ? readFileSync(join(out, 'manifest.json'), 'utf8') : null).toBe(before);
    }
    if (term.code === 143) {
      expect(term.stderr).toMatch(/interrupted/);
      // Generous for a loaded 2-core machine; the phases between checks take well under a second.
      expect(term.exitAfterSignalMs).toBeLessThan(5000);
    }

    const last = await rec(['prep', log, '--out', out, '--seed', '7', '-q']);
    expect(last.code, `${last.stderr}\noutcomes: ${outcomes.join(', ')}`).toBe(0);
    expect(temps(), `after kills: ${outcomes.join(', ')}; a temp was left: ${sawTemp}`).toEqual([]);
    expect((await loadDataset(out)).manifest.seed).toBe(7);
  }, 90_000);
});
