/**
 * `rec eval --workers N|auto` (and `rec recommend`, rec train's validation): the full protocol's ranking on worker threads gives the
 * single-thread metrics exactly and records the thread count in the eval file; a worker that throws
 * is exit 1 (REC_TEST_RANK_WORKER_FAIL_AT_JOB, a test-only hook read by src/util/test-hooks.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

interface EvalJson {
  metrics: Record<string, number>;
  users: { evaluated: number };
  workers: number;
}

const dir = tempDir('rec-eval-workers-');
const ds = join(dir, 'ds');
const ck = join(dir, 'ck');

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '200', '--items', '120', '--events', '6000', '--seed', '4'])).code).toBe(0);
  expect((await rec(['prep', log, '--out', ds, '--split', 'leave-last'])).code).toBe(0);
  const r = await rec(['train', '--data', ds, '--model', 'neumf', '--epochs', '1', '--dim', '8', '--backend', 'wasm', '--workers', '1', '--out', ck], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
}, 180_000);

const evalJson = async (args: string[]): Promise<EvalJson> => {
  const r = await rec(['eval', ck, '--backend', 'wasm', '--json', '--user-block', '8', ...args], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as EvalJson;
  expect((JSON.parse(readFileSync(join(ck, 'eval-test-full.json'), 'utf8')) as EvalJson).workers).toBe(out.workers);
  return out;
};

describe('rec eval --workers', () => {
  it('2 threads give the metrics of 1 exactly; the eval file records the count; auto stays on 1 for a small split', async () => {
    const one = await evalJson(['--workers', '1']);
    const two = await evalJson(['--workers', '2']);
    expect(one.workers).toBe(1);
    expect(two.workers).toBe(2);
    expect(two.users).toEqual(one.users);
    expect(two.metrics).toEqual(one.metrics);
    expect(one.users.evaluated).toBeGreaterThan(100);
    expect((await evalJson([])).workers).toBe(1);
  }, 120_000);

  it('a ranking worker that throws is exit 1 naming the worker', async () => {
    const r = await rec(['eval', ck, '--backend', 'wasm', '--workers', '2', '--user-block', '8'], { env: { REC_TEST_RANK_WORKER_FAIL_AT_JOB: '1' }, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ranking worker 1 of 1 \(--workers 2\) failed during ranking/);
  }, 60_000);

  it('rec train validates on the run\'s --workers: ranking threads, the metrics of one thread', async () => {
    const valid = async (workers: string) => {
      const out = join(dir, `mf-${workers}`);
      // mf's fused step trains on one thread whatever --workers says, so only the validation differs.
      const r = await rec(['train', '--data', ds, '--model', 'mf', '--epochs', '2', '--dim', '8', '--backend', 'wasm', '--user-block', '8', '--workers', workers, '--out', out], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      return { stderr: r.stderr, valid: readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { valid: Record<string, number> }).valid) };
    };
    const one = await valid('1');
    const two = await valid('2');
    expect(one.stderr).not.toMatch(/ranking on \d+ threads/);
    expect(two.stderr).toMatch(/ranking on 2 threads/);
    expect(two.valid).toEqual(one.valid);
    expect(one.valid).toHaveLength(2);
  }, 120_000);

  it('rec recommend --all --workers 2 writes the very file of --workers 1', async () => {
    const files = [];
    for (const workers of ['1', '2']) {
      const out = join(dir, `recs-${workers}.csv`);
      const r = await rec(['recommend', ck, '--all', '--k', '5', '--backend', 'wasm', '--user-block', '8', '--workers', workers, '--out', out], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(/ranking on 2 threads/.test(r.stderr)).toBe(workers === '2');
      files.push(readFileSync(out, 'utf8'));
    }
    expect(files[1]).toBe(files[0]);
    expect(files[0].trim().split('\n').length).toBeGreaterThan(200);
  }, 120_000);

  it('--workers 0 is a usage error', async () => {
    const r = await rec(['eval', ck, '--workers', '0']);
    expect(r.code, r.stderr).toBe(2);
  });
});
