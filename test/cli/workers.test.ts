/**
 * `--workers` (docs/engines.md#training-on-every-core---workers-nauto): data-parallel training on worker threads, for each model family (pair
 * models split each step's examples and the update between the replicas; sequence models split a
 * batch's sequences). The same seed and worker count give the same metrics and weights run to run
 * (each failed or interrupted run below computes its first steps itself and must end, resumed, with
 * the reference run's metrics and weights, so no separate rerun is needed); a failing worker ends the run with exit 1 and a kept state; a run ended by SIGINT or by a
 * worker's failure resumes to the uninterrupted run's end. REC_TEST_WORKER_FAIL_AT_STEP is a
 * test-only hook (src/util/test-hooks.ts): worker 1 throws in the n-th step it computes (`n`)
 * or in its share of that step's update (`n:update`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, epochMetrics, readRunJson, rec, savedStep, sleep, tempDir, weightsSha256 } from './helpers.js';

interface Family {
  model: string;
  synth: string[];
  prep: string[];
  batchSize: string;
  /** REC_TEST_WORKER_FAIL_AT_STEP values: where worker 1 can fail in this family's step. */
  failures: [string, string][];
  /** Each shard draws its own dropout masks: one worker's losses differ from two workers'. */
  shardDropout: boolean;
}

const FAMILIES: Family[] = [
  {
    model: 'neumf',
    synth: ['--users', '200', '--items', '100', '--events', '5000'],
    prep: [],
    batchSize: '64',
    failures: [
      ['its shard', '5'],
      ['its share of the update, while the main thread waits for it', '5:update'],
    ],
    shardDropout: false,
  },
  {
    model: 'sasrec',
    synth: ['--users', '150', '--items', '80', '--events', '3000'],
    prep: ['--split', 'leave-last'],
    batchSize: '16',
    failures: [['its shard', '5']],
    shardDropout: true,
  },
];

/** `rec doctor --json` on the first `cores` CPUs only (taskset): os.availableParallelism honours the affinity. */
function doctorOnCores(cores: number): { auto: string; cores: number; workers_auto: number } {
  const cpus = Array.from({ length: cores }, (_, k) => k).join(',');
  const r = spawnSync('taskset', ['-c', cpus, process.execPath, BIN, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { auto: string; cores: number; workers_auto: number };
}

const tasksetWorks = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', process.execPath, '-e', '0']).status === 0;

it.skipIf(!tasksetWorks)('rec doctor reports the count --workers auto would use: every core this process may use on wasm or cpu, 1 on the tfjs-node engines', () => {
  const one = doctorOnCores(1);
  const two = doctorOnCores(2);
  expect([one.cores, two.cores]).toEqual([1, 2]);
  const threadsItself = one.auto === 'node' || one.auto === 'node-gpu';
  expect([one.workers_auto, two.workers_auto]).toEqual(threadsItself ? [1, 1] : [1, 2]);
});

describe.each(FAMILIES)('--workers with --model $model', (family) => {
  const dir = tempDir(`rec-workers-${family.model}-`);
  const ds = join(dir, 'ds');
  const args = (out: string, workers: string) => [
    'train', '--data', ds, '--model', family.model, '--epochs', '2', '--batch-size', family.batchSize, '--save-every', '3', '--seed', '9',
    '--backend', 'wasm', '--patience', '0', '--workers', workers, '--out', out,
  ];
  const resume = (ck: string) => rec(['train', '--out', ck, '--resume', '--backend', 'wasm'], { timeoutMs: 120_000 });
  const reference = join(dir, 'reference');

  beforeAll(async () => {
    const log = join(dir, 'shop.csv');
    expect((await rec(['synth', '--out', log, ...family.synth, '--seed', '5'])).code).toBe(0);
    const p = await rec(['prep', log, '--out', ds, ...family.prep]);
    expect(p.code, p.stderr).toBe(0);
    const r = await rec(args(reference, '2'), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training on 2 threads/);
    expect(readRunJson(reference).workers).toBe(2);
  }, 180_000);

  it('1 worker is the single-thread path: no threads started, run.json says 1, a loss close to 2 workers\'', async () => {
    const one = join(dir, 'one');
    const r = await rec(args(one, '1'), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/training on \d+ threads/);
    expect(readRunJson(one).workers).toBe(1);
    const [mine, theirs] = [epochMetrics(one)[0].loss, epochMetrics(reference)[0].loss];
    expect(Math.abs(mine - theirs)).toBeLessThan(0.1);
    if (family.shardDropout) expect(mine).not.toBe(theirs);
  }, 150_000);

  it.each(family.failures)('a worker that throws in %s ends the run with exit 1 and keeps the last saved state; --resume finishes with the uninterrupted metrics', async (_what, at) => {
    const ck = join(dir, `failing-${at.replace(':', '-')}`);
    const r = await rec(args(ck, '2'), { env: { REC_TEST_WORKER_FAIL_AT_STEP: at }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/training worker 1 of 1 \(--workers 2\) failed during step 5 of the epoch: test-only failure/);
    expect(savedStep(ck)).toBe(3);
    expect(readRunJson(ck).status).toBe('failed');
    const resumed = await resume(ck);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(epochMetrics(ck)).toEqual(epochMetrics(reference));
    expect(weightsSha256(ck)).toBe(weightsSha256(reference));
  }, 250_000);

  it('SIGINT with 2 workers saves a state and exits 130; --resume finishes with the uninterrupted metrics', async () => {
    const ck = join(dir, 'interrupted');
    const child = spawn(process.execPath, [BIN, ...args(ck, '2')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    for (let i = 0; i < 12_000 && savedStep(ck) < 3; i++) await sleep(10);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    // A sasrec run may be validating (leave-last split) when the signal lands: its message says so.
    expect(stderr).toMatch(/SIGINT received( during validation)?: saved a resumable state/);
    expect(existsSync(join(ck, 'last', 'trainer_state.json'))).toBe(true);
    expect(readRunJson(ck).status).toBe('interrupted');
    const resumed = await resume(ck);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readRunJson(ck).workers).toBe(2);
    expect(epochMetrics(ck)).toEqual(epochMetrics(reference));
    expect(weightsSha256(ck)).toBe(weightsSha256(reference));
  }, 250_000);
});
