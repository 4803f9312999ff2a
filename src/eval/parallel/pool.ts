/**
 * Parallel full ranking (`--workers`, docs/engines.md#ranking-on-every-core-rec-eval---workers-nauto): W − 1 worker threads and the main thread rank
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
import type { UserItems } from '../../data/user-items.js';
import type { EngineName } from '../../engine/backend.js';
import type { AnyModel, Scorer } from '../../models/model.js';
import { weightValues } from '../../models/weights.js';
import { RuntimeFailure } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { shareArray } from '../../util/shared-memory.js';
import { testHooks, type TestHooks } from '../../util/test-hooks.js';
import { compiledWorkerEntry, startWorkerThreads, type WorkerThreads } from '../../util/worker-thread.js';
import type { UserRanking } from '../metrics/accumulator.js';
import type { PreparedEval } from '../prepare.js';
import { createFullRanker, type FullRankData, type FullRankSettings, throwIfAborted, type TopKSettings, type TopLists, yieldToEvents } from '../rank-full.js';
import { unpackRankings, type FromRankWorker, type ModelPayload, type ToRankWorker, type TopKShared } from './protocol.js';

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
  /** Faults the tests inject (default: this process's, src/util/test-hooks.ts). */
  testHooks?: TestHooks;
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

/** What the workers read for the whole run, in shared memory. */
function shareInputs(opts: RankPoolOptions): { data: FullRankData | null; topK: TopKShared | null; histories: UserItems | null; payload: ModelPayload } {
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
  return { data, topK, histories, payload: { name: model.name, config: model.config, shape: model.shape, weights } };
}

/** The pool's state its message handler and its methods share. */
interface PoolState {
  failure: Error | null;
  /** What a ranking waits on: rejected by a failure (or an abort). */
  onFailure: ((error: Error) => void) | null;
  current: Ranking | null;
  /** Where the pool is, for a worker's failure message. */
  where: string;
  threads: WorkerThreads | null;
  // topLists: jobs not yet posted, the answers awaited, the workers free for one.
  queued: Extract<ToRankWorker, { type: 'topk' }>[];
  awaited: Map<number, { resolve(lists: TopLists): void; reject(error: Error): void }>;
  idle: number[];
  topJobs: number;
}

function pump(s: PoolState): void {
  while (s.idle.length > 0 && s.queued.length > 0) {
    const k = s.idle.shift() as number;
    s.threads?.threads[k - 1].postMessage(s.queued.shift());
  }
}

function onMessage(s: PoolState, k: number, m: Exclude<FromRankWorker, { type: 'error' }>): void {
  if (m.type === 'ready') {
    s.idle.push(k);
  } else if (m.type === 'top') {
    const w = s.awaited.get(m.job);
    s.awaited.delete(m.job);
    w?.resolve(m.lists);
    s.idle.push(k);
    pump(s);
  } else {
    const r = s.current;
    // An answer to a ranking that already ended (it failed or was interrupted) is dropped.
    if (r === null) return;
    const rankings = unpackRankings(m.rankings);
    r.results[m.job] = rankings;
    r.tick(rankings.length);
    flush(r);
    r.dispatch(k);
  }
}

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

export async function startRankPool(opts: RankPoolOptions): Promise<RankPool> {
  const W = opts.workers;
  const { prep } = opts;
  const { data, topK, histories, payload } = shareInputs(opts);
  const hooks = opts.testHooks ?? testHooks();
  const s: PoolState = { failure: null, onFailure: null, current: null, where: 'start-up', threads: null, queued: [], awaited: new Map(), idle: [], topJobs: 0 };
  const threads = await startWorkerThreads<FromRankWorker>({
    count: W - 1,
    entry: rankWorkerEntry(),
    name: 'ranking worker',
    failure: (k, cause) => new RuntimeFailure(`ranking worker ${k} of ${W - 1} (--workers ${W}) failed during ${s.where}: ${cause}.`),
    onMessage: (k, m) => {
      if (m.type !== 'error') onMessage(s, k, m);
    },
    onFailure(error) {
      s.failure = error;
      s.onFailure?.(error);
      for (const w of s.awaited.values()) w.reject(error);
      s.awaited.clear();
    },
    init: (): ToRankWorker => ({ type: 'init', engine: opts.engine, model: payload, data, topK, histories, failAtJob: hooks.rankWorkerFailAtJob, holdStartMs: hooks.workerHoldStartMs }),
    log: opts.log,
    signal: opts.signal,
  });
  s.threads = threads;
  opts.log.info(`ranking on ${W} threads: the main thread and ${W - 1} worker${W === 2 ? '' : 's'}, each with its own engine and copy of the model`);

  return {
    workers: W,
    prep,
    refresh(next) {
      if (s.failure) throw s.failure;
      weightValues(next.keras, payload.weights);
      threads.post({ type: 'weights' } satisfies ToRankWorker);
    },
    topLists(users, excludeSeen, settings) {
      if (s.failure) return Promise.reject(s.failure);
      s.where = 'recommending';
      return new Promise<TopLists>((resolve, reject) => {
        const job = s.topJobs++;
        s.awaited.set(job, { resolve, reject });
        s.queued.push({ type: 'topk', job, users, excludeSeen, settings });
        pump(s);
      });
    },
    rank: (args) => rankUsers(s, threads, data, args),
    close: () => threads.close(),
    liveThreads: () => threads.live(),
  };
}

/** RankPool.rank: the workers and the main thread take jobs from one queue; rankings are added in user order. */
async function rankUsers(s: PoolState, threads: WorkerThreads, data: FullRankData | null, args: RankArgs): Promise<void> {
  if (s.failure) throw s.failure;
  if (data === null) throw new Error('RankPool.rank: the pool was started without a split');
  if (s.current !== null) throw new Error('RankPool.rank: a ranking is already running');
  const W = threads.threads.length + 1;
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
      threads.threads[k - 1].postMessage(m);
    },
    settle: null,
  };
  s.current = r;
  s.where = 'ranking';
  const ranker = createFullRanker(args.scorer, data, args.settings);
  const abort = () => s.onFailure?.(new Error('aborted'));
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
        if (s.failure) throw s.failure;
      }
      r.results[job] = mine;
      flush(r);
    }
    if (r.flushed < jobs) await workersDone(s, r, jobs, args.signal, abort);
    if (s.failure) throw s.failure;
  } finally {
    args.signal?.removeEventListener('abort', abort);
    s.onFailure = null;
    s.current = null;
    ranker.dispose();
  }
  // A ranking that stopped half-way leaves jobs queued in the workers: this pool is done.
}

/** Waits until the workers' jobs are all flushed, a worker fails or the signal fires. */
async function workersDone(s: PoolState, r: Ranking, jobs: number, signal: AbortSignal | undefined, abort: () => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    r.settle = () => {
      if (r.flushed === jobs) resolve();
    };
    s.onFailure = reject;
    signal?.addEventListener('abort', abort);
    if (s.failure) reject(s.failure);
    else if (signal?.aborted) abort();
    else r.settle();
  }).catch((error: unknown) => {
    throwIfAborted(signal);
    throw error;
  });
}
