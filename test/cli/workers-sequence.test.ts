/**
 * `--workers` for sequence models (sasrec): a batch's sequences are split across worker threads;
 * the same seed and worker count give the same metrics and weights run to run, and a run
 * interrupted with SIGINT or ended by a worker's failure resumes to the uninterrupted run's end.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, epochMetrics, readRunJson, rec, savedStep, sleep, tempDir, weightsSha256 } from './helpers.js';

const dir = tempDir('rec-workers-seq-');
const ds = join(dir, 'ds');
const args = (out: string, workers: string) => [
  'train', '--data', ds, '--model', 'sasrec', '--epochs', '2', '--batch-size', '16', '--save-every', '3', '--seed', '9',
  '--backend', 'wasm', '--patience', '0', '--workers', workers, '--out', out,
];

let reference = '';
beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  expect((await rec(['synth', '--out', log, '--users', '150', '--items', '80', '--events', '3000', '--seed', '5'])).code).toBe(0);
  const p = await rec(['prep', log, '--out', ds, '--split', 'leave-last']);
  expect(p.code, p.stderr).toBe(0);
  reference = join(dir, 'reference');
  const r = await rec(args(reference, '2'), { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/training on 2 threads/);
}, 180_000);

describe('--workers with --model sasrec', () => {
  it('2 workers: the same seed gives the same metrics and weights run to run; run.json records the count', async () => {
    const again = join(dir, 'again');
    const r = await rec(args(again, '2'), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(epochMetrics(again)).toEqual(epochMetrics(reference));
    expect(weightsSha256(again)).toBe(weightsSha256(reference));
    expect(readRunJson(again).workers).toBe(2);
  }, 150_000);

  it('1 worker stays the single-thread path', async () => {
    const one = join(dir, 'one');
    const r = await rec(args(one, '1'), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/training on \d+ threads/);
    expect(readRunJson(one).workers).toBe(1);
    // Same batches and negatives, shard-own dropout masks: close to, not equal to, 2 workers.
    expect(epochMetrics(one)[0].loss).not.toBe(epochMetrics(reference)[0].loss);
    expect(Math.abs(epochMetrics(one)[0].loss - epochMetrics(reference)[0].loss)).toBeLessThan(0.1);
  }, 150_000);

  it('a worker that throws mid-step ends the run with exit 1 and a kept state; --resume finishes with the uninterrupted metrics', async () => {
    const ck = join(dir, 'failing');
    const r = await rec(args(ck, '2'), { env: { REC_TEST_WORKER_FAIL_AT_STEP: '5' }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/training worker 1 of 1 \(--workers 2\) failed during step 5 of the epoch: test-only failure/);
    expect(savedStep(ck)).toBe(3);
    const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'wasm'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(epochMetrics(ck)).toEqual(epochMetrics(reference));
    expect(weightsSha256(ck)).toBe(weightsSha256(reference));
  }, 250_000);

  it('SIGINT with 2 workers exits 130; --resume finishes with the uninterrupted metrics', async () => {
    const ck = join(dir, 'interrupted');
    const child = spawn(process.execPath, [BIN, ...args(ck, '2')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    for (let i = 0; i < 12_000 && savedStep(ck) < 3; i++) await sleep(10);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(readRunJson(ck).status).toBe('interrupted');
    const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'wasm'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readRunJson(ck).workers).toBe(2);
    expect(epochMetrics(ck)).toEqual(epochMetrics(reference));
    expect(weightsSha256(ck)).toBe(weightsSha256(reference));
  }, 250_000);
});
