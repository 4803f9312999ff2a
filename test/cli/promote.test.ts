import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPromotions } from '../../src/promote/history.js';
import { BIN, rec, tempDir, weightsSha256 } from './helpers.js';

const dir = tempDir('rec-promote-');
const ds = join(dir, 'ds');
const ck = join(dir, 'ck');
const other = join(dir, 'other');
const serving = join(dir, 'serving');
const production = join(serving, 'production');
const log = join(dir, 'log.csv');

beforeAll(async () => {
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

/** A copy of `from` that rec has not promoted (the copy would inherit its promoted.json). */
function copyCheckpoint(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  rmSync(join(to, 'promoted.json'), { force: true });
  return to;
}

/** promotions.jsonl agrees with the link: the last switch is where production points, each switch follows the one before. */
async function expectHistoryAgrees(to: string): Promise<void> {
  const now = realpathSync(join(to, 'production'));
  const switched = (await readPromotions(to, now)).filter((e) => e.switched);
  expect(switched.at(-1)?.checkpoint, readFileSync(join(to, 'promotions.jsonl'), 'utf8')).toBe(now);
  for (let i = 1; i < switched.length; i++) expect(switched[i].previous).toBe(switched[i - 1].checkpoint);
}

describe('rec promote verifies what it switches to', () => {
  it('exit 1 naming the file for a truncated or missing weights.bin, a broken model.json or weights whose hash differs; production unchanged', async () => {
    const before = target();
    const fresh = join(dir, 'fresh');
    mkdirSync(fresh);
    const truncated = copyCheckpoint(ck, join(dir, 'bad-truncated'));
    truncateSync(join(truncated, 'model', 'weights.bin'), 100);
    const missing = copyCheckpoint(ck, join(dir, 'bad-missing'));
    rmSync(join(missing, 'model', 'weights.bin'));
    const broken = copyCheckpoint(ck, join(dir, 'bad-json'));
    writeFileSync(join(broken, 'model', 'model.json'), '{"modelTopology": {');
    const flipped = copyCheckpoint(ck, join(dir, 'bad-hash'));
    const bytes = readFileSync(join(flipped, 'model', 'weights.bin'));
    bytes[0] ^= 1;
    writeFileSync(join(flipped, 'model', 'weights.bin'), bytes);
    const cases: [string, string[], RegExp][] = [
      [truncated, ['--to', fresh], /bad-truncated\/model\/weights\.bin holds 100 bytes; its manifest describes \d+/],
      [missing, ['--to', serving, '--force'], /Cannot read .*bad-missing\/model\/weights\.bin: ENOENT/],
      [broken, ['--to', serving, '--force'], /bad-json\/model\/model\.json is not valid JSON/],
      [flipped, ['--to', fresh], /bad-hash\/model\/weights\.bin is corrupt: its sha256 is [0-9a-f]{64}, .* records [0-9a-f]{64}/],
    ];
    for (const [bad, args, message] of cases) {
      const r = await rec(['promote', bad, ...args]);
      expect(r.code, `${bad}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(bad, 'promoted.json'))).toBe(false);
    }
    expect(target()).toBe(before);
    expect(existsSync(join(fresh, 'production'))).toBe(false);
    expect(existsSync(join(fresh, 'promotions.jsonl'))).toBe(false);
  });

  it('a checkpoint from before hashes were recorded is promoted after a size check, with a warning', async () => {
    const old = copyCheckpoint(ck, join(dir, 'old-format'));
    const modelJson = JSON.parse(readFileSync(join(old, 'model', 'model.json'), 'utf8')) as Record<string, unknown>;
    delete modelJson.weightsSha256;
    writeFileSync(join(old, 'model', 'model.json'), JSON.stringify(modelJson));
    const run = JSON.parse(readFileSync(join(old, 'run.json'), 'utf8')) as Record<string, unknown>;
    delete run.weights_sha256;
    writeFileSync(join(old, 'run.json'), JSON.stringify(run));
    const to = join(dir, 'old-serving');
    mkdirSync(to);
    const r = await rec(['promote', old, '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/weights\.bin has no recorded sha256/);
    expect(realpathSync(join(to, 'production'))).toBe(realpathSync(old));
  });
});

describe('promotions.jsonl: an intent before the switch, confirmed after it', () => {
  it('a promotions.jsonl that is a folder is exit 2 before anything changes', async () => {
    const to = join(dir, 'history-folder');
    mkdirSync(join(to, 'promotions.jsonl'), { recursive: true });
    const r = await rec(['promote', ck, '--to', to]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/promotions\.jsonl is not the promotion history file .*it is a folder/);
    expect(existsSync(join(to, 'production'))).toBe(false);
  });

  /** Starts `rec promote`; SIGKILLs it once stderr shows `until` (a test hold) or after `delayMs`; resolves when it is gone. */
  function promoteKilled(args: string[], opts: { hold?: string; delayMs?: number }): Promise<'killed' | 'exited'> {
    return new Promise((done, fail) => {
      const env = { ...process.env, CI: 'true', REC_LOG_LEVEL: '', ...(opts.hold ? { REC_TEST_PROMOTE_HOLD: opts.hold } : {}) };
      const child = spawn(process.execPath, [BIN, 'promote', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (opts.hold && stderr.includes('holding until killed')) child.kill('SIGKILL');
      });
      const timer = opts.delayMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), opts.delayMs);
      child.on('error', fail);
      child.on('close', (_code, signal) => {
        if (timer) clearTimeout(timer);
        done(signal === 'SIGKILL' ? 'killed' : 'exited');
      });
    });
  }

  it('kill -9 after the intent or after the switch: the history still says where production points, and the next promote settles it', async () => {
    const to = join(dir, 'kill-serving');
    mkdirSync(to);
    expect((await rec(['promote', ck, '--to', to])).code).toBe(0);
    for (const [hold, from, next] of [['switched', ck, other], ['intent', other, ck], ['intent', ck, other], ['switched', other, ck]] as const) {
      expect(realpathSync(join(to, 'production'))).toBe(realpathSync(from));
      expect(await promoteKilled([next, '--to', to, '--force'], { hold })).toBe('killed');
      expect(realpathSync(join(to, 'production'))).toBe(realpathSync(hold === 'switched' ? next : from));
      await expectHistoryAgrees(to);
      const again = await rec(['promote', next, '--to', to, '--force', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/was interrupted; .*recorded as (done|abandoned)/);
      expect(realpathSync(join(to, 'production'))).toBe(realpathSync(next));
      await expectHistoryAgrees(to);
      expect(readFileSync(join(to, 'promotions.jsonl'), 'utf8')).not.toMatch(/"status":"intent"/);
    }
  }, 120_000);

  it('kill -9 at seeded moments: production is always one of the two checkpoints and the history agrees with it', async () => {
    const to = join(dir, 'kill-timed');
    mkdirSync(to);
    expect((await rec(['promote', ck, '--to', to])).code).toBe(0);
    const t0 = performance.now();
    expect((await rec(['promote', other, '--to', to, '--force'])).code).toBe(0);
    const fullMs = performance.now() - t0;
    // A fixed-seed LCG over [0.3, 1.2) of a full run, so a failure can be replayed.
    let x = 19;
    for (let trial = 0; trial < 6; trial++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const next = trial % 2 === 0 ? ck : other;
      await promoteKilled([next, '--to', to, '--force'], { delayMs: fullMs * (0.3 + 0.9 * (x / 2 ** 32)) });
      expect([realpathSync(ck), realpathSync(other)]).toContain(realpathSync(join(to, 'production')));
      await expectHistoryAgrees(to);
      const settle = await rec(['promote', next, '--to', to, '--force']);
      expect(settle.code, settle.stderr).toBe(0);
      await expectHistoryAgrees(to);
    }
  }, 180_000);
});

describe('production behind a symlinked folder', () => {
  it('DIR a link to a folder elsewhere: the production link resolves to the checkpoint (relative to the real folder)', async () => {
    const disk = join(dir, 'disk', 'a', 'b', 'nightly');
    mkdirSync(join(disk, 'checkpoints'), { recursive: true });
    copyCheckpoint(ck, join(disk, 'checkpoints', 'n1'));
    const nightly = join(dir, 'nightly');
    symlinkSync(disk, nightly);
    const r = await rec(['promote', join(nightly, 'checkpoints', 'n1'), '--to', nightly, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(realpathSync(join(nightly, 'production'))).toBe(realpathSync(join(disk, 'checkpoints', 'n1')));
    expect(readlinkSync(join(disk, 'production'))).toBe('checkpoints/n1');
    // The same checkpoint given by its real path, into a folder reached through the link.
    const other2 = copyCheckpoint(ck, join(disk, 'checkpoints', 'n2'));
    const r2 = await rec(['promote', other2, '--to', nightly, '--force']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(realpathSync(join(nightly, 'production'))).toBe(realpathSync(other2));
  });
});

describe('production is written only by rec promote', () => {
  it('rec train (--force, --resume), rec prep --out and a file --out refuse a production link or a promoted checkpoint', async () => {
    const now = target();
    const history = readFileSync(join(serving, 'promotions.jsonl'), 'utf8');
    const sha = weightsSha256(now);
    const modelJson = readFileSync(join(now, 'model', 'model.json'), 'utf8');
    const train = ['train', '--data', ds, '--epochs', '1', '--dim', '8', '--seed', '9', '--backend', 'cpu'];
    const attempts: [string[], RegExp][] = [
      [[...train, '--out', production, '--force'], /rec train --out .*production would write into the promoted checkpoint .*is a production link/],
      [['train', '--out', production, '--resume', '--backend', 'cpu'], /promoted checkpoint/],
      [[...train, '--out', now, '--force'], /promoted checkpoint .*promoted\.json records its promotion/],
      [['prep', log, '--out', production, '--force'], /rec prep --out .*production would write into the promoted checkpoint/],
      [['prep', log, '--out', join(now, 'data'), '--force'], /promoted checkpoint/],
      [['report', ck, '--out', join(now, 'model', 'model.json'), '--force'], /--out .*model\.json would write into the promoted checkpoint/],
      [['synth', '--out', join(production, 'shop.csv'), '--users', '5', '--items', '50', '--events', '20'], /promoted checkpoint/],
    ];
    for (const [args, message] of attempts) {
      const r = await rec(args, { timeoutMs: 120_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(lstatSync(production).isSymbolicLink()).toBe(true);
    expect(target()).toBe(now);
    expect(weightsSha256(now)).toBe(sha);
    expect(readFileSync(join(now, 'model', 'model.json'), 'utf8')).toBe(modelJson);
    expect(existsSync(join(now, 'shop.csv'))).toBe(false);
    expect(readFileSync(join(serving, 'promotions.jsonl'), 'utf8')).toBe(history);
  }, 180_000);

  it('a checkpoint promoted without the marker (an older rec) is found by the production link above it', async () => {
    const n1 = join(dir, 'nightly', 'checkpoints', 'n1');
    // n2 is production there now; n1 was, and promotions.jsonl says so.
    rmSync(join(n1, 'promoted.json'));
    const r = await rec(['train', '--data', ds, '--epochs', '1', '--dim', '8', '--backend', 'cpu', '--out', n1, '--force']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/promotions\.jsonl lists it/);
    const n2 = join(dir, 'nightly', 'checkpoints', 'n2');
    rmSync(join(n2, 'promoted.json'));
    const r2 = await rec(['train', '--data', ds, '--epochs', '1', '--dim', '8', '--backend', 'cpu', '--out', n2, '--force']);
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toMatch(/nightly\/production points at it/);
  });
});
