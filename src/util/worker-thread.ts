/**
 * What both worker-thread pools (training replicas, ranking threads) share: finding the compiled
 * worker entry, and the worker side's message loop.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { RuntimeFailure } from './errors.js';

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
