/**
 * Trials as child processes of the CLI: each trial is `rec train --tune-ipc` (the same command and
 * library function a user runs), reporting each epoch over an IPC channel and waiting for the
 * study's verdict; the best trial's test evaluation is `rec eval`. A process per trial keeps a
 * crash or an out-of-memory kill to its trial (recorded as failed, the study goes on) and lets
 * trials use the cores side by side.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from '../io/checkpoint-contract.js';
import { EXIT } from '../util/errors.js';
import type { TrialExit, TrialRunner } from './study.js';

export interface ProcessRunnerOptions {
  /** How to start the CLI: [node, path/to/bin/rec.js]. */
  cli: readonly string[];
  /** The dataset folder every trial trains on. */
  data: string;
  env?: NodeJS.ProcessEnv;
}

const QUIET = ['--no-progress', '--heartbeat', '0'];

export function processRunner(opts: ProcessRunnerOptions): TrialRunner {
  const children = new Set<ReturnType<typeof spawn>>();
  const [command, ...prefix] = opts.cli;
  return {
    train(job, onEpoch) {
      const args = job.resume
        ? ['train', '--out', job.dir, '--resume', '--workers', String(job.workers)]
        : ['train', '--data', opts.data, '--config', job.config, '--out', job.dir, '--workers', String(job.workers), ...(job.force ? ['--force'] : [])];
      return new Promise<TrialExit>((resolve, reject) => {
        const log = openSync(job.log, 'a');
        const child = spawn(command, [...prefix, ...args, '--tune-ipc', ...QUIET], { stdio: ['ignore', 'ignore', log, 'ipc'], env: opts.env ?? process.env });
        closeSync(log);
        children.add(child);
        child.on('message', (message: { type?: string; record?: EpochRecord }) => {
          if (message.type !== 'epoch' || message.record === undefined) return;
          onEpoch(message.record)
            .then((stop) => child.connected && child.send({ type: 'verdict', stop }))
            .catch(reject);
        });
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          children.delete(child);
          resolve(exitOf(code, signal, job.log));
        });
      });
    },
    async evaluate(job) {
      const args = ['eval', job.checkpoint, '--data', opts.data, '--split', 'test', '--config', job.config, '--json', ...QUIET];
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const log = openSync(job.log, 'a');
        const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', log], env: opts.env ?? process.env });
        closeSync(log);
        let out = '';
        child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('close', (c) => resolve({ code: c, stdout: out }));
      });
      if (code !== 0) throw new Error(`rec eval of ${job.checkpoint} on the test split failed (exit ${code}): ${lastError(job.log)}`);
      const doc = JSON.parse(stdout) as { metrics: Record<string, number>; protocol?: { name?: string } };
      const file = (await findEvalFile(job.checkpoint)) ?? join(job.checkpoint, 'eval-test-full.json');
      return { metrics: doc.metrics, file };
    },
    stopAll() {
      for (const child of children) child.kill('SIGTERM');
    },
  };
}

async function findEvalFile(dir: string): Promise<string | null> {
  const names = (await readdir(dir)).filter((n) => n.startsWith('eval-test-') && n.endsWith('.json'));
  return names.length > 0 ? join(dir, names.sort()[0]) : null;
}

function exitOf(code: number | null, signal: NodeJS.Signals | null, log: string): TrialExit {
  if (code === 0) return { ok: true };
  const interrupted = code === EXIT.sigint || code === EXIT.sigterm || signal === 'SIGINT' || signal === 'SIGTERM';
  const how = signal !== null ? `killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory, or killed)' : ''}` : `exit ${code}`;
  return { ok: false, interrupted, usage: code === EXIT.usage, message: `${lastError(log)} (${how})` };
}

/** The trial's own error: the last `error:` line of its log, or a fatal V8 line (heap out of memory), or its last line. */
function lastError(log: string): string {
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return 'no log';
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const error = [...lines].reverse().find((l) => l.startsWith('error: ') || /FATAL ERROR|out of memory/i.test(l));
  return (error ?? lines[lines.length - 1] ?? 'no output').replace(/^error: /, '').slice(0, 2000);
}
