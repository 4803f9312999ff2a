/**
 * What both worker-thread pools (training replicas, ranking threads) share: finding the compiled
 * worker entry, and the worker side's message loop.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { InterruptedError, RuntimeFailure } from './errors.js';

/**
 * The compiled `worker.js` beside the pool module `poolUrl` (its import.meta.url) in dist/, or
 * dist/'s copy when the pool runs from src/ (vitest): a worker thread runs JavaScript, never the
 * TypeScript source. `fromRepo` is the pool folder relative to the repository, e.g. `src/eval/parallel`.
 */
export function compiledWorkerEntry(poolUrl: string, fromRepo: string, what: string): string {
  const here = dirname(fileURLToPath(poolUrl));
  const beside = join(here, 'worker.js');
  if (existsSync(beside)) return beside;
  const depth = fromRepo.split('/').length;
  const fromSource = resolve(here, '../'.repeat(depth), 'dist', fromRepo, 'worker.js');
  if (existsSync(fromSource)) return fromSource;
  throw new RuntimeFailure(`The ${what} ${beside} is missing; run npm run build (it compiles src/ into dist/).`);
}

/**
 * Handles `port`'s messages strictly one after another (a weight update must land before the next
 * piece of work). The first failure is sent as `{type: 'error'}` and the port is closed: a worker
 * that failed mid-message may hold half-updated state, so it never answers again and its pool ends.
 */
export function serveInOrder<M>(port: MessagePort, handle: (m: M) => Promise<void>): void {
  let queue: Promise<void> = Promise.resolve();
  let failed = false;
  port.on('message', (m: M) => {
    if (failed) return;
    queue = queue.then(() => handle(m)).catch((error: unknown) => {
      failed = true;
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ type: 'error', message: e.message, stack: e.stack });
      port.close();
    });
  });
}

/**
 * Waits for a pool's threads to say they are ready, or for SIGINT/SIGTERM (the CLI's abort signal),
 * whichever comes first. Starting a thread means loading an engine and a copy of the model, which
 * takes seconds a thread on a busy machine; without this a signal waited for the whole start-up.
 * The caller terminates its threads when this throws. `what` names the pool in the message.
 */
export async function readyOrAborted(ready: Promise<unknown>, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (signal === undefined) {
    await ready;
    return;
  }
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(startUpInterrupted(signal, what));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([ready, aborted]);
  } finally {
    if (onAbort !== null) signal.removeEventListener('abort', onAbort);
  }
}

/** Throws the start-up's InterruptedError when the signal has fired (between two threads' starts). */
export function throwIfStartUpAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw startUpInterrupted(signal, what);
}

function startUpInterrupted(signal: AbortSignal, what: string): InterruptedError {
  const name = signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  return new InterruptedError(name, `${name} received while starting the ${what}: the threads started so far are closed.`);
}

/**
 * Test-only: a worker thread waits this many milliseconds before it starts its engine, so that
 * tests can signal a pool during its start-up (test/cli/workers.test.ts).
 */
export const TEST_HOLD_START_ENV = 'REC_TEST_WORKER_HOLD_START_MS';

/** The worker side of TEST_HOLD_START_ENV (worker threads get a copy of the parent's environment). */
export async function holdStartForTests(): Promise<void> {
  const ms = Number(process.env[TEST_HOLD_START_ENV] ?? '');
  if (Number.isFinite(ms) && ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}
