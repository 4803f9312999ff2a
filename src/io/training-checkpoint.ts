/**
 * A training run's checkpoint folder through its lifecycle (docs/design.md#the-checkpoint-folder):
 * created for a new run or resumed from its last save, then saved into and finished. `rec train`
 * (src/train/run.ts) writes and reads its checkpoint only through this object, which keeps the
 * run.json being written (status, timings, the sha256 of each weights file), metrics.jsonl and
 * best.json. The order of the writes is the crash-safety contract (docs/design.md#crash-safety):
 *
 * - a new run writes config.yaml, vocab/ and the README before run.json, the folder's marker;
 * - `last/` and `model/` are swapped in as whole folders (checkpoint.ts); their hashes are kept
 *   in the run.json held here and reach the file when the run ends (loads trust them only then);
 * - at a best epoch, `model/` is replaced before best.json, which names the epoch it holds.
 *
 * The model is bound at creation (the one the run trains), so a save cannot write another.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Logger } from '../util/log.js';
import { UsageError } from '../util/errors.js';
import { ensureDir, writeFileAtomic, writeJsonAtomic } from './atomic.js';
import {
  CHECKPOINT_FORMAT_VERSION,
  type ModelWrapper,
  paths,
  readLastState,
  readMetrics,
  readRunJson,
  type ModelSidecar,
  type SavableModel,
  type TrainedRows,
  writeLastState,
  writeMetrics,
  writeModel,
  writeRunJson,
  writeTrainedRows,
} from './checkpoint.js';
import type { EpochRecord, RunJson, TrainerState } from './checkpoint-contract.js';
import { writeCheckpointReadme } from './checkpoint-readme.js';

/** What a new run's checkpoint starts with, besides its model. */
export interface NewCheckpoint {
  /** run.json as first written (the format version is the contract's); `begin` adds the engine and workers. */
  run: Omit<RunJson, 'format_version'>;
  /** config.yaml's text. */
  configYaml: string;
  /**
   * Writes `vocab/users.arrow` and `vocab/items.arrow` into the checkpoint `ckpt` (the dataset's,
   * extended by a fine-tune's kept ids): the data layer's writer, injected so io stays below it.
   */
  writeVocab(ckpt: string): Promise<void>;
  /** vocab/trained.json: the rows the model learned. */
  trainedRows: TrainedRows;
}

/** The validation sample best.json records beside the metrics (`valid_users`). */
export interface ValidSample {
  users: number;
  of: number;
  seed: number | null;
}

/** An epoch whose weights become `model/`: the monitored best (null until one is measured) and the validation sample (null when every user is ranked). */
export interface BestEpoch {
  best: TrainerState['best'];
  sample: ValidSample | null;
}

/** How a run ended: a loop outcome (it ran to its end), or a stop that `--resume` continues. */
export type RunEnd = 'completed' | 'stopped_early' | 'interrupted' | 'failed';

/** A training run's checkpoint folder: open (created or resumed) → begin → save/record* → finish. */
export interface TrainingCheckpoint {
  readonly dir: string;
  /** The run.json being kept (written by begin and finish). */
  readonly run: Readonly<RunJson>;
  /** The epochs recorded so far (metrics.jsonl), a resumed run's included. */
  readonly epochs: readonly EpochRecord[];
  /** What every later save writes beside the model's weights (its item encoder); null: nothing. */
  setSidecar(sidecar: (() => ModelSidecar | null) | null): void;
  /** Writes run.json as this process begins (or resumes) the run: status running, its engine and workers. */
  begin(how: { engine: string; workers: number }): Promise<void>;
  /** Saves `last/` (model, optimizer moments, loop state); run.json's next write records its hashes. */
  saveState(optimizer: TF.NamedTensorMap, state: TrainerState): Promise<void>;
  /** Appends an epoch to metrics.jsonl; at a best epoch (`best` non-null), writes model/ and then best.json. */
  recordEpoch(record: EpochRecord, best: BestEpoch | null): Promise<void>;
  /**
   * Writes run.json's status and timings as the run ends: train seconds, and wall seconds summed
   * over resumes (this process's since `wallStart`, a performance.now() time); a run that ran to
   * its end (completed, stopped_early) also gets its finished time.
   */
  finish(status: RunEnd, timings: { trainSeconds: number; wallStart: number }): Promise<void>;
}

/** What a finished run reports of its checkpoint (rec train --json): the folder, its epochs, best, status and times. */
export function finishedRun(checkpoint: TrainingCheckpoint, best: TrainerState['best']): {
  checkpoint: string;
  epochs: EpochRecord[];
  best: TrainerState['best'];
  status: RunJson['status'];
  train_seconds: number;
  wall_seconds: number;
} {
  const { run } = checkpoint;
  return { checkpoint: checkpoint.dir, epochs: [...checkpoint.epochs], best, status: run.status, train_seconds: run.timings.train_seconds, wall_seconds: run.timings.wall_seconds ?? 0 };
}

/** A new run's checkpoint: writes config.yaml, vocab/ (with trained.json) and the README; run.json waits for begin. */
export async function createTrainingCheckpoint(dir: string, model: SavableModel, init: NewCheckpoint): Promise<TrainingCheckpoint> {
  const run: RunJson = { format_version: CHECKPOINT_FORMAT_VERSION, ...init.run };
  await ensureDir(dir);
  await writeFileAtomic(paths(dir).config, init.configYaml);
  await init.writeVocab(dir);
  await writeTrainedRows(dir, init.trainedRows);
  await writeCheckpointReadme(dir, run.model);
  return openTrainingCheckpoint(dir, model, run, []);
}

/** What `--resume` restores from the last save. */
export interface ResumedCheckpoint<M> {
  checkpoint: TrainingCheckpoint;
  model: M;
  /** The optimizer moments as saved; the caller owns (and disposes) the tensors. */
  optimizer: TF.NamedTensorMap;
  state: TrainerState;
  /** The saved model's folder (its sidecars are read from there). */
  lastModelDir: string;
}

/**
 * `--resume`: the run.json, the last complete save (checked against run.json's hashes) and the
 * epochs recorded up to it; a UsageError when no save is complete. Epochs a killed run recorded
 * past its last save are dropped: the resumed run records them again.
 */
export async function resumeTrainingCheckpoint<M extends SavableModel>(dir: string, wrap: ModelWrapper<M>, log: Pick<Logger, 'warn'>): Promise<ResumedCheckpoint<M>> {
  const run = await readRunJson(dir);
  const restored = await readLastState(dir, wrap, run, log);
  if (!restored) throw new UsageError(`--resume: ${dir} has no complete saved state (last/trainer_state.json). Start a new run without --resume.`);
  const { state } = restored;
  const epochs = (await readMetrics(dir)).slice(0, state.epoch);
  return { checkpoint: openTrainingCheckpoint(dir, restored.model, run, epochs), model: restored.model, optimizer: restored.optimizer, state, lastModelDir: restored.modelDir };
}

function openTrainingCheckpoint(dir: string, bound: SavableModel, start: RunJson, epochs: EpochRecord[]): TrainingCheckpoint {
  // A resumed run.json is copied before it changes: the caller may still hold the one it read.
  let run = start;
  let sidecar: (() => ModelSidecar | null) | null = null;
  const model: SavableModel = { keras: bound.keras, sidecar: () => sidecar?.() ?? null };
  const p = paths(dir);
  return {
    dir,
    get run() {
      return run;
    },
    epochs,
    setSidecar(fn) {
      sidecar = fn;
    },
    async begin(how) {
      run = { ...run, status: 'running' };
      run.engine = how.engine;
      run.workers = how.workers;
      await writeRunJson(dir, run);
    },
    async saveState(optimizer, state) {
      const hashes = await writeLastState(dir, model, optimizer, state);
      run.weights_sha256 = { ...run.weights_sha256, 'last/model/weights.bin': hashes.model, 'last/optimizer.bin': hashes.optimizer };
    },
    async recordEpoch(record, best) {
      epochs.push(record);
      await writeMetrics(dir, epochs);
      if (best === null) return;
      run.weights_sha256 = { ...run.weights_sha256, 'model/weights.bin': await writeModel(p.model, model) };
      await writeJsonAtomic(p.best, {
        epoch: record.epoch,
        metric: best.best?.metric ?? null,
        value: best.best?.value ?? null,
        valid: record.valid,
        ...(best.sample ? { valid_users: best.sample } : {}),
      });
    },
    async finish(status, timings) {
      const wallBefore = run.timings.wall_seconds ?? 0;
      run.status = status;
      if (status === 'completed' || status === 'stopped_early') run.timings.finished = new Date().toISOString();
      run.timings.train_seconds = round3(timings.trainSeconds);
      run.timings.wall_seconds = round3(wallBefore + (performance.now() - timings.wallStart) / 1000);
      await writeRunJson(dir, run);
    },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
