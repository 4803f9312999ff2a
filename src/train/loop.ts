/**
 * The training loop shared by every model: epochs of steps over a freshly sampled epoch, a
 * validation pass and callbacks at each epoch end, resumable state saved every `saveEvery` steps,
 * at each epoch end and when the run is interrupted (during validation too: the validator checks
 * the same abort signal between its blocks). The loop knows nothing about models: a
 * `TrainTask` supplies the epoch's batches and the step.
 */
import type { EpochRecord, TrainerState } from '../io/checkpoint.js';
import { InterruptedError, RuntimeFailure } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Progress } from '../util/progress.js';
import { Prng } from '../util/prng.js';
import { plural } from '../util/plural.js';

export interface TrainTask {
  /** Builds the epoch's examples from the PRNG (shuffle, negatives); returns the number of steps. */
  beginEpoch(rng: Prng): number;
  /** Examples in the current epoch (for examples/s). */
  epochExamples(): number;
  /** Runs step `index` of the current epoch and returns its loss (a promise when the step waits for worker threads). */
  step(index: number): number | Promise<number>;
  setLearningRate(lr: number): void;
}

export interface EpochEndInfo {
  epoch: number;
  record: EpochRecord;
  state: TrainerState;
}

export interface LoopCallbacks {
  /** Validation metrics after an epoch (empty when there is no validation split). */
  validate(epoch: number): Promise<Record<string, number>>;
  /** Saves the resumable state (last/). */
  saveState(state: TrainerState): Promise<void>;
  /** Called with every finished epoch (metrics log, best model, …). */
  onEpochEnd(info: EpochEndInfo): Promise<void>;
  /** Called every `logEvery` global steps and after each epoch's last step (TensorBoard curves). */
  onStep?(info: StepInfo): Promise<void>;
  /**
   * Asked after each epoch is recorded and saved whether to stop here (rec tune's pruner and
   * budget): the run then ends like an early stop, with the best model so far in model/.
   */
  stopAfter?(record: EpochRecord): Promise<boolean>;
}

export interface StepInfo {
  state: TrainerState;
  lr: number;
  /** Training examples per second since the previous call in this epoch; null for the resume point's call, whose steps ran in another process. */
  examplesPerS: number | null;
}

export interface LoopOptions {
  epochs: number;
  seed: number;
  saveEvery: number;
  learningRate(epoch: number): number;
  /** Early stopping: the metric, whether higher is better, patience (0 = off). */
  monitor: { metric: string; higherIsBetter: boolean; patience: number } | null;
  log: Logger;
  progress: Progress;
  signal?: AbortSignal;
  /** Global-step interval of onStep (0: only at epoch ends). */
  logEvery?: number;
  /** Milliseconds for the progress bar's pacing (tests pass a fake); default performance.now. */
  clock?: () => number;
}

export function initialState(seed: number): TrainerState {
  return {
    epoch: 0,
    step_in_epoch: 0,
    global_step: 0,
    epoch_prng: Prng.fromSeed(seed, 'train/epochs').state(),
    loss_sum: 0,
    loss_count: 0,
    best: null,
    epochs_without_improvement: 0,
    train_seconds: 0,
  };
}

export type LoopOutcome = 'completed' | 'stopped_early';

/** Validation this much longer than the epoch (and over half a minute) earns a hint, once a run. */
const SLOW_VALIDATION_RATIO = 4;
const SLOW_VALIDATION_S = 30;

/** How long a run of steps may hold the event loop (signals are seen within this). */
const YIELD_MS = 100;

/**
 * Longest the bar's position and loss may lag the steps. Paced by time, not by a step count: a
 * step of SASRec's full softmax can take most of a second, and a bar moved every 10 steps sat on
 * step 1 for seconds (issue 19).
 */
const BAR_MS = 200;

/**
 * The bar's status: the epoch's running mean loss, the figure the epoch line reports at its end
 * (a single step's loss, noisy and often far from the mean, would contradict it).
 */
function runningLoss(state: TrainerState): string {
  return state.loss_count > 0 ? `loss ${(state.loss_sum / state.loss_count).toFixed(4)}` : '';
}

export async function runLoop(task: TrainTask, start: TrainerState, opts: LoopOptions, cb: LoopCallbacks): Promise<{ outcome: LoopOutcome; state: TrainerState }> {
  const state: TrainerState = structuredClone(start);
  // A resumed run has saved states from before; a new one has none until its first save.
  let saved = start.global_step > 0;
  let hinted = false;
  let warnedUnmeasured = false;
  while (state.epoch < opts.epochs) {
    const epochRng = Prng.fromState(state.epoch_prng);
    const lr = opts.learningRate(state.epoch);
    task.setLearningRate(lr);
    // Epoch time includes building the epoch (negative sampling, shuffling), as the issue and the
    // PyTorch reference count it; validation is timed apart.
    let segmentStart = performance.now();
    // A resumed epoch counts the seconds its steps took before the interruption too.
    const secondsBefore = state.train_seconds - (Number.isFinite(state.epoch_seconds) ? (state.epoch_seconds as number) : 0);
    const steps = task.beginEpoch(epochRng);
    const bar = opts.progress.start(`epoch ${state.epoch + 1}/${opts.epochs}`, steps, 'steps', { rate: { unit: 'ex', scale: steps > 0 ? task.epochExamples() / steps : 0 } });
    const clock = opts.clock ?? (() => performance.now());
    // Shown at once, at the resume position and loss of a resumed epoch.
    bar.update(state.step_in_epoch, runningLoss(state));
    let barAt = clock();
    let lastYield = performance.now();
    let rateFrom = { time: performance.now(), step: state.global_step };
    const examplesPerStep = steps > 0 ? task.epochExamples() / steps : 0;
    const logEvery = opts.logEvery ?? 0;
    // A resumed epoch logs its resume point again when that step was a logging one: the killed
    // run's record of it may be torn (its points are skipped where a complete one exists).
    if (cb.onStep && state.step_in_epoch > 0 && (state.step_in_epoch === steps || (logEvery > 0 && state.global_step % logEvery === 0))) {
      await cb.onStep({ state, lr, examplesPerS: null });
    }
    for (let s = state.step_in_epoch; s < steps; s++) {
      // Steps are synchronous: without a turn of the event loop now and then, SIGINT/SIGTERM
      // (which abort opts.signal from a process handler) would wait for the end of the epoch.
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      const result = task.step(s);
      const loss = typeof result === 'number' ? result : await result;
      if (!Number.isFinite(loss)) {
        bar.stop();
        const kept = saved ? 'The last good state is kept in last/ and the best model in model/.' : 'No state had been saved yet.';
        throw new RuntimeFailure(`Training diverged: loss is ${loss} at epoch ${state.epoch + 1}, step ${s + 1}. ${kept} Try a lower --lr or a larger --l2.`);
      }
      state.loss_sum += loss;
      state.loss_count += 1;
      state.step_in_epoch = s + 1;
      state.global_step += 1;
      if (s === steps - 1 || clock() - barAt >= BAR_MS) {
        bar.update(s + 1, runningLoss(state));
        barAt = clock();
      }
      if (cb.onStep && (s === steps - 1 || (logEvery > 0 && state.global_step % logEvery === 0))) {
        const seconds = (performance.now() - rateFrom.time) / 1000;
        const examplesPerS = seconds > 0 ? ((state.global_step - rateFrom.step) * examplesPerStep) / seconds : 0;
        await cb.onStep({ state, lr, examplesPerS });
        rateFrom = { time: performance.now(), step: state.global_step };
      }
      const interrupted = opts.signal?.aborted === true && s + 1 < steps;
      if (interrupted || (opts.saveEvery > 0 && state.global_step % opts.saveEvery === 0 && s + 1 < steps)) {
        state.train_seconds += (performance.now() - segmentStart) / 1000;
        state.epoch_seconds = state.train_seconds - secondsBefore;
        segmentStart = performance.now();
        await cb.saveState(state);
        saved = true;
        if (interrupted) {
          bar.stop();
          const signal = opts.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
          throw new InterruptedError(signal, `${signal} received: saved a resumable state at epoch ${state.epoch + 1}, step ${s + 1}.`);
        }
      }
    }
    bar.stop();
    state.train_seconds += (performance.now() - segmentStart) / 1000;
    // Every segment of this epoch (saves with --save-every split it), in this process.
    const epochSeconds = state.train_seconds - secondsBefore;
    state.epoch_seconds = epochSeconds;
    opts.log.debug(`epoch ${state.epoch + 1}: ${steps} steps done in ${epochSeconds.toFixed(1)}s; validating`);
    const validStart = performance.now();
    const valid = await validateEpoch(state, opts, cb);
    const validSeconds = (performance.now() - validStart) / 1000;
    const record = epochRecord(state, lr, valid, { epochSeconds, validSeconds, examples: task.epochExamples() });
    const verdict = judgeEpoch(state, valid, opts.monitor);
    if (verdict === 'unmeasured' && !warnedUnmeasured) warnedUnmeasured = warnUnmeasured(state, valid, opts);
    const stop = verdict === 'stop';
    closeEpoch(state, epochRng);
    await cb.onEpochEnd({ epoch: state.epoch, record, state });
    await cb.saveState(state);
    saved = true;
    hinted = logEpoch(record, opts, { validSeconds, epochSeconds, hinted });
    if (!stop && (await stoppedByCaller(state, opts, cb, record))) return { outcome: 'stopped_early', state };
    if (stop) {
      opts.log.info(`early stopping: ${opts.monitor?.metric} did not improve for ${plural(opts.monitor?.patience ?? 0, 'epoch')} (best epoch ${state.best?.epoch})`);
      return { outcome: 'stopped_early', state };
    }
    if (opts.signal?.aborted) throw interruptedAfterEpoch(opts.signal, state.epoch);
  }
  return { outcome: 'completed', state };
}

/** Whether the caller (rec tune's pruner or budget) ends the run after this epoch, which is not the last. */
async function stoppedByCaller(state: TrainerState, opts: LoopOptions, cb: LoopCallbacks, record: EpochRecord): Promise<boolean> {
  if (state.epoch >= opts.epochs || cb.stopAfter === undefined || !(await cb.stopAfter(record))) return false;
  opts.log.info(`stopped after epoch ${state.epoch} by the caller (rec tune: pruned, or out of budget)`);
  return true;
}

/** A signal that arrived during an epoch, once the epoch's state is saved. */
function interruptedAfterEpoch(signal: AbortSignal, epoch: number): InterruptedError {
  const name = signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  return new InterruptedError(name, `${name} received: saved a resumable state after epoch ${epoch}.`);
}

/** The epoch's record in metrics.jsonl, made before the state moves past the epoch. */
function epochRecord(state: TrainerState, lr: number, valid: Record<string, number>, t: { epochSeconds: number; validSeconds: number; examples: number }): EpochRecord {
  const record: EpochRecord = {
    epoch: state.epoch + 1,
    loss: state.loss_count ? state.loss_sum / state.loss_count : 0,
    seconds: round(t.epochSeconds, 3),
    examples_per_s: t.epochSeconds > 0 ? Math.round(t.examples / t.epochSeconds) : 0,
    lr,
    valid,
  };
  if (Object.keys(valid).length > 0) record.valid_seconds = round(t.validSeconds, 3);
  return record;
}

/** Says once per run that an epoch measured no monitored value; returns true (warned). */
function warnUnmeasured(state: TrainerState, valid: Record<string, number>, opts: LoopOptions): true {
  opts.log.warn(
    `valid ${opts.monitor?.metric} is ${valid[opts.monitor?.metric ?? '']} at epoch ${state.epoch + 1} (no validation user could be ranked?): such an epoch counts neither for the best epoch nor for early stopping (until one measures a number, model/ holds the last weights).`,
  );
  return true;
}

/**
 * The epoch's validation. A signal that aborts it saves the state with the epoch's steps done, so
 * that a resume goes straight into this validation.
 */
async function validateEpoch(state: TrainerState, opts: LoopOptions, cb: LoopCallbacks): Promise<Record<string, number>> {
  try {
    return await cb.validate(state.epoch);
  } catch (error) {
    if (!opts.signal?.aborted) throw error;
    await cb.saveState(state);
    const signal = opts.signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    throw new InterruptedError(
      signal,
      `${signal} received during validation: saved a resumable state after the steps of epoch ${state.epoch + 1} (its validation reruns on resume).`,
    );
  }
}

/** Moves the state past a finished epoch: the next one starts at step 0 from this epoch's PRNG. */
function closeEpoch(state: TrainerState, epochRng: Prng): void {
  state.epoch += 1;
  state.step_in_epoch = 0;
  state.epoch_seconds = 0;
  state.loss_sum = 0;
  state.loss_count = 0;
  state.epoch_prng = epochRng.state();
}

/** The epoch's log line, and once per run a hint when validation costs far more than training; returns whether the hint was given. */
function logEpoch(record: EpochRecord, opts: LoopOptions, t: { validSeconds: number; epochSeconds: number; hinted: boolean }): boolean {
  const validText = Object.entries(record.valid)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(' ');
  opts.log.info(
    `epoch ${record.epoch}/${opts.epochs} loss ${record.loss.toFixed(4)}${validText ? ` valid ${validText}` : ''} ${record.seconds.toFixed(1)}s ${record.examples_per_s} ex/s${record.valid_seconds !== undefined ? ` (validation ${record.valid_seconds.toFixed(1)}s)` : ''}`,
  );
  if (t.hinted || !(t.validSeconds > SLOW_VALIDATION_S && t.validSeconds > SLOW_VALIDATION_RATIO * t.epochSeconds)) return t.hinted;
  opts.log.info(
    `validation took ${t.validSeconds.toFixed(1)}s against ${t.epochSeconds.toFixed(1)}s of training: --valid-users N ranks a smaller seeded sample of users (or use a faster --backend)`,
  );
  return true;
}

/**
 * Updates the best epoch and the early-stopping count from an epoch's validation. A monitored
 * value that is not a number (validation ranked nobody) counts for neither: NaN compares false
 * both ways, so taken as a first best it would stay best for the whole run.
 */
function judgeEpoch(state: TrainerState, valid: Record<string, number>, monitor: LoopOptions['monitor']): 'go' | 'stop' | 'unmeasured' {
  if (monitor === null || !(monitor.metric in valid)) return 'go';
  const value = valid[monitor.metric];
  if (!Number.isFinite(value)) return 'unmeasured';
  const better = state.best === null || (monitor.higherIsBetter ? value > state.best.value : value < state.best.value);
  if (better) {
    state.best = { epoch: state.epoch + 1, metric: monitor.metric, value };
    state.epochs_without_improvement = 0;
    return 'go';
  }
  state.epochs_without_improvement += 1;
  return monitor.patience > 0 && state.epochs_without_improvement >= monitor.patience ? 'stop' : 'go';
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
