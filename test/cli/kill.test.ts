/**
 * kill -9 at seeded random moments (docs/design.md#crash-safety: resumable after a kill, atomic files): training
 * killed during frequent saves always leaves a complete state that --resume finishes from; eval and
 * recommend killed leave no half output, and their leftovers go on the next run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCompleteDir } from '../../src/io/checkpoint.js';
import { Prng } from '../../src/util/prng.js';
import { BIN, rec, savedStep, sleep, tempDir } from './helpers.js';

const dir = tempDir('rec-kill-');
const ds = join(dir, 'ds');
const USERS = 200;
const EPOCHS = 3;
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;
const temps = (d: string) => readdirSync(d).filter((n) => n.includes('.tmp-'));

/**
 * The kill delays: seeded, so a failure replays with the same timings (the seed is in every
 * failure message); the machine's speed still decides where in the run a delay lands.
 */
const KILL_SEED = 20;
const delays = Prng.fromSeed(KILL_SEED, 'kill-delays');

interface Ended {
  /** `killed` by our SIGKILL, or `exited` on its own before the delay ran out. */
  how: 'killed' | 'exited';
  code: number | null;
  delayMs: number;
}

/** Starts rec; kills it with SIGKILL once `ready()` holds plus a seeded delay below `maxDelayMs`. */
async function killAfterDelay(args: string[], ready: () => boolean, maxDelayMs: number): Promise<Ended> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  let ended: Omit<Ended, 'delayMs'> | null = null;
  const exit = new Promise<void>((done) =>
    child.on('exit', (code, signal) => {
      ended = { how: signal === 'SIGKILL' ? 'killed' : 'exited', code };
      done();
    }),
  );
  const delayMs = delays.next() * maxDelayMs;
  for (let i = 0; i < 3000 && ended === null && !ready(); i++) await sleep(10);
  await sleep(delayMs);
  if (ended === null) child.kill('SIGKILL');
  await exit;
  return { ...(ended as unknown as Omit<Ended, 'delayMs'>), delayMs };
}

/** What a killed or finished writer left at `path`: nothing, or the complete file (never part of one). */
function outcome(path: string, complete: (text: string) => boolean): 'absent' | 'complete' | 'partial' {
  if (!existsSync(path)) return 'absent';
  try {
    return complete(readFileSync(path, 'utf8')) ? 'complete' : 'partial';
  } catch {
    return 'partial';
  }
}

/** A run that finished on its own wrote its whole file; a killed one left it whole or not at all. */
function expectAtomic(ended: Ended, state: ReturnType<typeof outcome>, what: string): void {
  const where = `${what} (seed ${KILL_SEED}, ${ended.how} after ${ended.delayMs.toFixed(0)} ms, exit ${ended.code})`;
  if (ended.how === 'exited') {
    expect(ended.code, where).toBe(0);
    expect(state, where).toBe('complete');
  } else {
    expect(['absent', 'complete'], where).toContain(state);
  }
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
    // A save every step makes the run last seconds (~500 steps, tens of ms each): four kills, each
    // at most 0.6 s after a state exists, cannot let it finish.
    let before = 0;
    for (let round = 0; round < 4; round++) {
      const ended = await killAfterDelay(round === 0 ? args : ['train', '--out', ck, '--resume', '--backend', 'cpu'], stateSaved, 600);
      expect(ended.how, `round ${round} (seed ${KILL_SEED}): the run ended before the kill, exit ${ended.code}`).toBe('killed');
      const last = await findCompleteDir(join(ck, 'last'), 'trainer_state.json');
      expect(last, `round ${round}: no complete state in ${readdirSync(ck).join(', ')}`).not.toBeNull();
      // A kill during a save may leave the complete state under a temporary name: the next run repairs it.
      before = (JSON.parse(readFileSync(join(last as string, 'trainer_state.json'), 'utf8')) as { global_step: number }).global_step;
      expect(before, `round ${round}`).toBeGreaterThan(0);
    }
    // SIGTERM: a resumable state is saved and the folder lock is released on the way out. The signal
    // goes once this run has saved a step of its own, so it lands in the training loop with most of
    // the run still ahead: the run cannot have finished, and must exit 143.
    const term = spawn(process.execPath, [BIN, 'train', '--out', ck, '--resume', '--backend', 'cpu'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let termErr = '';
    term.stderr.on('data', (d: Buffer) => (termErr += d.toString()));
    const termExit = new Promise<number | null>((done) => term.on('exit', (code) => done(code)));
    for (let i = 0; i < 6000 && savedStep(ck) <= before; i++) await sleep(5);
    term.kill('SIGTERM');
    expect(await termExit, termErr).toBe(143);
    // Mostly mid-epoch; a signal at an epoch's last step lands in its validation or its end.
    expect(termErr).toMatch(/SIGTERM received( during validation)?: saved a resumable state/);
    const interruptedAt = savedStep(ck);
    expect(interruptedAt).toBeGreaterThan(before);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);
    const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'cpu', '--json'], { timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/unexpected failure/);
    const epochs = (JSON.parse(resumed.stdout) as { epochs: { epoch: number }[] }).epochs.map((e) => e.epoch);
    expect(epochs).toEqual([1, 2, 3]);
    expect(savedStep(ck)).toBeGreaterThan(interruptedAt);
    // Leftovers of the killed saves are gone: what a killed run left is swept by the next one.
    for (const d of [ck, join(ck, 'last'), join(ck, 'model'), join(ck, 'last', 'model')]) expect(temps(d), d).toEqual([]);
    expect(existsSync(join(ck, '.rec.lock'))).toBe(false);

    // eval and recommend on this checkpoint, killed at random, never leave a partial file.
    const evalFile = join(ck, 'eval-test-sampled50.json');
    const evalArgs = ['eval', ck, '--protocol', 'sampled:50', '--backend', 'cpu'];
    const evalComplete = (text: string) => 'metrics' in (JSON.parse(text) as object);
    expectAtomic(await killAfterDelay(evalArgs, () => true, 2500), outcome(evalFile, evalComplete), evalFile);
    writeFileSync(join(ck, `.eval-test-sampled50.json.tmp-${deadPid()}-0a0b0c0d`), '{"metri');
    const e = await rec(evalArgs);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(readFileSync(evalFile, 'utf8'))).toHaveProperty('metrics');
    expect(temps(ck)).toEqual([]);

    const out = join(dir, 'recs.jsonl');
    const recArgs = ['recommend', ck, '--all', '--k', '20', '--out', out, '--force', '--backend', 'cpu'];
    const recsComplete = (text: string) => {
      const lines = text.trimEnd().split('\n');
      return lines.length === USERS && lines.every((l) => 'items' in (JSON.parse(l) as object));
    };
    const complete = () => expect(outcome(out, recsComplete)).toBe('complete');
    expectAtomic(await killAfterDelay(recArgs, () => true, 2500), outcome(out, recsComplete), out);
    writeFileSync(join(dir, `.recs.jsonl.tmp-${deadPid()}-0a0b0c0d`), '{"user":"u1","ite');
    const r = await rec(recArgs);
    expect(r.code, r.stderr).toBe(0);
    complete();
    expect(temps(dir)).toEqual([]);
  }, 180_000);
});
