/**
 * The checkpoint readers that need no TF.js (run.json, metrics.jsonl, the small JSON records): kept
 * apart from checkpoint.ts, which loads TF.js for models, so commands that only read records
 * (`rec runs`) start without it. Each throws a DataError naming the file when it is corrupt.
 */
import { fileSha256 } from '../util/hash.js';
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, describeValue, UsageError } from '../util/errors.js';
import { newestCopyBeside, pathExists } from './atomic.js';
import { readModelFiles } from './model-files.js';
import { errorCode, fsErrorReason } from './output-dir.js';
import { CHECKPOINT_FORMAT_VERSION, parseEvalFileName, paths, type EpochRecord, type RunJson } from './checkpoint-contract.js';

/**
 * The text of a record file, or a DataError naming it: a folder, a pipe or a device where the file
 * should be, or one that cannot be opened, is a damaged checkpoint, not a crash. Opened without
 * blocking so a FIFO in its place cannot hang the reader (`rec runs` over a whole folder).
 */
export async function readRecordText(path: string, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw unreadable(path, what, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new DataError(`Cannot read ${path} (${what}): it is ${info.isDirectory() ? 'a folder' : 'not a regular file'}. Expected a file written by rec; the checkpoint is damaged.`);
    }
    return await handle.readFile('utf8');
  } catch (error) {
    throw error instanceof DataError ? error : unreadable(path, what, error);
  } finally {
    await handle.close();
  }
}

function unreadable(path: string, what: string, error: unknown): DataError {
  const code = errorCode(error);
  // fsErrorReason words ENOENT for an output path; here the file was there a moment ago.
  const reason = code === 'ENOENT' ? 'it is missing (deleted or moved meanwhile?)' : fsErrorReason(code);
  return new DataError(`Cannot read ${path} (${what}): ${reason ? `${reason} (${code})` : (code ?? String(error))}.`, { cause: error });
}

/** A JSON object from a checkpoint file, or a DataError naming the file and what is wrong with it. */
export async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  const text = await readRecordText(path, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${path} (${what}) is not valid JSON: ${error instanceof Error ? error.message : String(error)}. The checkpoint is corrupt.`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(`${path} (${what}) is not a JSON object (received ${describeValue(value)}). The checkpoint is corrupt.`);
  }
  return value as Record<string, unknown>;
}

export function corruptField(path: string, key: string, value: unknown, expected: string): DataError {
  return new DataError(`${path} is corrupt: "${key}" is ${describeValue(value)}; expected ${expected}.`);
}

export async function readMetrics(ckpt: string): Promise<EpochRecord[]> {
  const p = paths(ckpt).metrics;
  if (!(await pathExists(p))) return [];
  const text = await readRecordText(p, 'the epoch records');
  const records: EpochRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      throw new DataError(`${p}:${i + 1} is not valid JSON (received ${describeValue(lines[i])}). Expected one epoch record per line; the checkpoint is corrupt.`);
    }
    const r = value as Partial<EpochRecord> | null;
    if (typeof r !== 'object' || r === null || typeof r.epoch !== 'number' || typeof r.loss !== 'number') {
      throw new DataError(`${p}:${i + 1} is not an epoch record (received ${describeValue(value)}). Expected {"epoch", "loss", ...}; the checkpoint is corrupt.`);
    }
    records.push(r as EpochRecord);
  }
  return records;
}

export async function readRunJson(ckpt: string): Promise<RunJson> {
  const p = paths(ckpt).run;
  if (!(await pathExists(p))) {
    throw new DataError(`${ckpt} is not a rec checkpoint: ${p} is missing. Expected a folder written by rec train.`);
  }
  const value = await readJsonObject(p, 'the run record');
  if (value.format_version !== CHECKPOINT_FORMAT_VERSION) {
    throw new DataError(`${p} has format_version ${describeValue(value.format_version)}; this rec reads version ${CHECKPOINT_FORMAT_VERSION}.`);
  }
  checkRunJson(p, value);
  return value as unknown as RunJson;
}

/** The run.json fields rec relies on, with their types: a corrupt file is named, not a TypeError later. */
const RUN_FIELDS: readonly [string, 'string' | 'number' | 'object' | 'array'][] = [
  ['model', 'string'],
  ['loss', 'string'],
  ['feedback', 'string'],
  ['seed', 'number'],
  ['status', 'string'],
  ['dataset', 'object'],
  ['dataset.path', 'string'],
  ['dataset.manifest_sha256', 'string'],
  ['shape', 'object'],
  ['shape.users', 'number'],
  ['shape.items', 'number'],
  ['shape.global_mean', 'number'],
  ['value_range', 'array'],
  ['timings', 'object'],
  ['parents', 'array'],
  ['config', 'object'],
  ['config_sources', 'object'],
];

function checkRunJson(path: string, run: Record<string, unknown>): void {
  for (const [key, type] of RUN_FIELDS) {
    let value: unknown = run;
    for (const part of key.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    const ok = type === 'array' ? Array.isArray(value) : type === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value) : typeof value === type;
    if (!ok) throw corruptField(path, key, value, type === 'array' ? 'a list' : type === 'object' ? 'an object' : `a ${type}`);
  }
}

/**
 * The folder holding the latest complete copy of `dest` (complete: `marker` exists in it): `dest`
 * itself, or, when a kill struck between the two renames of a swap (atomic.ts stageDir) and
 * `dest` is missing or incomplete, the newest complete copy left beside it under a temporary name.
 */
export async function findCompleteDir(dest: string, marker: string): Promise<string | null> {
  if (await pathExists(join(dest, marker))) return dest;
  return newestCopyBeside(dest, marker);
}

/**
 * sha256 of the weights a reader of CKPT's `model/` gets: the complete copy beside it when a kill
 * left the folder between the two renames of its swap (as loadTrainedCheckpoint reads it).
 */
export async function modelWeightsSha256(ckpt: string): Promise<string> {
  const model = paths(ckpt).model;
  return weightsSha256((await findCompleteDir(model, 'model.json')) ?? model);
}

export async function weightsSha256(modelDir: string): Promise<string> {
  const path = join(modelDir, 'weights.bin');
  try {
    return await fileSha256(path);
  } catch (error) {
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. The checkpoint is incomplete.`, { cause: error });
  }
}


/**
 * Checks CKPT's `model/` as every reader of it will load it (model-files.ts readModelFiles):
 * model.json parses, the weights hold exactly the bytes its manifest describes, are finite, and
 * their sha256 matches what model.json and run.json record. A DataError names the file at fault;
 * `unverified` is told when neither records a hash (a checkpoint from an older rec). Returns the
 * weights' sha256.
 */
export async function verifyCheckpointModel(ckpt: string, run: Pick<RunJson, 'status' | 'weights_sha256'>, unverified?: (path: string) => void): Promise<string> {
  const expected = run.status === 'running' ? null : (run.weights_sha256?.['model/weights.bin'] ?? null);
  return (await readModelFiles(paths(ckpt).model, { expected, unverified })).sha256;
}

/** best.json: the epoch `model/` holds, the monitored metric and its value, and its validation metrics. */
export interface BestRecord {
  epoch: number | null;
  metric: string | null;
  value: number | null;
  valid: Record<string, number>;
}

/** The numeric entries of a record's object field (metrics, valid); others are left out. */
export function numberFields(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v;
  return out;
}

/**
 * The checkpoint's best.json, null when it has none: the one reader of it (rec runs, report, and
 * readModelEpoch for eval and --init-from). A DataError naming the file when it is not a JSON
 * object or its `epoch` is neither a number nor null (the epoch says which weights `model/` holds,
 * so a wrong one is not guessed around); a `metric`, `value` or `valid` of another type reads as absent.
 */
export async function readBest(ckpt: string): Promise<BestRecord | null> {
  const p = paths(ckpt).best;
  if (!(await pathExists(p))) return null;
  const b = await readJsonObject(p, 'the best epoch record');
  if (typeof b.epoch !== 'number' && b.epoch !== null && b.epoch !== undefined) throw corruptField(p, 'epoch', b.epoch, 'a number');
  return {
    epoch: typeof b.epoch === 'number' ? b.epoch : null,
    metric: typeof b.metric === 'string' ? b.metric : null,
    value: typeof b.value === 'number' ? b.value : null,
    valid: numberFields(b.valid),
  };
}

/** The epoch of the weights in `model/`: best.json's, else the last line of metrics.jsonl; null if neither. */
export async function readModelEpoch(ckpt: string): Promise<number | null> {
  const best = await readBest(ckpt);
  if (best !== null && best.epoch !== null) return best.epoch;
  const metrics = await readMetrics(ckpt);
  return metrics.length > 0 ? metrics[metrics.length - 1].epoch : null;
}

/** One eval file of a checkpoint: its name taken apart (checkpoint-contract.ts) and its record. */
export interface EvalFile {
  file: string;
  id: string;
  split: string | null;
  protocol: string | null;
  json: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/**
 * The checkpoint's eval files, sorted by name. Each must be a JSON object with a `metrics` object,
 * as rec eval writes it; otherwise a DataError names the file. A DataError too when the folder
 * cannot be listed (deleted or moved meanwhile).
 */
export async function readEvals(ckpt: string): Promise<EvalFile[]> {
  let names: string[];
  try {
    names = await readdir(ckpt);
  } catch (error) {
    const code = errorCode(error);
    const why = code === 'ENOENT' ? 'it is missing (deleted or moved meanwhile?)' : (fsErrorReason(code) ?? String(error));
    throw new DataError(`Cannot read the checkpoint folder ${ckpt}: ${why}${code ? ` (${code})` : ''}.`, { cause: error });
  }
  const out: EvalFile[] = [];
  for (const file of names.sort()) {
    const name = parseEvalFileName(file);
    if (name === null) continue;
    const path = join(ckpt, file);
    const json = await readJsonObject(path, 'an eval result');
    const metrics = json.metrics;
    if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
      throw new DataError(`${path} has no "metrics" object (received ${describeValue(json)}). Expected a file written by rec eval.`);
    }
    out.push({ file, ...name, json, metrics: metrics as Record<string, unknown> });
  }
  return out;
}

/** Throws UsageError (exit 2) naming the path when `ckpt` is not a checkpoint folder. */
export async function checkCheckpointDir(ckpt: string): Promise<void> {
  if (!(await pathExists(ckpt))) {
    throw new UsageError(`Checkpoint ${ckpt} does not exist. Expected a folder written by rec train (e.g. rec train --out ${ckpt}).`);
  }
  if (!(await pathExists(paths(ckpt).run))) {
    throw new UsageError(`${ckpt} is not a rec checkpoint: ${paths(ckpt).run} is missing. Expected a folder written by rec train.`);
  }
}
