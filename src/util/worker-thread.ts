/**
 * What both worker-thread pools (training replicas, ranking threads) share: finding the compiled
 * worker entry, starting and closing the threads and turning their failures into the pool's, and
 * the worker side's message loop.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import { InterruptedError, RuntimeFailure } from './errors.js';
import type { Logger } from './log.js';

/**
 * The compiled `worker.js` (or `file`) beside the pool module `poolUrl` (its import.meta.url) in dist/, or
 * dist/'s copy when the pool runs from src/ (vitest): a worker thread runs JavaScript, never the
 * TypeScript source. `fromRepo` is the pool folder relative to the repository, e.g. `src/eval/parallel`.
 */
export function compiledWorkerEntry(poolUrl: string, fromRepo: string, what: string, file = 'worker.js'): string {
  const here = dirname(fileURLToPath(poolUrl));
  const beside = join(here, file);
  if (existsSync(beside)) return beside;
  const depth = fromRepo.split('/').length;
  const fromSource = resolve(here, '../'.repeat(depth), 'dist', fromRepo, file);
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

/** A worker's start-up delay (TestHooks.workerHoldStartMs), sent to it in its init message. */
export async function holdStart(ms: number): Promise<void> {
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The answer a worker sends when it fails (serveInOrder), in both pools' protocols. */
export interface WorkerErrorMessage {
  type: 'error';
  message: string;
  stack?: string;
}

export interface WorkerThreadsOptions<From extends { type: string }> {
  /** Threads to start, numbered 1 … count (the main thread is the pool's 0). */
  count: number;
  entry: string;
  /** What one thread is, for messages: 'training worker', 'ranking worker'. */
  name: string;
  /** The error a thread's failure ends the pool with, `cause` saying what happened to thread k. */
  failure(k: number, cause: string): Error;
  /** Thread k's messages other than errors, its 'ready' included. */
  onMessage(k: number, m: From): void;
  /** The pool's first failure, each time a thread fails (throws, or exits while not closing). */
  onFailure(error: Error): void;
  /** Thread k's init message, posted once every thread is started; the thread answers 'ready'. */
  init(k: number): unknown;
  log: Logger;
  /** SIGINT/SIGTERM: ends the start-up (the threads started so far are terminated) with an InterruptedError. */
  signal?: AbortSignal;
}

export interface WorkerThreads {
  /** Thread k is threads[k − 1]. */
  readonly threads: readonly Worker[];
  /** Posts `m` to every thread. */
  post(m: unknown): void;
  /** Threads not yet exited (0 once `close` has resolved). */
  live(): number;
  /** Terminates every thread; their exits are then no failure. */
  close(): Promise<void>;
}

/**
 * Starts a pool's threads and waits until each has answered its init with 'ready'. What both pools
 * share: a signal is handled between two threads' starts and during the wait; a thread's stdout
 * goes to stderr (`--json` output on stdout stays the main thread's alone); a thread that answers
 * with an error or exits unasked fails the pool (onFailure, and the start-up if it is still on);
 * a start-up that fails terminates the threads started so far.
 */
export async function startWorkerThreads<From extends { type: string }>(o: WorkerThreadsOptions<From>): Promise<WorkerThreads> {
  const threads: Worker[] = [];
  let closing = false;
  let live = 0;
  let failure: Error | null = null;
  let readyLeft = o.count;
  let settleReady: { resolve(): void; reject(error: Error): void } | null = null;
  const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
  // A start-up ended by a signal may still see a thread fail: that is not news.
  ready.catch(() => undefined);
  const fail = (error: Error) => {
    failure ??= error;
    settleReady?.reject(failure);
    o.onFailure(failure);
  };
  const pool: WorkerThreads = {
    threads,
    post: (m) => threads.forEach((t) => t.postMessage(m)),
    live: () => live,
    async close() {
      closing = true;
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
  const what = `${o.count} ${o.name} thread${o.count === 1 ? '' : 's'}`;
  o.log.debug(`starting ${what}`);
  try {
    for (let k = 1; k <= o.count; k++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfStartUpAborted(o.signal, what);
      const thread = new Worker(o.entry, { stdout: true });
      thread.stdout.pipe(process.stderr);
      threads.push(thread);
      live += 1;
      thread.on('message', (m: From | WorkerErrorMessage) => {
        if (isErrorMessage(m)) {
          o.log.debug(`${o.name} ${k}: ${m.stack ?? m.message}`);
          fail(o.failure(k, m.message));
          return;
        }
        o.onMessage(k, m);
        if (m.type === 'ready' && --readyLeft === 0) settleReady?.resolve();
      });
      thread.on('error', (error) => fail(o.failure(k, error.message)));
      thread.on('exit', (code) => {
        live -= 1;
        if (!closing) fail(o.failure(k, `the thread exited with code ${code}`));
      });
    }
    threads.forEach((thread, j) => thread.postMessage(o.init(j + 1)));
    await readyOrAborted(ready, o.signal, what);
  } catch (error) {
    await pool.close();
    throw error;
  } finally {
    settleReady = null;
  }
  return pool;
}

function isErrorMessage(m: { type: string }): m is WorkerErrorMessage {
  return m.type === 'error';
}
