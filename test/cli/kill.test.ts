/**
 * kill -9 at random moments (PRODUCT §1: "resumable after a kill"; §4: atomic files): training
 * killed during frequent saves always leaves a complete state that --resume finishes from; eval and
 * recommend killed leave no half output, and their leftovers go on the next run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCompleteDir } from '../../src/io/checkpoint.js';
import { BIN, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-kill-');
const ds = join(dir, 'ds');
const USERS = 200;
const EPOCHS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;
const temps = (d: string) => readdirSync(d).filter((n) => n.includes('.tmp-'));

/** Starts rec; kills it with SIGKILL once `ready()` holds plus a random delay; resolves how it ended. */
async function killAtRandom(args: string[], ready: () => boolean, maxDelayMs: number): Promise<'killed' | 'exited'> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  let ended: 'killed' | 'exited' | null = null;
  const exit = new Promise<void>((done) =>
    child.on('exit', (_code, signal) => {
      ended = signal === 'SIGKILL' ? 'killed' : 'exited';
      done();
    }),
  );
  for (let i = 0; i < 3000 && ended === null && !ready(); i++) await sleep(10);
  await sleep(Math.random() * maxDelayMs);
  if (ended === null) child.kill('SIGKILL');
  await exit;
  return ended ?? 'killed';
}

beforeAll(async () => {
  const log = join(dir, 'shop.csv');
  expect((await rec(['synth', '--out', log, '--users', String(USERS), '--items', '100', '--events', '6000', '--seed', '5'])).code).toBe(0);
  const p = await rec(['prep', log, '--out', ds]);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

describe('kill -9', () => {
  it('during training with a save every step: --resume always finds a complete state and finishes', async () => {
    const ck = join(dir, 'train');
    const args = ['train', '--data', ds, '--epochs', String(EPOCHS), '--dim', '32', '--batch-size', '32', '--save-every', '1', '--seed', '3', '--backend', 'cpu', '--patience', '0', '--out', ck];
    const stateSaved = () => existsSync(join(ck, 'last', 'trainer_state.json'));
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const ended = await killAtRandom(round === 0 ? args : ['train', '--out', ck, '--resume', '--backend', 'cpu'], stateSaved, 600);
      if (ended === 'exited') break;
      kills++;
      const last = await findCompleteDir(join(ck, 'last'), 'trainer_state.json');
      expect(last, `round ${round}: no complete state in ${readdirSync(ck).join(', ')}`).not.toBeNull();
      expect(JSON.parse(readFileSync(join(last as string, 'trainer_state.json'), 'utf8'))).toHaveProperty('global_step');
    }
    expect(kills).toBeGreaterThan(0);
    // SIGTERM: a resumable state is saved and the folder lock is released on the way out.
    const term = spawn(process.execPath, [BIN, 'train', '--out', ck, '--resume', '--backend', 'cpu'], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    const termExit = new Promise<number | null>((done) => term.on('exit', (code) => done(code)));
    // The killed runs left their lock behind: wait for this run's own.
    const holder = () => (existsSync(join(ck, '.rec.lock')) ? readFileSync(join(ck, '.rec.lock'), 'utf8') : '');
    for (let i = 0; i < 2000 && !holder().includes(`"pid":${term.pid},`); i++) await sleep(5);
    term.kill('SIGTERM');
    expect([143, 0]).toContain(await termExit);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);
    const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'cpu', '--json'], { timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/unexpected failure/);
    const epochs = (JSON.parse(resumed.stdout) as { epochs: { epoch: number }[] }).epochs.map((e) => e.epoch);
    expect(epochs).toEqual([1, 2, 3]);
    // Leftovers of the killed saves are gone: what a killed run left is swept by the next one.
    for (const d of [ck, join(ck, 'last'), join(ck, 'model'), join(ck, 'last', 'model')]) expect(temps(d), d).toEqual([]);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);

    // eval and recommend on this checkpoint, killed at random, never leave a partial file.
    const evalFile = join(ck, 'eval-test-sampled50.json');
    const evalArgs = ['eval', ck, '--protocol', 'sampled:50', '--backend', 'cpu'];
    await killAtRandom(evalArgs, () => true, 2500);
    if (existsSync(evalFile)) expect(JSON.parse(readFileSync(evalFile, 'utf8'))).toHaveProperty('metrics');
    writeFileSync(join(ck, `.eval-test-sampled50.json.tmp-${deadPid()}-0a0b0c0d`), '{"metri');
    const e = await rec(evalArgs);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(readFileSync(evalFile, 'utf8'))).toHaveProperty('metrics');
    expect(temps(ck)).toEqual([]);

    const out = join(dir, 'recs.jsonl');
    const recArgs = ['recommend', ck, '--all', '--k', '20', '--out', out, '--force', '--backend', 'cpu'];
    const complete = () => {
      const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(USERS);
      for (const l of lines) expect(JSON.parse(l)).toHaveProperty('items');
    };
    await killAtRandom(recArgs, () => true, 2500);
    if (existsSync(out)) complete();
    writeFileSync(join(dir, `.recs.jsonl.tmp-${deadPid()}-0a0b0c0d`), '{"user":"u1","ite');
    const r = await rec(recArgs);
    expect(r.code, r.stderr).toBe(0);
    complete();
    expect(temps(dir)).toEqual([]);
  }, 180_000);
});
