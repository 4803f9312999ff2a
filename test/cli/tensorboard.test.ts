import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEventDir, readEventFile, type ReadEvent } from '../unit/io/tb-reader.js';
import { BIN, rec, tempDir } from './helpers.js';

/** `tag@step` of every scalar, in file order. */
const points = (events: ReadEvent[]) => events.flatMap((e) => e.values.map((v) => `${v.tag}@${e.step}`));
const duplicates = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i);

function stateOf(ck: string): { epoch: number; step_in_epoch: number } | null {
  try {
    return JSON.parse(readFileSync(join(ck, 'last', 'trainer_state.json'), 'utf8')) as { epoch: number; step_in_epoch: number };
  } catch {
    return null;
  }
}

describe('TensorBoard event files of rec train and rec eval', () => {
  it('log train, epoch, valid and eval scalars, and a run killed mid-epoch then resumed logs the same (tag, step)s once each', async () => {
    const dir = tempDir();
    const log = join(dir, 'log.csv');
    expect((await rec(['synth', '--out', log, '--users', '200', '--items', '100', '--events', '12000', '--seed', '4'])).code).toBe(0);
    const ds = join(dir, 'ds');
    expect((await rec(['prep', log, '--out', ds])).code).toBe(0);
    const args = (out: string) => ['train', '--data', ds, '--epochs', '2', '--dim', '8', '--batch-size', '64', '--save-every', '7', '--seed', '9', '--backend', 'cpu', '--patience', '0', '--out', out];

    const full = join(dir, 'full');
    const trained = await rec(args(full), { timeoutMs: 120_000 });
    expect(trained.code, trained.stderr).toBe(0);
    const evaluated = await rec(['eval', full, '--backend', 'cpu', '--protocol', 'sampled:20', '--k', '10', '--metrics', 'hr,ndcg']);
    expect(evaluated.code, evaluated.stderr).toBe(0);

    const tb = join(full, 'tb');
    const names = await readdir(tb);
    expect(names).toHaveLength(2);
    for (const n of names) expect(n).toMatch(/^events\.out\.tfevents\.\d+\.[^.]+/);
    const events = await readEventDir(tb);
    const keys = points(events);
    expect(duplicates(keys)).toEqual([]);
    expect(events.filter((e) => e.fileVersion === 'brain.Event:2')).toHaveLength(2);

    const metrics = readFileSync(join(full, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; loss: number; lr: number; valid: Record<string, number> });
    const valueOf = (tag: string, step: number) => events.find((e) => e.step === step && e.values.some((v) => v.tag === tag))?.values.find((v) => v.tag === tag)?.value;
    for (const m of metrics) {
      expect(valueOf('epoch/loss', m.epoch)).toBeCloseTo(m.loss, 5);
      expect(valueOf('epoch/seconds', m.epoch)).toBeGreaterThan(0);
      expect(Object.keys(m.valid).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(m.valid)) expect(valueOf(`valid/${k}`, m.epoch)).toBeCloseTo(v, 5);
    }
    const trainSteps = events.filter((e) => e.values.some((v) => v.tag === 'train/loss')).map((e) => e.step);
    expect(trainSteps.length).toBeGreaterThan(2);
    expect(trainSteps.filter((s) => s % 100 === 0).length).toBeGreaterThan(0);
    expect(valueOf('train/lr', trainSteps[0])).toBeCloseTo(metrics[0].lr, 6);
    expect(valueOf('train/examples_per_s', trainSteps[0])).toBeGreaterThan(0);

    const evalFile = JSON.parse(readFileSync(join(full, 'eval-test-sampled20.json'), 'utf8')) as { metrics: Record<string, number> };
    const best = JSON.parse(readFileSync(join(full, 'best.json'), 'utf8')) as { epoch: number };
    expect(Object.keys(evalFile.metrics).sort()).toEqual(['hr@10', 'ndcg@10']);
    for (const [k, v] of Object.entries(evalFile.metrics)) expect(valueOf(`eval/test/sampled20/${k}`, best.epoch)).toBeCloseTo(v, 5);

    // Killed after a save mid-epoch 2: steps logged past that save must not be logged again on resume.
    const killed = join(dir, 'killed');
    const child = spawn(process.execPath, [BIN, ...args(killed)], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_c, s) => done(s)));
    for (let i = 0; i < 6000; i++) {
      const s = stateOf(killed);
      if (s && s.epoch === 1 && s.step_in_epoch > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(stateOf(killed)?.epoch).toBe(1);
    // The same kill, had the process logged every step before dying (the uninterrupted run's
    // training events stand in for it): the kill above rarely lands past a logged step.
    const ahead = join(dir, 'ahead');
    await cp(killed, ahead, { recursive: true });
    const byFile = await Promise.all(names.map(async (n) => ({ n, keys: points(await readEventFile(join(tb, n))) })));
    const trainFile = byFile.find((f) => f.keys.length > 0 && f.keys.every((k) => !k.startsWith('eval/')));
    expect(trainFile).toBeDefined();
    await rm(join(ahead, 'tb'), { recursive: true });
    await mkdir(join(ahead, 'tb'));
    await copyFile(join(tb, trainFile?.n ?? ''), join(ahead, 'tb', 'events.out.tfevents.1.dead'));
    for (const ck of [killed, ahead]) {
      const resumed = await rec(['train', '--out', ck, '--resume', '--backend', 'cpu'], { timeoutMs: 120_000 });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(existsSync(join(ck, 'tb'))).toBe(true);
      const resumedKeys = points(await readEventDir(join(ck, 'tb')));
      expect(duplicates(resumedKeys)).toEqual([]);
      expect([...resumedKeys].sort()).toEqual(keys.filter((k) => !k.startsWith('eval/')).sort());
    }
  }, 240_000);
});

describe('a torn TensorBoard record before the resume point', () => {
  it('is cut off on --resume and its points are written again: every (tag, step) of the uninterrupted run, once', async () => {
    const dir = tempDir();
    const log = join(dir, 'log.csv');
    expect((await rec(['synth', '--out', log, '--users', '120', '--items', '60', '--events', '3000', '--seed', '4'])).code).toBe(0);
    const ds = join(dir, 'ds');
    expect((await rec(['prep', log, '--out', ds])).code).toBe(0);
    const args = (out: string, epochs: string) => ['train', '--data', ds, '--epochs', epochs, '--dim', '8', '--batch-size', '32', '--seed', '9', '--backend', 'cpu', '--patience', '0', '--out', out];
    const full = join(dir, 'full');
    expect((await rec(args(full, '2'), { timeoutMs: 120_000 })).code).toBe(0);
    const keys = points(await readEventDir(join(full, 'tb')));

    // One epoch, then its last record (epoch 1's epoch/* points, written before the state was
    // saved) torn as a kill mid-append leaves it; the run then resumes to the second epoch.
    const ck = join(dir, 'torn');
    expect((await rec(args(ck, '1'), { timeoutMs: 120_000 })).code).toBe(0);
    const [name] = await readdir(join(ck, 'tb'));
    const file = join(ck, 'tb', name);
    const whole = await readFile(file);
    const last = (await readEventFile(file)).at(-1);
    expect(last?.values.map((v) => v.tag)).toContain('epoch/loss');
    await writeFile(file, whole.subarray(0, whole.length - 7));
    await expect(readEventFile(file)).rejects.toThrow(/torn record|bad data crc/);

    const resumed = await rec(['train', '--out', ck, '--resume', '--epochs', '2', '--backend', 'cpu'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/TensorBoard event file .* ended in a torn record \(a killed write\): cut after its \d+ complete records \(\d+ bytes dropped\)/);
    const events = await readEventDir(join(ck, 'tb'));
    const resumedKeys = points(events);
    expect(duplicates(resumedKeys)).toEqual([]);
    expect([...resumedKeys].sort()).toEqual([...keys].sort());
    const epoch1 = JSON.parse(readFileSync(join(ck, 'metrics.jsonl'), 'utf8').split('\n')[0]) as { loss: number };
    const loss1 = events.find((e) => e.step === 1 && e.values.some((v) => v.tag === 'epoch/loss'))?.values.find((v) => v.tag === 'epoch/loss')?.value;
    expect(loss1).toBeCloseTo(epoch1.loss, 5);
  }, 240_000);
});
