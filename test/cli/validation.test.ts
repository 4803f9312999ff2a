import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-cli-validation-');
const ds = join(dir, 'ds');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  // 1,500 users with 3 events each over a ~4,000-item catalogue, leave-last: a one-row-per-user
  // train split (an epoch of a few dozen steps) and 1,500 valid users, each ranked against the
  // whole catalogue through a wide MLP tower on the pure-JS engine: tens of seconds of validation.
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const lines = ['user,item,ts'];
  for (let u = 0; u < 1500; u++) for (let t = 0; t < 3; t++) lines.push(`u${u},i${next() % 6000},${1_600_000_000 + u * 10 + t}`);
  writeFileSync(join(dir, 'log.csv'), `${lines.join('\n')}\n`);
  const r = await rec(['prep', join(dir, 'log.csv'), '--out', ds, '--split', 'leave-last', '--ts-unit', 's']);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

describe('validation responsiveness', () => {
  it('SIGINT during a slow validation exits 130 within seconds, with a state that resumes into the validation', async () => {
    const out = join(dir, 'ckpt');
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--data', ds, '--model', 'mlp', '--dim', '32', '--layers', '128,64,32', '--epochs', '2', '--backend', 'cpu', '--verbose', '--out', out],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } },
    );
    let stderr = '';
    let sentAt = 0;
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (sentAt === 0 && /epoch 1: \d+ steps done .*validating/.test(stderr)) {
        // Well inside the validation, which takes far longer than this.
        setTimeout(() => {
          sentAt = performance.now();
          child.kill('SIGINT');
        }, 500);
      }
    });
    const code = await exited;
    const afterSignal = performance.now() - sentAt;
    expect(sentAt, stderr).toBeGreaterThan(0);
    expect(code, stderr).toBe(130);
    // A generous bound, not a benchmark: before, the signal waited for the whole validation.
    expect(afterSignal).toBeLessThan(10_000);
    expect(stderr).toMatch(/SIGINT received during validation: saved a resumable state after the steps of epoch 1/);
    expect(stderr).not.toMatch(/bug in rec/);
    const state = JSON.parse(readFileSync(join(out, 'last', 'trainer_state.json'), 'utf8')) as { epoch: number; step_in_epoch: number };
    expect(state.epoch).toBe(0);
    expect(state.step_in_epoch).toBeGreaterThan(0);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { status: string; timings: { wall_seconds: number; train_seconds: number } };
    expect(run.status).toBe('interrupted');
    expect(run.timings.wall_seconds).toBeGreaterThan(run.timings.train_seconds);
  }, 120_000);

  it('train takes --valid-users and REC_EVAL_USER_BLOCK, states the sample and records it with the timings', async () => {
    const out = join(dir, 'sampled');
    const r = await rec(['train', '--data', ds, '--model', 'mf', '--dim', '4', '--epochs', '1', '--backend', 'cpu', '--valid-users', '50', '--out', out, '--json'], {
      env: { REC_EVAL_USER_BLOCK: '3' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/validation: ranking 50 of \d+ valid users \(seeded sample, seed 2020, --valid-users 50/);
    const { epochs, wall_seconds } = JSON.parse(r.stdout) as { epochs: { valid_users: number; valid_seconds: number }[]; wall_seconds: number };
    expect(epochs[0].valid_users).toBe(50);
    expect(epochs[0].valid_seconds).toBeGreaterThanOrEqual(0);
    expect(wall_seconds).toBeGreaterThan(0);
    const best = JSON.parse(readFileSync(join(out, 'best.json'), 'utf8')) as { valid_users: { users: number; of: number; seed: number } };
    // `of`: the valid users with a training row (cold ones are never ranked).
    expect(best.valid_users).toEqual({ users: 50, of: expect.any(Number) as number, seed: 2020 });
    expect(best.valid_users.of).toBeGreaterThan(50);
    expect(readFileSync(join(out, 'config.yaml'), 'utf8')).toMatch(/user_block: 3 {2}# env:REC_EVAL_USER_BLOCK/);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { timings: { wall_seconds: number; train_seconds: number } };
    expect(run.timings.wall_seconds).toBeGreaterThanOrEqual(run.timings.train_seconds);
  }, 60_000);
});
