import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');
export const BIN = join(REPO, 'bin/rec.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real compiled binary (npm test builds first), as a user or CI job would. */
export function rec(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, CI: 'true', REC_LOG_LEVEL: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 55_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

export function tempDir(prefix = 'rec-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A checkpoint's epoch records (metrics.jsonl): epoch, loss and validation metrics. */
export function epochMetrics(ck: string): { epoch: number; loss: number; valid: Record<string, number> }[] {
  return readFileSync(join(ck, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number; loss: number; valid: Record<string, number> })
    .map((r) => ({ epoch: r.epoch, loss: r.loss, valid: r.valid }));
}

export const weightsSha256 = (ck: string): string => createHash('sha256').update(readFileSync(join(ck, 'model', 'weights.bin'))).digest('hex');

export const readRunJson = (ck: string): { status: string; workers?: number } => JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { status: string; workers?: number };

/** The global step of a checkpoint's last saved state; 0 before the first save (or while it is being swapped in). */
export function savedStep(ck: string): number {
  try {
    return (JSON.parse(readFileSync(join(ck, 'last', 'trainer_state.json'), 'utf8')) as { global_step: number }).global_step;
  } catch {
    return 0;
  }
}

/** The epoch and step of a checkpoint's last saved state, or null before the first save (or while one is swapped in). */
export function savedState(ck: string): { epoch: number; step_in_epoch: number } | null {
  try {
    return JSON.parse(readFileSync(join(ck, 'last', 'trainer_state.json'), 'utf8')) as { epoch: number; step_in_epoch: number };
  } catch {
    return null;
  }
}

/**
 * Runs `rec ARGS` and kills it with SIGKILL once its checkpoint `ck` holds a state saved mid-epoch
 * in epoch `epoch` (0-based); resolves with the signal the process ended by.
 */
export async function killMidEpoch(args: string[], ck: string, epoch = 1): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_c, s) => done(s)));
  for (let i = 0; i < 6000; i++) {
    const s = savedState(ck);
    if (s && s.epoch === epoch && s.step_in_epoch > 0) break;
    await sleep(10);
  }
  child.kill('SIGKILL');
  return exited;
}
