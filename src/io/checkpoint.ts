/**
 * The checkpoint folder (docs/design.md#the-checkpoint-folder): `config.yaml`, `run.json`, `vocab/`, `model/` (best
 * weights), `last/` (resume state: model, optimizer, trainer_state.json), `metrics.jsonl`,
 * `best.json`, `eval-*.json`. Every file is written atomically, and `model/` and `last/` as whole
 * folders: each save builds a new folder beside the old one and swaps it in by two renames, so the
 * previous complete state stays on disk until the new one is complete (a kill between the renames
 * is repaired on the next read). A saved state is complete only once its `trainer_state.json`
 * exists, so it is written last.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { copyFile, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TITLE_FILES } from '../data/manifest.js';
import { DataError, RecError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { corruptField, findCompleteDir, readJsonObject, readRunJson } from './checkpoint-read.js';
// TF-free readers live in checkpoint-read.ts (rec promote and report use them without TF.js).
export { findCompleteDir, modelWeightsSha256, weightsSha256 } from './checkpoint-read.js';
import { ensureDir, pathExists, removeStaleTemps, restoreMissingDir, stageDir, tempNameBeside, writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { acquireLock, type FolderLock } from './lock.js';
import { findPromoted, promotedRefusal } from './promoted.js';
import { inspectOutputDir, isRecTemp, outputFsError, type OutputKind, type OutputDirState, refuseOutputDir } from './output-dir.js';
import { fileLoadHandler, fileSaveHandler, loadTensors, readModelJson, saveTensors, type WeightsCheck } from './tfjs-files.js';

// The readers that need no TF.js live apart, so `rec runs` reads checkpoints without loading it.
export { readMetrics, readModelEpoch, readRunJson } from './checkpoint-read.js';
// The folder's names and record types are the contract's; re-exported for the writers' callers.
export {
  CHECKPOINT_FORMAT_VERSION,
  paths,
  WEIGHTS_FILES,
  type EpochRecord,
  type FineTuneRecord,
  type ParentRecord,
  type ReplayRecord,
  type RunJson,
  type TrainerState,
  type WeightsFile,
} from './checkpoint-contract.js';
import { CHECKPOINT_ENTRIES, isEvalEntry, LAST_MODEL, paths, TRAINER_STATE, type EpochRecord, type RunJson, type TrainerState, type WeightsFile } from './checkpoint-contract.js';

/**
 * A model as the writers need it: its Keras layers (the model families in src/models wrap them).
 * Structural, so io stays below the models layer.
 */
export interface SavableModel {
  readonly keras: TF.LayersModel;
  /** Weights beside the Keras graph (a model's item encoder), saved into the same folder and swapped in with it. */
  sidecar?(): ModelSidecar | null;
}

/**
 * Named tensors and a JSON record that belong with a model's weights but are not Keras layers:
 * `<name>.json` + `<name>.bin` (saveTensors) and `<name>_spec.json`, inside the model folder.
 */
export interface ModelSidecar {
  name: string;
  spec: Record<string, unknown>;
  tensors: TF.NamedTensorMap;
  /**
   * What serving reads instead of the weights (a search model's serving block), given the sha256 of the weights
   * written beside it: written into model/ only, never last/, which resumes training from the weights.
   */
  serving?: (weightsSha256: string) => { file: string; bytes: Uint8Array };
}

/** What model.json's `userDefinedMetadata.rec` holds: enough for a model family to rebuild its model. */
export interface SavedModelRecord {
  model: string;
  config: unknown;
  shape: unknown;
}

/** Turns loaded Keras layers into a model: the caller's model knowledge, injected (src/models/saved.ts). */
export type ModelWrapper<M> = (keras: TF.LayersModel, meta: SavedModelRecord) => M;

/** Writes the model into `dir` (which must not hold another), its serving block with `serving`; returns the weights' sha256. */
async function saveModelInto(dir: string, model: SavableModel, serving = false): Promise<string> {
  await ensureDir(dir);
  let hash = '';
  await model.keras.save(fileSaveHandler(dir, (h) => (hash = h)));
  const side = model.sidecar?.() ?? null;
  if (side !== null) {
    await saveTensors(dir, side.name, side.tensors);
    await writeJsonAtomic(join(dir, `${side.name}_spec.json`), side.spec);
    const block = serving ? (side.serving?.(hash) ?? null) : null;
    if (block !== null) await writeFileAtomic(join(dir, block.file), block.bytes);
  }
  return hash;
}

/** A file's text, or null when it does not exist (an optional record); any other failure is a DataError naming it. */
async function readOptionalText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, { cause: error });
  }
}

/** A model folder's sidecar `name` (see ModelSidecar), or null when the model was saved without one. */
export async function readSidecar(dir: string, name: string): Promise<{ spec: Record<string, unknown>; tensors: TF.NamedTensorMap } | null> {
  const specPath = join(dir, `${name}_spec.json`);
  const text = await readOptionalText(specPath);
  if (text === null) return null;
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch {
    throw new DataError(`${specPath} is not valid JSON. The checkpoint is damaged; retrain it.`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new DataError(`${specPath} is not a JSON object. The checkpoint is damaged; retrain it.`);
  return { spec: spec as Record<string, unknown>, tensors: await loadTensors(dir, name) };
}

/** Replaces the model folder `dir` as a whole (built beside it, swapped in); returns the weights' sha256. */
export async function writeModel(dir: string, model: SavableModel): Promise<string> {
  const staged = await stageDir(dir);
  try {
    const hash = await saveModelInto(staged.path, model, true);
    await staged.commit();
    return hash;
  } catch (error) {
    await staged.abort();
    throw error;
  }
}

export async function readModelMeta(dir: string): Promise<SavedModelRecord> {
  const json = await readModelJson(dir);
  const meta = (json.userDefinedMetadata as { rec?: Partial<SavedModelRecord> } | undefined)?.rec;
  if (!meta?.model || !meta.shape || !meta.config) {
    throw new DataError(`${join(dir, 'model.json')} has no rec metadata (userDefinedMetadata.rec); it was not written by rec train.`);
  }
  return meta as SavedModelRecord;
}

/** Loads the model saved in `dir` and hands it to `wrap`; any failure but a RecError is a corrupt checkpoint. */
export async function loadSavedModel<M>(dir: string, wrap: ModelWrapper<M>, check: WeightsCheck = {}): Promise<M> {
  const meta = await readModelMeta(dir);
  try {
    const keras = await tf.loadLayersModel(fileLoadHandler(dir, check));
    return wrap(keras, meta);
  } catch (error) {
    if (error instanceof RecError) throw error;
    throw new DataError(`Cannot load the model in ${dir}: ${error instanceof Error ? error.message : String(error)}. The checkpoint is corrupt; restore it from a copy or train it again.`, { cause: error });
  }
}

/** The hash run.json records for a weights file, when it is authoritative (the run has ended). */
export function recordedWeightsHash(run: Pick<RunJson, 'status' | 'weights_sha256'>, file: WeightsFile): string | null {
  return run.status === 'running' ? null : (run.weights_sha256?.[file] ?? null);
}

/** A load check for `file`: run.json's hash where it applies, and a warning for files without any hash. */
export function weightsCheck(run: Pick<RunJson, 'status' | 'weights_sha256'> | null, file: WeightsFile, log?: Pick<Logger, 'warn'>): WeightsCheck {
  return {
    expected: run ? recordedWeightsHash(run, file) : null,
    unverified: (path) => log?.warn(`${path} has no recorded sha256 (a checkpoint from an older rec): loaded without an integrity check.`),
  };
}

/** Puts the latest complete copy of `dest` back in place (only by the lock holder); true if it moved one. */
export async function recoverStagedDir(dest: string, marker: string): Promise<boolean> {
  const found = await findCompleteDir(dest, marker);
  if (found === null || found === dest) return false;
  // An incomplete `dest` is moved aside rather than deleted: the stale-temp sweep removes it.
  if (await pathExists(dest)) await rename(dest, tempNameBeside(dest));
  await rename(found, dest);
  return true;
}

/**
 * Saves the resumable state as a new `last/`, swapped in only once complete (trainer_state.json
 * written last inside it), so a kill at any moment leaves the previous or the new state whole.
 * Returns the sha256 of the model weights and the optimizer state written.
 */
export async function writeLastState(
  ckpt: string,
  model: SavableModel,
  optimizerState: TF.NamedTensorMap,
  state: TrainerState,
): Promise<{ model: string; optimizer: string }> {
  const staged = await stageDir(paths(ckpt).last);
  try {
    const modelHash = await saveModelInto(join(staged.path, LAST_MODEL), model);
    const optimizer = await saveTensors(staged.path, 'optimizer', optimizerState);
    await writeJsonAtomic(join(staged.path, TRAINER_STATE), state);
    await staged.commit();
    return { model: modelHash, optimizer };
  } catch (error) {
    await staged.abort();
    throw error;
  }
}

export async function readLastState<M>(
  ckpt: string,
  wrap: ModelWrapper<M>,
  run: RunJson | null = null,
  log?: Pick<Logger, 'warn'>,
): Promise<{ state: TrainerState; optimizer: TF.NamedTensorMap; model: M; modelDir: string } | null> {
  const dir = await findCompleteDir(paths(ckpt).last, TRAINER_STATE);
  if (dir === null) return null;
  const state = await readTrainerState(join(dir, TRAINER_STATE));
  const optimizer = await loadTensors(dir, 'optimizer', weightsCheck(run, 'last/optimizer.bin', log));
  try {
    const model = await loadSavedModel(join(dir, LAST_MODEL), wrap, weightsCheck(run, 'last/model/weights.bin', log));
    return { state, optimizer, model, modelDir: join(dir, LAST_MODEL) };
  } catch (error) {
    tf.dispose(Object.values(optimizer));
    throw error;
  }
}

const TRAINER_STATE_NUMBERS = ['epoch', 'step_in_epoch', 'global_step', 'loss_sum', 'loss_count', 'epochs_without_improvement', 'train_seconds'] as const;

async function readTrainerState(path: string): Promise<TrainerState> {
  const value = await readJsonObject(path, 'the saved training state');
  for (const key of TRAINER_STATE_NUMBERS) {
    if (typeof value[key] !== 'number' || !Number.isFinite(value[key])) throw corruptField(path, key, value[key], 'a number');
  }
  const prng = value.epoch_prng;
  if (!Array.isArray(prng) || prng.length !== 4 || prng.some((x) => typeof x !== 'number')) throw corruptField(path, 'epoch_prng', prng, 'a list of 4 numbers');
  const best = value.best;
  if (best !== null && (typeof best !== 'object' || typeof (best as { epoch?: unknown }).epoch !== 'number')) throw corruptField(path, 'best', best, 'null or {epoch, metric, value}');
  return value as unknown as TrainerState;
}

export async function writeMetrics(ckpt: string, records: readonly EpochRecord[]): Promise<void> {
  const text = records.map((r) => JSON.stringify(r)).join('\n');
  await writeFileAtomic(paths(ckpt).metrics, records.length ? `${text}\n` : '');
}

export async function writeRunJson(ckpt: string, run: RunJson): Promise<void> {
  await writeJsonAtomic(paths(ckpt).run, run);
}

/** Copies the dataset's vocabularies (and its items' display titles, when it has them) so the checkpoint is usable without the dataset. */
export async function writeVocab(ckpt: string, datasetDir: string): Promise<void> {
  const dir = paths(ckpt).vocab;
  await ensureDir(dir);
  const titles = TITLE_FILES.item_titles;
  for (const name of ['users.arrow', 'items.arrow', titles]) {
    if (name === titles && !(await pathExists(join(datasetDir, name)))) continue;
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    await copyFile(join(datasetDir, name), tmp);
    await rename(tmp, join(dir, name));
  }
}

/**
 * Which embedding rows the model learned anything for: a user or item with a training row in this
 * run, or one whose row was copied from an --init-from parent that had learned it. Every other row
 * is still its random initialisation, so eval cannot score it and recommend must not serve it as if
 * it could. One bit per row, base64, in `vocab/trained.json`.
 */
export interface TrainedRows {
  users: Uint8Array;
  items: Uint8Array;
  /**
   * Items the model scores from catalogue features (its item encoder gives them a vector: at least
   * one of their feature values has a learned row), whether or not they had a training row; absent
   * for a model trained without features. An item here but not in `items` is a new product: cold,
   * yet rankable.
   */
  featured?: Uint8Array;
}

const TRAINED_FILE = 'trained.json';

function packBits(flags: Uint8Array): { rows: number; trained: number; bits: string } {
  const bytes = new Uint8Array(Math.ceil(flags.length / 8));
  let trained = 0;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === 0) continue;
    bytes[i >> 3] |= 1 << (i & 7);
    trained++;
  }
  return { rows: flags.length, trained, bits: Buffer.from(bytes).toString('base64') };
}

function unpackBits(value: unknown, path: string, key: string): Uint8Array {
  const v = value as { rows?: unknown; bits?: unknown } | null;
  if (!v || typeof v.rows !== 'number' || !Number.isSafeInteger(v.rows) || v.rows < 0 || typeof v.bits !== 'string') {
    throw new DataError(`${path}: "${key}" is not {rows, trained, bits}. The file is damaged; retrain, or delete it to treat every row as trained.`);
  }
  const bytes = Buffer.from(v.bits, 'base64');
  if (bytes.length !== Math.ceil(v.rows / 8)) throw new DataError(`${path}: "${key}" has ${bytes.length} bytes of bits for ${v.rows} rows. The file is damaged.`);
  const out = new Uint8Array(v.rows);
  for (let i = 0; i < v.rows; i++) out[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return out;
}

export async function writeTrainedRows(ckpt: string, rows: TrainedRows): Promise<void> {
  await writeJsonAtomic(join(paths(ckpt).vocab, TRAINED_FILE), {
    format_version: 1,
    users: packBits(rows.users),
    items: packBits(rows.items),
    ...(rows.featured ? { featured: packBits(rows.featured) } : {}),
  });
}

/** The checkpoint's trained rows, or null for a checkpoint written before rec recorded them. */
export async function readTrainedRows(ckpt: string): Promise<TrainedRows | null> {
  const path = join(paths(ckpt).vocab, TRAINED_FILE);
  const text = await readOptionalText(path);
  if (text === null) return null;
  let json: { users?: unknown; items?: unknown; featured?: unknown };
  try {
    json = JSON.parse(text) as { users?: unknown; items?: unknown; featured?: unknown };
  } catch {
    throw new DataError(`${path} is not valid JSON. The file is damaged; retrain, or delete it to treat every row as trained.`);
  }
  const rows: TrainedRows = { users: unpackBits(json.users, path, 'users'), items: unpackBits(json.items, path, 'items') };
  if (json.featured !== undefined) {
    rows.featured = unpackBits(json.featured, path, 'featured');
    if (rows.featured.length !== rows.items.length) throw new DataError(`${path}: "featured" has ${rows.featured.length} rows but "items" ${rows.items.length}. The file is damaged; retrain.`);
  }
  return rows;
}

/** What rec writes into a checkpoint, besides its temporaries (eval adds eval-*.json and negatives, promote promoted.json). */
const OWNED = new Set<string>(Object.values(CHECKPOINT_ENTRIES).map((e) => e.name));

export const CHECKPOINT_KIND: OutputKind = {
  noun: 'checkpoint',
  marker: 'run.json',
  owns: (name) => OWNED.has(name) || isEvalEntry(name),
};

/** A checkpoint folder held by this process (`rec train`) until release(). */
export interface CheckpointSession {
  readonly dir: string;
  release(): Promise<void>;
}

export interface OpenCheckpointOptions {
  resume: boolean;
  force: boolean;
  /** Keep `data/` on --force (the run's --data lies inside it). */
  keepData: boolean;
  log: Pick<Logger, 'info' | 'warn'>;
}

/**
 * Takes `dir` for `rec train` (docs/design.md#the-checkpoint-folder, README.md#output-files): locks it against a second writer, refuses a folder
 * that is not the run's to write (exit 2: a finished checkpoint without --resume or --force, or
 * someone else's files without --force), repairs a save that a kill interrupted between its two
 * renames, and removes temporaries that killed runs left. With --force onto a checkpoint, the old
 * checkpoint's own files go first, so a new model never sits beside another model's evaluations.
 */
export async function openCheckpointForTrain(dir: string, opts: OpenCheckpointOptions): Promise<CheckpointSession> {
  await refuseProduction(dir);
  const before = await inspectOutputDir(dir, CHECKPOINT_KIND);
  if (opts.resume && (before.kind === 'absent' || before.kind === 'empty')) {
    throw new UsageError(`--resume: ${dir} ${before.kind === 'absent' ? 'does not exist' : 'is empty'}; there is no run to continue. Start a new run without --resume.`);
  }
  const created = before.kind === 'absent';
  try {
    await ensureDir(dir);
  } catch (error) {
    throw outputFsError(dir, error);
  }
  let lock: FolderLock;
  try {
    lock = await acquireLock(dir, 'rec train', `--out ${dir}`);
  } catch (error) {
    if (created) await rmdir(dir).catch(() => undefined);
    throw error;
  }
  const release = async () => {
    await lock.release();
    // A run that failed before writing anything leaves no empty folder it made.
    if (created) await rmdir(dir).catch(() => undefined);
  };
  try {
    // Checked again under the lock: rec promote marks a checkpoint while holding it.
    await refuseProduction(dir);
    // Inspected again under the lock: another run may have written it since.
    const state = await inspectOutputDir(dir, CHECKPOINT_KIND);
    if (opts.resume && !(await pathExists(paths(dir).run))) {
      throw new UsageError(`--resume: ${dir} is not a rec checkpoint (no run.json). Expected the --out folder of an earlier rec train.`);
    }
    if (!opts.resume && (state.kind === 'own' || state.kind === 'foreign')) {
      if (!opts.force) throw await refuseCheckpointDir(dir, state);
    }
    const p = paths(dir);
    if (await recoverStagedDir(p.last, TRAINER_STATE)) opts.log.warn(`${p.last}: a save was interrupted between its renames; restored the latest complete state.`);
    if (await recoverStagedDir(p.model, 'model.json')) opts.log.warn(`${p.model}: a save was interrupted between its renames; restored the latest complete model.`);
    // A dataset prepped into CKPT/data (rec train --data LOG) and killed between the renames of its
    // swap: its complete copy is put back, not swept away with the other temporaries.
    if ((await restoreMissingDir(join(dir, 'data'), 'manifest.json', async () => true)) !== null) opts.log.warn(`${join(dir, 'data')}: a prep was interrupted between its renames; restored the complete dataset.`);
    const removed: string[] = [];
    for (const d of [dir, p.model, p.last, p.lastModel, p.vocab]) removed.push(...(await removeStaleTemps(d)));
    if (removed.length > 0) opts.log.info(`removed ${removed.length} temporary file(s) left by a killed run: ${removed.slice(0, 3).join(', ')}${removed.length > 3 ? ', ...' : ''}`);
    if (!opts.resume && opts.force && (state.kind === 'own' || state.kind === 'foreign')) await clearCheckpoint(dir, opts);
  } catch (error) {
    await release();
    throw error;
  }
  return { dir, release };
}

/** Exit 2 for a production link or a promoted checkpoint (promoted.ts), before anything is written. */
async function refuseProduction(dir: string): Promise<void> {
  const promoted = await findPromoted(dir);
  if (promoted !== null) throw new UsageError(promotedRefusal(`rec train --out ${dir}`, promoted));
}

async function refuseCheckpointDir(dir: string, state: OutputDirState): Promise<UsageError> {
  if (state.kind === 'foreign' && !state.marked) return refuseOutputDir(dir, state, CHECKPOINT_KIND);
  let status = 'unknown status';
  try {
    status = `status ${(await readRunJson(dir)).status}`;
  } catch {
    // A corrupt run.json still marks a checkpoint; the refusal does not need its status.
  }
  const names = (await readdir(dir)).filter((n) => !isRecTemp(n)).sort();
  const shown = `${names.slice(0, 8).join(', ')}${names.length > 8 ? `, and ${names.length - 8} more` : ''}`;
  return new UsageError(
    `--out ${dir} already holds a checkpoint (${status}: ${shown}). A new run would replace its model and leave its evaluations beside another model. ` +
      'Pass --resume to continue that run, --force to replace it (its model, state, metrics and evaluations are removed; files rec did not write are kept), or choose another --out.',
  );
}

/** Removes what rec wrote in a checkpoint folder (never other files): --force before a new run. */
async function clearCheckpoint(dir: string, opts: OpenCheckpointOptions): Promise<void> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (!CHECKPOINT_KIND.owns(name)) continue;
    // data/ is rec's only when it is a dataset rec prepped there (it has a manifest).
    if (name === 'data' && (opts.keepData || !(await pathExists(join(dir, 'data', 'manifest.json'))))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length > 0) opts.log.warn(`--force: removed the previous checkpoint's files from ${dir}: ${removed.sort().join(', ')}`);
}
