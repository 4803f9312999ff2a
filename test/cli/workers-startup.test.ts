/**
 * Worker threads and signals (issue 19, item 12): `--workers N` never starts more threads than the
 * cores this process may use, and SIGINT/SIGTERM while the threads start ends the command at once
 * (exit 130/143, the threads terminated) instead of after the whole start-up. The test-only hook
 * REC_TEST_WORKER_HOLD_START_MS (src/util/test-hooks.ts) keeps every worker in its start-up for
 * ten minutes: without the signal handling the command would sit there until the test kills it.
 * The signal lands after a delay drawn from a seeded stream, once the pool has said it is starting.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/util/prng.js';
import { BIN, readRunJson, rec, sleep, tempDir } from './helpers.js';

const dir = tempDir('rec-workers-startup-');
const ds = join(dir, 'ds');
const HOLD = { REC_TEST_WORKER_HOLD_START_MS: '600000' };
const twoCores = availableParallelism() >= 2;

interface Ended {
  code: number | null;
  stderr: string;
}

/**
 * Runs rec, sends `signal` `delayMs` after stderr shows `starting`, and resolves how it ended; a
 * command still running 60 s after the signal is killed (code null) and fails the caller's check.
 */
async function signalDuringStart(args: string[], signal: 'SIGINT' | 'SIGTERM', delayMs: number, starting: RegExp): Promise<Ended> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true', ...HOLD } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  for (let i = 0; i < 6000 && !done && !starting.test(stderr); i++) await sleep(10);
  await sleep(delayMs);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  expect((await rec(['synth', '--out', log, '--users', '120', '--items', '60', '--events', '2400', '--seed', '5'])).code).toBe(0);
  const p = await rec(['prep', log, '--out', ds, '--split', 'leave-last']);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

describe.skipIf(!twoCores)('signals while worker threads start', () => {
  const rng = Prng.fromSeed(19, 'test/workers-startup');
  const ck = join(dir, 'ck');
  const train = (out: string) => ['train', '--data', ds, '--model', 'neumf', '--epochs', '1', '--dim', '8', '--batch-size', '64', '--backend', 'wasm', '--workers', '2', '-v', '--out', out];

  it('rec train: SIGTERM or SIGINT during the start-up exits 143/130 at once with a resumable state; --resume finishes', async () => {
    for (let trial = 0; trial < 4; trial++) {
      const out = trial === 0 ? ck : join(dir, `ck-${trial}`);
      const signal = trial % 2 === 0 ? 'SIGTERM' : 'SIGINT';
      const r = await signalDuringStart(train(out), signal, rng.int(800), /starting 1 training worker thread/);
      expect(r.code, `trial ${trial}: ${r.stderr}`).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(r.stderr).toMatch(new RegExp(`${signal} received while starting the 1 training worker thread`));
      expect(r.stderr).toMatch(/Continue with: rec train --out .* --resume/);
      expect(readRunJson(out).status).toBe('interrupted');
      expect(existsSync(join(out, 'last', 'trainer_state.json'))).toBe(true);
    }
    const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'wasm'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/training on 2 threads/);
    expect(readRunJson(ck)).toMatchObject({ status: 'completed', workers: 2 });
  }, 300_000);

  it('rec eval --workers 2: SIGTERM or SIGINT during the ranking threads\' start-up exits 143/130 at once', async () => {
    expect(existsSync(join(ck, 'model'))).toBe(true);
    for (let trial = 0; trial < 2; trial++) {
      const signal = trial === 0 ? 'SIGTERM' : 'SIGINT';
      const r = await signalDuringStart(['eval', ck, '--backend', 'wasm', '--workers', '2', '-v'], signal, rng.int(800), /starting 1 ranking worker thread/);
      expect(r.code, `trial ${trial}: ${r.stderr}`).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(r.stderr).toMatch(new RegExp(`${signal} received while starting the 1 ranking worker thread`));
    }
  }, 180_000);
});

describe('--workers above the cores', () => {
  it('is lowered to the cores with a warning, and run.json records the count used', async () => {
    const out = join(dir, 'many');
    const cores = availableParallelism();
    const r = await rec(['train', '--data', ds, '--model', 'neumf', '--epochs', '1', '--dim', '8', '--batch-size', '4096', '--backend', 'wasm', '--workers', String(cores + 62), '--out', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: --workers ${cores + 62} lowered to ${cores}: this process may use ${cores} core`);
    expect(readRunJson(out).workers).toBe(cores);
  }, 150_000);
});
