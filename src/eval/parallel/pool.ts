/**
 * Parallel full ranking (`--workers`, PRODUCT §7): W − 1 worker threads and the main thread rank
 * the evaluated users, each thread with its own engine and copy of the model. Ranking users is
 * embarrassingly parallel; what must not change is the result, so the users are cut into
 * contiguous jobs handed out in order to whichever thread is free (a busy core elsewhere slows
 * one thread, not the whole ranking), and the main thread adds the rankings to the accumulator in
 * user order: the metrics are the single-thread path's, exactly, whatever W.
 *
 * The split's arrays and the weights are shared once (SharedArrayBuffer); `refresh` rewrites the
 * shared weights (per-epoch validation), so one pool serves a whole training run.
 *
 * `rec recommend` uses the same threads through `topLists`: a job of user indices goes to the next
 * free worker and its top-k lists come back as a promise; the caller (recommend.ts
 * recommendBlocksParallel) keeps the output in user order.
 *
 * Failures: a worker that throws answers with an error, one that dies emits `exit`; either ends
 * the ranking with a RuntimeFailure (exit 1). `close()` terminates every worker; callers call it
 * in a `finally`, so no thread outlives the evaluation. The main thread checks the abort signal
 * between its own blocks and while it waits for the workers, so SIGINT stops a parallel ranking
 * as promptly as a single-thread one.
 */
import { Worker } from 'node:worker_threads';
import type { UserItems } from '../../data/user-items.js';
import type { EngineName } from '../../engine/backend.js';
import type { AnyModel, Scorer } from '../../models/model.js';
import { weightValues } from '../../models/weights.js';
import { RuntimeFailure } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { shareArray } from '../../util/shared-memory.js';
import type { UserRanking } from '../metrics/accumulator.js';
import type { PreparedEval } from '../prepare.js';
import { createFullRanker, type FullRankData, type FullRankSettings, throwIfAborted, type TopKSettings, type TopLists, yieldToEvents } from '../rank-full.js';
import { unpackRankings, type FromRankWorker, type ModelPayload, type ToRankWorker, type TopKShared } from './protocol.js';
import { compiledWorkerEntry, readyOrAborted, throwIfStartUpAborted } from '../../util/worker-thread.js';

/** Test-only: the job (1-based, counted from the pool's start) in which worker 1 throws. */
export const TEST_FAIL_ENV = 'REC_TEST_RANK_WORKER_FAIL_AT_JOB';

/** Jobs per thread in one ranking: enough for a slow thread to fall behind without holding up the end. */
const JOBS_PER_THREAD = 8;

export interface RankPoolOptions {
  /** Threads including the main one (≥ 2). */
  workers: number;
  engine: EngineName;
  /** The model ranked; its current weights are shared at start. */
  model: AnyModel;
  /** The split the pool ranks: evaluate() checks it is handed this very object. Null: top-k lists only. */
  prep: PreparedEval | null;
  /** rec recommend (RankPool.topLists): seen items by user index, items never served, sequence models' histories. */
  topK?: { seen: UserItems | null; never: Int32Array; histories: UserItems | null };
  log: Logger;
  /** SIGINT/SIGTERM: ends the start-up (the threads started so far are terminated) with an InterruptedError. */
  signal?: AbortSignal;
}

export interface RankArgs {
  /** The main thread's Scorer of the same model (evaluate.ts builds it). */
  scorer: Scorer;
  settings: FullRankSettings;
  addUser: (r: UserRanking) => void;
  tick: (n: number) => void;
  signal?: AbortSignal;
}

export interface RankPool {
  readonly workers: number;
  readonly prep: PreparedEval | null;
  /** Shares `model`'s current weights with the workers (the model the pool was started with, trained further). */
  refresh(model: AnyModel): void;
  /** Ranks every user of `prep` and adds their rankings in user order. */
  rank(args: RankArgs): Promise<void>;
  /** The top-k lists of `users` (indices the model scores), computed by the next free worker. */
  topLists(users: Int32Array, excludeSeen: boolean, settings: TopKSettings): Promise<TopLists>;
  close(): Promise<void>;
  /** Worker threads not yet exited (0 once `close` has resolved). */
  liveThreads(): number;
}

/** The compiled ranking worker (see compiledWorkerEntry). */
export function rankWorkerEntry(): string {
  return compiledWorkerEntry(import.meta.url, 'src/eval/parallel', 'ranking worker');
}

const shareCsr = (c: UserItems): UserItems => ({ offsets: shareArray(c.offsets), items: shareArray(c.items) });

interface Ranking {
  results: (UserRanking[] | undefined)[];
  flushed: number;
  addUser: (r: UserRanking) => void;
  tick: (n: number) => void;
  /** Hands the next job to worker k, if any is left. */
  dispatch(k: number): void;
  /** Resolves the wait for the workers once every job is flushed. */
  settle: (() => void) | null;
}

export async function startRankPool(opts: RankPoolOptions): Promise<RankPool> {
  const W = opts.workers;
  const { prep, model } = opts;
  const data: FullRankData | null =
    prep === null
      ? null
      : {
          modelItems: prep.modelItems,
          users: shareArray(prep.users.model),
          relevant: shareCsr(prep.relevant),
          exclude: shareCsr(prep.exclude),
          unrankable: shareArray(prep.unrankable),
          unrankableRelevant: prep.unrankableRelevant ? shareArray(prep.unrankableRelevant) : null,
        };
  const topK: TopKShared | null = opts.topK ? { numItems: model.shape.items, seen: opts.topK.seen ? shareCsr(opts.topK.seen) : null, never: shareArray(opts.topK.never) } : null;
  const sourceHistories = prep?.histories ?? opts.topK?.histories ?? null;
  const histories = sourceHistories ? shareCsr(sourceHistories) : null;
  const weights = Object.fromEntries(Object.entries(weightValues(model.keras)).map(([key, v]) => [key, shareArray(v)]));
  const payload: ModelPayload = { name: model.name, config: model.config, shape: model.shape, weights };
  const rawFail = process.env[TEST_FAIL_ENV];
  const failAtJob = rawFail !== undefined && /^\d+$/.test(rawFail) ? Number(rawFail) : null;

  const entry = rankWorkerEntry();
  const workers: Worker[] = [];
  let closing = false;
  let failure: Error | null = null;
  let onFailure: ((error: Error) => void) | null = null;
  let current: Ranking | null = null;
  let where = 'start-up';
  let live = 0;
  // topLists: jobs not yet posted, the answers awaited, the workers free for one.
  const queued: Extract<ToRankWorker, { type: 'topk' }>[] = [];
  const awaited = new Map<number, { resolve(lists: TopLists): void; reject(error: Error): void }>();
  const idle: number[] = [];
  let topJobs = 0;
  const pump = () => {
    while (idle.length > 0 && queued.length > 0) {
      const k = idle.shift() as number;
      workers[k - 1].postMessage(queued.shift());
    }
  };
  const fail = (error: Error) => {
    failure ??= error;
    onFailure?.(failure);
    for (const w of awaited.values()) w.reject(failure);
    awaited.clear();
  };
  const workerFailure = (k: number, what: string) => new RuntimeFailure(`ranking worker ${k} of ${W - 1} (--workers ${W}) failed during ${where}: ${what}.`);

  const close = async () => {
    closing = true;
    await Promise.all(workers.map((worker) => worker.terminate()));
  };

  let readyLeft = W - 1;
  let readyDone: (() => void) | null = null;
  const what = `${W - 1} ranking worker thread${W === 2 ? '' : 's'}`;
  opts.log.debug(`starting ${what}`);
  try {
    const ready = new Promise<void>((resolve, reject) => {
      readyDone = resolve;
      onFailure = reject;
    });
    // A start-up ended by a signal may still see a worker fail: that is not news.
    ready.catch(() => undefined);
    for (let k = 1; k < W; k++) {
      // A signal is handled between two threads' starts, not only once all have started.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfStartUpAborted(opts.signal, what);
      // The worker's stdout goes to stderr: `--json` output on stdout stays the main thread's alone.
      const worker = new Worker(entry, { stdout: true });
      worker.stdout.pipe(process.stderr);
      workers.push(worker);
      live += 1;
      worker.on('message', (m: FromRankWorker) => {
        if (m.type === 'error') {
          opts.log.debug(`ranking worker ${k}: ${m.stack ?? m.message}`);
          fail(workerFailure(k, m.message));
        } else if (m.type === 'ready') {
          idle.push(k);
          readyLeft -= 1;
          if (readyLeft === 0) readyDone?.();
        } else if (m.type === 'top') {
          const w = awaited.get(m.job);
          awaited.delete(m.job);
          w?.resolve(m.lists);
          idle.push(k);
          pump();
        } else {
          const r = current;
          // An answer to a ranking that already ended (it failed or was interrupted) is dropped.
          if (r === null) return;
          const rankings = unpackRankings(m.rankings);
          r.results[m.job] = rankings;
          r.tick(rankings.length);
          flush(r);
          r.dispatch(k);
        }
      });
      worker.on('error', (error) => fail(workerFailure(k, error.message)));
      worker.on('exit', (code) => {
        live -= 1;
        if (!closing) fail(workerFailure(k, `the thread exited with code ${code}`));
      });
    }
    for (const worker of workers) {
      const m: ToRankWorker = { type: 'init', engine: opts.engine, model: payload, data, topK, histories, failAtJob };
      worker.postMessage(m);
    }
    await readyOrAborted(ready, opts.signal, what);
  } catch (error) {
    await close();
    throw error;
  } finally {
    onFailure = null;
  }
  opts.log.info(`ranking on ${W} threads: the main thread and ${W - 1} worker${W === 2 ? '' : 's'}, each with its own engine and copy of the model`);

  function flush(r: Ranking): void {
    while (r.flushed < r.results.length) {
      const done = r.results[r.flushed];
      if (done === undefined) return;
      for (const ranking of done) r.addUser(ranking);
      // Flushed jobs are not kept: the accumulator has what it needs.
      r.results[r.flushed] = [];
      r.flushed += 1;
    }
    r.settle?.();
  }

  return {
    workers: W,
    prep,
    refresh(next) {
      if (failure) throw failure;
      weightValues(next.keras, weights);
      const m: ToRankWorker = { type: 'weights' };
      for (const worker of workers) worker.postMessage(m);
    },
    topLists(users, excludeSeen, settings) {
      if (failure) return Promise.reject(failure);
      where = 'recommending';
      return new Promise<TopLists>((resolve, reject) => {
        const job = topJobs++;
        awaited.set(job, { resolve, reject });
        queued.push({ type: 'topk', job, users, excludeSeen, settings });
        pump();
      });
    },
    async rank(args) {
      if (failure) throw failure;
      if (data === null) throw new Error('RankPool.rank: the pool was started without a split');
      if (current !== null) throw new Error('RankPool.rank: a ranking is already running');
      const n = data.users.length;
      const chunk = Math.max(1, Math.ceil(n / (W * JOBS_PER_THREAD)));
      const jobs = Math.ceil(n / chunk);
      let next = 0;
      const take = (): number | null => (next < jobs ? next++ : null);
      const r: Ranking = {
        results: new Array<UserRanking[] | undefined>(jobs).fill(undefined),
        flushed: 0,
        addUser: args.addUser,
        tick: args.tick,
        dispatch(k) {
          const job = take();
          if (job === null) return;
          const m: ToRankWorker = { type: 'rank', job, lo: job * chunk, hi: Math.min(n, (job + 1) * chunk), settings: args.settings };
          workers[k - 1].postMessage(m);
        },
        settle: null,
      };
      current = r;
      where = 'ranking';
      const ranker = createFullRanker(args.scorer, data, args.settings);
      const abort = () => onFailure?.(new Error('aborted'));
      try {
        for (let k = 1; k < W; k++) r.dispatch(k);
        // The main thread takes jobs from the same queue, block by block, yielding in between so
        // worker answers, progress and signals are handled while it ranks.
        for (let job = take(); job !== null; job = take()) {
          const hi = Math.min(n, (job + 1) * chunk);
          const mine: UserRanking[] = [];
          for (let lo = job * chunk; lo < hi; ) {
            const end = ranker.block(lo, hi, (x) => mine.push(x));
            r.tick(end - lo);
            lo = end;
            await yieldToEvents(args.signal);
            if (failure) throw failure;
          }
          r.results[job] = mine;
          flush(r);
        }
        if (r.flushed < jobs) {
          await new Promise<void>((resolve, reject) => {
            r.settle = () => {
              if (r.flushed === jobs) resolve();
            };
            onFailure = reject;
            args.signal?.addEventListener('abort', abort);
            if (failure) reject(failure);
            else if (args.signal?.aborted) abort();
            else r.settle();
          }).catch((error: unknown) => {
            throwIfAborted(args.signal);
            throw error;
          });
        }
        if (failure) throw failure;
      } finally {
        args.signal?.removeEventListener('abort', abort);
        onFailure = null;
        current = null;
        ranker.dispose();
      }
      // A ranking that stopped half-way leaves jobs queued in the workers: this pool is done.
    },
    close,
    liveThreads: () => live,
  };
}
