/**
 * The TF.js model folder (`model.json` + `weights.bin`) as files, without TF.js: parsing
 * model.json, the byte count its weights manifest describes, and the weights' hashes. The TF.js
 * load handler (tfjs-files.ts) and `rec promote`, which must verify a model without loading TF.js,
 * share these checks.
 */
import { sha256Hex } from '../util/hash.js';
import type * as TF from '@tensorflow/tfjs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';


/**
 * How a load checks the weights it reads. `weightsSha256` in model.json (and `sha256` in a tensors
 * json) is written in the same folder, before it, so it always describes the weights beside it even
 * after a kill; `expected` is a hash recorded elsewhere (run.json) that must agree too. Files from
 * before hashes were recorded load after `unverified` is told.
 */
export interface WeightsCheck {
  expected?: string | null;
  unverified?: (path: string) => void;
}

/** Throws a DataError naming `path` when its bytes disagree with a recorded hash; returns their sha256. */
export function verifyWeights(path: string, bytes: Uint8Array, recorded: unknown, check: WeightsCheck, recordedIn: string): string {
  const actual = sha256Hex(bytes);
  const wanted = [typeof recorded === 'string' ? { hash: recorded, where: recordedIn } : null, check.expected ? { hash: check.expected, where: 'run.json' } : null].filter((w) => w !== null);
  if (wanted.length === 0) {
    check.unverified?.(path);
    return actual;
  }
  for (const w of wanted) {
    if (w.hash !== actual) {
      throw new DataError(`${path} is corrupt: its sha256 is ${actual}, ${w.where} records ${w.hash}. Restore the checkpoint from a copy or train it again.`);
    }
  }
  return actual;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

function elementBytes(s: TF.io.WeightsManifestEntry): number {
  return s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : 2) : (BYTES_PER_ELEMENT[s.dtype] ?? 4);
}

/** Non-finite float32 weights (NaN, Inf) are never a trained model; say so instead of scoring with them. */
export function checkFinite(path: string, specs: readonly TF.io.WeightsManifestEntry[], bytes: Uint8Array): void {
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, d) => a * d, 1);
    if (!s.quantization && s.dtype === 'float32') {
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * 4);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(view.getFloat32(i * 4, true))) {
          throw new DataError(`${path} is corrupt: weight ${s.name} holds a non-finite value (${view.getFloat32(i * 4, true)}) at element ${i}. Restore the checkpoint from a copy or train it again.`);
        }
      }
    }
    offset += n * elementBytes(s);
  }
}

export interface ModelJson {
  weightsSha256?: string;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: TF.io.ModelArtifacts['modelTopology'];
  trainingConfig?: TF.io.TrainingConfig;
  userDefinedMetadata?: TF.io.ModelArtifacts['userDefinedMetadata'];
  weightsManifest?: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
}

export async function readModelJson(dir: string): Promise<ModelJson> {
  const path = join(dir, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a TF.js model folder written by rec train.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DataError(`${path} is not valid JSON; the checkpoint is corrupt.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new DataError(`${path} is not a JSON object; the checkpoint is corrupt.`);
  const model = json as ModelJson;
  if (typeof model.modelTopology !== 'object' || model.modelTopology === null) {
    throw new DataError(`${path} has no modelTopology; it is not a TF.js layers model (the checkpoint is corrupt).`);
  }
  if (!Array.isArray(model.weightsManifest) || model.weightsManifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))) {
    throw new DataError(`${path} has no valid weightsManifest (a list of {paths, weights}); the checkpoint is corrupt.`);
  }
  return model;
}

/**
 * The bytes the specs describe. A truncated or padded weights file is caught here, with its path,
 * instead of surfacing as a RangeError deep inside TF.js decoding.
 */
export function checkWeightBytes(path: string, specs: readonly TF.io.WeightsManifestEntry[], actual: number): void {
  let expected = 0;
  for (const s of specs) {
    if (typeof s !== 'object' || s === null || !Array.isArray(s.shape) || typeof s.name !== 'string') {
      throw new DataError(`The weights manifest for ${path} has an entry without a name and shape (${JSON.stringify(s)}); the checkpoint is corrupt.`);
    }
    expected += s.shape.reduce((n, d) => n * d, 1) * elementBytes(s);
  }
  if (expected !== actual) {
    throw new DataError(`${path} holds ${actual} bytes; its manifest describes ${expected}. The checkpoint is corrupt or incomplete.`);
  }
}

/** fs.readFile refuses files over 2 GiB (ERR_FS_FILE_TOO_LARGE); weights can be larger (EASE's n × n). */
const READ_SLICE = 1 << 30;

/** `slice`: bytes per read (tests pass a small one). */
export async function readWeightFile(path: string, slice = READ_SLICE): Promise<Buffer> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const out = Buffer.allocUnsafe(size);
      for (let at = 0; at < size; ) {
        const { bytesRead } = await handle.read(out, at, Math.min(slice, size - at), at);
        if (bytesRead === 0) throw new DataError(`${path} ended after ${at} of its ${size} bytes while being read. The checkpoint is incomplete.`);
        at += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. The checkpoint is incomplete.`);
  }
}

export interface ModelFiles {
  json: ModelJson;
  specs: TF.io.WeightsManifestEntry[];
  /** The weight files' bytes, concatenated in manifest order. */
  weightData: Uint8Array<ArrayBuffer>;
  /** Their sha256. */
  sha256: string;
}

/**
 * Reads and checks a model folder as every reader of it needs it: model.json parses, the weight
 * files exist and hold exactly the bytes the manifest describes, their sha256 matches model.json's
 * and `check.expected`, and every float weight is finite. Each failure is a DataError naming the file.
 */
export async function readModelFiles(dir: string, check: WeightsCheck = {}): Promise<ModelFiles> {
  const json = await readModelJson(dir);
  const manifest = json.weightsManifest ?? [];
  const specs = manifest.flatMap((group) => group.weights);
  const buffers: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) buffers.push(await readWeightFile(join(dir, p)));
  }
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const weightsPath = join(dir, manifest[0]?.paths[0] ?? WEIGHTS_BIN);
  checkWeightBytes(weightsPath, specs, total);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.byteLength;
  }
  const sha256 = verifyWeights(weightsPath, weightData, json.weightsSha256, check, join(dir, MODEL_JSON));
  checkFinite(weightsPath, specs, weightData);
  return { json, specs, weightData, sha256 };
}
