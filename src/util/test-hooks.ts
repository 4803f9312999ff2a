/**
 * Faults and delays that the CLI tests inject into a run through the environment
 * (test/cli/workers.test.ts, workers-startup.test.ts, eval-workers.test.ts). This module is the one
 * place that reads them: the worker pools take them as an option (default: this process's,
 * read once), and hand a worker thread what it needs in its init message.
 */

export interface TestHooks {
  /**
   * REC_TEST_WORKER_FAIL_AT_STEP=N or N:update: training worker 1 throws in the N-th step it
   * computes (1-based, counted from the pool's start), or in its share of that step's update.
   */
  trainWorkerFailAt: { step: number; phase: 'compute' | 'update' } | null;
  /** REC_TEST_RANK_WORKER_FAIL_AT_JOB=N: a ranking worker throws in the N-th job it ranks. */
  rankWorkerFailAtJob: number | null;
  /**
   * REC_TEST_WORKER_HOLD_START_MS=ms: every worker thread waits this long before it starts its
   * engine, so that a test can signal a pool during its start-up.
   */
  workerHoldStartMs: number;
}

export const NO_TEST_HOOKS: TestHooks = { trainWorkerFailAt: null, rankWorkerFailAtJob: null, workerHoldStartMs: 0 };

export function readTestHooks(env: Readonly<Record<string, string | undefined>>): TestHooks {
  const failStep = /^(\d+)(:update)?$/.exec(env.REC_TEST_WORKER_FAIL_AT_STEP ?? '');
  const failJob = env.REC_TEST_RANK_WORKER_FAIL_AT_JOB;
  const hold = Number(env.REC_TEST_WORKER_HOLD_START_MS ?? '');
  return {
    trainWorkerFailAt: failStep === null ? null : { step: Number(failStep[1]), phase: failStep[2] === undefined ? 'compute' : 'update' },
    rankWorkerFailAtJob: failJob !== undefined && /^\d+$/.test(failJob) ? Number(failJob) : null,
    workerHoldStartMs: Number.isFinite(hold) && hold > 0 ? hold : 0,
  };
}

let cached: TestHooks | null = null;

/** This process's hooks, read from its environment once. */
export function testHooks(): TestHooks {
  cached ??= readTestHooks(process.env);
  return cached;
}
