/**
 * What the training benchmarks share: where the repository and ../shared are, running the real
 * CLI, running the PyTorch reference, medians.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = resolve(REPO, '../shared');
const BIN = join(REPO, 'bin/rec.js');
const PYTHON = '/usr/bin/python3';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs `rec ARGS` (the compiled binary) to completion. */
export function rec(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 26 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** The engines `rec doctor` says load here, and why the others do not. */
export function loadingEngines(): { engines: string[]; unavailable: Record<string, string> } {
  const doctor = rec(['doctor', '--json']);
  const doc = doctor.code === 0 ? (JSON.parse(doctor.stdout) as { engines?: { name: string; loads?: boolean; error?: string }[] }) : null;
  const engines: string[] = [];
  const unavailable: Record<string, string> = {};
  for (const engine of ['node-gpu', 'node', 'wasm', 'cpu']) {
    const info = doc?.engines?.find((e) => e.name === engine);
    if (info?.loads) engines.push(engine);
    else unavailable[engine] = info?.error ?? 'does not load here';
  }
  return { engines, unavailable };
}

export function hasTorch(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, pandas'], { encoding: 'utf8' }).status === 0;
}

export interface TorchLine {
  epoch_seconds_median?: number;
  epoch_seconds_median_clean?: number | null;
  examples_per_s?: number;
  final?: Record<string, number>;
}

/** One `torch_ref.py MODEL ARGS` run: its JSON line, or the tail of its stderr. */
export function runTorch(model: string, args: string[]): TorchLine | { error: string } {
  const r = spawnSync(PYTHON, [join(SHARED, 'bench/torch_ref.py'), model, ...args], { encoding: 'utf8', cwd: join(SHARED, 'bench'), maxBuffer: 1 << 26 });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as TorchLine;
  } catch {
    return { error: (r.stderr ?? '').slice(-500) };
  }
}

export interface TrainJson {
  epochs: { epoch: number; seconds: number; examples_per_s: number }[];
  engine: string;
  train_seconds: number;
}

/** The value after `--name` on the command line, if given. */
export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A bench run as a script: its result as JSON on stdout, a failure's stack on stderr and exit code 1. */
export function printResult(run: Promise<unknown>): void {
  run
    .then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
