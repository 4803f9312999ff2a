/**
 * `rec tune`'s study: trials proposed by a sampler, each trained as an ordinary checkpoint under
 * STUDY/trials/NNN by a TrialRunner (the CLI runs `rec train` child processes:
 * src/tune/process-runner.ts), pruned on their per-epoch validation, side by side up to
 * `parallel`, until `trials` are done or the budget runs out. Only validation chooses; the best
 * trial alone is then evaluated on the test split, once, and study.json says so.
 *
 * Reproducible with a seed: trial n is proposed from the finished trials up to n − parallel and
 * judged against the same ones, waiting for them when they are still running, so neither the
 * parameters nor the pruning depend on which trial ran faster.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import type { ModelName } from '../config/schema.js';
import { setPath, type Tree } from '../config/tree.js';
import { pathExists, stableJson, writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { paths, type EpochRecord } from '../io/checkpoint-contract.js';
import { InterruptedError, RuntimeFailure, UsageError } from '../util/errors.js';
import { lowerIsBetter } from '../util/metric-direction.js';
import type { RunIO } from '../util/run-io.js';
import { createPruner, DEFAULT_PRUNER, type Pruner, type PrunerName } from './pruners.js';
import { appendTrial, compactTrials, isFinal, readTrials, studyPaths, trialName, type StudyJson, type TrialRecord } from '../io/study.js';

export type { StudyJson, TestRecord } from '../io/study.js';
import { createSampler, type Observation, type Sampler, type SamplerName } from './samplers.js';
import type { Params, Space } from './space.js';

export interface TrialJob {
  trial: number;
  /** The trial's checkpoint folder. */
  dir: string;
  /** The trial's config file (a `rec train --config`). */
  config: string;
  /** Where the trial's stderr goes. */
  log: string;
  /** Continue the checkpoint's saved state (a trial a killed study left running). */
  resume: boolean;
  /** The folder may hold a start that saved nothing: train over it. */
  force: boolean;
  workers: number;
}

export type TrialExit = { ok: true } | { ok: false; interrupted: boolean; usage: boolean; message: string };

export interface TrialRunner {
  /** Trains a trial; `onEpoch` is asked after each epoch whether to stop there. */
  train(job: TrialJob, onEpoch: (record: EpochRecord) => Promise<boolean>): Promise<TrialExit>;
  /** Evaluates a checkpoint on the test split; returns its metrics and the eval file written. */
  evaluate(job: { checkpoint: string; config: string; log: string }): Promise<{ metrics: Record<string, number>; file: string }>;
  /** Asks every running trial to stop and save its state (the study was interrupted). */
  stopAll(): void;
}

export interface StudyRequest {
  /** The dataset folder (absolute). */
  data: string;
  model: ModelName;
  space: Space;
  trials: number;
  metric: string;
  budgetSeconds: number | null;
  parallel: number;
  /** Workers of each trial. */
  workers: number;
  out: string;
  resume: boolean;
  sampler: SamplerName;
  pruner: PrunerName;
  seed: number;
  /** Config keys every trial shares (the user's --config files and flags). */
  base: Tree;
  validFromTrain: number | null;
  /**
   * Train the best trial's config again on all of train (validation carved from train, so it
   * returns to train), for its best epoch count, and evaluate that model on test instead of the trial.
   */
  refit?: boolean;
  /** TPE: random trials before the model (default 10, fewer for a small study). */
  startup?: number;
  runner: TrialRunner;
  /** Milliseconds; tests pass a fake. */
  now?: () => number;
}

const HONESTY = 'Trials were chosen and pruned on the validation split only; the test split was evaluated once, after the search, for the best trial alone.';
const HONESTY_REFIT = "Trials were chosen and pruned on the validation split only; the best trial's config was then trained again on all of train (the carved validation included, for the trial's best epoch count: --refit) and the test split was evaluated once, for that model alone.";

/** Settings a resumed study must share with the one it continues (others may change: trials, budget, parallel). */
const FIXED_SETTINGS = ['data', 'model', 'metric', 'sampler', 'pruner', 'seed', 'valid_from_train', 'space', 'base'] as const;

export async function runStudy(req: StudyRequest, io: RunIO): Promise<StudyJson> {
  const now = req.now ?? (() => Date.now());
  const started = now();
  const higherIsBetter = !lowerIsBetter(req.metric);
  const study = await openStudy(req, higherIsBetter, io);
  const sampler = createSampler(req.sampler, { seed: req.seed, higherIsBetter, startup: req.startup ?? Math.min(10, Math.max(2, Math.floor(req.trials / 3))) });
  const pruner = createPruner(req.pruner, { higherIsBetter, ...DEFAULT_PRUNER });
  const records = await readTrials(req.out);
  if (req.resume) await compactTrials(req.out, records);
  const deadline = req.budgetSeconds === null ? Infinity : started + req.budgetSeconds * 1000;
  const loop = new TrialLoop(req, io, { sampler, pruner, records, deadline, now });
  const onAbort = () => req.runner.stopAll();
  io.signal?.addEventListener('abort', onAbort);
  try {
    await loop.run();
    return await closeStudy(req, io, study, loop, records, started);
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
  }
}

/** After the trials: the counts and rates, then the interruption, the failure or the best trial's test evaluation (the refit's, with --refit). */
async function closeStudy(req: StudyRequest, io: RunIO, study: StudyJson, loop: TrialLoop, records: Map<number, TrialRecord>, started: number): Promise<StudyJson> {
  const now = req.now ?? (() => Date.now());
  study.counts = countStatuses(records);
  study.wall_seconds = round3((now() - started) / 1000);
  const finished = [...records.values()].filter((r) => r.status !== 'running').length - loop.finishedBefore;
  study.trials_per_hour = study.wall_seconds > 0 ? round3((finished * 3600) / study.wall_seconds) : 0;
  study.stopped_by_budget = loop.budgetHit;
  if (io.signal?.aborted) {
    study.status = 'interrupted';
    await writeJsonAtomic(studyPaths(req.out).study, study);
    const signal = io.signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    throw new InterruptedError(signal, `${signal} received: the study stopped; running trials saved their state. Continue it with the same command and --resume.`);
  }
  if (loop.fatal) {
    study.status = 'failed';
    await writeJsonAtomic(studyPaths(req.out).study, study);
    throw loop.fatal;
  }
  return finishStudy(req, io, study, records);
}

async function openStudy(req: StudyRequest, higherIsBetter: boolean, io: RunIO): Promise<StudyJson> {
  const p = studyPaths(req.out);
  const fresh: StudyJson = {
    format_version: 1,
    data: req.data,
    model: req.model,
    metric: req.metric,
    higher_is_better: higherIsBetter,
    sampler: req.sampler,
    pruner: req.pruner,
    seed: req.seed,
    trials: req.trials,
    parallel: req.parallel,
    budget_seconds: req.budgetSeconds,
    valid_from_train: req.validFromTrain,
    space: { file: req.space.file, params: req.space.params },
    base: req.base,
    status: 'running',
    started: new Date().toISOString(),
    finished: null,
    counts: { completed: 0, pruned: 0, failed: 0, running: 0 },
    best: null,
    test: null,
    refit: null,
    wall_seconds: 0,
    trials_per_hour: 0,
    stopped_by_budget: false,
    honesty: HONESTY,
  };
  if (req.resume) {
    if (!(await pathExists(p.study))) throw new UsageError(`--resume continues a study, but ${req.out} has no study.json. Start it without --resume.`);
    const before = JSON.parse(await readFile(p.study, 'utf8')) as StudyJson;
    // Compared key-sorted (study.json is written so), and the space without its line numbers.
    const setting = (s: StudyJson, key: (typeof FIXED_SETTINGS)[number]) => stableJson(key === 'space' ? s.space.params.map(({ line: _line, ...p }) => p) : s[key]).replace(/\s+/g, '');
    for (const key of FIXED_SETTINGS) {
      const was = setting(before, key);
      const now = setting(fresh, key);
      if (was !== now) throw new UsageError(`--resume continues the study in ${req.out} with its own settings; its ${key} was ${was} but is ${now} now. Use the study's settings (study.json), or start a new study in another --out.`);
    }
    io.log.info(`resuming the study in ${req.out}`);
    fresh.started = before.started;
    fresh.test = before.test;
    fresh.refit = before.refit ?? null;
  } else {
    const entries: string[] = await readdir(req.out).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    if (entries.length > 0) {
      throw new UsageError(`--out ${req.out} is not empty${entries.includes('study.json') ? ' (it holds a study)' : ''}. Expected an absent or empty folder; continue a killed study with --resume, or choose another --out.`);
    }
  }
  await mkdir(studyPaths(req.out).trialDir(0), { recursive: true });
  await writeJsonAtomic(p.study, fresh);
  return fresh;
}

interface LoopParts {
  sampler: Sampler;
  pruner: Pruner;
  records: Map<number, TrialRecord>;
  deadline: number;
  now: () => number;
}

/** The scheduler: launches trials in order, at most `parallel` at once, each once its window is final. */
class TrialLoop {
  fatal: Error | null = null;
  budgetHit = false;
  readonly finishedBefore: number;
  private readonly running = new Map<number, Promise<void>>();
  private readonly req: StudyRequest;
  private readonly io: RunIO;
  private readonly parts: LoopParts;

  constructor(req: StudyRequest, io: RunIO, parts: LoopParts) {
    this.req = req;
    this.io = io;
    this.parts = parts;
    this.finishedBefore = [...parts.records.values()].filter(isFinal).length;
  }

  private stopping(): boolean {
    if (this.parts.now() >= this.parts.deadline) this.budgetHit = true;
    return this.fatal !== null || this.budgetHit || this.io.signal?.aborted === true;
  }

  /** Trials up to `last` are all finished (a trial's history and peers are those). */
  private windowFinal(last: number): boolean {
    for (let t = 0; t <= last; t++) if (!isFinal(this.parts.records.get(t))) return false;
    return true;
  }

  async run(): Promise<void> {
    let next = 0;
    for (;;) {
      while (this.running.size < this.req.parallel && next < this.req.trials && !this.stopping()) {
        if (isFinal(this.parts.records.get(next))) {
          next++;
          continue;
        }
        if (!this.windowFinal(next - this.req.parallel)) break;
        const n = next++;
        this.running.set(
          n,
          this.runTrial(n)
            .catch((error: unknown) => {
              this.fatal ??= error instanceof Error ? error : new Error(String(error));
            })
            .finally(() => this.running.delete(n)),
        );
      }
      if (this.running.size === 0) return;
      await Promise.race(this.running.values());
    }
  }

  private history(last: number): TrialRecord[] {
    const out: TrialRecord[] = [];
    for (let t = 0; t <= last; t++) {
      const r = this.parts.records.get(t);
      if (isFinal(r)) out.push(r as TrialRecord);
    }
    return out;
  }

  private async runTrial(n: number): Promise<void> {
    const { req, io } = this;
    const p = studyPaths(req.out);
    const prior = this.parts.records.get(n);
    const last = n - req.parallel;
    const params = prior?.params ?? this.parts.sampler(n, req.space.params, this.history(last).map(observation));
    const dir = p.trialDir(n);
    const checkpoint = relative(req.out, dir);
    await writeFileAtomic(p.trialConfig(n), trialYaml(req, params, `trial ${n} of the study in ${req.out}`));
    const resume = prior !== undefined && (await pathExists(paths(dir).trainerState));
    if (prior === undefined) await this.record({ trial: n, params, status: 'running', value: null, epochs: 0, metric_by_epoch: [], best_epoch: null, seconds: 0, checkpoint, at: new Date().toISOString() });
    io.log.info(`trial ${n}${resume ? ' (resumed)' : ''}: ${describeParams(params)}`);
    const curve = resume ? await readCurve(dir, req.metric) : [];
    const peers = this.history(last).filter((r) => r.status !== 'failed').map((r) => r.metric_by_epoch.map((v) => v ?? Number.NaN));
    const ended: { reason?: string; stopped?: 'budget' } = {};
    const onEpoch = async (record: EpochRecord): Promise<boolean> => {
      const v = record.valid[req.metric];
      curve.push(typeof v === 'number' ? v : Number.NaN);
      if (this.stopping() && this.budgetHit) {
        ended.stopped = 'budget';
        return true;
      }
      const verdict = this.parts.pruner(curve, peers);
      if (verdict.prune) ended.reason = verdict.reason;
      return verdict.prune;
    };
    const job: TrialJob = { trial: n, dir, config: p.trialConfig(n), log: p.trialLog(n), resume, force: prior !== undefined && !resume, workers: req.workers };
    await mkdir(p.trialLog(n).replace(/[^/\\]+$/, ''), { recursive: true });
    // A kill between the trial's end and its line in trials.jsonl: its files hold the outcome, and
    // training it again would add epochs to a pruned trial. The pruner's verdict on its curve says which.
    const done = resume && (await finishedRun(dir));
    if (done) {
      const verdict = this.parts.pruner(curve, peers);
      if (verdict.prune) ended.reason = verdict.reason;
    }
    const exit: TrialExit = done ? { ok: true } : await req.runner.train(job, onEpoch);
    // An interrupted study leaves the trial running: --resume finishes it from its saved state.
    if (!exit.ok && exit.interrupted && io.signal?.aborted) return;
    const final = await trialOutcome(dir, req.metric, { trial: n, params, checkpoint, exit, ...ended });
    await this.record(final);
    this.log(final);
    if (!exit.ok && exit.usage && n === 0 && ![...this.parts.records.values()].some((r) => r.status === 'completed')) {
      this.fatal = new UsageError(`The study's first trial was refused, so every trial would be: ${exit.message}`);
    }
  }

  private async record(r: TrialRecord): Promise<void> {
    this.parts.records.set(r.trial, r);
    await appendTrial(this.req.out, r);
  }

  private log(r: TrialRecord): void {
    const value = r.value === null ? 'no value' : `${this.req.metric} ${r.value.toFixed(4)}`;
    const what = r.status === 'failed' ? `failed: ${r.message}` : r.status === 'pruned' ? `pruned after ${r.epochs} epochs (${r.reason}); ${value}` : `${value} at epoch ${r.best_epoch}${r.stopped ? ' (stopped by --budget)' : ''}`;
    this.io.log.info(`trial ${r.trial} ${what} in ${r.seconds.toFixed(1)}s`);
  }
}

function observation(r: TrialRecord): Observation {
  return { params: r.params, value: r.value, status: r.status === 'running' ? 'failed' : r.status };
}

export function describeParams(params: Params): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`)
    .join(' ');
}

/** A trial's config: the study's shared keys, the trial's parameters and what every trial shares. */
export function trialTree(req: Pick<StudyRequest, 'base' | 'model' | 'metric' | 'validFromTrain' | 'seed'>, params: Params): Tree {
  const tree = structuredClone(req.base);
  setPath(tree, 'seed', req.seed);
  setPath(tree, 'train.model', req.model);
  setPath(tree, 'train.early_stopping.metric', req.metric);
  if (req.validFromTrain !== null) setPath(tree, 'train.valid_from_train', req.validFromTrain);
  for (const [key, value] of Object.entries(params)) setPath(tree, key, value);
  return tree;
}

function trialYaml(req: StudyRequest, params: Params, what: string): string {
  return `# ${what} (rec tune; docs/tuning.md)\n${stringify(trialTree(req, params))}`;
}

async function finishedRun(dir: string): Promise<boolean> {
  const run = JSON.parse(await readFile(paths(dir).run, 'utf8').catch(() => 'null')) as { status?: string } | null;
  return run?.status === 'completed' || run?.status === 'stopped_early';
}

async function readCurve(dir: string, metric: string): Promise<number[]> {
  const text = await readFile(paths(dir).metrics, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const v = (JSON.parse(l) as EpochRecord).valid[metric];
      return typeof v === 'number' ? v : Number.NaN;
    });
}

/** The trial's final record from its checkpoint (metrics.jsonl, best.json, run.json): the files, not what the study saw. */
async function trialOutcome(dir: string, metric: string, t: { trial: number; params: Params; checkpoint: string; exit: TrialExit; reason?: string; stopped?: 'budget' }): Promise<TrialRecord> {
  const p = paths(dir);
  const curve = await readCurve(dir, metric);
  const best = JSON.parse(await readFile(p.best, 'utf8').catch(() => 'null')) as { epoch: number; value: number | null } | null;
  const run = JSON.parse(await readFile(p.run, 'utf8').catch(() => 'null')) as { timings?: { wall_seconds?: number } } | null;
  const value = best && typeof best.value === 'number' && Number.isFinite(best.value) ? best.value : null;
  const base = {
    trial: t.trial,
    params: t.params,
    status: 'completed' as TrialRecord['status'],
    value,
    epochs: curve.length,
    // JSON has no NaN: an epoch without a value is null.
    metric_by_epoch: curve.map((v) => (Number.isFinite(v) ? v : null)),
    best_epoch: value === null ? null : (best?.epoch ?? null),
    seconds: round3(run?.timings?.wall_seconds ?? 0),
    checkpoint: t.checkpoint,
    at: new Date().toISOString(),
  };
  if (!t.exit.ok) return { ...base, status: 'failed', message: t.exit.message };
  if (t.reason !== undefined) return { ...base, status: 'pruned', reason: t.reason };
  return { ...base, status: 'completed', ...(t.stopped ? { stopped: t.stopped } : {}) };
}

function countStatuses(records: Map<number, TrialRecord>): StudyJson['counts'] {
  const counts = { completed: 0, pruned: 0, failed: 0, running: 0 };
  for (const r of records.values()) counts[r.status] += 1;
  return counts;
}

/** The best completed trial by validation (ties: the earlier trial), or null. */
export function bestTrial(records: Iterable<TrialRecord>, higherIsBetter: boolean): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const r of [...records].sort((a, b) => a.trial - b.trial)) {
    if (r.status !== 'completed' || r.value === null) continue;
    if (best === null || (higherIsBetter ? r.value > (best.value as number) : r.value < (best.value as number))) best = r;
  }
  return best;
}

async function finishStudy(req: StudyRequest, io: RunIO, study: StudyJson, records: Map<number, TrialRecord>): Promise<StudyJson> {
  const p = studyPaths(req.out);
  const best = bestTrial(records.values(), study.higher_is_better);
  if (best === null) {
    study.status = 'failed';
    await writeJsonAtomic(p.study, study);
    const failed = [...records.values()].find((r) => r.status === 'failed');
    throw new RuntimeFailure(`No trial of the study in ${req.out} completed with a validation ${req.metric}${failed ? `; trial ${failed.trial} failed: ${failed.message}` : ' (every trial was pruned or stopped)'}. See ${p.trials} and ${relative(process.cwd(), p.trialLog(0))}.`);
  }
  const first = records.get(0);
  if (study.stopped_by_budget && first?.stopped === 'budget') {
    io.log.warn(`--budget ${req.budgetSeconds}s is shorter than one trial: trial 0 was stopped after ${first.epochs} epochs. Give a larger --budget for a search.`);
  }
  const checkpoint = p.trialDir(best.trial);
  study.best = { trial: best.trial, value: best.value as number, epoch: best.best_epoch, params: best.params, checkpoint: best.checkpoint, config: 'best.yaml' };
  await writeFileAtomic(p.best, bestYaml(req, best));
  const previous = study.test;
  const refit = req.refit === true;
  if (previous === null || previous.trial !== best.trial || (previous.refit ?? false) !== refit) {
    const target = refit ? await refitBest(req, io, study, best) : { checkpoint, config: p.trialConfig(best.trial), log: p.trialLog(best.trial) };
    io.log.info(`evaluating ${refit ? `the best trial's config retrained on all of train (${relative(req.out, target.checkpoint)})` : `the best trial (${best.trial}, validation ${req.metric} ${(best.value as number).toFixed(4)})`} on the test split, once`);
    const { metrics, file } = await req.runner.evaluate(target);
    const note = refit ? HONESTY_REFIT : HONESTY;
    study.test = { trial: best.trial, checkpoint: relative(req.out, target.checkpoint), split: 'test', metrics, file: relative(req.out, file), evaluations: (previous?.evaluations ?? 0) + 1, refit, note };
    study.honesty = note;
  }
  study.status = 'completed';
  study.finished = new Date().toISOString();
  await writeJsonAtomic(p.study, study);
  return study;
}

/** --refit: the best trial's config, the carve returned to train, its best epoch count, no validation; trained with all the study's workers. */
async function refitBest(req: StudyRequest, io: RunIO, study: StudyJson, best: TrialRecord): Promise<{ checkpoint: string; config: string; log: string }> {
  const epochs = best.best_epoch ?? best.epochs;
  const [checkpoint, config, log] = [join(req.out, 'refit'), join(req.out, 'refit.yaml'), join(req.out, 'refit.log')];
  const tree = trialTree({ ...req, validFromTrain: null }, { ...best.params, 'train.epochs': epochs });
  await writeFileAtomic(config, `# The best trial (${trialName(best.trial)}) of the study in ${req.out}, trained again on all of train for its best epoch count (rec tune --refit; docs/tuning.md)\n${stringify(tree)}`);
  io.log.info(`refitting the best trial (${best.trial}) on all of train for ${epochs} epochs`);
  const now = req.now ?? (() => Date.now());
  const started = now();
  const job: TrialJob = { trial: best.trial, dir: checkpoint, config, log, resume: false, force: true, workers: req.workers * req.parallel };
  const exit = await req.runner.train(job, () => Promise.resolve(false));
  if (!exit.ok) {
    if (exit.interrupted) throw new InterruptedError(io.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT', `The refit of trial ${best.trial} was interrupted; run the study again with --resume to refit it.`);
    throw new RuntimeFailure(`--refit: training trial ${best.trial}'s config on all of train failed: ${exit.message}. See ${log}.`);
  }
  study.refit = { trial: best.trial, epochs, checkpoint: relative(req.out, checkpoint), config: relative(req.out, config), seconds: round3((now() - started) / 1000) };
  return { checkpoint, config, log };
}

function bestYaml(req: StudyRequest, best: TrialRecord): string {
  const header = [
    `# The best trial (${trialName(best.trial)}) of the study in ${req.out}: validation ${req.metric} ${best.value} at epoch ${best.best_epoch}.`,
    `# Train it again with: rec train --data ${req.data} --config best.yaml --out DIR`,
    '# Chosen on the validation split only; study.json has the test split\'s result, evaluated once for this trial.',
  ];
  return `${header.join('\n')}\n${stringify(trialTree(req, best.params))}`;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
