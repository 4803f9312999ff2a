import { describe, expect, it } from 'vitest';
import type { EpochRecord, TrainerState } from '../../../src/io/checkpoint.js';
import { initialState, runLoop, type LoopOptions, type TrainTask } from '../../../src/train/loop.js';
import { InterruptedError } from '../../../src/util/errors.js';
import { memoryLogger, silentLogger } from '../../../src/util/log.js';
import { noProgress, type Progress } from '../../../src/util/progress.js';

const STEPS = 5;

function fakeTask(): TrainTask & { steps: number[] } {
  const steps: number[] = [];
  return {
    steps,
    beginEpoch: () => STEPS,
    epochExamples: () => STEPS * 10,
    step(index) {
      steps.push(index);
      return 0.5;
    },
    setLearningRate: () => undefined,
  };
}

function options(signal?: AbortSignal): LoopOptions {
  return {
    epochs: 1,
    seed: 1,
    saveEvery: 0,
    learningRate: () => 0.01,
    monitor: { metric: 'ndcg@10', higherIsBetter: true, patience: 0 },
    log: silentLogger,
    progress: noProgress,
    signal,
  };
}

describe('runLoop: a signal during validation', () => {
  it('saves a state that resumes straight into the validation, then exits as interrupted', async () => {
    const controller = new AbortController();
    const saved: TrainerState[] = [];
    const task = fakeTask();
    const run = runLoop(task, initialState(1), options(controller.signal), {
      async validate() {
        // What evaluate does between blocks once the signal has fired.
        controller.abort('SIGINT');
        throw new InterruptedError('SIGINT', 'SIGINT received: evaluation stopped; no eval file was written.');
      },
      saveState: async (s) => void saved.push(structuredClone(s)),
      onEpochEnd: async () => undefined,
    });
    const error: unknown = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).signal).toBe('SIGINT');
    expect((error as Error).message).toMatch(/during validation: saved a resumable state after the steps of epoch 1 \(its validation reruns on resume\)/);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ epoch: 0, step_in_epoch: STEPS, global_step: STEPS, loss_count: STEPS });
    expect(task.steps).toEqual([0, 1, 2, 3, 4]);

    // Resume: no step is re-run, the validation is, and the epoch record has its timing.
    const resumed = fakeTask();
    const records: EpochRecord[] = [];
    const result = await runLoop(resumed, saved[0], options(), {
      validate: async () => ({ 'ndcg@10': 0.25 }),
      saveState: async () => undefined,
      onEpochEnd: async ({ record }) => void records.push(record),
    });
    expect(resumed.steps).toEqual([]);
    expect(result.state.epoch).toBe(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ epoch: 1, loss: 0.5, valid: { 'ndcg@10': 0.25 } });
    expect(records[0].valid_seconds).toBeGreaterThanOrEqual(0);
  });

  it('a resumed epoch counts the seconds its steps took before the interruption', async () => {
    // As saved mid-epoch: 3 of 5 steps done, 40 s of them (an old state without epoch_seconds counts 0).
    const start: TrainerState = { ...initialState(1), step_in_epoch: 3, global_step: 3, loss_sum: 1.5, loss_count: 3, train_seconds: 100, epoch_seconds: 40 };
    const records: EpochRecord[] = [];
    const result = await runLoop(fakeTask(), start, options(), {
      validate: async () => ({ 'ndcg@10': 0.25 }),
      saveState: async () => undefined,
      onEpochEnd: async ({ record }) => void records.push(record),
    });
    expect(records[0].seconds).toBeGreaterThanOrEqual(40);
    expect(records[0].examples_per_s).toBeLessThanOrEqual(Math.ceil((STEPS * 10) / 40));
    expect(result.state.epoch_seconds).toBe(0);
  });

  it('a validation failure without a signal is not turned into an interruption', async () => {
    const saved: TrainerState[] = [];
    const run = runLoop(fakeTask(), initialState(1), options(new AbortController().signal), {
      validate: async () => {
        throw new RangeError('broken');
      },
      saveState: async (s) => void saved.push(s),
      onEpochEnd: async () => undefined,
    });
    await expect(run).rejects.toThrow(RangeError);
    expect(saved).toHaveLength(0);
  });
});

describe('runLoop: the progress bar', () => {
  /** A Progress that records every position and status the bar is given. */
  function recording(): Progress & { updates: [number, string][] } {
    const updates: [number, string][] = [];
    return { updates, start: () => ({ update: (value, status = '') => void updates.push([value, status]), stop: () => undefined }) };
  }

  it('shows the running mean loss of the epoch (what the epoch line reports), after every slow step', async () => {
    const losses = [10, 2, 6, 0.5, 1.5];
    let now = 0;
    const task: TrainTask = {
      beginEpoch: () => losses.length,
      epochExamples: () => losses.length * 8,
      step(index) {
        // Each step takes a (fake) second, as SASRec's full softmax steps can on a large catalogue.
        now += 1000;
        return losses[index];
      },
      setLearningRate: () => undefined,
    };
    const progress = recording();
    const records: EpochRecord[] = [];
    await runLoop(task, initialState(1), { ...options(), progress, clock: () => now }, {
      validate: async () => ({}),
      saveState: async () => undefined,
      onEpochEnd: async ({ record }) => void records.push(record),
    });
    const means = losses.map((_, k) => losses.slice(0, k + 1).reduce((a, b) => a + b, 0) / (k + 1));
    expect(progress.updates).toEqual([[0, ''], ...means.map((m, k): [number, string] => [k + 1, `loss ${m.toFixed(4)}`])]);
    expect(progress.updates[progress.updates.length - 1][1]).toBe(`loss ${records[0].loss.toFixed(4)}`);
  });

  it('a resumed epoch shows its position and running loss at once', async () => {
    const start: TrainerState = { ...initialState(1), step_in_epoch: 3, global_step: 3, loss_sum: 3, loss_count: 3 };
    const progress = recording();
    await runLoop(fakeTask(), start, { ...options(), progress, clock: () => 0 }, { validate: async () => ({}), saveState: async () => undefined, onEpochEnd: async () => undefined });
    expect(progress.updates[0]).toEqual([3, 'loss 1.0000']);
    expect(progress.updates[progress.updates.length - 1]).toEqual([5, 'loss 0.8000']);
  });
});

describe('runLoop: a validation metric that is not a number', () => {
  const run = async (values: number[], patience: number) => {
    const log = memoryLogger('warn');
    const bests: (TrainerState['best'] | null)[] = [];
    let epoch = 0;
    const result = await runLoop(fakeTask(), initialState(1), { ...options(), epochs: values.length, log, monitor: { metric: 'ndcg@10', higherIsBetter: true, patience } }, {
      validate: async () => ({ 'ndcg@10': values[epoch++] }),
      saveState: async () => undefined,
      onEpochEnd: async ({ state }) => void bests.push(state.best === null ? null : { ...state.best }),
    });
    return { result, bests, log };
  };

  it('is never the best epoch: NaN first, then numbers, then NaN again', async () => {
    const { result, bests, log } = await run([Number.NaN, 0.2, Number.NaN, 0.1], 0);
    expect(bests[0]).toBeNull();
    expect(bests.slice(1)).toEqual(Array(3).fill({ epoch: 2, metric: 'ndcg@10', value: 0.2 }));
    expect(result.outcome).toBe('completed');
    expect(log.lines.filter((l) => l.includes('valid ndcg@10 is NaN at epoch 1'))).toHaveLength(1);
  });

  it('a run that never measures a number has no best epoch', async () => {
    const { result } = await run([Number.NaN, Number.NaN], 0);
    expect(result.state.best).toBeNull();
  });

  it('does not count towards early stopping', async () => {
    const { result } = await run([0.3, Number.NaN, Number.NaN, 0.4, 0.2], 1);
    expect(result.state.best).toEqual({ epoch: 4, metric: 'ndcg@10', value: 0.4 });
    expect(result.outcome).toBe('stopped_early');
    expect(result.state.epoch).toBe(5);
  });
});

describe('runLoop: the resume point\'s step points', () => {
  const resumeAt = async (stepInEpoch: number, globalStep: number) => {
    const calls: { step: number; examplesPerS: number | null }[] = [];
    const start: TrainerState = { ...initialState(1), step_in_epoch: stepInEpoch, global_step: globalStep, loss_sum: 0.5 * stepInEpoch, loss_count: stepInEpoch };
    await runLoop(fakeTask(), start, { ...options(), logEvery: 4 }, {
      validate: async () => ({ 'ndcg@10': 0.25 }),
      saveState: async () => undefined,
      onEpochEnd: async () => undefined,
      onStep: async ({ state, examplesPerS }) => void calls.push({ step: state.global_step, examplesPerS }),
    });
    return calls;
  };

  it('are logged again when the resume point was a logging step (its record may be torn), without an examples/s', async () => {
    // Saved after all 5 steps (a signal during validation): the epoch's last step.
    expect(await resumeAt(STEPS, STEPS)).toEqual([{ step: STEPS, examplesPerS: null }]);
    // Saved at global step 4, a multiple of logEvery: logged again, then the epoch's last step.
    expect((await resumeAt(4, 4)).map((c) => c.step)).toEqual([4, 5]);
    expect((await resumeAt(4, 4))[0].examplesPerS).toBeNull();
  });

  it('are not logged at a resume point that was no logging step', async () => {
    expect((await resumeAt(2, 2)).map((c) => c.step)).toEqual([4, 5]);
  });
});

describe('runLoop: stopAfter (rec tune pruning and budget)', () => {
  it('is asked after each saved epoch but the last, and a yes ends the run as an early stop with that epoch saved', async () => {
    const asked: number[] = [];
    const saved: number[] = [];
    const result = await runLoop(fakeTask(), initialState(1), { ...options(), epochs: 5 }, {
      validate: async (e) => ({ 'ndcg@10': 0.1 * e }),
      saveState: async (s) => void saved.push(s.epoch),
      onEpochEnd: async () => undefined,
      stopAfter: async (record) => {
        asked.push(record.epoch);
        return record.epoch === 2;
      },
    });
    expect(result.outcome).toBe('stopped_early');
    expect(result.state.epoch).toBe(2);
    expect(asked).toEqual([1, 2]);
    expect(saved).toEqual([1, 2]);
    const full: number[] = [];
    await runLoop(fakeTask(), initialState(1), { ...options(), epochs: 3 }, {
      validate: async () => ({ 'ndcg@10': 0.1 }),
      saveState: async () => undefined,
      onEpochEnd: async () => undefined,
      stopAfter: async (record) => (full.push(record.epoch), false),
    });
    expect(full).toEqual([1, 2]);
  });
});
