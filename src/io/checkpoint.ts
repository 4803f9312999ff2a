/**
 * The checkpoint folder (PRODUCT §4): `config.yaml`, `run.json`, `vocab/`, `model/` (best
 * weights), `last/` (resume state: model, optimizer, trainer_state.json), `metrics.jsonl`,
 * `best.json`, `eval-*.json`. Every file is written atomically; a saved state is complete only
 * once its `trainer_state.json` exists, so it is written last.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelName } from '../config/schema.js';
import { wrapLoadedModel, type SavedModelMeta } from '../models/registry.js';
import type { PairModel } from '../models/model.js';
import { DataError } from '../util/errors.js';
import type { PrngState } from '../util/prng.js';
import { pathExists, writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { fileLoadHandler, fileSaveHandler, loadTensors, readModelJson, saveTensors } from './tfjs-files.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface RunJson {
  format_version: number;
  argv: string[];
  versions: { rec: string; tfjs: string; node: string };
  engine: string;
  seed: number;
  model: ModelName;
  loss: string;
  feedback: 'explicit' | 'implicit';
  /** `anonymize`: the dataset's --anonymize record (algorithm, key fingerprint), absent in older checkpoints. */
  dataset: { path: string; manifest_sha256: string; anonymize?: { algorithm: string; key_fingerprint: string } | null };
  parents: ParentRecord[];
  shape: { users: number; items: number; global_mean: number };
  /** Rating range seen in train: eval clips rmse/mae predictions to it (PRODUCT §6). */
  value_range: [number, number];
  /** `wall_seconds`: the whole run (validation, saves, set-up included), summed over resumes; absent in older checkpoints. */
  timings: { started: string; finished: string | null; train_seconds: number; wall_seconds?: number };
  status: 'running' | 'completed' | 'interrupted' | 'failed' | 'stopped_early';
  /** The resolved configuration and each value's source; `--resume` continues with exactly this. */
  config: unknown;
  config_sources: Record<string, string>;
}

/**
 * A checkpoint this run's weights were initialised from (`--init-from`). `weights_sha256` is the
 * hash of the parent's `model/weights.bin`, i.e. exactly the weights taken (run.json changes when a
 * parent is evaluated or resumed; the weights do not); `epoch` is the parent's epoch those weights
 * are from (its best epoch, or the last without validation). `users`/`items` count this run's ids
 * found in the parent's vocabulary (`matched`, rows copied) and not found (`new`, fresh rows).
 */
export interface ParentRecord {
  path: string;
  model: ModelName;
  weights_sha256: string;
  epoch: number | null;
  users: { matched: number; new: number };
  items: { matched: number; new: number };
}

export interface TrainerState {
  /** Epochs fully completed. */
  epoch: number;
  /** Steps completed inside the current epoch (0 at an epoch boundary). */
  step_in_epoch: number;
  global_step: number;
  /** PRNG state at the start of the current epoch: replays its shuffle and negatives on resume. */
  epoch_prng: PrngState;
  loss_sum: number;
  loss_count: number;
  best: { epoch: number; metric: string; value: number } | null;
  epochs_without_improvement: number;
  train_seconds: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  examples_per_s: number;
  lr: number;
  valid: Record<string, number>;
  /** Time the epoch's validation took; absent without validation and in older checkpoints. */
  valid_seconds?: number;
  /** Validation users ranked (a seeded sample when fewer than the split's rankable users). */
  valid_users?: number;
}

export const paths = (dir: string) => ({
  config: join(dir, 'config.yaml'),
  run: join(dir, 'run.json'),
  vocab: join(dir, 'vocab'),
  model: join(dir, 'model'),
  last: join(dir, 'last'),
  lastModel: join(dir, 'last', 'model'),
  trainerState: join(dir, 'last', 'trainer_state.json'),
  metrics: join(dir, 'metrics.jsonl'),
  best: join(dir, 'best.json'),
});

export async function writeModel(dir: string, model: PairModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.keras.save(fileSaveHandler(dir));
}

export async function readModelMeta(dir: string): Promise<SavedModelMeta> {
  const json = await readModelJson(dir);
  const meta = (json.userDefinedMetadata as { rec?: SavedModelMeta } | undefined)?.rec;
  if (!meta?.model || !meta.shape || !meta.config) {
    throw new DataError(`${join(dir, 'model.json')} has no rec metadata (userDefinedMetadata.rec); it was not written by rec train.`);
  }
  return meta;
}

export async function loadModel(dir: string): Promise<PairModel> {
  const meta = await readModelMeta(dir);
  const keras = await tf.loadLayersModel(fileLoadHandler(dir));
  return wrapLoadedModel(keras, meta);
}

/** Saves the resumable state; trainer_state.json last, so an interrupted save is never taken as complete. */
export async function writeLastState(
  ckpt: string,
  model: PairModel,
  optimizerState: tf.NamedTensorMap,
  state: TrainerState,
): Promise<void> {
  const p = paths(ckpt);
  await rm(p.trainerState, { force: true });
  await writeModel(p.lastModel, model);
  await saveTensors(p.last, 'optimizer', optimizerState);
  await writeJsonAtomic(p.trainerState, state);
}

export async function readLastState(ckpt: string): Promise<{ state: TrainerState; optimizer: tf.NamedTensorMap; model: PairModel } | null> {
  const p = paths(ckpt);
  if (!(await pathExists(p.trainerState))) return null;
  const state = JSON.parse(await readFile(p.trainerState, 'utf8')) as TrainerState;
  const optimizer = await loadTensors(p.last, 'optimizer');
  const model = await loadModel(p.lastModel);
  return { state, optimizer, model };
}

export async function writeMetrics(ckpt: string, records: readonly EpochRecord[]): Promise<void> {
  const text = records.map((r) => JSON.stringify(r)).join('\n');
  await writeFileAtomic(paths(ckpt).metrics, records.length ? `${text}\n` : '');
}

export async function readMetrics(ckpt: string): Promise<EpochRecord[]> {
  const p = paths(ckpt).metrics;
  if (!(await pathExists(p))) return [];
  const text = await readFile(p, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EpochRecord);
}

export async function writeRunJson(ckpt: string, run: RunJson): Promise<void> {
  await writeJsonAtomic(paths(ckpt).run, run);
}

export async function readRunJson(ckpt: string): Promise<RunJson> {
  const p = paths(ckpt).run;
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch {
    throw new DataError(`${ckpt} is not a rec checkpoint: ${p} is missing. Expected a folder written by rec train.`);
  }
  const run = JSON.parse(text) as RunJson;
  if (run.format_version !== CHECKPOINT_FORMAT_VERSION) {
    throw new DataError(`${p} has format_version ${String(run.format_version)}; this rec reads version ${CHECKPOINT_FORMAT_VERSION}.`);
  }
  return run;
}

export async function weightsSha256(modelDir: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(join(modelDir, 'weights.bin')))
    .digest('hex');
}

/** The epoch of the weights in `model/`: best.json's, else the last line of metrics.jsonl; null if neither. */
export async function readModelEpoch(ckpt: string): Promise<number | null> {
  const p = paths(ckpt);
  if (await pathExists(p.best)) {
    const best = JSON.parse(await readFile(p.best, 'utf8')) as { epoch?: unknown };
    if (typeof best.epoch === 'number') return best.epoch;
  }
  const metrics = await readMetrics(ckpt);
  return metrics.length > 0 ? metrics[metrics.length - 1].epoch : null;
}

/** Copies the dataset's vocabularies so the checkpoint is usable without the dataset. */
export async function writeVocab(ckpt: string, datasetDir: string): Promise<void> {
  const dir = paths(ckpt).vocab;
  await mkdir(dir, { recursive: true });
  for (const name of ['users.arrow', 'items.arrow']) {
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    await copyFile(join(datasetDir, name), tmp);
    await rename(tmp, join(dir, name));
  }
}
