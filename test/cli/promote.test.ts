import { lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-promote-');
const ds = join(dir, 'ds');
const ck = join(dir, 'ck');
const other = join(dir, 'other');
const serving = join(dir, 'serving');
const production = join(serving, 'production');

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '200', '--items', '100', '--events', '8000', '--seed', '3'])).code).toBe(0);
  expect((await rec(['prep', log, '--out', ds, '--split', 'leave-last'])).code).toBe(0);
  for (const [out, seed] of [[ck, '1'], [other, '2']] as const) {
    const r = await rec(['train', '--data', ds, '--epochs', '1', '--dim', '8', '--seed', seed, '--backend', 'cpu', '--out', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
  }
  mkdirSync(serving);
}, 240_000);

const target = () => realpathSync(production);

describe('rec promote', () => {
  it('first promotion needs only a completed run; promoting production again changes nothing', async () => {
    const r = await rec(['promote', ck, '--to', serving, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: true, previous: null, checkpoint: realpathSync(ck), eval: null });
    expect(lstatSync(production).isSymbolicLink()).toBe(true);
    // Relative, so the folder can be moved or restored as a whole.
    expect(readlinkSync(production)).toBe('../ck');
    const again = await rec(['promote', ck, '--to', serving, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false });
    expect(readFileSync(join(serving, 'promotions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('refuses (exit 3, production unchanged) without a passing gate eval against the current production', async () => {
    const none = await rec(['promote', other, '--to', serving]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no passing gate eval against the current production.*no eval file with --baseline/);
    expect(target()).toBe(realpathSync(ck));

    const failing = await rec(['eval', other, '--backend', 'cpu', '--k', '10', '--metrics', 'ndcg', '--baseline', production, '--max-drop', 'ndcg@10=100%', '--fail-under', 'ndcg@10=2']);
    expect(failing.code, failing.stderr).toBe(3);
    const refused = await rec(['promote', other, '--to', serving]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/gate failed \(ndcg@10\)/);
    expect(target()).toBe(realpathSync(ck));
  });

  it('an eval against production without a --max-drop check is not a gate', async () => {
    const floorOnly = await rec(['eval', other, '--backend', 'cpu', '--k', '10', '--metrics', 'ndcg', '--baseline', production, '--fail-under', 'ndcg@10=0']);
    expect(floorOnly.code, floorOnly.stderr).toBe(0);
    const refused = await rec(['promote', other, '--to', serving]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/no --max-drop check against the baseline/);
    expect(target()).toBe(realpathSync(ck));
  });

  it('promotes after rec eval --baseline DIR/production passes; the eval file records the link and the baseline weights', async () => {
    const passing = await rec(['eval', other, '--backend', 'cpu', '--k', '10', '--metrics', 'ndcg', '--baseline', 'production', '--max-drop', 'ndcg@10=100%', '--json'], { cwd: serving });
    expect(passing.code, passing.stderr).toBe(0);
    const file = JSON.parse(readFileSync(join(other, 'eval-test-full.json'), 'utf8')) as {
      gates: { passed: boolean };
      baseline: { checkpoint: string; pointer: string; weights_sha256: string };
      weights_sha256: string;
    };
    expect(file.gates.passed).toBe(true);
    expect(file.baseline).toMatchObject({ checkpoint: realpathSync(ck), pointer: production });
    expect(file.baseline.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(file.weights_sha256).not.toBe(file.baseline.weights_sha256);
    const r = await rec(['promote', other, '--to', serving, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: true, previous: realpathSync(ck), eval: join(realpathSync(other), 'eval-test-full.json') });
    expect(target()).toBe(realpathSync(other));
  });

  it('an eval against an earlier production does not count; --force rolls back', async () => {
    // A passing gate eval of ck whose baseline is ck itself: not the current production (other).
    const stale = await rec(['eval', ck, '--backend', 'cpu', '--k', '10', '--metrics', 'ndcg', '--baseline', ck, '--max-drop', 'ndcg@10=0']);
    expect(stale.code, stale.stderr).toBe(0);
    const refused = await rec(['promote', ck, '--to', serving]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/is not the current production/);
    expect(target()).toBe(realpathSync(other));
    const forced = await rec(['promote', ck, '--to', serving, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/--force/);
    expect(target()).toBe(realpathSync(ck));
  });

  it('exit 2: not a checkpoint, no --to folder, a real folder named production, --baseline production before any promotion', async () => {
    expect((await rec(['promote', dir, '--to', serving])).code).toBe(2);
    expect((await rec(['promote', ck, '--to', join(dir, 'absent')])).code).toBe(2);
    const real = join(dir, 'real');
    mkdirSync(join(real, 'production'), { recursive: true });
    const r = await rec(['promote', ck, '--to', real]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a link made by rec promote/);
    // Another live rec process promoting into the same folder.
    writeFileSync(join(serving, '.rec.lock'), `${JSON.stringify({ pid: process.pid, command: 'rec promote', started: new Date().toISOString() })}\n`);
    const locked = await rec(['promote', other, '--to', serving, '--force']);
    expect(locked.code).toBe(2);
    expect(locked.stderr).toMatch(/in use by another rec process/);
    rmSync(join(serving, '.rec.lock'));
    expect(target()).toBe(realpathSync(ck));
    // A production link whose checkpoint is gone: exit 2, replaced only with --force.
    const gone = join(dir, 'gone');
    mkdirSync(gone);
    symlinkSync('../deleted-checkpoint', join(gone, 'production'));
    const dangling = await rec(['promote', ck, '--to', gone]);
    expect(dangling.code).toBe(2);
    expect(dangling.stderr).toMatch(/no longer exists/);
    expect((await rec(['promote', ck, '--to', gone, '--force'])).code).toBe(0);
    expect(realpathSync(join(gone, 'production'))).toBe(realpathSync(ck));
    const none = await rec(['eval', ck, '--backend', 'cpu', '--baseline', join(dir, 'absent', 'production'), '--max-drop', 'ndcg@10=0']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing has been promoted there yet/);
  });
});
